/**
 * Choosing a seller: a pure function of the offers, the job's constraints, what we know of each
 * peer's health and a random source. It filters (pipeline, model, price, free slots, not
 * suspended), scores (price, latency, success rate, warm, spare capacity) and then draws among
 * the best few weighted by score, so the cheapest healthy peer wins most often without being
 * the only one every buyer hits at once.
 */
import { type Offer, type OfferQuery, offerMatches } from './offer.js'
import type { PeerHealth } from './peer-stats.js'
import type { Rng } from './rng.js'

export interface SelectionWeights {
  /** Exponent of the price score (cheapest / this price). */
  price: number
  /** Exponent of the latency score (ref / (ref + latency)). */
  latency: number
  /** Exponent of the success rate. */
  success: number
  /** Exponent of the spare-capacity score (0.5 + 0.5 * free / total). */
  capacity: number
  /** Factor for a cold model (it loads before the first frame). */
  cold: number
}

export const DEFAULT_WEIGHTS: SelectionWeights = {
  price: 2,
  latency: 0.5,
  success: 2,
  capacity: 0.25,
  cold: 0.6,
}

export interface SelectionOptions {
  /** How many of the best offers the draw is among. */
  topK?: number
  /** Offers scoring below this fraction of the best are never drawn, even inside topK. */
  minRelativeScore?: number
  /** Latency that scores 0.5; also what an unmeasured peer is assumed to have. */
  referenceLatencyMs?: number
  weights?: Partial<SelectionWeights>
  /** Peers to leave out (e.g. the one that just failed this job). */
  exclude?: ReadonlySet<string>
  /** Defaults to Math.random; pass seededRng(n) for reproducible draws. */
  rng?: Rng
}

export interface ScoreParts {
  price: number
  latency: number
  success: number
  capacity: number
  warm: number
}

export interface ScoredOffer {
  offer: Offer
  score: number
  parts: ScoreParts
}

export type HealthLookup = (peerId: string) => PeerHealth | undefined

const NEUTRAL_HEALTH: PeerHealth = { successRate: 0.9, suspended: false }

/** cheapest / price as a float, exact enough for ranking even for uint256-sized prices. */
function priceRatio(cheapest: bigint, price: bigint): number {
  // +1 wei keeps a free offer from dividing by zero without changing any real ratio.
  const scaled = ((cheapest + 1n) * 1_000_000n) / (price + 1n)
  return Number(scaled) / 1_000_000
}

/**
 * Offers that may take the job, best first. Busy peers (no free slot) never qualify: the query's
 * minFreeSlots is raised to at least 1.
 */
export function rankOffers(
  offers: readonly Offer[],
  query: OfferQuery,
  health: HealthLookup,
  options: SelectionOptions = {},
): ScoredOffer[] {
  const weights = { ...DEFAULT_WEIGHTS, ...options.weights }
  const refLatency = options.referenceLatencyMs ?? 200
  const constraints: OfferQuery = { ...query, minFreeSlots: Math.max(1, query.minFreeSlots ?? 1) }

  const candidates = offers.filter(
    (o) =>
      offerMatches(o, constraints) &&
      options.exclude?.has(o.peerId) !== true &&
      (health(o.peerId) ?? NEUTRAL_HEALTH).suspended !== true,
  )
  // Prices compare only within a unit (a frame and a megapixel are different goods).
  const cheapest = new Map<string, bigint>()
  for (const o of candidates) {
    const c = cheapest.get(o.unit)
    if (c === undefined || o.pricePerUnit < c) cheapest.set(o.unit, o.pricePerUnit)
  }

  const scored = candidates.map((offer): ScoredOffer => {
    const h = health(offer.peerId) ?? NEUTRAL_HEALTH
    const latencyMs = h.latencyMs ?? refLatency
    const parts: ScoreParts = {
      price: priceRatio(cheapest.get(offer.unit)!, offer.pricePerUnit),
      latency: refLatency / (refLatency + latencyMs),
      success: Math.min(1, Math.max(0, h.successRate)),
      capacity: 0.5 + (0.5 * offer.slotsFree) / Math.max(1, offer.slotsTotal),
      warm: offer.warm ? 1 : weights.cold,
    }
    const score =
      parts.price ** weights.price *
      parts.latency ** weights.latency *
      parts.success ** weights.success *
      parts.capacity ** weights.capacity *
      parts.warm
    return { offer, score, parts }
  })
  // Ties break on peer id so a given input always ranks the same way.
  return scored.sort((a, b) => b.score - a.score || (a.offer.peerId < b.offer.peerId ? -1 : 1))
}

/** Draws one of the best few qualifying offers, weighted by score; undefined when none qualifies. */
export function selectOffer(
  offers: readonly Offer[],
  query: OfferQuery,
  health: HealthLookup,
  options: SelectionOptions = {},
): ScoredOffer | undefined {
  return selectOffers(offers, query, health, 1, options)[0]
}

/**
 * Draws up to `count` offers from distinct peers (a first choice and fallbacks), each draw among
 * the best few of what is left, weighted by score.
 */
export function selectOffers(
  offers: readonly Offer[],
  query: OfferQuery,
  health: HealthLookup,
  count: number,
  options: SelectionOptions = {},
): ScoredOffer[] {
  const topK = Math.max(1, options.topK ?? 3)
  const minRelative = options.minRelativeScore ?? 0.2
  const rng = options.rng ?? Math.random
  let pool = rankOffers(offers, query, health, options).filter((s) => s.score > 0)
  const picked: ScoredOffer[] = []
  while (picked.length < count && pool.length > 0) {
    const best = pool[0]!.score
    const shortlist = pool.slice(0, topK).filter((s) => s.score >= best * minRelative)
    const total = shortlist.reduce((sum, s) => sum + s.score, 0)
    let ticket = rng() * total
    let choice = shortlist[shortlist.length - 1]!
    for (const s of shortlist) {
      ticket -= s.score
      if (ticket < 0) {
        choice = s
        break
      }
    }
    picked.push(choice)
    pool = pool.filter((s) => s.offer.peerId !== choice.offer.peerId)
  }
  return picked
}
