/**
 * The orchestrator's quotes: decides whether to quote a job spec (model served, price acceptable,
 * frame within limits, a slot free, the sender able to pay), issues signed quotes with ticket
 * params from its TicketRecipient, and hands each quote out once to open a job until it expires.
 */
import { randomBytes } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { FramemeshError } from '../errors.js'
import { MAX_MESSAGE_BYTES } from '../peer/protocols.js'
import type { TicketRecipient } from '../tickets/recipient.js'
import { defaultUnitFor } from './advert.js'
import type { ModelPrice } from './advertiser.js'
import { maxItemPixels } from './job-protocol.js'
import {
  framesPerItem,
  isTextPipeline,
  modelScale,
  STREAMABLE_PIPELINES,
  type WorkEngine,
} from './job-work.js'
import { JOB_ERROR_CODES, QuoteRefusedError } from './market-errors.js'
import type { SignedQuote } from './pb/quote.js'
import { FRAME_FORMAT_RGB24, type JobSpec, type Quote, signQuote } from './quote.js'
import { SendersPerPeer } from './senders-per-peer.js'
import { microUnitsPerItem, ticketPrice } from './units.js'

export interface QuoteBookComponents {
  peerId: string
  privateKey: PrivateKey
  recipient: Pick<TicketRecipient, 'issueParams'>
  engine: Pick<WorkEngine, 'model' | 'registry'>
  /** True while a new job could start now. */
  hasFreeSlot: () => boolean
  now?: () => number
}

export interface QuoteBookOptions {
  prices: Record<string, ModelPrice>
  /** How long a quote may open a job (ms, default 30 s). */
  ttlMs?: number
  /** 0 = no limit. */
  maxFrameWidth?: number
  maxFrameHeight?: number
  /** Frames a broadcaster may have in flight (default 8: enough to hide a loopback round trip behind small frames). */
  window?: number
  /** Unused quotes kept at once; the oldest are dropped past this (default 1,000). */
  maxQuotes?: number
  /**
   * Different sender addresses one peer may name in 10 minutes (default 8). Each new one costs a
   * chain read, and an honest broadcaster pays from one wallet.
   */
  maxSendersPerPeer?: number
}

export interface QuoteRecord {
  quote: Quote
  /** Micro-units one work item costs. */
  microUnits: bigint
  /** The peer that asked: only it may open a job with the quote. */
  requester?: string
  used: boolean
  /** Workflows: the feeder (spec.feeder) has opened its feed stream. */
  fed?: boolean
  /** Workflows: the feeder the broadcaster named instead of spec.feeder (it replaced that stage). */
  feeder?: string
}

export class QuoteBook {
  readonly #c: QuoteBookComponents
  readonly #o: Required<QuoteBookOptions>
  readonly #now: () => number
  readonly #quotes = new Map<string, QuoteRecord>()
  readonly #senders: SendersPerPeer

  constructor(components: QuoteBookComponents, options: QuoteBookOptions) {
    this.#c = components
    this.#now = components.now ?? Date.now
    this.#o = {
      ttlMs: 30_000,
      maxFrameWidth: 0,
      maxFrameHeight: 0,
      window: 8,
      maxQuotes: 1_000,
      maxSendersPerPeer: 8,
      ...options,
    }
    this.#senders = new SendersPerPeer({ maxSenders: this.#o.maxSendersPerPeer, now: this.#now })
  }

  get window(): number {
    return this.#o.window
  }

  /** A signed quote for `spec`, or a QuoteRefusedError saying why not. */
  async quote(
    spec: JobSpec,
    options: { signal?: AbortSignal; requester?: string } = {},
  ): Promise<{ quote: Quote; signed: SignedQuote }> {
    const price = this.#check(spec)
    const unit = price.unit ?? defaultUnitFor(spec.pipeline)
    // Before the sender's funds are read: an unseen sender costs a chain read.
    if (options.requester !== undefined) this.#senders.admit(options.requester, spec.sender.toLowerCase())
    let ticketParams: Quote['ticketParams']
    try {
      ticketParams = await this.#c.recipient.issueParams({
        sender: spec.sender,
        price: ticketPrice(price.pricePerUnit),
        signal: options.signal,
      })
    } catch (err) {
      // The sender's funds (or the chain) decide: pass the tickets' own code on.
      const code = err instanceof FramemeshError ? err.code : 'ERR_TICKET_PARAMS'
      throw new QuoteRefusedError(code, `cannot issue ticket params: ${(err as Error).message}`)
    }
    const scale = modelScale(this.#c.engine, spec.modelId)
    const quote: Quote = {
      quoteId: randomBytes(16).toString('hex'),
      peerId: this.#c.peerId,
      spec,
      pricePerUnit: price.pricePerUnit,
      unit,
      ticketParams,
      expiresAt: this.#now() + this.#o.ttlMs,
      window: this.#o.window,
      ...(isTextPipeline(spec.pipeline)
        ? {}
        : { outputWidth: spec.width * scale, outputHeight: spec.height * scale }),
    }
    this.#remember({
      quote,
      microUnits: microUnitsPerItem({ ...spec, scale }, unit),
      ...(options.requester === undefined ? {} : { requester: options.requester }),
      used: false,
    })
    return { quote, signed: await signQuote(quote, this.#c.privateKey) }
  }

  /**
   * Takes a quote to open a job: unknown → ERR_QUOTE_UNKNOWN, expired → ERR_QUOTE_EXPIRED, already
   * used → ERR_QUOTE_USED, another sender's → ERR_QUOTE_UNKNOWN (nobody learns others' quote ids).
   */
  take(quoteId: string, requester?: string): QuoteRecord {
    const record = this.#quotes.get(quoteId)
    if (record === undefined || (record.requester !== undefined && record.requester !== requester)) {
      throw new QuoteRefusedError(
        JOB_ERROR_CODES.quoteUnknown,
        `no quote ${quoteId.slice(0, 64)} here; ask for a quote on the quote protocol first`,
      )
    }
    if (record.quote.expiresAt <= this.#now()) {
      this.#quotes.delete(quoteId)
      throw new QuoteRefusedError(
        JOB_ERROR_CODES.quoteExpired,
        `quote ${quoteId} expired ${this.#now() - record.quote.expiresAt} ms ago; ask for a new quote`,
      )
    }
    if (record.used) {
      throw new QuoteRefusedError(
        JOB_ERROR_CODES.quoteUsed,
        `quote ${quoteId} already opened a job; each quote opens one job, ask for a new one`,
      )
    }
    record.used = true
    return record
  }

  /**
   * Workflows: the quote's feeder (the previous stage) opens the feed stream of a job the
   * quote's requester opened. Anyone else, a second feed, or a job not open yet: ERR_QUOTE_UNKNOWN.
   */
  takeFeed(quoteId: string, feeder: string): QuoteRecord {
    const record = this.#quotes.get(quoteId)
    const expected = record?.feeder ?? record?.quote.spec.feeder
    if (record === undefined || expected !== feeder || !record.used || record.fed === true) {
      throw new QuoteRefusedError(
        JOB_ERROR_CODES.quoteUnknown,
        `no job ${quoteId.slice(0, 64)} waiting for a feed from ${feeder}; the broadcaster opens the job first, naming you as feeder`,
      )
    }
    record.fed = true
    return record
  }

  /**
   * Workflows: the job's requester replaced the previous stage; from now on only `feeder` may open
   * the job's feed (once).
   */
  refeed(quoteId: string, feeder: string): void {
    const record = this.#quotes.get(quoteId)
    if (record === undefined || !record.used || record.quote.spec.feeder === undefined) {
      throw new QuoteRefusedError(
        JOB_ERROR_CODES.quoteUnknown,
        `no workflow job ${quoteId.slice(0, 64)} here`,
      )
    }
    record.feeder = feeder
    record.fed = false
  }

  /** Drops a used quote once its job ended. */
  release(quoteId: string): void {
    this.#quotes.delete(quoteId)
  }

  #check(spec: JobSpec) {
    const refuse = (code: string, message: string): never => {
      throw new QuoteRefusedError(code, message)
    }
    if (!STREAMABLE_PIPELINES.includes(spec.pipeline)) {
      refuse(
        JOB_ERROR_CODES.unsupportedPipeline,
        `this orchestrator streams ${STREAMABLE_PIPELINES.join(', ')}, not ${spec.pipeline}`,
      )
    }
    const price = this.#o.prices[spec.modelId]
    let status: ReturnType<WorkEngine['model']> | undefined
    try {
      status = this.#c.engine.model(spec.modelId)
    } catch {
      status = undefined
    }
    if (price === undefined || status === undefined || status.state === 'failed') {
      refuse(
        JOB_ERROR_CODES.unknownModel,
        `model ${spec.modelId} is not offered here; pick one from the adverts`,
      )
    }
    if (status!.pipeline !== spec.pipeline) {
      refuse(
        JOB_ERROR_CODES.unknownModel,
        `model ${spec.modelId} serves ${status!.pipeline}, not ${spec.pipeline}`,
      )
    }
    if (spec.format !== FRAME_FORMAT_RGB24) {
      refuse(
        JOB_ERROR_CODES.unsupportedFormat,
        `frame format ${spec.format} is not served; send ${FRAME_FORMAT_RGB24}`,
      )
    }
    const { maxFrameWidth, maxFrameHeight } = this.#o
    if (
      (maxFrameWidth > 0 && spec.width > maxFrameWidth) ||
      (maxFrameHeight > 0 && spec.height > maxFrameHeight)
    ) {
      refuse(
        JOB_ERROR_CODES.frameTooLarge,
        `frames of ${spec.width}x${spec.height} exceed this orchestrator's ${maxFrameWidth}x${maxFrameHeight}; split or downscale them`,
      )
    }
    // Every frame in and every result out must fit one job message, or the job would fail on its
    // first frame: refuse it now.
    const scale = status!.pipeline === 'upscale' ? modelScale(this.#c.engine, spec.modelId) : 1
    const bytesPerPixel = 3 * Math.max(framesPerItem(spec.pipeline), scale * scale)
    const largest = spec.width * spec.height * bytesPerPixel
    const maxPixels = maxItemPixels(bytesPerPixel)
    if (spec.width * spec.height > maxPixels) {
      refuse(
        JOB_ERROR_CODES.itemTooLarge,
        `a ${spec.width}x${spec.height} ${spec.pipeline} item with ${spec.modelId} needs a ${largest}-byte message, over the ${MAX_MESSAGE_BYTES.jobMessage}-byte limit of one job message (the same on every orchestrator); send frames of at most ${maxPixels} pixels for this model, or run it locally with \`framemesh run\` (frames up to 4K)`,
      )
    }
    if (price!.pricePerUnit > spec.maxPricePerUnit) {
      refuse(
        JOB_ERROR_CODES.priceTooLow,
        `the price here is ${price!.pricePerUnit} wei per unit, above the ${spec.maxPricePerUnit} offered; raise maxPrice or pick a cheaper orchestrator`,
      )
    }
    if (!this.#c.hasFreeSlot())
      refuse(JOB_ERROR_CODES.busy, 'every job slot is taken; try another orchestrator')
    return price!
  }

  #remember(record: QuoteRecord): void {
    const now = this.#now()
    for (const [id, r] of this.#quotes) if (!r.used && r.quote.expiresAt <= now) this.#quotes.delete(id)
    this.#quotes.set(record.quote.quoteId, record)
    while (this.#quotes.size > this.#o.maxQuotes) {
      const oldest = [...this.#quotes].find(([, r]) => !r.used)?.[0]
      if (oldest === undefined) break
      this.#quotes.delete(oldest)
    }
  }
}
