/**
 * `createMesh`: what an app embeds to buy work on the mesh. It listens to adverts (into an order
 * book), picks orchestrators (selection + what it has learned of each peer), negotiates, streams
 * frames, pays with tickets and fails over. `mesh.submit` returns a job whose `events` are both a
 * typed emitter and an async iterable, whose `results` stream the outputs in input order at the
 * reader's pace, and whose `done` holds the report (and every output, when collected).
 */
import { randomBytes } from 'node:crypto'
import { AbortedError, FramemeshError } from '../errors.js'
import type { Frame, PipelineId, TextLine } from '../inference/types.js'
import { type Logger, silentLogger } from '../logger.js'
import { TypedEmitter } from '../peer/events.js'
import type { Peer } from '../peer/peer.js'
import type { TicketSender } from '../tickets/sender.js'
import { MAX_UINT256 } from '../tickets/ticket.js'
import { AdvertFeed } from './advert-gossip.js'
import { AdvertValidator, type AdvertValidatorOptions } from './advert-validator.js'
import { BudgetPayer } from './broadcaster-payer.js'
import { type PeerUse, Stage, type StageEvents, type StageReport } from './failover.js'
import type { WorkInput } from './job-work.js'
import { JOB_ERROR_CODES, JobError } from './market-errors.js'
import type { Offer, OfferQuery } from './offer.js'
import { OrderBook, type OrderBookOptions } from './order-book.js'
import { PeerStats, type PeerStatsOptions } from './peer-stats.js'
import { FRAME_FORMAT_RGB24 } from './quote.js'
import { CollectedResults, ResultQueue } from './result-queue.js'
import { type SelectionOptions, selectOffer } from './selection.js'

export interface MeshComponents {
  peer: Pick<Peer, 'dialProtocol' | 'gossip'>
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
  selection?: Omit<SelectionOptions, 'exclude'>
  orderBook?: OrderBookOptions
  peerStats?: PeerStatsOptions
  advertValidator?: AdvertValidatorOptions
}

export interface SubmitOptions {
  pipeline: PipelineId
  /** A model id; any model of the pipeline when omitted. */
  model?: string
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
  peers: PeerUse[]
}

export interface JobResult {
  /** Output frames in input order when collected (see SubmitOptions.collect), else empty. */
  frames: Frame[]
  /** Every output with its seq and peer when collected, else empty. */
  results: MeshResult[]
  report: JobReport
}

export interface MeshJobEvents extends StageEvents {
  progress: { done: number; total?: number; peerId: string }
  finished: JobReport
  failed: { error: FramemeshError }
}

export type MeshJobEvent = {
  [K in keyof MeshJobEvents]: { type: K; detail: MeshJobEvents[K] }
}[keyof MeshJobEvents]

/** Events the async iterable leaves out: outputs carry frames and have their own stream (`results`). */
const NOT_ITERATED: ReadonlySet<keyof MeshJobEvents> = new Set(['result'])
/** Events kept for an iterator that starts late; older ones are dropped so a long job stays bounded. */
const EVENT_BACKLOG = 1_000

/**
 * A typed emitter that can also be read as an async iterable of the job's events until it ends
 * (every event but 'result': read outputs from `job.results`). An iterator sees the events from
 * its start, plus the last 1,000 before it.
 */
export class JobEvents extends TypedEmitter<MeshJobEvents> implements AsyncIterable<MeshJobEvent> {
  readonly #backlog: MeshJobEvent[] = []
  readonly #readers = new Set<{ queue: MeshJobEvent[]; wake?: () => void }>()
  #closed = false

  override emit<K extends keyof MeshJobEvents>(name: K, detail: MeshJobEvents[K]): void {
    if (!this.#closed && !NOT_ITERATED.has(name)) {
      const event = { type: name, detail } as MeshJobEvent
      this.#backlog.push(event)
      if (this.#backlog.length > EVENT_BACKLOG) this.#backlog.shift()
      for (const reader of this.#readers) {
        reader.queue.push(event)
        reader.wake?.()
      }
    }
    super.emit(name, detail)
  }

  close(): void {
    this.#closed = true
    for (const reader of this.#readers) reader.wake?.()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<MeshJobEvent> {
    const reader: { queue: MeshJobEvent[]; wake?: () => void } = { queue: [...this.#backlog] }
    this.#readers.add(reader)
    try {
      while (true) {
        const next = reader.queue.shift()
        if (next !== undefined) {
          yield next
          continue
        }
        if (this.#closed) return
        await new Promise<void>((resolve) => {
          reader.wake = resolve
        })
        reader.wake = undefined
      }
    } finally {
      this.#readers.delete(reader)
    }
  }
}

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
  const feed = new AdvertFeed({
    gossip: components.peer.gossip,
    validator: new AdvertValidator({ logger }, options.advertValidator),
    orderBook,
    logger,
  })
  feed.start()
  orderBook.start()
  const running = new Set<AbortController>()

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
    const frames = s.input
    const source: AsyncIterator<Frame> | Iterator<Frame> =
      Symbol.asyncIterator in frames
        ? (frames as AsyncIterable<Frame>)[Symbol.asyncIterator]()
        : (frames as Iterable<Frame>)[Symbol.iterator]()
    const first = await source.next()
    if (first.done === true) throw new JobError('ERR_EMPTY_INPUT', 'the job has no frames; pass at least one')
    const { width, height } = first.value
    const total = Array.isArray(frames) ? frames.length : undefined
    const pairs = s.pipeline === 'interpolate'
    const items = workItems(first.value, source, pairs, signal)
    const maxPrice = s.maxPrice ?? MAX_UINT256
    const query: OfferQuery = {
      pipeline: s.pipeline,
      ...(s.model === undefined ? {} : { modelId: s.model }),
      maxPricePerUnit: maxPrice,
      frameFormat: FRAME_FORMAT_RGB24,
      frameWidth: width,
      frameHeight: height,
    }
    const allowed = s.peers === undefined ? undefined : new Set(s.peers)
    const payer = new BudgetPayer(components.sender, s.budget)
    const stage = new Stage(
      {
        peer: components.peer,
        payer,
        stats,
        logger,
        ...(sink instanceof ResultQueue ? { room: (sig?: AbortSignal) => sink.room(sig) } : {}),
        choose: (exclude) => {
          const offers = orderBook.query(query).filter((o) => allowed === undefined || allowed.has(o.peerId))
          const pick = selectOffer(offers, query, (p) => stats.health(p), { ...options.selection, exclude })
          return pick === undefined
            ? undefined
            : {
                peerId: pick.offer.peerId,
                modelId: pick.offer.modelId,
                pricePerUnit: pick.offer.pricePerUnit,
              }
        },
      },
      {
        pipeline: s.pipeline,
        sender: components.sender.address,
        width,
        height,
        itemCount: total === undefined ? 0 : pairs ? Math.max(0, total - 1) : total,
        maxPricePerUnit: maxPrice,
        signal,
        ...pick(options, ['window', 'quoteTimeoutMs', 'openTimeoutMs', 'stallTimeoutMs', 'maxAttempts']),
      },
    )
    let delivered = 0
    const forward = <K extends keyof StageEvents>(name: K) =>
      stage.events.on(name, (detail) => events.emit(name, detail as MeshJobEvents[K]))
    for (const name of [
      'peer:selected',
      'peer:failed',
      'peer:switch',
      'quote:refused',
      'payment',
      'payment:withheld',
      'result',
    ] as const) {
      forward(name)
    }
    stage.events.on('result', (r) => {
      sink.push(r)
      events.emit('progress', {
        done: ++delivered,
        ...(total === undefined ? {} : { total }),
        peerId: r.peerId,
      })
    })
    try {
      const report: JobReport = { ...(await stage.run(items)), jobId: id }
      events.emit('finished', report)
      return report
    } catch (err) {
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

/** Frames → work items: one per frame, or one per neighbouring pair (interpolate, t = 0.5). */
async function* workItems(
  first: Frame,
  rest: AsyncIterator<Frame> | Iterator<Frame>,
  pairs: boolean,
  signal: AbortSignal,
): AsyncIterable<WorkInput> {
  let seq = 0
  let previous = first
  if (!pairs) yield { seq: seq++, frames: [first], t: 0 }
  while (true) {
    signal.throwIfAborted()
    const next = await rest.next()
    if (next.done === true) return
    const frame = next.value
    if (frame.width !== first.width || frame.height !== first.height) {
      throw new JobError(
        JOB_ERROR_CODES.frameSizeMismatch,
        `frame ${seq} is ${frame.width}x${frame.height}, the job's first frame ${first.width}x${first.height}; submit one job per frame size`,
      )
    }
    yield pairs ? { seq: seq++, frames: [previous, frame], t: 0.5 } : { seq: seq++, frames: [frame], t: 0 }
    previous = frame
  }
}

function pick<T extends object, K extends keyof T>(obj: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {}
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k]
  return out
}
