/** Server-sent events: one `event:`/`data:` block per message, a comment heartbeat to keep proxies open. */
import type { ServerResponse } from 'node:http'

export interface EventSink {
  send(event: string, data: unknown): void
  close(): void
}

export function openEventStream(res: ServerResponse, options: { heartbeatMs?: number } = {}): EventSink {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  })
  res.write(': framemesh events\n\n')
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), options.heartbeatMs ?? 15_000)
  heartbeat.unref()
  let closed = false
  const close = () => {
    if (closed) return
    closed = true
    clearInterval(heartbeat)
    res.end()
  }
  res.on('close', close)
  return {
    send(event, data) {
      if (closed) return
      const text = JSON.stringify(data, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
      res.write(`event: ${event}\ndata: ${text}\n\n`)
    },
    close,
  }
}
