/**
 * Workflows, orchestrator side: the feed from one stage to the next. An orchestrator whose job was
 * opened with a Forward sends its outputs as work items straight to the next stage's orchestrator
 * (a feed stream: JobOpen{quote_id, feed}), in order, at most the granted window unacknowledged.
 * The feed carries frames only: the next stage is paid by the broadcaster on its own stream, so
 * nothing here touches tickets, and the next stage takes the feed only from the peer the
 * broadcaster named in its quote.
 *
 * Replaceable (JobOpen.replaceable): when the next stage fails, the feed is not given up: the
 * items it had not acknowledged (and the last one it had) are kept, `push` waits (bounded by
 * `lostTimeoutMs`), and the broadcaster's Reforward (`repoint`) opens a feed to the replacement
 * and sends the kept items again from the seq it needs.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { FramemeshError } from '../errors.js'
import type { Frame } from '../inference/types.js'
import { type MessageChannel, messageChannel } from '../peer/framing.js'
import type { Peer } from '../peer/peer.js'
import { PROTOCOLS } from '../peer/protocols.js'
import { Notifier } from './job-notify.js'
import { frameToImage, JOB_CLIENT_MESSAGE, JOB_SERVER_MESSAGE } from './job-protocol.js'
import { JOB_ERROR_CODES, JobError } from './market-errors.js'
import type { Forward, Image, JobClientMessage, JobServerMessage } from './pb/job.js'

export interface ForwarderOptions {
  forward: Forward
  /** Items in flight wanted; the next stage may grant fewer. */
  window: number
  /** Dial + open (ms). */
  openTimeoutMs: number
  /** With items unacknowledged, longest silence before ERR_PEER_STALLED (ms). */
  stallTimeoutMs: number
  /** Wait for a replacement of a failed next stage instead of failing (see above). */
  replaceable?: boolean
  /** Replaceable: longest wait for the broadcaster's Reforward after the next stage failed (ms). */
  lostTimeoutMs?: number
  /** Replaceable: the next stage failed (tell the broadcaster, so it replaces it). */
  onLost?: (error: FramemeshError) => void
  signal: AbortSignal
}

interface Sent {
  seq: number
  images: Image[]
}

type Channel = MessageChannel<JobServerMessage, JobClientMessage>

export class Forwarder {
  readonly #peer: Pick<Peer, 'dialProtocol'>
  readonly #o: ForwarderOptions
  readonly #wake = new Notifier()
  #forward: Forward
  #channel?: Channel
  #window = 1
  #unacked: Sent[] = []
  /**
   * Replaceable: the last items acknowledged (as many as the window): the broadcaster may not have
   * heard yet that the next stage finished them when it dies, and asks for them again.
   */
  #acked: Sent[] = []
  #seq: number
  #previous?: Frame
  #failure?: FramemeshError
  /** Replaceable: the next stage failed; waiting for `repoint`. */
  #lost?: FramemeshError
  #endSent = false
  #reading?: Promise<void>

  constructor(peer: Pick<Peer, 'dialProtocol'>, options: ForwarderOptions) {
    this.#peer = peer
    this.#o = options
    this.#forward = options.forward
    // A replacement stage starts at the feed item the next stage needs first.
    this.#seq = options.forward.firstSeq ?? 0
  }

  get peerId(): string {
    return this.#forward.peerId
  }

  /** Opens the feed; throws the next stage's refusal (its JobError code) or a dial error. */
  async open(): Promise<void> {
    try {
      this.#channel = await this.#connect(this.#forward)
    } catch (err) {
      throw this.#fail(err, 'opening the feed')
    }
    this.#reading = this.#readAcks(this.#channel)
  }

  /**
   * Sends one output on: as one item, or for an interpolating next stage as the pair (previous
   * output, this one). Waits while the window is full, which slows this stage to the next one's pace.
   */
  async push(frame: Frame): Promise<void> {
    const pairs = this.#forward.pipeline === 'interpolate'
    const previous = this.#previous
    this.#previous = frame
    if (pairs && previous === undefined) return
    const images = pairs ? [frameToImage(previous!), frameToImage(frame)] : [frameToImage(frame)]
    await this.#room()
    const sent = { seq: this.#seq++, images }
    this.#unacked.push(sent)
    const channel = this.#channel!
    try {
      await channel.write({ work: { seq: sent.seq, images, t: 0.5 }, end: false }, { signal: this.#o.signal })
    } catch (err) {
      // Kept: a replacement gets it again.
      if (this.#lose(err, channel, 'feeding the next stage')) return
      throw this.#fail(err, 'feeding the next stage')
    }
  }

  /** No more outputs: ends the feed and waits until the next stage acknowledged all and closed. */
  async finish(): Promise<void> {
    while (true) {
      await this.#connected()
      const channel = this.#channel!
      try {
        await channel.write({ end: true }, { signal: this.#o.signal })
        this.#endSent = true
      } catch (err) {
        if (this.#lose(err, channel, 'ending the feed')) continue
        throw this.#fail(err, 'ending the feed')
      }
      await this.#reading
      if (this.#failure !== undefined) throw this.#failure
      // The next stage failed before acknowledging all: its replacement gets the rest and the end.
      if (this.#lost !== undefined || channel !== this.#channel) continue
      return
    }
  }

  /**
   * Replaceable: from now on feed `forward` (the replacement of the next stage), first sending the
   * kept items from `forward.firstSeq` on. Throws (and fails the feed) when those are no longer kept.
   */
  async repoint(forward: Forward): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure
    const from = forward.firstSeq ?? 0
    const kept = [...this.#acked, ...this.#unacked]
    const first = kept[0]?.seq ?? this.#seq
    if (from < first || from > this.#seq) {
      throw this.#fail(
        new JobError(
          JOB_ERROR_CODES.protocolViolation,
          `the replacement needs feed item ${from}; this stage keeps ${first} to ${this.#seq - 1}`,
        ),
        'repointing the feed',
      )
    }
    // Whatever the old next stage still does, it is out of the job.
    this.#lost ??= new JobError(JOB_ERROR_CODES.nextStageFailed, `the broadcaster replaced ${this.peerId}`)
    this.#channel?.abort(this.#lost)
    this.#forward = forward
    this.#acked = []
    this.#unacked = kept.filter((s) => s.seq >= from)
    this.#endSent = false
    let channel: Channel
    try {
      channel = await this.#connect(forward)
      for (const s of this.#unacked) {
        await channel.write(
          { work: { seq: s.seq, images: s.images, t: 0.5 }, end: false },
          { signal: this.#o.signal },
        )
      }
    } catch (err) {
      throw this.#fail(err, 'opening the feed to the replacement')
    }
    this.#channel = channel
    this.#lost = undefined
    this.#reading = this.#readAcks(channel)
    this.#wake.notify()
  }

  abort(error: FramemeshError): void {
    this.#failure ??= error
    this.#channel?.abort(error)
    this.#wake.notify()
  }

  async #connect(forward: Forward): Promise<Channel> {
    const { openTimeoutMs } = this.#o
    const signal = AbortSignal.any([this.#o.signal, AbortSignal.timeout(openTimeoutMs)])
    const addrs = forward.addrs.flatMap((bytes) => {
      try {
        return [multiaddr(bytes)]
      } catch {
        return []
      }
    })
    const stream = await this.#peer.dialProtocol(addrs.length > 0 ? addrs : forward.peerId, PROTOCOLS.job, {
      signal,
      timeoutMs: openTimeoutMs,
    })
    const channel = messageChannel(stream, { in: JOB_SERVER_MESSAGE, out: JOB_CLIENT_MESSAGE })
    await channel.write(
      { open: { quoteId: forward.quoteId, window: this.#o.window, feed: true }, end: false },
      { signal },
    )
    const first = await channel.read({ signal })
    if (first?.error !== undefined) throw this.#remote(first.error)
    if (first?.accepted === undefined) {
      throw new JobError(JOB_ERROR_CODES.protocolViolation, `${forward.peerId} did not accept the feed`)
    }
    this.#window = Math.max(1, first.accepted.window)
    return channel
  }

  /** Waits while the next stage is lost and not yet replaced (bounded). */
  async #connected(): Promise<void> {
    while (this.#lost !== undefined && this.#failure === undefined) {
      const lost = this.#lost
      const timeoutMs = this.#o.lostTimeoutMs ?? this.#o.openTimeoutMs
      await this.#wake.wait({
        signal: this.#o.signal,
        timeoutMs,
        onTimeout: () =>
          this.#fail(lost, `waiting ${timeoutMs} ms for the broadcaster to replace the next stage`),
      })
    }
    if (this.#failure !== undefined) throw this.#failure
  }

  async #room(): Promise<void> {
    while (true) {
      await this.#connected()
      if (this.#unacked.length < this.#window) return
      await this.#wake.wait({
        signal: this.#o.signal,
        timeoutMs: this.#o.stallTimeoutMs,
        onTimeout: () =>
          this.#fail(
            new JobError(
              JOB_ERROR_CODES.peerStalled,
              `the next stage ${this.peerId} acknowledged nothing for ${this.#o.stallTimeoutMs} ms`,
            ),
            'feeding',
          ),
      })
    }
  }

  async #readAcks(channel: Channel): Promise<void> {
    try {
      while (true) {
        const message = await channel.read({ signal: this.#o.signal })
        if (channel !== this.#channel) return
        if (message === undefined) {
          if (!this.#endSent || this.#unacked.length > 0) {
            throw new JobError('ERR_STREAM_ENDED', `the next stage ${this.peerId} closed the feed early`)
          }
          await channel.closeWrite({ signal: AbortSignal.timeout(2_000) }).catch(() => {})
          return
        }
        if (message.error !== undefined) throw this.#remote(message.error)
        const seq = message.result?.seq
        if (seq === undefined || seq !== this.#unacked[0]?.seq) {
          throw new JobError(
            JOB_ERROR_CODES.protocolViolation,
            `the next stage ${this.peerId} acknowledged ${seq ?? 'nothing'}, expected ${this.#unacked[0]?.seq ?? 'none'}`,
          )
        }
        const acked = this.#unacked.shift()!
        if (this.#o.replaceable === true) {
          this.#acked.push(acked)
          if (this.#acked.length > this.#window) this.#acked.shift()
        }
        this.#wake.notify()
      }
    } catch (err) {
      if (!this.#lose(err, channel, 'reading the feed')) this.#fail(err, 'reading the feed')
    }
  }

  /**
   * Replaceable: the next stage (on `channel`) failed; keep what it did not acknowledge and wait
   * for a replacement. False when not replaceable (the caller fails the feed).
   */
  #lose(err: unknown, channel: Channel, what: string): boolean {
    if (this.#o.replaceable !== true || this.#failure !== undefined) return false
    if (channel !== this.#channel) return true
    if (this.#lost === undefined) {
      const code = err instanceof FramemeshError ? err.code : 'ERR_STREAM_ENDED'
      this.#lost = new JobError(
        JOB_ERROR_CODES.nextStageFailed,
        `the next stage ${this.peerId} failed (${code}) ${what}`,
        { cause: err, peerId: this.peerId, details: { nextStage: this.peerId, nextStageCode: code } },
      )
      channel.abort(this.#lost)
      this.#wake.notify()
      this.#o.onLost?.(this.#lost)
    }
    return true
  }

  #remote(e: NonNullable<JobServerMessage['error']>): JobError {
    return new JobError(
      e.code || 'ERR_JOB_FAILED',
      `next stage ${this.peerId}: ${e.message.slice(0, 1_000)}`,
      {
        peerId: this.peerId,
      },
    )
  }

  /**
   * Every failure of the feed leaves as ERR_NEXT_STAGE_FAILED (the next stage's own code in the
   * message and details), so the broadcaster blames the next stage, not us.
   */
  #fail(err: unknown, what: string): FramemeshError {
    if (this.#failure === undefined) {
      const code = err instanceof FramemeshError ? err.code : 'ERR_STREAM_ENDED'
      const message =
        err instanceof FramemeshError ? err.message : `${what} failed: ${(err as Error)?.message ?? err}`
      this.#failure =
        err instanceof JobError && err.code === JOB_ERROR_CODES.nextStageFailed
          ? err
          : new JobError(
              JOB_ERROR_CODES.nextStageFailed,
              `the next stage ${this.peerId} failed (${code}): ${message}`,
              {
                cause: err,
                peerId: this.peerId,
                details: { nextStage: this.peerId, nextStageCode: code },
              },
            )
      this.#channel?.abort(this.#failure)
      this.#wake.notify()
    }
    return this.#failure
  }
}
