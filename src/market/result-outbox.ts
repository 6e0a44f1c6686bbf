/**
 * The orchestrator's outgoing side of one job stream: results, credit requests and receipts.
 * Results of quick items go out in pairs: one is held until the next is done (at most
 * `pairBelowMs`), then both go as one stream chunk. Where inference is short, each message's
 * encryption, socket writes and window update are a large share of the cost of a frame.
 */
import type { MessageChannel } from '../peer/framing.js'
import type { JobServerMessage } from './pb/job.js'

/** What the outbox needs of the job stream. */
export type OutboxChannel = Pick<MessageChannel<unknown, JobServerMessage>, 'stream' | 'write' | 'writeMany'>

export interface ResultOutboxOptions {
  /** A result done within this many ms of the previous one may be held for a pair (0: never). */
  pairBelowMs: number
  /** The job's signal: writes stop with the job. */
  signal: AbortSignal
  /** A held result that fails to go out on its timer ends the job with this. */
  onError: (err: unknown) => void
}

export class ResultOutbox {
  readonly #channel: OutboxChannel
  readonly #options: ResultOutboxOptions
  #held: JobServerMessage[] = []
  #lastResultAt: number | undefined
  /** A held result goes out after pairBelowMs even if the next item is slow or hangs. */
  #timer: NodeJS.Timeout | undefined

  constructor(channel: OutboxChannel, options: ResultOutboxOptions) {
    this.#channel = channel
    this.#options = options
  }

  /**
   * Queues one result and sends it, unless it may be held as the first of a pair: `nextUnderWay`
   * says the caller has another item running whose result also comes back on this stream. A
   * job's first result always goes at once.
   */
  async addResult(result: JobServerMessage, nextUnderWay: boolean): Promise<void> {
    this.#held.push(result)
    const now = performance.now()
    const hold =
      this.#held.length === 1 &&
      nextUnderWay &&
      this.#lastResultAt !== undefined &&
      now - this.#lastResultAt < this.#options.pairBelowMs
    this.#lastResultAt = now
    if (!hold) await this.flush()
    else {
      this.#timer = setTimeout(() => {
        void this.flush().catch(this.#options.onError)
      }, this.#options.pairBelowMs)
    }
  }

  /** Credit requests and receipts join a held result (one chunk for both), else go at once. */
  async send(message: JobServerMessage): Promise<void> {
    if (this.#held.length > 0) this.#held.push(message)
    else await this.#channel.write(message, { signal: this.#options.signal })
  }

  /** Sends whatever is held now. */
  async flush(): Promise<void> {
    this.stopTimer()
    if (this.#held.length === 0) return
    const batch = this.#held
    this.#held = []
    // stream.send() queues synchronously, so a timer's flush cannot reorder results.
    await this.#channel.writeMany(batch, { signal: this.#options.signal })
  }

  stopTimer(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** A failed job: results held for pairing still go out ahead of the error, if the stream lets them. */
  async flushBeforeError(): Promise<void> {
    if (this.#held.length > 0 && this.#channel.stream.writeStatus === 'writable') {
      await this.#channel.writeMany(this.#held, { signal: AbortSignal.timeout(2_000) }).catch(() => {})
    }
  }
}
