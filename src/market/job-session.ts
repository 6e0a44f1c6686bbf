/**
 * The broadcaster's side of one job stream to one orchestrator: opens it with a quote, sends
 * work items while the in-flight window has room (so a slow orchestrator slows the sender), pays
 * credit requests with ticket batches, and hands back results in order. A session is the unit a
 * failover runner re-points: when it fails, `inFlight()` lists the items that never came back.
 */
import type { Stream } from '@libp2p/interface'
import { FramemeshError } from '../errors.js'
import type { Frame, TextLine } from '../inference/types.js'
import type { Logger } from '../logger.js'
import { TypedEmitter } from '../peer/events.js'
import { type MessageChannel, messageChannel } from '../peer/framing.js'
import type { DialTarget, Peer } from '../peer/peer.js'
import { PROTOCOLS } from '../peer/protocols.js'
import type { TicketBatch, TicketParams } from '../tickets/ticket.js'
import { Notifier } from './job-notify.js'
import {
  frameToImage,
  imageToFrame,
  JOB_CLIENT_MESSAGE,
  JOB_SERVER_MESSAGE,
  linesFromPb,
  ticketBatchToPb,
} from './job-protocol.js'
import { isTextPipeline, type WorkInput } from './job-work.js'
import { JOB_ERROR_CODES, JobError } from './market-errors.js'
import type { Forward, JobClientMessage, JobServerMessage } from './pb/job.js'
import { decodeTicketParams, type Quote } from './quote.js'
import { costOfItems, microUnitsPerItem } from './units.js'

/** Pays an orchestrator's credit requests; returning undefined withholds payment (e.g. the budget is spent). */
export interface Payer {
  pay(params: TicketParams, gap: bigint, options: { signal: AbortSignal }): Promise<PaidBatch | undefined>
}

export interface PaidBatch {
  batch: TicketBatch
  /** Expected value of the batch in wei. */
  ev: bigint
}

export interface SessionResult {
  seq: number
  /** The output frame; for text pipelines (ocr) the input frame the lines were read from. */
  frame: Frame
  /** Text pipelines (ocr): the lines found in the frame. */
  lines?: TextLine[]
  /** Wei the orchestrator debited for the item. */
  debited: bigint
}

export interface JobSessionEvents {
  result: SessionResult
  /** Workflows: an item this orchestrator passed on to the next stage (no output comes back here). */
  ack: { seq: number; debited: bigint; digest?: Uint8Array }
  payment: { peerId: string; tickets: number; ev: bigint; gap: bigint }
  'payment:withheld': { peerId: string; gap: bigint }
  /** Workflows (replaceable): the orchestrator says its neighbour stage `peerId` failed. */
  lost: { peerId: string; code: string; message: string }
  receipt: {
    peerId: string
    accepted: number
    rejected: number
    credited: bigint
    balance: bigint
    rejectCode?: string
  }
}

export interface JobSessionComponents {
  peer: Pick<Peer, 'dialProtocol'>
  payer: Payer
  logger?: Logger
}

export interface JobSessionOptions {
  quote: Quote
  dial?: DialTarget
  /**
   * The job stream, already being opened (see `openJobStream`): dialled while the quote was asked
   * for, its protocol negotiation overlaps the quote's round trip. Without it `open` dials.
   */
  stream?: Promise<Stream>
  /** Items in flight wanted; the orchestrator may grant fewer (default: the quote's window). */
  window?: number
  /**
   * Pipelined opening, for a plain job: tickets for this many items go right behind JobOpen and
   * `open` returns without waiting for Accepted, so the first items follow at once and the
   * orchestrator starts on them as soon as the tickets are checked. The window is then the one the
   * orchestrator grants by its rule (the smaller of ours and the quote's); a refusal fails the
   * session (its items stay in `inFlight`) instead of `open`.
   */
  prepayItems?: number
  /** Dial + JobOpen → Accepted (ms, default 10 s). */
  openTimeoutMs?: number
  /** With items in flight, longest silence before ERR_PEER_STALLED (ms, default 30 s). */
  stallTimeoutMs?: number
  signal?: AbortSignal
  /**
   * Workflows: 'none' when the work comes from the previous stage's feed, not from us (we only
   * pay and, for the last stage, receive the outputs). Default 'send'.
   */
  input?: 'send' | 'none'
  /** Workflows: 'acks' when the orchestrator forwards its outputs to the next stage. Default 'results'. */
  output?: 'results' | 'acks'
  /** Workflows: where the orchestrator sends its outputs (the next stage and its quote). */
  forward?: Forward
  /** Workflows, confirmed feeds: acks carry output digests; feed items wait for `confirm` (job.proto). */
  digests?: boolean
  /** Workflows: a failed neighbour stage may be replaced (`reforward`, `refeed`; job.proto). */
  replaceable?: boolean
}

type Channel = MessageChannel<JobServerMessage, JobClientMessage>

/** Opens a job stream to `target` (to hand to a JobSession as `stream`). */
export function openJobStream(
  peer: Pick<Peer, 'dialProtocol'>,
  target: DialTarget,
  options: { signal?: AbortSignal; timeoutMs: number },
): Promise<Stream> {
  return peer.dialProtocol(target, PROTOCOLS.job, options)
}

/** A direct workflow's text results stand without their frame (it never reached the broadcaster). */
const NO_FRAME: Frame = { width: 0, height: 0, channels: 3, data: new Uint8Array(0) }

export class JobSession {
  readonly events = new TypedEmitter<JobSessionEvents>()
  readonly peerId: string
  /** Settles when the orchestrator has returned everything and closed, or with the failure. */
  readonly done: Promise<void>
  readonly #c: JobSessionComponents
  readonly #o: JobSessionOptions
  readonly #inFlight: WorkInput[] = []
  readonly #wake = new Notifier()
  readonly #stop = new AbortController()
  #channel?: Channel
  #window = 1
  #failure?: FramemeshError
  #lastActivity = Date.now()
  #withheld = false
  #ended = false
  #lastSeq = -1
  #queued: JobClientMessage[] = []
  /** Pipelined opening: the first message read must still be the answer to JobOpen. */
  #awaitingAccept = false
  /** Expected value of each ticket batch sent and not yet receipted, oldest first. */
  readonly #unreceipted: bigint[] = []
  #refed?: (nextSeq: number | undefined) => void
  #resolveDone!: () => void
  #rejectDone!: (err: FramemeshError) => void

  constructor(components: JobSessionComponents, options: JobSessionOptions) {
    this.#c = components
    this.#o = options
    this.peerId = options.quote.peerId
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolveDone = resolve
      this.#rejectDone = reject
    })
    this.done.catch(() => {})
    options.signal?.addEventListener(
      'abort',
      () => this.abort(new JobError('ERR_ABORTED', 'the job was cancelled')),
      {
        once: true,
      },
    )
  }

  /** Granted window (after open). */
  get window(): number {
    return this.#window
  }

  /** Items sent whose results have not come back, oldest first. */
  inFlight(): WorkInput[] {
    return [...this.#inFlight]
  }

  get failure(): FramemeshError | undefined {
    return this.#failure
  }

  /** Dials, opens the job with the quote and waits for Accepted (or the refusal's JobError). */
  async open(): Promise<void> {
    const { quote } = this.#o
    const timeoutMs = this.#o.openTimeoutMs ?? 10_000
    const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(timeoutMs)])
    try {
      const stream = await (this.#o.stream ??
        openJobStream(this.#c.peer, this.#o.dial ?? this.peerId, { signal, timeoutMs }))
      // Failed (aborted) while a stream opened for us was still on its way.
      if (this.#failure !== undefined) {
        stream.abort(this.#failure)
        throw this.#failure
      }
      this.#channel = messageChannel(stream, { in: JOB_SERVER_MESSAGE, out: JOB_CLIENT_MESSAGE })
      await this.#channel.write(
        {
          open: {
            quoteId: quote.quoteId,
            window: this.#o.window ?? quote.window,
            ...(this.#o.forward === undefined ? {} : { forward: this.#o.forward }),
            ...(this.#o.digests === true ? { digests: true } : {}),
            ...(this.#o.replaceable === true ? { replaceable: true } : {}),
          },
          end: false,
        },
        { signal },
      )
      if (this.#o.prepayItems === undefined) this.#accepted(await this.#channel.read({ signal }))
      else {
        const asked = this.#o.window ?? quote.window
        this.#window = Math.max(1, Math.min(asked > 0 ? asked : quote.window, quote.window))
        this.#awaitingAccept = true
        await this.#prepay(this.#o.prepayItems, signal)
      }
    } catch (err) {
      const error = this.#asError(err, signal, 'opening the job')
      this.#fail(error)
      throw error
    }
    this.#lastActivity = Date.now()
    void this.#readLoop()
    this.#watchStalls()
  }

  /** Sends one item once the window has room; rejects with the session's failure. */
  async send(item: WorkInput): Promise<void> {
    // With a window of 4 or more, a new batch waits for two free places: items then go out in
    // pairs, each pair one stream message (one encryption, one write, one window update back)
    // while the other two in flight keep the orchestrator busy.
    while (this.#window - this.#inFlight.length < this.#placesWanted()) {
      if (this.#failure !== undefined) throw this.#failure
      await this.#wake.wait({ signal: this.#stop.signal }).catch(() => {})
    }
    if (this.#failure !== undefined) throw this.#failure
    this.#inFlight.push(item)
    if (this.#inFlight.length === 1) this.#lastActivity = Date.now()
    this.#queue({ work: { seq: item.seq, images: item.frames.map(frameToImage), t: item.t }, end: false })
  }

  /** The answer to JobOpen: Accepted sets the window; anything else fails the session. */
  #accepted(first: JobServerMessage | undefined): void {
    if (first?.error !== undefined) throw this.#remoteError(first.error)
    if (first?.accepted === undefined) {
      throw new JobError(JOB_ERROR_CODES.protocolViolation, `${this.peerId} did not accept the job`, {
        peerId: this.peerId,
      })
    }
    this.#window = Math.max(1, first.accepted.window)
  }

  /** Pipelined opening: pays for `items` items before the orchestrator asks (see prepayItems). */
  async #prepay(items: number, signal: AbortSignal): Promise<void> {
    const { quote } = this.#o
    const { spec } = quote
    const scale = quote.outputWidth === undefined ? 1 : quote.outputWidth / spec.width
    if (!Number.isSafeInteger(scale) || scale < 1 || items < 1) return
    const gap =
      costOfItems(quote.pricePerUnit, microUnitsPerItem({ ...spec, scale }, quote.unit)) * BigInt(items)
    // Nothing paid now (a spent budget) is asked for again by the orchestrator, and answered then.
    const paid = await this.#c.payer.pay(quote.ticketParams, gap, { signal })
    if (paid !== undefined) await this.#sendTickets(paid, gap, signal)
  }

  async #sendTickets(paid: PaidBatch, gap: bigint, signal: AbortSignal): Promise<void> {
    await this.#channel!.write({ tickets: ticketBatchToPb(paid.batch), end: false }, { signal })
    this.#unreceipted.push(paid.ev)
    this.events.emit('payment', { peerId: this.peerId, tickets: paid.batch.tickets.length, ev: paid.ev, gap })
  }

  #placesWanted(): number {
    return this.#queued.length === 0 && this.#window >= 4 ? 2 : 1
  }

  /**
   * Work goes out on the next turn of the event loop, with whatever else was sent before it: a
   * failed write fails the session (the items stay in `inFlight` for the next orchestrator).
   */
  #queue(message: JobClientMessage): void {
    this.#queued.push(message)
    if (this.#queued.length > 1) return
    setImmediate(() => {
      const batch = this.#queued
      this.#queued = []
      if (this.#failure !== undefined) return
      this.#channel!.writeMany(batch, { signal: this.#stop.signal }).catch((err: unknown) => {
        this.#fail(this.#asError(err, this.#stop.signal, 'sending work'))
      })
    })
  }

  /**
   * No more items. Our side stays open (tickets may still be asked for); `done` settles once every
   * result is back and the orchestrator has closed.
   */
  async end(): Promise<void> {
    if (this.#ended || this.#failure !== undefined) return
    this.#ended = true
    // Behind work still waiting to go out, in the same message.
    if (this.#queued.length > 0) return this.#queue({ end: true })
    try {
      await this.#channel?.write({ end: true }, { signal: this.#stop.signal })
    } catch (err) {
      this.#fail(this.#asError(err, this.#stop.signal, 'ending the job'))
    }
  }

  abort(error: FramemeshError): void {
    this.#fail(error)
  }

  /** Confirmed feeds: vouches that the previous stage's output `seq` has `digest`. */
  async confirm(seq: number, digest: Uint8Array): Promise<void> {
    await this.#control(
      { confirm: { seq, digest: digest as Uint8Array<ArrayBuffer> } },
      'confirming a feed item',
    )
  }

  /** Replacing the next stage: the orchestrator forwards to `forward` from now on (job.proto). */
  async reforward(forward: Forward): Promise<void> {
    await this.#control({ reforward: forward }, 'pointing the feed at a replacement')
  }

  /**
   * Replacing the previous stage: the orchestrator takes its feed from `feeder` from now on;
   * resolves once it said so (within `timeoutMs`), with the first feed item it still needs.
   */
  async refeed(feeder: string, timeoutMs: number): Promise<number | undefined> {
    const ready = new Promise<number | undefined>((resolve) => {
      this.#refed = resolve
    })
    await this.#control({ refeed: { feeder } }, 'naming a new feeder')
    const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(timeoutMs)])
    return await Promise.race([
      ready,
      new Promise<never>((_, reject) =>
        signal.addEventListener(
          'abort',
          () =>
            reject(
              this.#failure ??
                new JobError(
                  JOB_ERROR_CODES.peerStalled,
                  `${this.peerId} did not take a new feeder within ${timeoutMs} ms`,
                  {
                    peerId: this.peerId,
                  },
                ),
            ),
          { once: true },
        ),
      ),
    ])
  }

  async #control(message: Partial<JobClientMessage>, what: string): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure
    try {
      await this.#channel!.write({ ...message, end: false }, { signal: this.#stop.signal })
    } catch (err) {
      const error = this.#asError(err, this.#stop.signal, what)
      this.#fail(error)
      throw error
    }
  }

  async #readLoop(): Promise<void> {
    const channel = this.#channel!
    try {
      while (true) {
        const message = await channel.read({ signal: this.#stop.signal })
        this.#lastActivity = Date.now()
        if (message === undefined) {
          if (this.#inFlight.length > 0 || !this.#ended) {
            throw new JobError(
              'ERR_STREAM_ENDED',
              `${this.peerId} closed the job with ${this.#inFlight.length} item(s) outstanding`,
              { peerId: this.peerId },
            )
          }
          this.#resolveDone()
          await channel
            .closeWrite({ signal: AbortSignal.timeout(2_000) })
            .catch(() => channel.abort(new Error('closed')))
          this.#stop.abort()
          return
        }
        if (this.#awaitingAccept) {
          this.#awaitingAccept = false
          this.#accepted(message)
          continue
        }
        if (message.result !== undefined) this.#onResult(message.result)
        else if (message.credit !== undefined) await this.#onCredit(message.credit)
        else if (message.receipt !== undefined) this.#onReceipt(message.receipt)
        else if (message.lost !== undefined) {
          const { peerId, code, message: why } = message.lost
          this.events.emit('lost', { peerId, code, message: why.slice(0, 1_000) })
        } else if (message.accepted !== undefined && this.#refed !== undefined) {
          // The answer to `refeed`.
          this.#refed(message.accepted.nextSeq)
          this.#refed = undefined
        } else if (message.error !== undefined) throw this.#remoteError(message.error)
        else throw new JobError(JOB_ERROR_CODES.protocolViolation, `${this.peerId} sent an empty job message`)
      }
    } catch (err) {
      this.#fail(this.#asError(err, this.#stop.signal, 'reading results'))
    }
  }

  #onResult(result: NonNullable<JobServerMessage['result']>): void {
    const receiveOnly = this.#o.input === 'none'
    const debited = /^[0-9]{1,78}$/.test(result.debitedWei) ? BigInt(result.debitedWei) : 0n
    if (receiveOnly && result.seq <= this.#lastSeq) {
      throw new JobError(
        JOB_ERROR_CODES.protocolViolation,
        `${this.peerId} returned item ${result.seq} after ${this.#lastSeq}, out of order`,
        { peerId: this.peerId },
      )
    }
    this.#lastSeq = result.seq
    if (this.#o.output === 'acks') {
      if (result.image !== undefined || result.lines.length > 0) {
        throw new JobError(
          JOB_ERROR_CODES.protocolViolation,
          `${this.peerId} returned an output it should forward`,
          {
            peerId: this.peerId,
          },
        )
      }
      if (!receiveOnly) this.#ackHead(result.seq)
      this.events.emit('ack', {
        seq: result.seq,
        debited,
        ...(result.digest === undefined ? {} : { digest: result.digest }),
      })
      return
    }
    const head = receiveOnly ? { seq: result.seq, frames: [NO_FRAME], t: 0 } : this.#inFlight[0]
    const text = isTextPipeline(this.#o.quote.spec.pipeline)
    if (head === undefined || head.seq !== result.seq || (result.image === undefined) !== text) {
      throw new JobError(
        JOB_ERROR_CODES.protocolViolation,
        head?.seq === result.seq
          ? `${this.peerId} returned item ${result.seq} ${text ? 'as an image, not text lines' : 'without an image'}`
          : `${this.peerId} returned item ${result.seq} out of order (expected ${head?.seq ?? 'none'})`,
        { peerId: this.peerId },
      )
    }
    const what = `result ${result.seq} from ${this.peerId}`
    const output = text
      ? { frame: head.frames[0]!, lines: linesFromPb(result.lines, what) }
      : { frame: imageToFrame(result.image!, what) }
    if (!receiveOnly) this.#inFlight.shift()
    this.#wake.notify()
    this.events.emit('result', { seq: result.seq, ...output, debited })
  }

  #ackHead(seq: number): void {
    if (this.#inFlight[0]?.seq !== seq) {
      throw new JobError(
        JOB_ERROR_CODES.protocolViolation,
        `${this.peerId} acknowledged item ${seq} out of order (expected ${this.#inFlight[0]?.seq ?? 'none'})`,
        { peerId: this.peerId },
      )
    }
    this.#inFlight.shift()
    this.#wake.notify()
  }

  async #onCredit(credit: NonNullable<JobServerMessage['credit']>): Promise<void> {
    const params = decodeTicketParams(credit.params)
    if (params.recipient !== this.#o.quote.ticketParams.recipient) {
      throw new JobError(
        JOB_ERROR_CODES.protocolViolation,
        `${this.peerId} asked to be paid at ${params.recipient}, not the quoted ${this.#o.quote.ticketParams.recipient}`,
        { peerId: this.peerId },
      )
    }
    const asked = /^[0-9]{1,78}$/.test(credit.gapWei) ? BigInt(credit.gapWei) : 0n
    // Tickets on their way (sent, not yet receipted: a prepayment the request crossed) count.
    const gap = this.#unreceipted.reduce((left, ev) => left - ev, asked)
    if (gap <= 0n) return
    const paid = await this.#c.payer.pay(params, gap, { signal: this.#stop.signal })
    if (paid === undefined) {
      this.#withheld = true
      this.events.emit('payment:withheld', { peerId: this.peerId, gap })
      return
    }
    await this.#sendTickets(paid, gap, this.#stop.signal)
  }

  #onReceipt(r: NonNullable<JobServerMessage['receipt']>): void {
    // Every ticket batch gets one receipt, in order.
    this.#unreceipted.shift()
    const big = (s: string) => (/^[0-9]{1,78}$/.test(s) ? BigInt(s) : 0n)
    this.events.emit('receipt', {
      peerId: this.peerId,
      accepted: r.accepted,
      rejected: r.rejected,
      credited: big(r.creditedWei),
      balance: big(r.balanceWei),
      ...(r.rejectCode === '' ? {} : { rejectCode: r.rejectCode }),
    })
  }

  #remoteError(e: NonNullable<JobServerMessage['error']>): JobError {
    return new JobError(e.code || 'ERR_JOB_FAILED', `${this.peerId}: ${e.message.slice(0, 1_000)}`, {
      peerId: this.peerId,
      details: { remote: true, paymentWithheld: this.#withheld },
    })
  }

  #watchStalls(): void {
    const stallMs = this.#o.stallTimeoutMs ?? 30_000
    const timer = setInterval(
      () => {
        if (this.#inFlight.length > 0 && Date.now() - this.#lastActivity > stallMs) {
          this.#fail(
            new JobError(
              JOB_ERROR_CODES.peerStalled,
              `${this.peerId} returned nothing for ${stallMs} ms with ${this.#inFlight.length} item(s) in flight`,
              { peerId: this.peerId },
            ),
          )
        }
      },
      Math.max(10, Math.min(1_000, stallMs / 4)),
    )
    timer.unref()
    this.#stop.signal.addEventListener('abort', () => clearInterval(timer), { once: true })
  }

  #asError(err: unknown, signal: AbortSignal, what: string): FramemeshError {
    if (this.#failure !== undefined) return this.#failure
    if (err instanceof FramemeshError) {
      if (err instanceof JobError) return err
      return new JobError(err.code, `${what} with ${this.peerId}: ${err.message}`, {
        cause: err,
        peerId: this.peerId,
      })
    }
    const code = signal.aborted ? 'ERR_TIMEOUT' : 'ERR_STREAM_ENDED'
    return new JobError(
      code,
      `${what} with ${this.peerId} failed: ${(err as Error)?.message ?? String(err)}`,
      {
        cause: err,
        peerId: this.peerId,
      },
    )
  }

  #fail(error: FramemeshError): void {
    if (this.#failure !== undefined) return
    this.#failure = error
    this.#stop.abort(error)
    this.#channel?.abort(error)
    this.#wake.notify()
    this.#rejectDone(error)
  }
}
