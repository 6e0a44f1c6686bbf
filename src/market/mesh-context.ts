/**
 * What the parts running a mesh job share: the mesh's long-lived pieces (`MeshContext`), one job's
 * pieces (`JobContext`), and the small rules both routes follow the same way (the offer query
 * for a stage, an offer as a candidate, a verifier's events tagged with its stage).
 */
import type { Logger } from '../logger.js'
import { MAX_UINT256 } from '../tickets/ticket.js'
import type { BudgetPayer } from './broadcaster-payer.js'
import type { StageCandidate, StageResult } from './failover.js'
import type { JobEvents } from './job-events.js'
import type { MeshComponents, MeshOptions, StageSpec, SubmitOptions } from './mesh-types.js'
import type { Offer, OfferQuery } from './offer.js'
import type { PeerStats } from './peer-stats.js'
import { FRAME_FORMAT_RGB24 } from './quote.js'
import type { SpareQuotes } from './spare-quotes.js'
import type { Verifier } from './verifier.js'

/** The mesh's pieces every job uses. */
export interface MeshContext {
  peer: MeshComponents['peer']
  sender: MeshComponents['sender']
  stats: PeerStats
  logger: Logger
  options: MeshOptions
  /** Spare quotes for the next job of a kind (absent when the mesh's options turn them off). */
  spareQuotes?: SpareQuotes
  /**
   * An offer for `query` among `allowed` (all when undefined), none in `exclude`, waiting
   * (bounded) for one we can dial.
   */
  draw: (
    query: OfferQuery,
    exclude: ReadonlySet<string>,
    allowed: ReadonlySet<string> | undefined,
    signal: AbortSignal,
  ) => Promise<Offer | undefined>
  /** How many orchestrators (among `allowed`, none suspended) offer `query` now. */
  sellers: (query: OfferQuery, allowed: ReadonlySet<string> | undefined) => number
}

/** One job's pieces, which every route and stage of it reports into. */
export interface JobContext {
  submitted: SubmitOptions
  specs: StageSpec[]
  /** One budget for the whole job, every stage paid from it. */
  payer: BudgetPayer
  events: JobEvents
  /** Hands one of the job's outputs to the caller (in order). */
  push: (r: StageResult) => void
  /** Waits while the caller's unread results fill the buffer (a stream reader); absent when collecting. */
  room: ((signal?: AbortSignal) => Promise<void>) | undefined
  signal: AbortSignal
}

export type FrameSize = { width: number; height: number }

/** Highest wei per unit for a stage: its own cap, else the job's, else none. */
export function stageMaxPrice(spec: StageSpec, submitted: SubmitOptions): bigint {
  return spec.maxPrice ?? submitted.maxPrice ?? MAX_UINT256
}

/** The order-book query for a stage taking frames of `size`. */
export function stageQuery(spec: StageSpec, submitted: SubmitOptions, size: FrameSize): OfferQuery {
  return {
    pipeline: spec.pipeline,
    ...(spec.model === undefined ? {} : { modelId: spec.model }),
    maxPricePerUnit: stageMaxPrice(spec, submitted),
    frameFormat: FRAME_FORMAT_RGB24,
    frameWidth: size.width,
    frameHeight: size.height,
  }
}

/** The orchestrators a job is restricted to, or undefined for any. */
export function allowedPeers(submitted: SubmitOptions): ReadonlySet<string> | undefined {
  return submitted.peers === undefined ? undefined : new Set(submitted.peers)
}

export function toCandidate(offer: Offer | undefined): StageCandidate | undefined {
  return offer === undefined
    ? undefined
    : { peerId: offer.peerId, modelId: offer.modelId, pricePerUnit: offer.pricePerUnit }
}

/** The peer and payment events a stage or a direct workflow reports, passed on as the job's. */
export const STAGE_PEER_EVENTS = [
  'peer:selected',
  'quote:refused',
  'peer:failed',
  'peer:switch',
  'payment',
  'payment:withheld',
] as const

/** A stage's verifier reports through the job's events, tagged with the stage. */
export function forwardVerifierEvents(verifier: Verifier, events: JobEvents, stage: number): void {
  verifier.events.on('verify:checked', (e) => events.emit('verify:checked', { ...e, stage }))
  verifier.events.on('verify:blamed', (e) => events.emit('verify:blamed', { ...e, stage }))
  verifier.events.on('verify:payment', (e) => events.emit('verify:payment', { ...e, stage }))
}

/** The mesh's options that a stage, workflow or verifier takes as they are. */
export function passedOn<K extends keyof MeshOptions>(
  options: MeshOptions,
  keys: readonly K[],
): Partial<Pick<MeshOptions, K>> {
  const out: Partial<Pick<MeshOptions, K>> = {}
  for (const k of keys) if (options[k] !== undefined) out[k] = options[k]
  return out
}
