/**
 * Reads a text/event-stream body into `{ event, data }` messages. Comment lines (the gateway's
 * heartbeats) count as activity: the idle timer restarts on every chunk, so a live but quiet job
 * is not mistaken for a dead connection.
 */
import { FramemeshError } from '../errors.js'

export interface SseMessage {
  event: string
  data: string
}

export async function* readSse(
  body: ReadableStream<Uint8Array>,
  options: { idleTimeoutMs: number; signal: AbortSignal },
): AsyncGenerator<SseMessage> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let idle: NodeJS.Timeout | undefined
  let timedOut = false
  // Cancelling a body the aborted fetch has already errored rejects with that abort, and the read
  // in progress reports it anyway: left unhandled, it ended the process on Ctrl-C.
  const cancel = () => {
    reader.cancel().catch(() => {})
  }
  const arm = () => {
    clearTimeout(idle)
    idle = setTimeout(() => {
      timedOut = true
      cancel()
    }, options.idleTimeoutMs)
  }
  const onAbort = cancel
  options.signal.addEventListener('abort', onAbort, { once: true })
  let buffer = ''
  let event = 'message'
  let data: string[] = []
  try {
    arm()
    for (;;) {
      const { done, value } = await reader.read()
      if (timedOut) {
        throw new FramemeshError(
          'ERR_TIMEOUT',
          `the gateway sent nothing for ${options.idleTimeoutMs} ms (not even a heartbeat)`,
        )
      }
      options.signal.throwIfAborted()
      if (done) return
      arm()
      buffer += decoder.decode(value, { stream: true })
      let newline = buffer.indexOf('\n')
      while (newline !== -1) {
        const line = buffer.slice(0, newline).replace(/\r$/, '')
        buffer = buffer.slice(newline + 1)
        newline = buffer.indexOf('\n')
        if (line === '') {
          // A blank line ends a message; one without data lines was only comments.
          if (data.length > 0) yield { event, data: data.join('\n') }
          event = 'message'
          data = []
        } else if (line.startsWith('event:')) {
          event = line.slice(6).trim()
        } else if (line.startsWith('data:')) {
          data.push(line.slice(5).replace(/^ /, ''))
        }
      }
    }
  } finally {
    clearTimeout(idle)
    options.signal.removeEventListener('abort', onAbort)
    // Stops the download when the consumer leaves early; a no-op on a finished stream.
    cancel()
  }
}
