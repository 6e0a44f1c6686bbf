/**
 * PROTOCOLS.quote on the wire: the broadcaster's `requestQuote` and the orchestrator's handler.
 * One QuoteRequest, one QuoteResponse (a signed quote or a refusal with a code) per stream.
 */
import { FramemeshError } from '../errors.js'
import { messageType } from '../peer/framing.js'
import type { DialTarget, Peer } from '../peer/peer.js'
import { MAX_MESSAGE_BYTES, PROTOCOLS } from '../peer/protocols.js'
import { type RequestHandler, type RequestProtocol, sendRequest } from '../peer/request.js'
import { QuoteRefusedError } from './market-errors.js'
import { QuoteRequest, QuoteResponse } from './pb/quote.js'
import { type JobSpec, jobSpecFromPb, jobSpecToPb, type Quote, verifyQuote } from './quote.js'
import type { QuoteBook } from './quote-book.js'

export const QUOTE_PROTOCOL: RequestProtocol<QuoteRequest, QuoteResponse> = {
  protocol: PROTOCOLS.quote,
  request: messageType('QuoteRequest', QuoteRequest, MAX_MESSAGE_BYTES.quoteRequest),
  response: messageType('QuoteResponse', QuoteResponse, MAX_MESSAGE_BYTES.quoteResponse),
}

/** The orchestrator's handler: every failure becomes a Refusal the broadcaster can read. */
export function quoteHandler(book: QuoteBook): RequestHandler<QuoteRequest, QuoteResponse> {
  return async (request, context) => {
    try {
      const spec = jobSpecFromPb(request.spec)
      const { signed } = await book.quote(spec, { signal: context.signal, requester: context.remotePeer })
      return { quote: signed }
    } catch (err) {
      if (!(err instanceof FramemeshError)) throw err
      return { refusal: { code: err.code, message: err.message } }
    }
  }
}

export interface RequestQuoteOptions {
  signal?: AbortSignal
  timeoutMs?: number
}

/**
 * Asks `peerId` for a quote. Resolves with the verified quote (signed by that peer, answering our
 * spec, within our price); throws QuoteRefusedError with the orchestrator's code when it refuses.
 */
export async function requestQuote(
  components: { peer: Pick<Peer, 'dialProtocol'> },
  target: { peerId: string; dial?: DialTarget },
  spec: JobSpec,
  options: RequestQuoteOptions = {},
): Promise<Quote> {
  const response = await sendRequest(
    components,
    QUOTE_PROTOCOL,
    target.dial ?? target.peerId,
    { spec: jobSpecToPb(spec) },
    options,
  )
  if (response.refusal !== undefined) {
    throw new QuoteRefusedError(
      response.refusal.code || 'ERR_QUOTE_REFUSED',
      `${target.peerId} refused to quote: ${response.refusal.message.slice(0, 500)}`,
      { peerId: target.peerId },
    )
  }
  if (response.quote === undefined) {
    throw new QuoteRefusedError(
      'ERR_QUOTE_INVALID',
      `${target.peerId} answered with neither a quote nor a refusal`,
    )
  }
  const quote = await verifyQuote(response.quote, target.peerId)
  const echoed = jobSpecFromPb(jobSpecToPb(quote.spec))
  const same =
    echoed.pipeline === spec.pipeline &&
    echoed.modelId === spec.modelId &&
    echoed.width === spec.width &&
    echoed.height === spec.height &&
    echoed.format === spec.format &&
    echoed.sender === spec.sender &&
    echoed.feeder === spec.feeder
  if (!same) {
    throw new QuoteRefusedError(
      'ERR_QUOTE_INVALID',
      `${target.peerId} quoted a different job spec; ask another orchestrator`,
    )
  }
  if (quote.pricePerUnit > spec.maxPricePerUnit) {
    throw new QuoteRefusedError(
      'ERR_PRICE_TOO_LOW',
      `${target.peerId} quoted ${quote.pricePerUnit} wei per unit, above our ${spec.maxPricePerUnit}`,
    )
  }
  return quote
}
