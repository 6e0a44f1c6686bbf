/**
 * The orchestrator's work loop for one job: takes the job's work items in order, starts each once
 * the credit covers it (at most `parallel` at once, so the engine's queue never runs dry), and
 * hands each output on in order: to the broadcaster through the outbox, or to the next stage of a
 * workflow (the broadcaster then gets only the seq and the cost). Reading the stream, credit and
 * pairing of results live elsewhere (job-handler.ts, job-credit.ts, result-outbox.ts).
 */
import type { FramemeshError } from '../errors.js'
import type { PipelineId } from '../inference/types.js'
import type { TypedEmitter } from '../peer/events.js'
import type { FeedGate } from './feed-gate.js'
import type { FeedIn } from './feed-in.js'
import type { JobCredit } from './job-credit.js'
import type { Forwarder } from './job-forward.js'
import type { JobHandlerEvents } from './job-handler.js'
import type { Notifier } from './job-notify.js'
import { frameDigest, frameToImage, linesToPb } from './job-protocol.js'
import { runWork, type WorkEngine, type WorkInput, type WorkOutput } from './job-work.js'
import { JobError } from './market-errors.js'
import type { JobServerMessage } from './pb/job.js'
import type { ResultOutbox } from './result-outbox.js'

/** The job's input as the reader (or the feed) fills it. */
export interface JobWorkInput {
  /** Work items in order, not yet started; the worker takes from the front. */
  pending: WorkInput[]
  /** No more items will come. */
  ended(): boolean
}

export interface JobWorkerComponents {
  engine: WorkEngine
  input: JobWorkInput
  credit: Pick<JobCredit, 'awaitRoomForItem' | 'reserveItem' | 'chargeItem' | 'runningLow' | 'request'>
  outbox: Pick<ResultOutbox, 'addResult' | 'flush'>
  /** Notified when an item arrives, the input ends, credit comes or a running item settles. */
  wake: Notifier
  /** Confirmed feeds: an item runs only once the broadcaster confirms it. */
  gate?: Pick<FeedGate, 'ready' | 'pass'>
  /** Workflows: outputs go to the next stage. */
  forwarder?: Pick<Forwarder, 'push'>
  /** Workflows: the previous stage's feed, told when an item is passed on. */
  feed?: Pick<FeedIn, 'ack'>
  events: TypedEmitter<JobHandlerEvents>
  /** Ends the job: an early credit request that could not be sent. */
  fail: (err: FramemeshError) => void
  /** The job's failure, if it failed: what the loop throws when the job's signal aborts. */
  failure: () => FramemeshError | undefined
}

export interface JobWorkerOptions {
  jobId: string
  pipeline: PipelineId
  modelId: string
  /** Wei one item costs (reported per result). */
  itemCost: bigint
  /** Items handed to the engine at once. */
  parallel: number
  /** Longest wait for work with nothing running (ms). */
  idleTimeoutMs: number
  /** Forwarded outputs' digests go to the broadcaster (confirmed feeds). */
  digests: boolean
  signal: AbortSignal
}

interface Running {
  seq: number
  output: Promise<WorkOutput>
  settled: boolean
}

export class JobWorker {
  readonly #c: JobWorkerComponents
  readonly #o: JobWorkerOptions
  readonly #running: Running[] = []

  constructor(components: JobWorkerComponents, options: JobWorkerOptions) {
    this.#c = components
    this.#o = options
  }

  /** Runs until the input ends and every output is handed on; throws what ends the job. */
  async run(): Promise<void> {
    const { input, credit, wake, gate } = this.#c
    const { parallel, idleTimeoutMs, signal } = this.#o
    const running = this.#running
    while (true) {
      if (signal.aborted) throw this.#c.failure() ?? signal.reason
      const item = input.pending.shift()
      if (item === undefined) {
        if (running.length > 0) {
          // With room for another item, the next one starts the moment it arrives, not after the
          // head's result is out: at a job's start the items come in one by one, and waiting on the
          // head there would run the first items one at a time.
          if (running.length < parallel && !input.ended() && !running[0]!.settled) await wake.wait({ signal })
          else await this.#handOnHead()
          continue
        }
        if (input.ended()) return
        await wake.wait({
          signal,
          timeoutMs: idleTimeoutMs,
          onTimeout: () => new JobError('ERR_TIMEOUT', `no work for ${idleTimeoutMs} ms; the job was closed`),
        })
        continue
      }
      if (gate !== undefined) {
        // Hand on what is done while the broadcaster's confirmation of this item is on its way.
        while (running.length > 0 && !gate.ready(item)) await this.#handOnHead()
        await gate.pass(item, signal)
      }
      await credit.awaitRoomForItem()
      credit.reserveItem()
      this.#start(item)
      if (credit.runningLow()) void credit.request().catch(this.#c.fail)
      if (running.length >= parallel) await this.#handOnHead()
    }
  }

  #start(item: WorkInput): void {
    const { pipeline, modelId, signal } = this.#o
    const output = runWork(this.#c.engine, pipeline, modelId, item, signal)
    const entry: Running = { seq: item.seq, output, settled: false }
    // Observed at once so a failure does not surface as an unhandled rejection before its turn;
    // its settling wakes a worker waiting for either it or the next item.
    const settle = () => {
      entry.settled = true
      this.#c.wake.notify()
    }
    output.then(settle, settle)
    this.#running.push(entry)
  }

  /** Waits for the oldest running item and hands its output on; its cost is debited then. */
  async #handOnHead(): Promise<void> {
    const { outbox, credit, forwarder, feed } = this.#c
    const { jobId, itemCost } = this.#o
    const head = this.#running.shift()!
    let output: WorkOutput
    try {
      output = await head.output
    } catch (err) {
      // What is done still goes out before this item's failure ends the job.
      await outbox.flush().catch(() => {})
      throw err
    }
    credit.chargeItem()
    // Forwarding: the output goes to the next stage; the broadcaster gets the seq and the cost.
    if (forwarder !== undefined && output.frame !== undefined) await forwarder.push(output.frame)
    const sendOutput = forwarder === undefined
    const result = resultMessage(head.seq, output, { sendOutput, digest: this.#o.digests, itemCost })
    // Held only as the first of a pair, with the next item under way, when items come quickly
    // and outputs come back here.
    await outbox.addResult(result, this.#running.length > 0 && sendOutput && feed === undefined)
    // The previous stage's window frees when we have passed the item on.
    await feed?.ack(head.seq)
    this.#c.events.emit('job:item', { jobId, seq: head.seq, debited: itemCost })
  }
}

const NO_BYTES = new Uint8Array(0)

/**
 * One item's result message. A forwarding stage sends no output (it went to the next stage),
 * only the seq, the cost and, on a confirmed feed, the output's digest.
 */
function resultMessage(
  seq: number,
  output: WorkOutput,
  how: { sendOutput: boolean; digest: boolean; itemCost: bigint },
): JobServerMessage {
  const { sendOutput, itemCost } = how
  return {
    result: {
      seq,
      ...(sendOutput && output.frame !== undefined ? { image: frameToImage(output.frame) } : {}),
      lines: sendOutput && output.lines !== undefined ? linesToPb(output.lines) : [],
      json: NO_BYTES,
      debitedWei: itemCost.toString(10),
      ...(how.digest && !sendOutput && output.frame !== undefined
        ? { digest: frameDigest(output.frame) }
        : {}),
    },
  }
}
