/**
 * A TCP proxy on 127.0.0.1 in front of a local port that a test can switch off and on: off, it
 * resets the connections it carries and refuses new ones, as a chain node that went away would.
 */
import { type AddressInfo, connect, createServer, type Socket } from 'node:net'

export interface TcpSwitch {
  /** Where to connect instead of the target (same host, another port). */
  port: number
  /** `url` with its port swapped for the switch's. */
  urlFor(url: string): string
  off(): void
  on(): void
  close(): Promise<void>
}

export async function startTcpSwitch(targetPort: number, options: { on?: boolean } = {}): Promise<TcpSwitch> {
  let up = options.on ?? true
  const carried = new Set<Socket>()
  const server = createServer((socket) => {
    if (!up) return socket.destroy()
    const upstream = connect(targetPort, '127.0.0.1')
    for (const s of [socket, upstream]) {
      carried.add(s)
      s.on('close', () => carried.delete(s))
    }
    socket.pipe(upstream).pipe(socket)
    upstream.on('error', () => socket.destroy())
    socket.on('error', () => upstream.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    urlFor(url) {
      const u = new URL(url)
      u.port = String(port)
      return u.toString().replace(/\/$/, '')
    },
    off() {
      up = false
      for (const s of carried) s.destroy()
    },
    on() {
      up = true
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of carried) s.destroy()
        server.close(() => resolve())
      }),
  }
}
