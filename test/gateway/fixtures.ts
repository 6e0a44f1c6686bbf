/**
 * One real local mesh (dev chain, bootstrap, three orchestrators, a funded broadcaster) with the
 * gateway in front, shared by a test file. Nothing is mocked.
 */

import type { ExecutionContext } from 'ava'
import { readSse } from '../../src/cli/sse-reader.js'
import { meshForGateway } from '../../src/gateway/mesh-adapter.js'
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway/server.js'
import { encodeImage } from '../../src/inference/media/image.js'
import type { Frame } from '../../src/inference/types.js'
import { type LocalMesh, startLocalMesh } from '../../src/node/local-mesh.js'

export interface GatewayWorld {
  local: LocalMesh
  gateway: Gateway
  /** A gateway of the test's own over the same mesh (its own options), closed when the test ends. */
  another(t: ExecutionContext, options: GatewayOptions): Promise<Gateway>
  stop(): Promise<void>
}

export async function startGatewayWorld(options: GatewayOptions = {}): Promise<GatewayWorld> {
  const local = await startLocalMesh()
  try {
    const gateway = await createGateway({ mesh: meshForGateway(local.broadcaster.mesh) }, options)
    return {
      local,
      gateway,
      async another(t, more) {
        const own = await createGateway({ mesh: meshForGateway(local.broadcaster.mesh) }, more)
        t.teardown(() => own.close())
        return own
      },
      async stop() {
        await gateway.close()
        await local.stop()
      },
    }
  } catch (err) {
    await local.stop()
    throw err
  }
}

/** A textured test frame, different for each `seed`. */
export function testFrame(width: number, height: number, seed = 0): Frame {
  const data = new Uint8Array(width * height * 3)
  let i = 0
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data[i++] = (x * 9 + y * 2 + seed * 31) & 255
      data[i++] = ((x ^ y) * 5 + seed) & 255
      data[i++] = (x * y + seed * 7) & 255
    }
  }
  return { width, height, channels: 3, data }
}

export async function pngOf(frame: Frame): Promise<Blob> {
  return new Blob([Buffer.from(await encodeImage(frame, 'png'))], { type: 'image/png' })
}

/** The message of an error answer (the Livepeer shape: `{detail: {msg}}`). */
export async function errorMessage(res: Response): Promise<string> {
  return ((await res.json()) as { detail: { msg: string } }).detail.msg
}

export function form(parts: Record<string, string | Blob>): FormData {
  const body = new FormData()
  for (const [name, value] of Object.entries(parts)) {
    if (typeof value === 'string') body.append(name, value)
    else body.append(name, value, name === 'image' || name === 'file' ? 'upload.bin' : name)
  }
  return body
}

/**
 * Reads a server-sent event stream (with the CLI's own reader) until `until` says stop; returns
 * every event seen.
 */
export async function readEvents(
  url: string,
  until: (event: string) => boolean,
  signal: AbortSignal,
  headers: Record<string, string> = {},
): Promise<Array<{ event: string; data: unknown }>> {
  const res = await fetch(url, { signal, headers })
  if (res.body === null) throw new Error('no event stream body')
  const seen: Array<{ event: string; data: unknown }> = []
  // The signal bounds the wait; the gateway's heartbeats keep a live stream from going idle.
  for await (const message of readSse(res.body, { idleTimeoutMs: 120_000, signal })) {
    seen.push({ event: message.event, data: JSON.parse(message.data) })
    if (until(message.event)) return seen
  }
  return seen
}
