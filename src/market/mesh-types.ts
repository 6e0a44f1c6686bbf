/**
 * The mesh's public types: what an app passes to `createMesh` and `submit`, and what a job gives
 * back. Apart from the code so the parts that run a job (mesh-*.ts) and the callers share them
 * without importing the mesh itself.
 */
import type { FramemeshError } from '../errors.js'
import type { Frame, PipelineId, TextLine } from '../inference/types.js'
import type { Logger } from '../logger.js'
import type { Peer } from '../peer/peer.js'
import type { TicketSender } from '../tickets/sender.js'
import type { AdvertValidatorOptions } from './advert-validator.js'
import type { PeerUse, StageEvents, StageReport } from './failover.js'
import type { JobEvents } from './job-events.js'
import type { Offer, OfferQuery } from './offer.js'
import type { OrderBook, OrderBookOptions } from './order-book.js'
import type { PeerStats, PeerStatsOptions } from './peer-stats.js'
import type { SelectionOptions } from './selection.js'
import type { VerificationReport, VerifierEvents, VerifyOptions } from './verifier.js'

export interface MeshComponents {
  /** With `libp2p`, a workflow tells each stage the addresses we know of the next one. */
  peer: Pick<Peer, 'dialProtocol' | 'gossip'> & Partial<Pick<Peer, 'libp2p'>>
  /** Signs the tickets that pay for jobs. */
  sender: Pick<TicketSender, 'address' | 'ticketsForCredit'>
  logger?: Logger
}

export interface MeshOptions {
  /** Items in flight per job (default 4; orchestrators may grant fewer). */
  window?: number
  quoteTimeoutMs?: number
  openTimeoutMs?: number
  /** With frames in flight, longest silence from an orchestrator before failing over (ms, default 30 s). */
  stallTimeoutMs?: number
  /** Orchestrators tried per job before giving up (default 5). */
  maxAttempts?: number
  /**
   * Picking an orchestrator, longest wait for one we can dial (connected, or with an address in the
   * peer store) when only sellers we have no address for match yet (ms, default 5 s).
   */
  reachWaitMs?: number
  /**
   * Keep one spare quote per orchestrator and kind of job, so the next job of that kind starts
   * without asking for a quote (see spare-quotes.ts). Default true; false asks for every quote.
   */
  spareQuotes?: boolean
  selection?: Omit<SelectionOptions, 'exclude'>
  orderBook?: OrderBookOptions
  peerStats?: PeerStatsOptions
  advertValidator?: AdvertValidatorOptions
}

/** One step of a workflow. */
export interface StageSpec {
  pipeline: PipelineId
  /** A model id; any model of the pipeline when omitted. */
  model?: string
  /** Highest wei per unit for this stage (default: the job's maxPrice). */
  maxPrice?: bigint
  /**
   * Interpolate only: the stage's outputs are each input frame, then the frame halfway to the
   * next, and the last input frame twice: a video at twice the frame rate, as long as the input.
   * Without it the outputs are the in-between frames alone. The frames that pass through are not
   * paid for; a workflow with such a stage goes through the broadcaster, which holds them.
   */
  doubleRate?: boolean
}

export interface SubmitOptions {
  /** The pipeline of a one-stage job (or give `stages`). */
  pipeline?: PipelineId
  /** A model id; any model of the pipeline when omitted. */
  model?: string
  /**
   * A workflow: each stage's outputs are the next stage's inputs, each stage on an orchestrator
   * chosen for it and paid by us (see `route` and docs/protocol.md). OCR can only be the last
   * stage; with the direct route its results carry an empty frame (the frame never reaches us).
   */
  stages?: StageSpec[]
  /**
   * How a workflow's frames travel: 'direct' (default) from orchestrator to orchestrator, each
   * stage paid by us on its own stream; 'broadcaster' through us between stages. A direct run that
   * fails goes on through the broadcaster from the first output not yet delivered. A verified
   * direct workflow confirms every feed and checks a share of each stage's items (workflow-verify.ts);
   * with `verify.minPsnrDb` (outputs compared by PSNR, not bytes) it goes through the broadcaster.
   */
  route?: 'direct' | 'broadcaster'
  /**
   * Spread each stage's items over up to this many orchestrators at once (default 1): a long
   * video runs on several sellers rather than one, each with its own failover, the results in
   * input order (see lanes.ts). Fewer while fewer sell the stage (a seller that joins during the
   * job gets a lane then). A workflow with it goes through the broadcaster; with `verify` each
   * lane's results are checked (see mesh-chained.ts).
   */
  parallel?: number
  /** Check a share of each stage's outputs on a second orchestrator (see verifier.ts). */
  verify?: VerifyOptions
  /**
   * Direct workflows: confirm every feed through us (each stage runs only outputs its feeder
   * committed to us, so none bills invented work; docs/market-workflows.md). Always on with
   * `verify`; default off otherwise (a stage may then bill up to one window of invented work).
   */
  confirmFeeds?: boolean
  /** Highest wei per unit (default: no cap). */
  maxPrice?: bigint
  /** Frames in order; interpolate makes one frame between each neighbouring pair. */
  input: AsyncIterable<Frame> | Iterable<Frame>
  /** Most expected value (wei) of tickets this job may send (default: no cap). */
  budget?: bigint
  /** Restrict to these orchestrators (e.g. a trusted set). */
  peers?: string[]
  /**
   * Keep every output for `done` (and let `results` be read any number of times). Default: true
   * when `input` is an array (the caller holds the whole clip anyway), false for a stream, whose
   * outputs are only handed out through `results`, so a long video never sits whole in memory.
   */
  collect?: boolean
  /**
   * Outputs held unread in `results` before the job waits for the reader (default 8; not
   * collecting only). A job nobody reads stops after this many outputs.
   */
  resultBuffer?: number
  signal?: AbortSignal
}

/** One output, in input order: a frame, or (ocr) the text lines read from the input frame. */
export interface MeshResult {
  seq: number
  /** The output frame; for ocr the input frame the lines were read from. */
  frame: Frame
  /** ocr: the lines found in the frame. */
  lines?: TextLine[]
  /** The orchestrator that produced it. */
  peerId: string
}

export interface JobReport extends StageReport {
  jobId: string
  /** Every orchestrator used, all stages. */
  peers: PeerUse[]
  /** Workflows: each stage's own report, in stage order (items of the job = the last stage's). */
  stages?: StageReport[]
  /** With `verify`: frames checked, mismatches, peers blamed (all stages; per stage in `stages`). */
  verification?: VerificationReport
  /**
   * Workflows: how the frames went. 'direct': stage to stage all the way (a failed stage replaced
   * in place); 'direct, then broadcaster': a direct run failed and the rest went through us;
   * 'broadcaster': through us from the start.
   */
  route?: 'direct' | 'direct, then broadcaster' | 'broadcaster'
}

export interface JobResult {
  /** Output frames in input order when collected (see SubmitOptions.collect), else empty. */
  frames: Frame[]
  /** Every output with its seq and peer when collected, else empty. */
  results: MeshResult[]
  report: JobReport
}

/**
 * A job's events. Peer and payment events (peer:selected, peer:failed, peer:switch, quote:refused,
 * payment, payment:withheld) also carry `stage`: the index of the workflow stage they concern.
 */
export interface MeshJobEvents extends StageEvents, VerifierEvents {
  progress: { done: number; total?: number; peerId: string }
  /**
   * The last stage cuts each frame into windows (upscales over ~0.7 MP): `done` of the `of`
   * windows of the frame after the `progress` count are back. Its last window comes as 'progress'.
   */
  'progress:windows': { done: number; of: number; peerId: string }
  /**
   * The direct run of a workflow failed (`code`, `message`: its error, whose `peerId` names the
   * orchestrator to blame when there is one); the job goes on through the broadcaster from output
   * `delivered`. The stage failures that led to it were reported as 'peer:failed' already.
   */
  'route:fallback': { code: string; message: string; peerId?: string; delivered: number }
  finished: JobReport
  failed: { error: FramemeshError }
}

export type MeshJobEvent = {
  [K in keyof MeshJobEvents]: { type: K; detail: MeshJobEvents[K] }
}[keyof MeshJobEvents]

export interface MeshJob {
  readonly id: string
  readonly events: JobEvents
  /**
   * Outputs in input order, at the reader's pace (a slow reader slows the job through a bounded
   * buffer); ends after the last one, throws the job's typed error if it fails.
   */
  readonly results: AsyncIterable<MeshResult>
  /** The report (and every output, when collected); rejects with the job's typed error. */
  readonly done: Promise<JobResult>
  cancel(): void
}

export interface Mesh {
  readonly orderBook: OrderBook
  readonly stats: PeerStats
  /** Live offers from adverts, filtered. */
  offers(query?: OfferQuery): Offer[]
  submit(options: SubmitOptions): MeshJob
  stop(): Promise<void>
}
