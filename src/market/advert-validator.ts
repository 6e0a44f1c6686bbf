/**
 * Deciding whether an advert may be trusted. `checkAdvert` is a pure function of the bytes and
 * what the caller knows (time, publisher, last sequence); `AdvertValidator` adds the memory a
 * gossip edge needs (last sequence per peer, verified payment bindings) and the gossip verdict.
 */
import type { Logger } from '../logger.js'
import { MAX_MESSAGE_BYTES } from '../peer/protocols.js'
import { setMostRecent } from '../recent-map.js'
import {
  type Advert,
  AdvertError,
  type AdvertRejectCode,
  type DecodedAdvert,
  decodeAdvert,
  verifyAdvertSignature,
  verifyPaymentBinding,
} from './advert.js'

export type AdvertValidation =
  | { ok: true; advert: Advert; decoded: DecodedAdvert }
  | { ok: false; code: AdvertRejectCode; message: string }

export interface AdvertCheckContext {
  /** Unix ms, now. */
  now: number
  /** The gossip publisher (`from`) when the advert came over gossip; must equal the advert's peer id. */
  from?: string
  /** The highest sequence already accepted from the advert's peer, if any. */
  lastSequence?: (peerId: string) => number | undefined
  /** Latest acceptable expiry, as ms from now (default 10 min): caps how long a stale offer can live. */
  maxExpiryMs?: number
  maxBytes?: number
  /** Checks a payment binding; pass a caching one on hot paths (secp256k1 recovery is the slow step). */
  verifyBinding?: (peerId: string, address: string, signature: string) => boolean
}

export const DEFAULT_MAX_EXPIRY_MS = 10 * 60_000

/**
 * How many adverts a peer may have accepted: `burst` back to back, then one per `refillMs`.
 * Advertisers publish at most one per ADVERT_MIN_INTERVAL_MS, a little slower than this refills,
 * so jitter on the way never makes an honest advert look too early.
 */
export const ADVERT_RATE = { burst: 10, refillMs: 200 } as const
export const ADVERT_MIN_INTERVAL_MS = 250

function refuse(code: AdvertRejectCode, message: string): AdvertValidation {
  return { ok: false, code, message }
}

/**
 * Every check an advert must pass, cheapest first so floods of junk cost little:
 * size and shape, time, publisher, sequence, then the two signatures.
 */
export async function checkAdvert(bytes: Uint8Array, ctx: AdvertCheckContext): Promise<AdvertValidation> {
  let decoded: DecodedAdvert
  try {
    decoded = decodeAdvert(bytes, ctx.maxBytes ?? MAX_MESSAGE_BYTES.advert)
  } catch (err) {
    if (err instanceof AdvertError) return refuse(err.code, err.message)
    throw err
  }
  const { advert } = decoded
  if (advert.expiresAt <= ctx.now) {
    return refuse(
      'ERR_ADVERT_EXPIRED',
      `advert from ${advert.peerId} expired ${ctx.now - advert.expiresAt} ms ago; the advertiser must republish`,
    )
  }
  const maxExpiryMs = ctx.maxExpiryMs ?? DEFAULT_MAX_EXPIRY_MS
  if (advert.expiresAt > ctx.now + maxExpiryMs) {
    return refuse(
      'ERR_ADVERT_EXPIRY_TOO_FAR',
      `advert from ${advert.peerId} expires ${advert.expiresAt - ctx.now} ms from now, over the ${maxExpiryMs} ms cap; advertise a shorter expiry (or fix the clock)`,
    )
  }
  if (ctx.from !== undefined && ctx.from !== advert.peerId) {
    return refuse(
      'ERR_ADVERT_PUBLISHER_MISMATCH',
      `advert for ${advert.peerId} was published by ${ctx.from}; a peer may only publish its own advert`,
    )
  }
  const last = ctx.lastSequence?.(advert.peerId)
  if (last !== undefined && advert.sequence <= last) {
    return refuse(
      'ERR_ADVERT_REPLAYED',
      `advert from ${advert.peerId} has sequence ${advert.sequence}, not above ${last} already seen; sequences must increase`,
    )
  }
  if (!(await verifyAdvertSignature(decoded))) {
    return refuse(
      'ERR_ADVERT_BAD_SIGNATURE',
      `advert signature does not match peer ${advert.peerId}; it was forged or corrupted`,
    )
  }
  const verifyBinding = ctx.verifyBinding ?? verifyPaymentBinding
  if (!verifyBinding(advert.peerId, advert.paymentAddress, advert.paymentSignature)) {
    return refuse(
      'ERR_ADVERT_BAD_PAYMENT_BINDING',
      `payment address ${advert.paymentAddress} did not sign a binding to peer ${advert.peerId}; sign the binding statement with that address's key`,
    )
  }
  return { ok: true, advert, decoded }
}

/**
 * The gossip verdict for a refusal. Every refusal of the advert itself is a 'reject' so
 * gossipsub's P4 penalty lands on the forwarding peer and spammers get pruned. The one honest way
 * to trip this is an advert expiring or being overtaken in flight; adverts live minutes and are
 * republished seconds apart, so that window is small next to the penalty's decay. An advert that
 * came too soon after its peer's last is sound and only dropped ('ignore'): the relay that passed
 * it on may have let it through within its own allowance, a little earlier.
 */
export function gossipVerdict(code: AdvertRejectCode): 'reject' | 'ignore' {
  return code === 'ERR_ADVERT_TOO_FREQUENT' ? 'ignore' : 'reject'
}

export interface AdvertValidatorComponents {
  logger?: Logger
  /** Injected clock (unix ms); defaults to Date.now. */
  now?: () => number
}

export interface AdvertValidatorOptions {
  maxExpiryMs?: number
  maxBytes?: number
  /** Peers whose last sequence we remember; the least recently updated are dropped past this. */
  maxTrackedPeers?: number
  /** Verified payment bindings kept to skip secp256k1 recovery on every republish. */
  bindingCacheSize?: number
  /**
   * Adverts one peer may have accepted back to back (default ADVERT_RATE.burst); past it, one per
   * `advertRefillMs` (default ADVERT_RATE.refillMs). Each accepted advert is relayed to the whole
   * mesh, so a peer republishing without pause would cost every node a check and a relay per advert.
   */
  advertBurst?: number
  advertRefillMs?: number
}

interface SequenceEntry {
  sequence: number
  /** After this (unix ms) no older advert from the peer can still be unexpired, so we may forget it. */
  forgetAt: number
  /** Adverts the peer may still have accepted at once, as of `refilledAt`. */
  allowance: number
  refilledAt: number
}

/** Stateful advert checking for one node: remembers sequences and verified bindings. */
export class AdvertValidator {
  readonly #now: () => number
  readonly #logger?: Logger
  readonly #maxExpiryMs: number
  readonly #maxBytes: number
  readonly #maxTrackedPeers: number
  readonly #bindingCacheSize: number
  readonly #burst: number
  readonly #refillMs: number
  readonly #sequences = new Map<string, SequenceEntry>()
  readonly #bindings = new Set<string>()
  readonly #refusals = new Map<AdvertRejectCode, number>()
  #accepted = 0

  constructor(components: AdvertValidatorComponents = {}, options: AdvertValidatorOptions = {}) {
    this.#now = components.now ?? Date.now
    this.#logger = components.logger
    this.#maxExpiryMs = options.maxExpiryMs ?? DEFAULT_MAX_EXPIRY_MS
    this.#maxBytes = options.maxBytes ?? MAX_MESSAGE_BYTES.advert
    this.#maxTrackedPeers = options.maxTrackedPeers ?? 10_000
    this.#bindingCacheSize = options.bindingCacheSize ?? 4_096
    this.#burst = options.advertBurst ?? ADVERT_RATE.burst
    this.#refillMs = options.advertRefillMs ?? ADVERT_RATE.refillMs
  }

  /** Checks an advert and, when it passes, remembers its sequence so replays of it fail. */
  async validate(bytes: Uint8Array, from?: string): Promise<AdvertValidation> {
    const now = this.#now()
    const result = await checkAdvert(bytes, {
      now,
      from,
      maxExpiryMs: this.#maxExpiryMs,
      maxBytes: this.#maxBytes,
      lastSequence: (peerId) => this.lastSequence(peerId, now),
      verifyBinding: (p, a, s) => this.#verifyBinding(p, a, s),
    })
    if (result.ok) {
      // Two copies may be checked at once (signature checks are async): the second one loses.
      const last = this.lastSequence(result.advert.peerId, now)
      if (last !== undefined && result.advert.sequence <= last) {
        return this.#count(
          refuse(
            'ERR_ADVERT_REPLAYED',
            `advert sequence ${result.advert.sequence} already seen from ${result.advert.peerId}`,
          ),
        )
      }
      const allowance = this.#allowance(result.advert.peerId, now)
      if (allowance < 1) {
        return this.#count(
          refuse(
            'ERR_ADVERT_TOO_FREQUENT',
            `advert from ${result.advert.peerId} came less than ${this.#refillMs} ms after its last ${this.#burst}; adverts are republished on change and heartbeat, not in a loop`,
          ),
        )
      }
      this.#remember(result.advert.peerId, result.advert.sequence, now, allowance - 1)
    }
    return this.#count(result)
  }

  /** What the peer may still have accepted now: its allowance, refilled for the time since. */
  #allowance(peerId: string, now: number): number {
    const entry = this.#sequences.get(peerId)
    if (entry === undefined) return this.#burst
    return Math.min(this.#burst, entry.allowance + (now - entry.refilledAt) / this.#refillMs)
  }

  lastSequence(peerId: string, now: number = this.#now()): number | undefined {
    const entry = this.#sequences.get(peerId)
    if (entry === undefined) return undefined
    if (entry.forgetAt <= now) {
      this.#sequences.delete(peerId)
      return undefined
    }
    return entry.sequence
  }

  /** Counts of accepted adverts and of refusals by code, for metrics and logs. */
  stats(): { accepted: number; refused: Partial<Record<AdvertRejectCode, number>> } {
    return { accepted: this.#accepted, refused: Object.fromEntries(this.#refusals) }
  }

  #count(result: AdvertValidation): AdvertValidation {
    if (result.ok) {
      this.#accepted++
    } else {
      this.#refusals.set(result.code, (this.#refusals.get(result.code) ?? 0) + 1)
      this.#logger?.debug('advert refused', { code: result.code, reason: result.message })
    }
    return result
  }

  #remember(peerId: string, sequence: number, now: number, allowance: number): void {
    // Any older advert was signed before this one arrived, so it expires by now + maxExpiry.
    setMostRecent(
      this.#sequences,
      peerId,
      { sequence, forgetAt: now + this.#maxExpiryMs, allowance, refilledAt: now },
      this.#maxTrackedPeers,
    )
  }

  #verifyBinding(peerId: string, address: string, signature: string): boolean {
    const key = `${peerId}|${address}|${signature}`
    if (this.#bindings.has(key)) return true
    // Only successes are cached: failures are cheap for an attacker to mint and would flush the cache.
    if (!verifyPaymentBinding(peerId, address, signature)) return false
    this.#bindings.add(key)
    if (this.#bindings.size > this.#bindingCacheSize) {
      const oldest = this.#bindings.values().next().value
      if (oldest !== undefined) this.#bindings.delete(oldest)
    }
    return true
  }
}
