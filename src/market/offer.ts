/**
 * An offer: one model from one peer's advert, flattened so queries and selection read one object.
 * `offerMatches` is the single definition of "this offer fits the job" used by the order book
 * and by selection.
 */
import type { PipelineId } from '../inference/types.js'
import type { Advert, PricingUnit } from './advert.js'

export interface Offer {
  peerId: string
  paymentAddress: string
  modelId: string
  pipeline: PipelineId
  sha256: string
  warm: boolean
  /** Wei per unit. */
  pricePerUnit: bigint
  unit: PricingUnit
  slotsFree: number
  slotsTotal: number
  frameFormats: string[]
  maxFrameWidth: number
  maxFrameHeight: number
  sequence: number
  expiresAt: number
  /** When we accepted the advert (unix ms, our clock). */
  receivedAt: number
}

export interface OfferQuery {
  pipeline?: PipelineId
  modelId?: string
  /** Exact weights wanted (lower-case hex). */
  sha256?: string
  /** Highest acceptable price in wei per unit. */
  maxPricePerUnit?: bigint
  /** Only offers with at least this many free slots (default 0: any). */
  minFreeSlots?: number
  /** A frame format the job will send, e.g. 'png'. */
  frameFormat?: string
  /** Frame size the job will send; offers with a smaller maximum are left out. */
  frameWidth?: number
  frameHeight?: number
}

export function offersFromAdvert(advert: Advert, receivedAt: number): Offer[] {
  return advert.models.map((m) => ({
    peerId: advert.peerId,
    paymentAddress: advert.paymentAddress,
    modelId: m.id,
    pipeline: m.pipeline,
    sha256: m.sha256,
    warm: m.warm,
    pricePerUnit: m.pricePerUnit,
    unit: m.unit,
    slotsFree: advert.slotsFree,
    slotsTotal: advert.slotsTotal,
    frameFormats: advert.frameFormats,
    maxFrameWidth: advert.maxFrameWidth,
    maxFrameHeight: advert.maxFrameHeight,
    sequence: advert.sequence,
    expiresAt: advert.expiresAt,
    receivedAt,
  }))
}

/** True when the offer fits every constraint the query sets (an empty query matches all). */
export function offerMatches(offer: Offer, query: OfferQuery): boolean {
  if (query.pipeline !== undefined && offer.pipeline !== query.pipeline) return false
  if (query.modelId !== undefined && offer.modelId !== query.modelId) return false
  if (query.sha256 !== undefined && offer.sha256 !== query.sha256.toLowerCase()) return false
  if (query.maxPricePerUnit !== undefined && offer.pricePerUnit > query.maxPricePerUnit) return false
  if (offer.slotsFree < (query.minFreeSlots ?? 0)) return false
  if (query.frameFormat !== undefined && !offer.frameFormats.includes(query.frameFormat)) return false
  // A maximum of 0 means the advertiser set no limit.
  if (query.frameWidth !== undefined && offer.maxFrameWidth > 0 && query.frameWidth > offer.maxFrameWidth)
    return false
  if (
    query.frameHeight !== undefined &&
    offer.maxFrameHeight > 0 &&
    query.frameHeight > offer.maxFrameHeight
  ) {
    return false
  }
  return true
}
