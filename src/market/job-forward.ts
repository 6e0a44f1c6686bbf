/**
 * Workflows, orchestrator side: the feed from one stage to the next. An orchestrator whose job was
 * opened with a Forward sends its outputs as work items straight to the next stage's orchestrator
 * (a feed stream: JobOpen{quote_id, feed}), in order, at most the granted window unacknowledged.
 * The feed carries frames only: the next stage is paid by the broadcaster on its own stream, so
 * nothing here touches tickets, and the next stage takes the feed only from the peer the
 * broadcaster named in its quote.
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
import type { Forward, JobClientMessage, JobServerMessage } from './pb/job.js'

export interface ForwarderOptions {
  forward: Forward
  /** Items in flight wanted; the next stage may grant fewer. */
  window: number
  /** Dial + open (ms). */
  openTimeoutMs: number
  /** With items unacknowledged, longest silence before ERR_PEER_STALLED (ms). */
  stallTimeoutMs: number
  signal: AbortSignal
}

export class Forwarder {
  readonly #peer: Pick<Peer, 'dialProtocol'>
  readonly #o: ForwarderOptions
  readonly #wake = new Notifier()
  #channel?: MessageChannel<JobServerMessage, JobClientMessage>
  #window = 1
  #unacked: number[] = []
  #seq = 0
  #previous?: Frame
  #failure?: FramemeshError
  #closed = false
  #reading?: Promise<void>

  constructor(peer: Pick<Peer, 'dialProtocol'>, options: ForwarderOptions) {
    this.#peer = peer
    this.#o = options
  }

  get peerId(): string {
    return this.#o.forward.peerId
  }

  /** Opens the feed; throws the next stage's refusal (its JobError code) or a dial error. */
  async open(): Promise<void> {
    const { forward, openTimeoutMs } = this.#o
    const signal = AbortSignal.any([this.#o.signal, AbortSignal.timeout(openTimeoutMs)])
    const addrs = forward.addrs.flatMap((bytes) => {
      try {
        return [multiaddr(bytes)]
      } catch {
        return []
      }
    })
    try {
      const stream = await this.#peer.dialProtocol(addrs.length > 0 ? addrs : forward.peerId, PROTOCOLS.job, {
        signal,
        timeoutMs: openTimeoutMs,
      })
      this.#channel = messageChannel(stream, { in: JOB_SERVER_MESSAGE, out: JOB_CLIENT_MESSAGE })
      await this.#channel.write(
        { open: { quoteId: forward.quoteId, window: this.#o.window, feed: true }, end: false },
        { signal },
      )
      const first = await this.#channel.read({ signal })
      if (first?.error !== undefined) throw this.#remote(first.error)
      if (first?.accepted === undefined) {
        throw new JobError(JOB_ERROR_CODES.protocolViolation, `${forward.peerId} did not accept the feed`)
      }
      this.#window = Math.max(1, first.accepted.window)
    } catch (err) {
      throw this.#fail(err, 'opening the feed')
    }
    this.#reading = this.#readAcks()
  }

  /**
   * Sends one output on: as one item, or for an interpolating next stage as the pair (previous
   * output, this one). Waits while the window is full, which slows this stage to the next one's pace.
   */
  async push(frame: Frame): Promise<void> {
    const pairs = this.#o.forward.pipeline === 'interpolate'
    const previous = this.#previous
    this.#previous = frame
    if (pairs && previous === undefined) return
    const images = pairs ? [frameToImage(previous!), frameToImage(frame)] : [frameToImage(frame)]
    await this.#room()
    const seq = this.#seq++
    this.#unacked.push(seq)
    try {
      await this.#channel!.write({ work: { seq, images, t: 0.5 }, end: false }, { signal: this.#o.signal })
    } catch (err) {
      throw this.#fail(err, 'feeding the next stage')
    }
  }

  /** No more outputs: ends the feed and waits until the next stage acknowledged all and closed. */
  async finish(): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure
    try {
      await this.#channel!.write({ end: true }, { signal: this.#o.signal })
    } catch (err) {
      throw this.#fail(err, 'ending the feed')
    }
    this.#closed = true
    await this.#reading
    if (this.#failure !== undefined) throw this.#failure
  }

  abort(error: FramemeshError): void {
    this.#failure ??= error
    this.#channel?.abort(error)
    this.#wake.notify()
  }

  async #room(): Promise<void> {
    while (this.#unacked.length >= this.#window) {
      if (this.#failure !== undefined) throw this.#failure
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
    if (this.#failure !== undefined) throw this.#failure
  }

  async #readAcks(): Promise<void> {
    const channel = this.#channel!
    try {
      while (true) {
        const message = await channel.read({ signal: this.#o.signal })
        if (message === undefined) {
          if (!this.#closed || this.#unacked.length > 0) {
            throw new JobError('ERR_STREAM_ENDED', `the next stage ${this.peerId} closed the feed early`)
          }
          await channel.closeWrite({ signal: AbortSignal.timeout(2_000) }).catch(() => {})
          return
        }
        if (message.error !== undefined) throw this.#remote(message.error)
        const seq = message.result?.seq
        if (seq === undefined || seq !== this.#unacked[0]) {
          throw new JobError(
            JOB_ERROR_CODES.protocolViolation,
            `the next stage ${this.peerId} acknowledged ${seq ?? 'nothing'}, expected ${this.#unacked[0] ?? 'none'}`,
          )
        }
        this.#unacked.shift()
        this.#wake.notify()
      }
    } catch (err) {
      this.#fail(err, 'reading the feed')
    }
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
      this.#failure = new JobError(
        JOB_ERROR_CODES.nextStageFailed,
        `the next stage ${this.peerId} failed (${code}): ${message}`,
        { cause: err, peerId: this.peerId, details: { nextStage: this.peerId, nextStageCode: code } },
      )
      this.#channel?.abort(this.#failure)
      this.#wake.notify()
    }
    return this.#failure
  }
}
