/**
 * The order book: the live offers a buyer knows of, one per (peer, model), fed with adverts that
 * already passed the validator. A newer advert from a peer replaces all of that peer's offers;
 * expired ones are dropped lazily on every read and by an optional unref'd sweep timer.
 */
import type { Logger } from '../logger.js'
import { TypedEmitter } from '../peer/events.js'
import type { Advert } from './advert.js'
import { type Offer, type OfferQuery, offerMatches, offersFromAdvert } from './offer.js'

export type OfferRemovedReason = 'expired' | 'withdrawn' | 'peer-removed' | 'evicted'

export interface OrderBookEvents {
  'offer:added': { offer: Offer }
  'offer:updated': { offer: Offer; previous: Offer }
  'offer:removed': { offer: Offer; reason: OfferRemovedReason }
}

export interface OrderBookComponents {
  logger?: Logger
  /** Injected clock (unix ms); defaults to Date.now. */
  now?: () => number
}

export interface OrderBookOptions {
  /** How often the sweep timer drops expired offers (ms); 0 turns the timer off (reads still drop them). */
  sweepIntervalMs?: number
  /** Most peers kept; past this the peer whose advert expires soonest is dropped (sybil floods). */
  maxPeers?: number
}

interface PeerEntry {
  sequence: number
  expiresAt: number
  offers: Map<string, Offer>
}

export class OrderBook {
  readonly events = new TypedEmitter<OrderBookEvents>()
  readonly #now: () => number
  readonly #logger?: Logger
  readonly #sweepIntervalMs: number
  readonly #maxPeers: number
  readonly #peers = new Map<string, PeerEntry>()
  #timer?: ReturnType<typeof setInterval>

  constructor(components: OrderBookComponents = {}, options: OrderBookOptions = {}) {
    this.#now = components.now ?? Date.now
    this.#logger = components.logger
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 5_000
    this.#maxPeers = options.maxPeers ?? 10_000
  }

  /** Starts the sweep timer (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.#timer !== undefined || this.#sweepIntervalMs <= 0) return
    this.#timer = setInterval(() => this.sweep(), this.#sweepIntervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /**
   * Takes in a validated advert. Returns false (and changes nothing) when it is not newer than
   * what we hold for that peer, or already expired.
   */
  apply(advert: Advert): boolean {
    const now = this.#now()
    this.sweep(now)
    if (advert.expiresAt <= now) return false
    const existing = this.#peers.get(advert.peerId)
    if (existing !== undefined && advert.sequence <= existing.sequence) return false

    const offers = new Map(offersFromAdvert(advert, now).map((o) => [o.modelId, o]))
    if (existing === undefined && this.#peers.size >= this.#maxPeers) this.#evictSoonestExpiring()
    this.#peers.set(advert.peerId, { sequence: advert.sequence, expiresAt: advert.expiresAt, offers })

    for (const [modelId, previous] of existing?.offers ?? []) {
      if (!offers.has(modelId)) this.events.emit('offer:removed', { offer: previous, reason: 'withdrawn' })
    }
    for (const [modelId, offer] of offers) {
      const previous = existing?.offers.get(modelId)
      if (previous === undefined) this.events.emit('offer:added', { offer })
      else this.events.emit('offer:updated', { offer, previous })
    }
    return true
  }

  /** Drops every offer of a peer (e.g. it misbehaved in a job); its next valid advert brings them back. */
  removePeer(peerId: string, reason: OfferRemovedReason = 'peer-removed'): void {
    const entry = this.#peers.get(peerId)
    if (entry === undefined) return
    this.#peers.delete(peerId)
    for (const offer of entry.offers.values()) this.events.emit('offer:removed', { offer, reason })
  }

  /** Drops expired adverts now; reads call this, so the timer only bounds memory and event latency. */
  sweep(now: number = this.#now()): void {
    for (const [peerId, entry] of this.#peers) {
      if (entry.expiresAt <= now) {
        this.#logger?.debug('advert expired', { peerId })
        this.removePeer(peerId, 'expired')
      }
    }
  }

  /** Live offers matching the query, in no particular order (selection ranks them). */
  query(query: OfferQuery = {}): Offer[] {
    this.sweep()
    const out: Offer[] = []
    for (const entry of this.#peers.values()) {
      for (const offer of entry.offers.values()) if (offerMatches(offer, query)) out.push(offer)
    }
    return out
  }

  get(peerId: string, modelId: string): Offer | undefined {
    this.sweep()
    return this.#peers.get(peerId)?.offers.get(modelId)
  }

  /** Peers with at least one live offer. */
  peers(): string[] {
    this.sweep()
    return [...this.#peers.keys()]
  }

  /** The highest advert sequence held for a peer. */
  sequenceOf(peerId: string): number | undefined {
    return this.#peers.get(peerId)?.sequence
  }

  get size(): number {
    this.sweep()
    let n = 0
    for (const entry of this.#peers.values()) n += entry.offers.size
    return n
  }

  #evictSoonestExpiring(): void {
    let victim: string | undefined
    let soonest = Number.POSITIVE_INFINITY
    for (const [peerId, entry] of this.#peers) {
      if (entry.expiresAt < soonest) {
        soonest = entry.expiresAt
        victim = peerId
      }
    }
    if (victim !== undefined) this.removePeer(victim, 'evicted')
  }
}
