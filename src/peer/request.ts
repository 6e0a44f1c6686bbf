/**
 * One request, one response, on a fresh stream: the pattern of quotes and other short exchanges.
 * The requester's side has a deadline (ERR_TIMEOUT) and an AbortSignal (ERR_ABORTED, at once);
 * the handler's side reads one request with its own deadline, answers and closes. A protocol that
 * can refuse says so inside its response type: a handler that throws just ends the stream.
 */
import type { AbortOptions } from '@libp2p/interface'
import { FramemeshError } from '../errors.js'
import { StreamEndedError } from './errors.js'
import { type MessageType, messageChannel } from './framing.js'
import type { PeerMetrics } from './metrics.js'
import type { DialTarget, HandleOptions, Peer, ProtocolHandlerContext } from './peer.js'
import { deadline, explain } from './signals.js'

export interface RequestProtocol<Req, Res> {
  /** Protocol id from PROTOCOLS, e.g. '/framemesh/quote/1.0.0'. */
  protocol: string
  request: MessageType<Req>
  response: MessageType<Res>
}

export interface RequestOptions {
  signal?: AbortSignal
  /** Whole exchange, dial included (ms, default 10 s). */
  timeoutMs?: number
}

const DEFAULT_TIMEOUT_MS = 10_000

/** Sends `message` to `target` and resolves with its one response. */
export async function sendRequest<Req, Res>(
  components: { peer: Pick<Peer, 'dialProtocol'>; metrics?: PeerMetrics },
  protocol: RequestProtocol<Req, Res>,
  target: DialTarget,
  message: Req,
  options: RequestOptions = {},
): Promise<Res> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const d = deadline(timeoutMs, options.signal)
  const what = `${protocol.protocol} request`
  let stream: Awaited<ReturnType<Peer['dialProtocol']>> | undefined
  try {
    stream = await components.peer.dialProtocol(target, protocol.protocol, { signal: d.signal, timeoutMs })
    const channel = messageChannel(
      stream,
      { in: protocol.response, out: protocol.request },
      { metrics: components.metrics },
    )
    const signalled: AbortOptions = { signal: d.signal }
    await channel.write(message, signalled)
    await channel.closeWrite(signalled)
    const response = await channel.read(signalled)
    if (response === undefined) {
      throw new StreamEndedError(
        `the remote closed the ${protocol.protocol} stream without answering; it may not serve this request`,
      )
    }
    return response
  } catch (err) {
    const error = explain(err, d, what, (cause) =>
      cause instanceof Error && 'code' in cause && typeof cause.code === 'string'
        ? new FramemeshError(cause.code, `${what} failed: ${cause.message}`, { cause })
        : new FramemeshError('ERR_REQUEST_FAILED', `${what} failed: ${String(cause)}`, { cause }),
    )
    stream?.abort(error)
    throw error
  } finally {
    d.clear()
  }
}

export interface RequestHandlerOptions extends HandleOptions {
  /** How long a requester may take to send its request (ms, default 10 s). */
  readTimeoutMs?: number
}

export type RequestHandler<Req, Res> = (request: Req, context: ProtocolHandlerContext) => Promise<Res> | Res

/** Serves `protocol` on `peer`: one request in, one response out, per stream. */
export async function handleRequests<Req, Res>(
  components: { peer: Pick<Peer, 'handle'>; metrics?: PeerMetrics },
  protocol: RequestProtocol<Req, Res>,
  handler: RequestHandler<Req, Res>,
  options: RequestHandlerOptions = {},
): Promise<void> {
  const readTimeoutMs = options.readTimeoutMs ?? DEFAULT_TIMEOUT_MS
  await components.peer.handle(
    protocol.protocol,
    async (stream, context) => {
      const channel = messageChannel(
        stream,
        { in: protocol.request, out: protocol.response },
        { metrics: components.metrics },
      )
      const d = deadline(readTimeoutMs, context.signal)
      let request: Req | undefined
      try {
        request = await channel.read({ signal: d.signal })
      } catch (err) {
        throw explain(err, d, `reading a ${protocol.protocol} request`, (cause) => cause as Error)
      } finally {
        d.clear()
      }
      if (request === undefined) {
        throw new StreamEndedError(`the requester closed the ${protocol.protocol} stream without a request`)
      }
      const response = await handler(request, context)
      await channel.write(response, { signal: context.signal })
      await channel.closeWrite({ signal: context.signal })
    },
    options,
  )
}
