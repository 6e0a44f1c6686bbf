/**
 * The orchestrator's side of the market: builds its advert from what the inference engine serves
 * (model statuses), the operator's prices and live capacity, signs it and publishes it. It
 * republishes when told something changed (debounced, so a burst of changes sends one advert) and
 * on a heartbeat well inside the advert's lifetime, so buyers never see it lapse while we run.
 */
import type { PrivateKey } from '@libp2p/interface'
import { FramemeshError } from '../errors.js'
import type { ModelStatus } from '../inference/types.js'
import { type Logger, silentLogger } from '../logger.js'
import { TypedEmitter } from '../peer/events.js'
import { ADVERT_TOPIC } from '../peer/protocols.js'
import { abortable, withDeadline } from '../tickets/abortable.js'
import {
  type Advert,
  createPaymentBinding,
  defaultUnitFor,
  type ModelOffer,
  type PaymentSigner,
  type PricingUnit,
  signAdvert,
} from './advert.js'
import { ADVERT_MIN_INTERVAL_MS, DEFAULT_MAX_EXPIRY_MS } from './advert-validator.js'

/** Longest a stop waits for its withdrawal to be published. */
const WITHDRAW_TIMEOUT_MS = 2_000

export class AdvertiserConfigError extends FramemeshError {
  constructor(message: string) {
    super('ERR_ADVERTISER_CONFIG', message)
  }
}

export interface ModelPrice {
  /** Wei per unit. */
  pricePerUnit: bigint
  /** Defaults to the pipeline's unit (output megapixels for upscale, frames for interpolate, input megapixels for ocr). */
  unit?: PricingUnit
}

export interface AdvertiserComponents {
  /** The peer's libp2p key: the advert is signed with it and names its peer id. */
  privateKey: PrivateKey
  peerId: string
  /** The Ethereum key that receives tickets; it signs the binding to our peer id once, at start. */
  payment: PaymentSigner
  /** Sends the signed advert to the mesh (gossip publish on ADVERT_TOPIC). */
  publish: (topic: string, data: Uint8Array) => Promise<{ recipients: number }>
  /** The models the inference engine serves, with their state. */
  models: () => ModelStatus[]
  /** Live job slots. */
  capacity: () => { free: number; total: number }
  logger?: Logger
  now?: () => number
}

export interface AdvertiserOptions {
  /** Price per model id; models without a price are not advertised. */
  prices: Record<string, ModelPrice>
  frameFormats: string[]
  /** 0 = no limit. */
  maxFrameWidth?: number
  maxFrameHeight?: number
  /** Advert lifetime (ms, default 5 min); must exceed the heartbeat and stay under receivers' cap. */
  ttlMs?: number
  /** Republish at least this often (ms, default 60 s). */
  heartbeatMs?: number
  /** Changes within this window send one advert (ms, default 250). */
  debounceMs?: number
  /** A publish not done by then counts as failed (ms, default 10 s). */
  publishTimeoutMs?: number
}

export interface AdvertiserEvents {
  'advert:published': { advert: Advert; bytes: number; recipients: number }
  'advert:error': { error: Error }
}

export class Advertiser {
  readonly events = new TypedEmitter<AdvertiserEvents>()
  readonly #c: AdvertiserComponents
  readonly #o: Required<AdvertiserOptions>
  readonly #now: () => number
  readonly #logger: Logger
  #binding?: { paymentAddress: string; paymentSignature: string }
  #lastSequence = 0
  /** When the last advert went out (ms, on `now`'s clock); the next waits ADVERT_MIN_INTERVAL_MS. */
  #lastPublishedAt = -Infinity
  #current?: Advert
  #debounce?: ReturnType<typeof setTimeout>
  #heartbeat?: ReturnType<typeof setTimeout>
  #chain: Promise<unknown> = Promise.resolve()
  #running = false

  constructor(components: AdvertiserComponents, options: AdvertiserOptions) {
    this.#c = components
    this.#now = components.now ?? Date.now
    this.#logger = components.logger ?? silentLogger
    // Field by field, so an option passed as `undefined` still gets its default.
    this.#o = {
      prices: options.prices,
      frameFormats: options.frameFormats,
      maxFrameWidth: options.maxFrameWidth ?? 0,
      maxFrameHeight: options.maxFrameHeight ?? 0,
      ttlMs: options.ttlMs ?? 5 * 60_000,
      heartbeatMs: options.heartbeatMs ?? 60_000,
      debounceMs: options.debounceMs ?? 250,
      publishTimeoutMs: options.publishTimeoutMs ?? 10_000,
    }
    const { ttlMs, heartbeatMs } = this.#o
    if (!(heartbeatMs > 0 && ttlMs > heartbeatMs)) {
      throw new AdvertiserConfigError(
        `advert ttl (${ttlMs} ms) must exceed the heartbeat (${heartbeatMs} ms) or offers lapse between adverts; raise ttlMs or lower heartbeatMs`,
      )
    }
    if (ttlMs > DEFAULT_MAX_EXPIRY_MS) {
      throw new AdvertiserConfigError(
        `advert ttl ${ttlMs} ms is over the ${DEFAULT_MAX_EXPIRY_MS} ms receivers accept; lower ttlMs`,
      )
    }
    for (const [id, price] of Object.entries(options.prices)) {
      if (price.pricePerUnit < 0n)
        throw new AdvertiserConfigError(`price of ${id} is negative; prices are wei >= 0`)
    }
  }

  /**
   * Signs the payment binding, publishes the first advert and starts the heartbeat. The payment
   * key may be remote (a JSON-RPC signer), so that wait is bounded: ERR_TIMEOUT after timeoutMs
   * (default 30 s), ERR_ABORTED when `signal` fires.
   */
  async start(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    if (this.#running) return
    this.#binding = await withDeadline(() => createPaymentBinding(this.#c.payment, this.#c.peerId), {
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? 30_000,
      what: 'signing the payment binding',
    })
    this.#running = true
    await this.publishNow()
  }

  stop(): void {
    this.#running = false
    clearTimeout(this.#debounce)
    clearTimeout(this.#heartbeat)
    this.#debounce = undefined
    this.#heartbeat = undefined
  }

  /**
   * Stops, and first publishes an advert that offers nothing (newer than the last, so receivers
   * drop our offers at once instead of holding them until they expire, up to ttlMs). For a
   * graceful stop; bounded by WITHDRAW_TIMEOUT_MS, and a failure only means the offers lapse later.
   */
  async withdraw(): Promise<void> {
    const last = this.#current
    this.stop()
    await this.#chain
    if (last === undefined) return
    try {
      await this.#paced()
      const now = this.#now()
      const withdrawal: Advert = {
        ...last,
        sequence: this.#nextSequence(now),
        expiresAt: now + this.#o.ttlMs,
        models: [],
        slotsFree: 0,
      }
      // A stop waits for it, so not for long.
      await this.#send(withdrawal, Math.min(this.#o.publishTimeoutMs, WITHDRAW_TIMEOUT_MS), 'the withdrawal')
      this.#logger.info('offers withdrawn', { sequence: withdrawal.sequence })
    } catch (err) {
      this.#logger.warn('could not withdraw the offers; they lapse when the last advert expires', { err })
    }
  }

  /** Something in the advert changed (a model warmed, capacity moved, a price): republish soon. */
  changed(): void {
    if (!this.#running || this.#debounce !== undefined) return
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined
      void this.publishNow()
    }, this.#o.debounceMs)
    this.#debounce.unref()
  }

  /** The last advert published. */
  current(): Advert | undefined {
    return this.#current
  }

  /**
   * Builds, signs and publishes an advert now; resolves with it (undefined when there is nothing to
   * offer or publishing failed, which is also emitted as 'advert:error'). Calls are serialised so
   * sequences go out in order.
   */
  publishNow(): Promise<Advert | undefined> {
    const run = this.#chain.then(() => this.#publish())
    this.#chain = run.catch(() => {})
    return run
  }

  /** The advert we would publish now, or undefined when no priced, usable model is served. */
  build(): Advert | undefined {
    if (this.#binding === undefined) return undefined
    const models: ModelOffer[] = []
    for (const status of this.#c.models()) {
      const price = this.#o.prices[status.id]
      if (price === undefined || status.state === 'failed') continue
      models.push({
        id: status.id,
        pipeline: status.pipeline,
        sha256: status.sha256.toLowerCase(),
        warm: status.state === 'warm',
        pricePerUnit: price.pricePerUnit,
        unit: price.unit ?? defaultUnitFor(status.pipeline),
      })
    }
    if (models.length === 0) return undefined
    const now = this.#now()
    const { free, total } = this.#c.capacity()
    return {
      peerId: this.#c.peerId,
      sequence: this.#nextSequence(now),
      expiresAt: now + this.#o.ttlMs,
      ...this.#binding,
      models,
      slotsFree: Math.max(0, Math.min(free, total)),
      slotsTotal: Math.max(0, total),
      frameFormats: this.#o.frameFormats,
      maxFrameWidth: this.#o.maxFrameWidth,
      maxFrameHeight: this.#o.maxFrameHeight,
    }
  }

  /**
   * Sequences follow the clock in microsecond steps, so they keep rising across restarts without
   * being stored (a burst would need 1000 adverts in a millisecond to run ahead of the clock).
   * now * 1000 stays an exact integer until the year 2255.
   */
  #nextSequence(now: number): number {
    return Math.max(this.#lastSequence + 1, now * 1000)
  }

  /** Receivers drop a peer's adverts that come faster than ADVERT_RATE allows: keep under it. */
  async #paced(): Promise<void> {
    const wait = this.#lastPublishedAt + ADVERT_MIN_INTERVAL_MS - this.#now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  }

  /** Signs and publishes `advert`, which becomes the current one; `what` names it in a timeout. */
  async #send(
    advert: Advert,
    timeoutMs: number,
    what: string,
  ): Promise<{ bytes: number; recipients: number }> {
    const bytes = await signAdvert(advert, this.#c.privateKey)
    this.#lastSequence = advert.sequence
    const { recipients } = await abortable(
      this.#c.publish(ADVERT_TOPIC, bytes),
      AbortSignal.timeout(timeoutMs),
      `publishing ${what}`,
    )
    this.#current = advert
    return { bytes: bytes.byteLength, recipients }
  }

  async #publish(): Promise<Advert | undefined> {
    await this.#paced()
    if (!this.#running) return undefined
    this.#lastPublishedAt = this.#now()
    this.#armHeartbeat()
    try {
      const advert = this.build()
      if (advert === undefined) {
        this.#logger.warn('nothing to advertise: no served model has a price', {
          served: this.#c.models().map((m) => m.id),
        })
        return undefined
      }
      const { bytes, recipients } = await this.#send(advert, this.#o.publishTimeoutMs, 'the advert')
      this.#logger.debug('advert published', { sequence: advert.sequence, bytes, recipients })
      this.events.emit('advert:published', { advert, bytes, recipients })
      return advert
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err))
      this.#logger.warn('advert publish failed; will retry on the next change or heartbeat', { err: error })
      this.events.emit('advert:error', { error })
      return undefined
    }
  }

  #armHeartbeat(): void {
    clearTimeout(this.#heartbeat)
    this.#heartbeat = setTimeout(() => void this.publishNow(), this.#o.heartbeatMs)
    this.#heartbeat.unref()
  }
}
