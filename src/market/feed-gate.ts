/**
 * Confirmed feeds, orchestrator side (JobOpen.digests on a feed-fed job): a feed item is run only
 * once the broadcaster has confirmed, on its own stream, the digest of every image in it, i.e. the
 * feeder committed that very output to the broadcaster in its ack (and is paid for it). So an
 * honest stage never works, or bills, for frames its feeder invented or altered on the way.
 */
import type { Frame } from '../inference/types.js'
import { Notifier } from './job-notify.js'
import { frameDigest } from './job-protocol.js'
import type { WorkInput } from './job-work.js'
import { JOB_ERROR_CODES, JobError } from './market-errors.js'

/** Confirmations held at once: far above any window; a broadcaster flooding them is refused. */
const MAX_CONFIRMED = 4_096

export interface FeedGateOptions {
  /** The previous stage, named in errors. */
  feeder: string
  /** Longest wait for one confirmation (ms). */
  timeoutMs: number
}

export class FeedGate {
  readonly #o: FeedGateOptions
  readonly #confirmed = new Map<number, Uint8Array>()
  readonly #wake = new Notifier()
  /** The feeder's output count once the broadcaster says it made no more. */
  #total?: number

  constructor(options: FeedGateOptions) {
    this.#o = options
  }

  /**
   * The broadcaster vouches that the feeder's output `seq` has `digest`; an empty digest says the
   * feeder made `seq` outputs in all (anything beyond was never committed).
   */
  confirm(seq: number, digest: Uint8Array): void {
    if (!Number.isSafeInteger(seq) || seq < 0 || (digest.byteLength !== 32 && digest.byteLength !== 0)) {
      throw new JobError(JOB_ERROR_CODES.protocolViolation, 'a confirmation needs a seq and a 32-byte digest')
    }
    if (digest.byteLength === 0) {
      this.#total = seq
      this.#wake.notify()
      return
    }
    if (this.#confirmed.size >= MAX_CONFIRMED) {
      throw new JobError(
        JOB_ERROR_CODES.protocolViolation,
        `more than ${MAX_CONFIRMED} confirmations ahead of the feed; confirm only what the feeder sent`,
      )
    }
    this.#confirmed.set(seq, digest)
    this.#wake.notify()
  }

  /** Whether every image of `item` is confirmed already (`pass` would not wait). */
  ready(item: WorkInput): boolean {
    return item.frames.every((_, i) => this.#confirmed.has(item.seq + i))
  }

  /**
   * Waits until every image of feed item `item` is confirmed (image i of item j is the feeder's
   * output j + i) and checks it; throws ERR_FEED_MISMATCH when an image differs.
   */
  async pass(item: WorkInput, signal: AbortSignal): Promise<void> {
    for (const [i, frame] of item.frames.entries()) await this.#check(item.seq + i, frame, item.seq, signal)
    // Output `seq` is in no later item (a pair's second image is the next item's first).
    this.#confirmed.delete(item.seq)
  }

  async #check(index: number, frame: Frame, seq: number, signal: AbortSignal): Promise<void> {
    let want = this.#confirmed.get(index)
    while (want === undefined) {
      if (this.#total !== undefined && index >= this.#total) {
        throw new JobError(
          JOB_ERROR_CODES.feedMismatch,
          `feed item ${seq} needs output ${index} of ${this.#o.feeder}, which made ${this.#total}: it fed work it never committed`,
          { details: { previousStage: this.#o.feeder } },
        )
      }
      await this.#wake.wait({
        signal,
        timeoutMs: this.#o.timeoutMs,
        onTimeout: () =>
          new JobError(
            'ERR_TIMEOUT',
            `the broadcaster did not confirm output ${index} of ${this.#o.feeder} within ${this.#o.timeoutMs} ms; the job was closed`,
          ),
      })
      want = this.#confirmed.get(index)
    }
    if (!Buffer.from(frameDigest(frame)).equals(want)) {
      throw new JobError(
        JOB_ERROR_CODES.feedMismatch,
        `feed item ${seq} is not the output ${index} that ${this.#o.feeder} committed to the broadcaster`,
        { details: { previousStage: this.#o.feeder } },
      )
    }
  }
}
