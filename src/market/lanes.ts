/**
 * One stage's items spread over several orchestrators at once ("lanes"), so a long video runs on
 * as many sellers as the job asks for rather than on one. Every pipeline's items are independent
 * (a frame, a pair of frames, a window of a frame), so any lane may run any item.
 *
 * Each lane is a Stage of its own (failover.ts): its own orchestrator, job stream, quote and
 * tickets, and its own failover when that orchestrator dies or stalls, so within a lane nothing is
 * lost or paid twice exactly as in a one-lane job. Lanes take items from one shared input as
 * their windows free up, so a faster orchestrator takes more; results are put back in input
 * order before they leave. A lane prefers an orchestrator no other lane is using, and takes a
 * used one only when no other is left. Items taken but not yet delivered are bounded
 * (`maxAhead`), so a lane that falls behind holds the others back instead of letting results
 * pile up waiting for it. A lane that fails for good (no orchestrator left, the input failed, the
 * buyer cannot pay) ends the stage with its error, as a one-lane stage would.
 */
import {
  inputFailure,
  type Stage,
  type StageCandidate,
  type StageReport,
  type StageResult,
} from './failover.js'
import { Notifier } from './job-notify.js'
import type { WorkInput } from './job-work.js'

export type Choose = (exclude: ReadonlySet<string>) => Promise<StageCandidate | undefined>

export interface LanesComponents {
  /** A new Stage (one lane) that picks its orchestrators with `choose` and stops on `signal`. */
  newStage: (choose: Choose, signal: AbortSignal) => Stage
  /** The stage's own pick of an orchestrator (order book, selection). */
  choose: Choose
  /** Back-pressure from the reader of the results, awaited before each item is handed out. */
  room?: (signal?: AbortSignal) => Promise<void>
  /**
   * How many orchestrators sell the stage now: lane k starts only once more than k do, so a
   * seller that joins during the job gets a lane. Absent: as many as asked.
   */
  sellers?: () => number
  /**
   * Called when the lanes wait for results to be delivered (`maxAhead` reached). Verifying lanes
   * hold results until a check covers them: the results in the way may be waiting for a check
   * that no new item would ever trigger, so this is the moment to start one.
   */
  behind?: () => void
}

export interface LanesOptions {
  /** Lanes at most. */
  lanes: number
  /** Items handed out per running lane before the next lane starts (a lane's window). */
  startEvery: number
  /** Items taken from the input but not yet delivered, at most. */
  maxAhead: number
  signal: AbortSignal
}

/** Runs `items` on `options.lanes` Stages at once; `deliver` gets the results in input order. */
export async function runInLanes(
  components: LanesComponents,
  items: AsyncIterable<WorkInput>,
  deliver: (result: StageResult) => void,
  options: LanesOptions,
): Promise<StageReport> {
  const stop = new AbortController()
  const signal = AbortSignal.any([options.signal, stop.signal])
  const shared = new SharedInput(
    items[Symbol.asyncIterator](),
    deliver,
    options.maxAhead,
    components.room,
    components.behind,
  )
  /** The orchestrator each lane runs on now, so the others can keep away from it. */
  const current = new Map<number, string>()
  const turns = { last: Promise.resolve() as Promise<unknown> }
  let failure: unknown
  const runs: Promise<StageReport>[] = []
  const startLane = (lane: number, first?: WorkInput) => {
    const stage = components.newStage(preferUnused(components.choose, current, lane, turns), signal)
    stage.events.on('result', (r) => shared.result(r))
    const run = stage.run(shared.lane(signal, first)).catch((err: unknown) => {
      // The first lane to fail ends the others; theirs are only the echo of this one.
      failure ??= err
      stop.abort(err)
      throw err
    })
    // Settled below, once every lane has started; until then a failure must not count as unhandled.
    run.catch(() => {})
    runs.push(run)
  }
  startLane(0)
  // A lane costs a quote, a stream and tickets paid ahead, so more start only once the input
  // proves long enough to share: lane k when k windows' worth of items were handed out, and only
  // with an item of its own in hand (a short clip or an image stays on one orchestrator). It
  // also waits for a seller of its own: one that joins during the job gets a lane then.
  const sellers = components.sellers ?? (() => Number.POSITIVE_INFINITY)
  for (let lane = 1; lane < options.lanes; lane++) {
    const first = await shared
      .takeWhen(lane * options.startEvery, () => sellers() > lane, signal)
      .catch((err: unknown) => {
        // Read for the lane about to start, the input's own failure is the stage's.
        if (!signal.aborted) {
          failure ??= inputFailure(err)
          stop.abort(failure)
        }
        return undefined
      })
    if (first === undefined) break
    startLane(lane, first)
  }
  // Lanes may start while earlier ones settle: wait until no more were added.
  let settled: PromiseSettledResult<StageReport>[]
  do settled = await Promise.allSettled(runs)
  while (settled.length < runs.length)
  if (failure !== undefined) throw failure
  const reports = settled.map((s) => (s as PromiseFulfilledResult<StageReport>).value)
  return {
    items: reports.reduce((n, r) => n + r.items, 0),
    peers: reports.flatMap((r) => r.peers),
    debited: reports.reduce((n, r) => n + r.debited, 0n),
    evSent: reports.reduce((n, r) => n + r.evSent, 0n),
    resent: reports.reduce((n, r) => n + r.resent, 0),
  }
}

/**
 * `choose` for lane `lane`: an orchestrator no other lane runs on if there is one, else any.
 * Picks are made one at a time (lanes start together), each seeing the ones before it.
 */
function preferUnused(
  choose: Choose,
  current: Map<number, string>,
  lane: number,
  turns: { last: Promise<unknown> },
): Choose {
  const pick = async (exclude: ReadonlySet<string>) => {
    const others = [...current].filter(([l]) => l !== lane).map(([, peerId]) => peerId)
    const unused = others.length === 0 ? undefined : await choose(new Set([...exclude, ...others]))
    const picked = unused ?? (await choose(exclude))
    if (picked !== undefined) current.set(lane, picked.peerId)
    return picked
  }
  return (exclude) => {
    const turn = turns.last.then(() => pick(exclude))
    turns.last = turn.catch(() => {})
    return turn
  }
}

/**
 * The input the lanes share: items handed out one at a time (the source is read by one lane at
 * a time), at most `maxAhead` of them undelivered, and the lanes' results put back in order.
 */
class SharedInput {
  readonly #source: AsyncIterator<WorkInput>
  readonly #deliver: (result: StageResult) => void
  readonly #maxAhead: number
  readonly #room?: (signal?: AbortSignal) => Promise<void>
  readonly #behind?: () => void
  readonly #delivered = new Notifier()
  /** Told of every item handed out, and of the input's end. */
  readonly #handed = new Notifier()
  #handedOut = 0
  /** Seqs handed out and not yet delivered, in input order. */
  readonly #undelivered: number[] = []
  readonly #results = new Map<number, StageResult>()
  /** The read of the source in progress: the next reader waits for it. */
  #reading: Promise<unknown> = Promise.resolve()
  #ended = false

  constructor(
    source: AsyncIterator<WorkInput>,
    deliver: (result: StageResult) => void,
    maxAhead: number,
    room?: (signal?: AbortSignal) => Promise<void>,
    behind?: () => void,
  ) {
    this.#source = source
    this.#deliver = deliver
    this.#maxAhead = Math.max(1, maxAhead)
    this.#room = room
    this.#behind = behind
  }

  /** One lane's view of the input, from `first` (an item already taken for it) when given. */
  async *lane(signal: AbortSignal, first?: WorkInput): AsyncGenerator<WorkInput> {
    if (first !== undefined) yield first
    while (true) {
      const item = await this.#take(signal)
      if (item === undefined) return
      yield item
    }
  }

  /** A lane's result: delivered once every earlier item's result is. */
  result(result: StageResult): void {
    if (!this.#undelivered.includes(result.seq) || this.#results.has(result.seq)) return
    this.#results.set(result.seq, result)
    while (this.#undelivered.length > 0 && this.#results.has(this.#undelivered[0]!)) {
      const next = this.#results.get(this.#undelivered.shift()!)!
      this.#results.delete(next.seq)
      this.#deliver(next)
    }
    this.#delivered.notify()
  }

  /**
   * The next item once `count` items were handed out in all and `ready()` says so (asked again at
   * each item handed out); undefined when the input ends first.
   */
  async takeWhen(count: number, ready: () => boolean, signal: AbortSignal): Promise<WorkInput | undefined> {
    while (!this.#ended && (this.#handedOut < count || !ready())) await this.#handed.wait({ signal })
    return this.#take(signal)
  }

  async #take(signal: AbortSignal): Promise<WorkInput | undefined> {
    while (!this.#ended && this.#undelivered.length >= this.#maxAhead) {
      this.#behind?.()
      await this.#delivered.wait({ signal })
    }
    await this.#room?.(signal)
    const turn = this.#reading.then(async () => {
      if (this.#ended) return undefined
      const step = await this.#source.next()
      if (step.done === true) {
        this.#ended = true
        this.#handed.notify()
        return undefined
      }
      this.#undelivered.push(step.value.seq)
      this.#handedOut++
      this.#handed.notify()
      return step.value
    })
    // A failed read is the reading lane's to report; the next reader tries the source itself.
    this.#reading = turn.catch(() => {})
    return turn
  }
}
