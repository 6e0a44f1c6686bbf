/**
 * `createMesh`: what an app embeds to buy work on the mesh. It listens to adverts (into an order
 * book), picks orchestrators (selection + what it has learned of each peer), negotiates, streams
 * frames, pays with tickets and fails over. `mesh.submit` returns a job whose `events` are both a
 * typed emitter and an async iterable, whose `results` stream the outputs in input order at the
 * reader's pace, and whose `done` holds the report (and every output, when collected).
 */
import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { AbortedError, FramemeshError } from '../errors.js'
import type { Frame, PipelineId, TextLine } from '../inference/types.js'
import { type Logger, silentLogger } from '../logger.js'
import type { Peer } from '../peer/peer.js'
import type { TicketSender } from '../tickets/sender.js'
import { MAX_UINT256 } from '../tickets/ticket.js'
import { AdvertFeed } from './advert-gossip.js'
import { AdvertValidator, type AdvertValidatorOptions } from './advert-validator.js'
import { BudgetPayer } from './broadcaster-payer.js'
import {
  type PeerUse,
  Stage,
  type StageCandidate,
  type StageEvents,
  type StageReport,
  type StageResult,
} from './failover.js'
import { JobEvents } from './job-events.js'
import { framesOf, ReplayInput, STAGE_BUFFER, stageSpecs, workItems } from './job-input.js'
import type { WorkInput } from './job-work.js'
import { JobError } from './market-errors.js'
import type { Offer, OfferQuery } from './offer.js'
import { OrderBook, type OrderBookOptions } from './order-book.js'
import { PeerStats, type PeerStatsOptions } from './peer-stats.js'
import { FRAME_FORMAT_RGB24 } from './quote.js'
import { Reachability } from './reachability.js'
import { CollectedResults, ResultQueue } from './result-queue.js'
import { type SelectionOptions, selectOffer } from './selection.js'
import { type VerificationReport, Verifier, type VerifierEvents, type VerifyOptions } from './verifier.js'
import { DirectWorkflow, type StagePrimary } from './workflow.js'

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
  finished: JobReport
  failed: { error: FramemeshError }
}

export type MeshJobEvent = {
  [K in keyof MeshJobEvents]: { type: K; detail: MeshJobEvents[K] }
}[keyof MeshJobEvents]

export { JobEvents } from './job-events.js'

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

export function createMesh(components: MeshComponents, options: MeshOptions = {}): Mesh {
  const logger = (components.logger ?? silentLogger).child('mesh')
  const orderBook = new OrderBook({ logger }, options.orderBook)
  const stats = new PeerStats({}, options.peerStats)
  const reach = new Reachability(
    { ...(components.peer.libp2p === undefined ? {} : { libp2p: components.peer.libp2p }), logger },
    options.reachWaitMs === undefined ? {} : { waitMs: options.reachWaitMs },
  )
  const feed = new AdvertFeed({
    gossip: components.peer.gossip,
    validator: new AdvertValidator({ logger }, options.advertValidator),
    orderBook,
    logger,
  })
  feed.start()
  orderBook.start()
  const running = new Set<AbortController>()

  /** An offer for `query` among `allowed` (all when undefined), waiting (bounded) for one we can dial. */
  const draw = (
    query: OfferQuery,
    exclude: ReadonlySet<string>,
    allowed: ReadonlySet<string> | undefined,
    signal: AbortSignal,
  ) =>
    reach.pick(
      () => orderBook.query(query).filter((o) => allowed === undefined || allowed.has(o.peerId)),
      (list) => selectOffer(list, query, (p) => stats.health(p), { ...options.selection, exclude })?.offer,
      signal,
    )

  const submit = (submitted: SubmitOptions): MeshJob => {
    const id = randomBytes(8).toString('hex')
    const events = new JobEvents()
    const controller = new AbortController()
    running.add(controller)
    const signal =
      submitted.signal === undefined
        ? controller.signal
        : AbortSignal.any([controller.signal, submitted.signal])
    const collect = submitted.collect ?? Array.isArray(submitted.input)
    const sink: ResultSink = collect
      ? new CollectedResults<MeshResult>()
      : new ResultQueue<MeshResult>(submitted.resultBuffer ?? 8)
    const done = runJob(id, submitted, events, sink, signal).then(
      (report): JobResult => {
        sink.close()
        const results = sink instanceof CollectedResults ? sink.items : []
        return { frames: results.map((r) => r.frame), results, report }
      },
      (err: unknown) => {
        sink.fail(err as Error)
        throw err
      },
    )
    void done
      .finally(() => {
        running.delete(controller)
        events.close()
      })
      .catch(() => {})
    return {
      id,
      events,
      results: sink,
      done,
      cancel: () => controller.abort(new AbortedError('the job was cancelled')),
    }
  }

  async function runJob(
    id: string,
    s: SubmitOptions,
    events: JobEvents,
    sink: ResultSink,
    signal: AbortSignal,
  ): Promise<JobReport> {
    const specs = stageSpecs(s)
    const frames = s.input
    const source: AsyncIterator<Frame> | Iterator<Frame> =
      Symbol.asyncIterator in frames
        ? (frames as AsyncIterable<Frame>)[Symbol.asyncIterator]()
        : (frames as Iterable<Frame>)[Symbol.iterator]()
    const total = Array.isArray(frames) && specs.length === 1 ? frames.length : undefined
    // One budget for the whole job, every stage paid from it.
    const payer = new BudgetPayer(components.sender, s.budget)
    const verifiers: Verifier[] = []
    /** A direct run's verification, per stage (the chained run's are in `verifiers`). */
    const directChecks: VerificationReport[] = []
    let delivered = 0
    /** A fallback's outputs are numbered from 0 again: they continue the job's seqs from here. */
    let seqOffset = 0
    const replay = new ReplayInput(source)
    const room = sink instanceof ResultQueue ? (sig?: AbortSignal) => sink.room(sig) : undefined
    const push = (r: StageResult) => {
      sink.push(seqOffset === 0 ? r : { ...r, seq: r.seq + seqOffset })
      events.emit('progress', {
        done: ++delivered,
        ...(total === undefined ? {} : { total }),
        peerId: r.peerId,
      })
      // Output m needs inputs m.. only: what came before can no longer be needed for a replay.
      replay.release(delivered)
    }
    let route: JobReport['route'] = specs.length > 1 ? 'broadcaster' : undefined
    const finish = (reports: StageReport[]): JobReport => {
      const report: JobReport = {
        jobId: id,
        items: delivered,
        peers: reports.flatMap((r) => r.peers),
        debited: reports.reduce((n, r) => n + r.debited, 0n),
        evSent: reports.reduce((n, r) => n + r.evSent, 0n),
        resent: reports.reduce((n, r) => n + r.resent, 0),
        ...(specs.length > 1 ? { stages: reports } : {}),
        ...(route === undefined ? {} : { route }),
        ...(verifiers.length === 0 && directChecks.length === 0
          ? {}
          : { verification: mergeVerification([...directChecks, ...verifiers.map((v) => v.report())]) }),
      }
      events.emit('finished', report)
      return report
    }
    try {
      const direct: StageReport[] = []
      const avoid = new Set<string>()
      let input: AsyncIterator<Frame> = replay
      if (specs.length > 1 && (s.route ?? 'direct') === 'direct' && s.verify?.minPsnrDb === undefined) {
        try {
          const reports = await runDirect(
            s,
            specs,
            replay,
            payer,
            events,
            push,
            room,
            direct,
            directChecks,
            avoid,
            signal,
          )
          route = 'direct'
          return finish(reports)
        } catch (err) {
          route = 'direct, then broadcaster'
          const error = err instanceof FramemeshError ? err : new JobError('ERR_JOB_FAILED', String(err))
          if (signal.aborted || error.code === 'ERR_EMPTY_INPUT' || error.details?.paymentWithheld === true)
            throw error
          logger.info('direct workflow failed; going on through the broadcaster', {
            code: error.code,
            delivered,
          })
          events.emit('peer:failed', {
            peerId: (error as JobError).peerId ?? '',
            code: error.code,
            message: error.message,
            requeued: 0,
          })
          seqOffset = delivered
          input = replay.from(delivered)
        }
      }
      const chained = await runChained(s, specs, input, payer, events, verifiers, push, room, avoid, signal)
      return finish(direct.length === 0 ? chained : chained.map((r, k) => mergeReports(direct[k], r)))
    } catch (err) {
      for (const v of verifiers) v.abort()
      const error =
        err instanceof FramemeshError
          ? err
          : signal.aborted
            ? new AbortedError('the job was cancelled', { cause: err })
            : new JobError('ERR_JOB_FAILED', String(err), { cause: err })
      events.emit('failed', { error })
      throw error
    }
  }

  /** The workflow with frames passed stage to stage by the orchestrators (workflow.ts). */
  async function runDirect(
    s: SubmitOptions,
    specs: StageSpec[],
    input: AsyncIterator<Frame>,
    payer: BudgetPayer,
    events: JobEvents,
    push: (r: StageResult) => void,
    room: ((signal?: AbortSignal) => Promise<void>) | undefined,
    /** Filled with the stages' reports when the run fails (who was used and paid). */
    failedReports: StageReport[],
    /** Filled with each stage's verification (when verifying), whether the run succeeds or fails. */
    checks: VerificationReport[],
    /** Filled with the orchestrators to blame when the run fails: the fallback leaves them out. */
    avoid: Set<string>,
    signal: AbortSignal,
  ): Promise<StageReport[]> {
    const first = await input.next()
    if (first.done === true) throw new JobError('ERR_EMPTY_INPUT', 'the job has no frames; pass at least one')
    const { width, height } = first.value
    const allowed = s.peers === undefined ? undefined : new Set(s.peers)
    const maxPrice = (index: number) => specs[index]!.maxPrice ?? s.maxPrice ?? MAX_UINT256
    const query = (index: number, size: { width: number; height: number }): OfferQuery => ({
      pipeline: specs[index]!.pipeline,
      ...(specs[index]!.model === undefined ? {} : { modelId: specs[index]!.model }),
      maxPricePerUnit: maxPrice(index),
      frameFormat: FRAME_FORMAT_RGB24,
      frameWidth: size.width,
      frameHeight: size.height,
    })
    /** The weights each stage's pick serves (`index:peerId` → sha256): checks must use the same. */
    const weights = new Map<string, string>()
    const verify = s.verify !== undefined && s.verify.share > 0 ? s.verify : undefined
    const workflow = new DirectWorkflow(
      {
        peer: components.peer,
        payer,
        stats,
        logger,
        choose: async (index, size, exclude) => {
          const offer = await draw(query(index, size), exclude, allowed, signal)
          if (offer !== undefined) weights.set(`${index}:${offer.peerId}`, offer.sha256)
          return toCandidate(offer)
        },
        ...(verify === undefined
          ? {}
          : {
              verifier: (index: number, primary: StagePrimary) => {
                const q: OfferQuery = {
                  ...query(index, primary),
                  modelId: primary.modelId,
                  ...sha256Of(weights.get(`${index}:${primary.peerId}`)),
                }
                const verifier = new Verifier(
                  {
                    peer: components.peer,
                    payer,
                    stats,
                    logger,
                    choose: async (exclude) => toCandidate(await draw(q, exclude, allowed, signal)),
                  },
                  {
                    pipeline: specs[index]!.pipeline,
                    sender: components.sender.address,
                    width: primary.width,
                    height: primary.height,
                    maxPricePerUnit: maxPrice(index),
                    signal,
                    ...pick(options, [
                      'window',
                      'quoteTimeoutMs',
                      'openTimeoutMs',
                      'stallTimeoutMs',
                      'maxAttempts',
                    ]),
                  },
                  verify,
                )
                verifier.events.on('verify:checked', (e) =>
                  events.emit('verify:checked', { ...e, stage: index }),
                )
                verifier.events.on('verify:blamed', (e) =>
                  events.emit('verify:blamed', { ...e, stage: index }),
                )
                return verifier
              },
            }),
        addressesOf: (peerId) => {
          const libp2p = components.peer.libp2p
          if (libp2p === undefined) return []
          try {
            return libp2p.getConnections(peerIdFromString(peerId)).map((c) => c.remoteAddr.bytes)
          } catch {
            return []
          }
        },
      },
      {
        stages: specs,
        sender: components.sender.address,
        maxPricePerUnit: maxPrice,
        ...(s.confirmFeeds === true ? { confirmFeeds: true } : {}),
        signal,
        ...pick(options, ['window', 'quoteTimeoutMs', 'openTimeoutMs', 'stallTimeoutMs']),
      },
    )
    for (const name of [
      'peer:selected',
      'quote:refused',
      'peer:failed',
      'peer:switch',
      'payment',
      'payment:withheld',
    ] as const) {
      workflow.events.on(name, (detail) => events.emit(name, detail as MeshJobEvents[typeof name]))
    }
    workflow.events.on('result', (r) => {
      events.emit('result', r)
      push(r)
    })
    const pairs = specs[0]!.pipeline === 'interpolate'
    const items = workItems(first.value, input, pairs, signal)
    // A slow reader holds back the input; what is already inside the chain is bounded by the windows.
    async function* paced(): AsyncIterable<WorkInput> {
      for await (const item of items) {
        await room?.(signal)
        yield item
      }
    }
    try {
      const reports = await workflow.run({ width, height }, paced())
      checks.push(...reports.flatMap((r) => (r.verification === undefined ? [] : [r.verification])))
      return reports
    } catch (err) {
      failedReports.push(...workflow.reports())
      checks.push(...failedReports.flatMap((r) => (r.verification === undefined ? [] : [r.verification])))
      for (const peerId of workflow.culprits()) {
        stats.recordFailure(peerId)
        avoid.add(peerId)
      }
      throw err
    }
  }

  /** The workflow (or a one-stage job) with every stage's outputs passing through this broadcaster. */
  async function runChained(
    s: SubmitOptions,
    specs: StageSpec[],
    source: AsyncIterator<Frame>,
    payer: BudgetPayer,
    events: JobEvents,
    verifiers: Verifier[],
    push: (r: StageResult) => void,
    room: ((signal?: AbortSignal) => Promise<void>) | undefined,
    avoid: ReadonlySet<string>,
    signal: AbortSignal,
  ): Promise<StageReport[]> {
    // A stage that fails ends the others: upstream through this signal, downstream through its queue.
    const stop = new AbortController()
    const jobSignal = AbortSignal.any([signal, stop.signal])
    let input: AsyncIterator<Frame> | Iterator<Frame> = source
    const runs: Promise<StageReport>[] = []
    for (const [index, spec] of specs.entries()) {
      const last = index === specs.length - 1
      // Between stages: a bounded queue, so a slow later stage slows the earlier.
      const between = last ? undefined : new ResultQueue<StageResult>(STAGE_BUFFER)
      const run = runStage({
        index,
        last,
        spec,
        submitted: s,
        input,
        payer,
        signal: jobSignal,
        events,
        verifiers,
        avoid,
        output: last
          ? { push, ...(room === undefined ? {} : { room }) }
          : { push: (r) => between!.push(r), room: (sig?: AbortSignal) => between!.room(sig) },
      }).then(
        (report) => {
          between?.close()
          return report
        },
        (err: unknown) => {
          between?.fail(err as Error)
          stop.abort(err)
          throw err
        },
      )
      run.catch(() => {})
      runs.push(run)
      if (between !== undefined) input = framesOf(between)[Symbol.asyncIterator]()
    }
    return Promise.all(runs)
  }

  interface StageRun {
    index: number
    /** The job's last stage: its results are the job's. */
    last: boolean
    spec: StageSpec
    submitted: SubmitOptions
    input: AsyncIterator<Frame> | Iterator<Frame>
    payer: BudgetPayer
    signal: AbortSignal
    events: JobEvents
    verifiers: Verifier[]
    /** Orchestrators to leave out from the start (they failed a direct run of this job). */
    avoid: ReadonlySet<string>
    output: { push: (r: StageResult) => void; room?: (signal?: AbortSignal) => Promise<void> }
  }

  /** One stage of a job: waits for its first input frame (its size fixes the quote), then runs with failover. */
  async function runStage(r: StageRun): Promise<StageReport> {
    const { spec, submitted: s, signal } = r
    const first = await r.input.next()
    if (first.done === true) {
      if (r.index === 0) throw new JobError('ERR_EMPTY_INPUT', 'the job has no frames; pass at least one')
      return { items: 0, peers: [], debited: 0n, evSent: 0n, resent: 0 }
    }
    const { width, height } = first.value
    const pairs = spec.pipeline === 'interpolate'
    const items = workItems(first.value, r.input, pairs, signal)
    const maxPrice = spec.maxPrice ?? s.maxPrice ?? MAX_UINT256
    const query: OfferQuery = {
      pipeline: spec.pipeline,
      ...(spec.model === undefined ? {} : { modelId: spec.model }),
      maxPricePerUnit: maxPrice,
      frameFormat: FRAME_FORMAT_RGB24,
      frameWidth: width,
      frameHeight: height,
    }
    const allowed = s.peers === undefined ? undefined : new Set(s.peers)
    // Only sellers we can dial: one we have no address for yet is waited for, not tried and blamed.
    const pickOffer = (q: OfferQuery, exclude: ReadonlySet<string>) => draw(q, exclude, allowed, signal)
    const candidate = toCandidate
    const stageOptions = {
      pipeline: spec.pipeline,
      sender: components.sender.address,
      width,
      height,
      itemCount: r.index === 0 && Array.isArray(s.input) ? Math.max(0, s.input.length - (pairs ? 1 : 0)) : 0,
      maxPricePerUnit: maxPrice,
      signal,
      ...pick(options, ['window', 'quoteTimeoutMs', 'openTimeoutMs', 'stallTimeoutMs', 'maxAttempts']),
    }
    let verifier: Verifier | undefined
    if (s.verify !== undefined && s.verify.share > 0) {
      verifier = new Verifier(
        {
          peer: components.peer,
          payer: r.payer,
          stats,
          logger,
          // Checks run on another peer with the very weights the job settled on.
          choose: async (exclude) => candidate(await pickOffer({ ...query }, exclude)),
        },
        stageOptions,
        s.verify,
      )
      r.verifiers.push(verifier)
    }
    const stage = new Stage(
      {
        peer: components.peer,
        payer: r.payer,
        stats,
        logger,
        ...(r.output.room === undefined ? {} : { room: r.output.room }),
        ...(verifier === undefined ? {} : { verify: verifier }),
        choose: async (exclude) => {
          const checker = verifier?.checkerPeer
          const avoid = checker === undefined ? exclude : new Set([...exclude, checker])
          const offer =
            (await pickOffer(query, avoid)) ??
            (avoid === exclude ? undefined : await pickOffer(query, exclude))
          // Verifying compares like with like: the job keeps to the first pick's weights.
          if (verifier !== undefined && offer !== undefined) query.sha256 = offer.sha256
          return candidate(offer)
        },
      },
      stageOptions,
    )
    for (const peerId of r.avoid) {
      stage.drop(peerId, new JobError('ERR_PEER_EXCLUDED', `${peerId} already failed this job`))
    }
    const forward = <K extends keyof StageEvents>(name: K) =>
      stage.events.on(name, (detail) =>
        r.events.emit(name, { ...detail, stage: r.index } as MeshJobEvents[K]),
      )
    for (const name of [
      'peer:selected',
      'peer:failed',
      'peer:switch',
      'quote:refused',
      'payment',
      'payment:withheld',
    ] as const) {
      forward(name)
    }
    if (verifier !== undefined) {
      verifier.events.on('verify:checked', (e) => r.events.emit('verify:checked', { ...e, stage: r.index }))
      verifier.events.on('verify:blamed', (e) => r.events.emit('verify:blamed', { ...e, stage: r.index }))
    }
    stage.events.on('result', (result) => {
      if (r.last) r.events.emit('result', result)
      r.output.push(result)
    })
    try {
      const report = await stage.run(items)
      await verifier?.close()
      return verifier === undefined ? report : { ...report, verification: verifier.report() }
    } catch (err) {
      verifier?.abort()
      throw err
    }
  }

  return {
    orderBook,
    stats,
    offers: (query = {}) => orderBook.query(query),
    submit,
    async stop() {
      for (const c of running) c.abort(new AbortedError('the mesh stopped'))
      feed.stop()
      orderBook.stop()
    },
  }
}

type ResultSink = CollectedResults<MeshResult> | ResultQueue<MeshResult>

/** One stage's report over a failed direct run and the chained run that went on from it. */
function mergeReports(before: StageReport | undefined, after: StageReport): StageReport {
  if (before === undefined) return after
  const checks = [before.verification, after.verification].filter((v) => v !== undefined)
  return {
    items: before.items + after.items,
    peers: [...before.peers, ...after.peers],
    debited: before.debited + after.debited,
    evSent: before.evSent + after.evSent,
    resent: before.resent + after.resent,
    ...(checks.length === 0 ? {} : { verification: mergeVerification(checks) }),
  }
}

function toCandidate(offer: Offer | undefined): StageCandidate | undefined {
  return offer === undefined
    ? undefined
    : { peerId: offer.peerId, modelId: offer.modelId, pricePerUnit: offer.pricePerUnit }
}

function sha256Of(sha256: string | undefined): { sha256?: string } {
  return sha256 === undefined ? {} : { sha256 }
}

function mergeVerification(reports: VerificationReport[]): VerificationReport {
  const out: VerificationReport = { checked: 0, mismatches: 0, unverified: 0, blamed: [], checkers: [] }
  for (const r of reports) {
    out.checked += r.checked
    out.mismatches += r.mismatches
    out.unverified += r.unverified
    out.blamed.push(...r.blamed)
    out.checkers.push(...r.checkers)
  }
  return out
}

function pick<T extends object, K extends keyof T>(obj: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {}
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k]
  return out
}
