/**
 * What the gateway needs from the market, and nothing more: the offers it can show and a way
 * to run a chain of stages over frames. `mesh-adapter.ts` fits a real mesh to this; keeping the
 * port small lets the gateway and its routes be read without knowing the job machinery.
 */
import type { Frame, PipelineId, TextLine } from '../inference/types.js'

export interface GatewayOffer {
  peerId: string
  modelId: string
  pipeline: PipelineId
  pricePerUnit: bigint
  unit: string
  slotsFree: number
  slotsTotal: number
  warm: boolean
  latencyMs?: number
}

export interface StageSpec {
  pipeline: PipelineId
  modelId?: string
  /** Interpolate: each input frame, then the one halfway to the next (twice the frame rate). */
  doubleRate?: boolean
}

/** Check a share of each stage's outputs on a second orchestrator (the market's verification). */
export interface VerifyRequest {
  /** 0 < share <= 1. */
  share: number
  /** Fail the job rather than deliver an output no second orchestrator could check. */
  strict: boolean
}

/** A peer found wrong by a check: `against` is the one whose output was right. */
export interface VerifyBlame {
  stage: number
  peerId: string
  against: string
  reason: string
}

export interface VerificationSummary {
  checked: number
  mismatches: number
  /** Outputs delivered without a check (no second orchestrator to check with). */
  unverified: number
  blamed: VerifyBlame[]
  /** The orchestrators that ran the checks. */
  checkers: string[]
  /** Tickets' expected value sent for the checks (part of the job's paidWei). */
  paidWei: bigint
}

export type MeshJobEvent =
  /** `windows`: of a frame sent in windows, how many of the next frame's are back. */
  | { type: 'progress'; framesDone: number; windows?: { done: number; of: number } }
  | { type: 'peer'; stage: number; from?: string; to: string; reason?: string }
  /** `check`: paid for a verification check (or a third opinion), not for the job's own work. */
  | { type: 'payment'; peerId: string; tickets: number; evWei: bigint; check?: boolean }
  /** An output of `peerId` run again on `checker`: `match` whether the two agreed. */
  | { type: 'check'; stage: number; peerId: string; checker: string; match: boolean }
  | ({ type: 'blamed' } & VerifyBlame)

/** One output item per input frame, in order: a frame for image stages, text lines for OCR. */
export type MeshOutput = { kind: 'frame'; frame: Frame } | { kind: 'text'; lines: TextLine[] }

export interface MeshRun {
  /** Output items in input order; consuming them slowly slows the job (back-pressure). */
  outputs: AsyncIterable<MeshOutput>
  /** Progress, peer and payment events until the run ends; reading them is optional. */
  events: AsyncIterable<MeshJobEvent>
  /**
   * Settles after the last output: the peers used, what the work cost at the agreed prices
   * (`chargedWei`) and the expected value of the tickets sent for it and for its checks
   * (`paidWei`; a ticket is the smallest payment, so this can exceed the charge — the rest stays
   * as credit).
   */
  done: Promise<{
    peers: string[]
    paidWei: bigint
    chargedWei: bigint
    /** With `verify`: what the checks found. */
    verification?: VerificationSummary
  }>
}

export interface GatewayMesh {
  offers(): GatewayOffer[]
  /**
   * `parallel`: spread each stage over up to this many orchestrators at once (default 1).
   * `verify`: check a share of each stage's outputs on another orchestrator.
   */
  run(
    stages: StageSpec[],
    frames: AsyncIterable<Frame>,
    options: { signal: AbortSignal; parallel?: number; verify?: VerifyRequest },
  ): MeshRun
}
