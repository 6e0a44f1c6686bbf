/**
 * Workflows, orchestrator side: the incoming feed of a job whose frames come from the previous
 * stage. Waits for the feeder named in the quote to connect, reads its work items, acknowledges
 * each once the job has passed it on, and reports the feed's end.
 *
 * Replaceable (JobOpen.replaceable): when the feeder fails the job is not failed at once; the
 * broadcaster may name a new feeder (Refeed, `refeed`) within `lostTimeoutMs`. The new feed starts
 * at the first item the replacement makes; items we already have (it re-made them) are
 * acknowledged and skipped, a gap is refused. Items of an old feed are never acknowledged on the
 * new one.
 */
import type { FramemeshError } from '../errors.js'
import type { MessageChannel } from '../peer/framing.js'
import { JOB_ERROR_CODES, JobError } from './market-errors.js'
import type { JobClientMessage, JobServerMessage, WorkItem } from './pb/job.js'

type Channel = MessageChannel<JobClientMessage, JobServerMessage>

export interface FeedInComponents {
  /** Waits for the feed stream of this job (the handler's table of waiting jobs); returns a way to stop waiting. */
  expect: (accept: (feed: Channel) => void) => () => void
  /** A work item from the feed (checked there: order, size, window). */
  onWork: (work: WorkItem) => void
  /** The feed ended: no more items. */
  onEnd: () => void
  /** The feed failed beyond repair: the previous stage is to blame. */
  fail: (error: FramemeshError) => void
  /** The newest item seq the job took. */
  lastSeq: () => number
  /** Replaceable: the feeder failed (tell the broadcaster, so it replaces it). */
  onLost?: (error: FramemeshError) => void
}

export interface FeedInOptions {
  jobId: string
  window: number
  feeder: string
  replaceable: boolean
  /** Longest wait for a feed to connect (ms). */
  openTimeoutMs: number
  /** Longest silence on a feed (ms). */
  idleTimeoutMs: number
  /** Replaceable: longest wait for a new feeder after the feeder failed (ms). */
  lostTimeoutMs: number
  signal: AbortSignal
  read: (
    channel: Channel,
    timeoutMs: number,
    signal: AbortSignal,
    what: string,
  ) => Promise<JobClientMessage | undefined>
}

export class FeedIn {
  readonly #c: FeedInComponents
  readonly #o: FeedInOptions
  #feeder: string
  #channel?: Channel
  /** The first item seq of the current feed: older items are acknowledged to no one. */
  #from = 0
  #lostTimer?: ReturnType<typeof setTimeout>
  #ended = false
  #resolveDone!: () => void
  /** Settles when the feed ended (or failed: reported through `fail`). */
  readonly done: Promise<void>

  constructor(components: FeedInComponents, options: FeedInOptions) {
    this.#c = components
    this.#o = options
    this.#feeder = options.feeder
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve
    })
    // The job ended (or failed): nothing more to wait for here.
    options.signal.addEventListener(
      'abort',
      () => {
        clearTimeout(this.#lostTimer)
        this.#resolveDone()
      },
      { once: true },
    )
  }

  /** The current feeder. */
  get feeder(): string {
    return this.#feeder
  }

  /** The current feed stream (for a last error message). */
  get channel(): Channel | undefined {
    return this.#channel
  }

  /** Waits for the first feed to connect (bounded) and starts reading it. */
  async start(): Promise<void> {
    await this.#connect(false)
  }

  /** Acknowledges item `seq` to its feeder, once passed on (if it came on the current feed). */
  async ack(seq: number): Promise<void> {
    if (seq < this.#from || this.#channel === undefined) return
    try {
      await this.#channel.write(
        { result: { seq, lines: [], json: NO_BYTES, debitedWei: '0' } },
        { signal: this.#o.signal },
      )
    } catch (err) {
      // A lost feeder is replaced or fails the job on its own schedule.
      if (!this.#o.replaceable) throw err
    }
  }

  /**
   * Replaceable: the broadcaster names a new feeder (it replaced the previous stage). Resolves once
   * the new feed is expected; it connects in the background (bounded, like the first).
   */
  refeed(feeder: string): void {
    if (!this.#o.replaceable || this.#ended) {
      throw new JobError(JOB_ERROR_CODES.protocolViolation, 'this job does not take a new feeder')
    }
    this.#feeder = feeder
    void this.#connect(true).catch((err) => this.#c.fail(this.#blame(err)))
  }

  /** The job is done: ends our side of the feed. */
  async close(): Promise<void> {
    await this.#channel?.closeWrite({ signal: AbortSignal.timeout(this.#o.openTimeoutMs) }).catch(() => {})
  }

  async #connect(replacement: boolean): Promise<void> {
    const wait = AbortSignal.any([this.#o.signal, AbortSignal.timeout(this.#o.openTimeoutMs)])
    let stop = () => {}
    const feeder = this.#feeder
    const channel = await new Promise<Channel>((resolve, reject) => {
      stop = this.#c.expect(resolve)
      wait.addEventListener(
        'abort',
        () =>
          reject(
            this.#o.signal.aborted
              ? this.#o.signal.reason
              : new JobError(
                  'ERR_TIMEOUT',
                  `the previous stage ${feeder} did not connect its feed within ${this.#o.openTimeoutMs} ms`,
                ),
          ),
        { once: true },
      )
    }).finally(() => stop())
    const old = this.#channel
    this.#channel = channel
    this.#from = this.#c.lastSeq() + 1
    clearTimeout(this.#lostTimer)
    old?.abort(new JobError(JOB_ERROR_CODES.previousStageFailed, 'the broadcaster replaced this feeder'))
    await channel.write(
      { accepted: { jobId: this.#o.jobId, window: this.#o.window } },
      { signal: this.#o.signal },
    )
    void this.#read(channel, replacement)
  }

  async #read(channel: Channel, replacement: boolean): Promise<void> {
    let skipping = replacement
    try {
      while (true) {
        const message = await this.#o.read(
          channel,
          this.#o.idleTimeoutMs,
          this.#o.signal,
          'the next frame from the previous stage',
        )
        if (channel !== this.#channel) return
        if (message?.end === true || (message === undefined && !this.#o.replaceable)) {
          this.#ended = true
          this.#c.onEnd()
          this.#resolveDone()
          return
        }
        if (message === undefined) {
          throw new JobError('ERR_STREAM_ENDED', `${this.#feeder} closed its feed without ending it`)
        }
        if (message.work === undefined) {
          throw new JobError(JOB_ERROR_CODES.protocolViolation, 'a feed carries work items and its end only')
        }
        if (skipping) {
          const last = this.#c.lastSeq()
          // The replacement re-made items we already have: acknowledged, not taken again.
          if (message.work.seq <= last) {
            await channel.write(
              { result: { seq: message.work.seq, lines: [], json: NO_BYTES, debitedWei: '0' } },
              { signal: this.#o.signal },
            )
            continue
          }
          if (message.work.seq !== last + 1) {
            throw new JobError(
              JOB_ERROR_CODES.badWorkItem,
              `the new feed starts at item ${message.work.seq}; this job needs ${last + 1} next`,
            )
          }
          skipping = false
        }
        this.#c.onWork(message.work)
      }
    } catch (err) {
      if (channel !== this.#channel) return
      const error = err as FramemeshError
      if (!this.#o.replaceable || this.#o.signal.aborted || error.code === JOB_ERROR_CODES.badWorkItem) {
        this.#c.fail(this.#blame(err))
        this.#resolveDone()
        return
      }
      // Lost: the broadcaster has `lostTimeoutMs` to name a new feeder.
      this.#c.onLost?.(this.#blame(err))
      clearTimeout(this.#lostTimer)
      this.#lostTimer = setTimeout(() => {
        this.#c.fail(this.#blame(err))
        this.#resolveDone()
      }, this.#o.lostTimeoutMs)
      this.#lostTimer.unref?.()
    }
  }

  /** What goes wrong on the feed is the previous stage's doing: say so, so it is blamed, not us. */
  #blame(err: unknown): FramemeshError {
    const cause = err as FramemeshError
    const code = cause?.code ?? 'ERR_STREAM_ENDED'
    return new JobError(
      JOB_ERROR_CODES.previousStageFailed,
      `the previous stage ${this.#feeder} failed (${code}): ${cause?.message ?? String(err)}`,
      { cause, details: { previousStage: this.#feeder, previousStageCode: code } },
    )
  }
}

const NO_BYTES = new Uint8Array(0)
