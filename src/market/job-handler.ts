/**
 * The orchestrator's side of PROTOCOLS.job. A stream opens with a quote id; work items arrive
 * with sequence numbers; each is run through the inference engine once the job's credit covers
 * it, and its result goes back in order with what it cost. Credit comes as ticket batches on the
 * same stream: when it runs low the handler sends a CreditRequest, and a broadcaster that does
 * not pay within the payment timeout is cut off with ERR_PAYMENT_REQUIRED. Any bad input ends
 * this stream with a JobError code; other jobs never notice.
 *
 * This module admits a stream, reads it and runs a job's steps in the protocol's order; the
 * steps' own rules live beside it: job-credit.ts (what is paid and reserved), job-worker.ts (items
 * through the engine, outputs handed on in order), result-outbox.ts (quick results sent in pairs).
 */
import type { Stream } from '@libp2p/interface'
import { FramemeshError, TimeoutError } from '../errors.js'
import type { Logger } from '../logger.js'
import { TypedEmitter } from '../peer/events.js'
import { type MessageChannel, messageChannel } from '../peer/framing.js'
import type { Peer, ProtocolHandler } from '../peer/peer.js'
import type { TicketRecipient } from '../tickets/recipient.js'
import { FeedGate } from './feed-gate.js'
import { FeedIn } from './feed-in.js'
import { JobCredit } from './job-credit.js'
import { Forwarder } from './job-forward.js'
import { Notifier } from './job-notify.js'
import { JOB_CLIENT_MESSAGE, JOB_SERVER_MESSAGE, workItemFromPb } from './job-protocol.js'
import { isTextPipeline, type WorkEngine, type WorkInput } from './job-work.js'
import { JobWorker } from './job-worker.js'
import { JOB_ERROR_CODES, JobError } from './market-errors.js'
import type { JobClientMessage, JobOpen, JobServerMessage } from './pb/job.js'
import type { QuoteBook, QuoteRecord } from './quote-book.js'
import { ResultOutbox } from './result-outbox.js'
import { costOfItems, ticketPrice } from './units.js'

export interface JobHandlerEvents {
  'job:started': { jobId: string; peerId: string; quote: QuoteRecord['quote'] }
  'job:payment': { jobId: string; accepted: number; rejected: number; credited: bigint; balance: bigint }
  'job:credit-requested': { jobId: string; gap: bigint }
  'job:item': { jobId: string; seq: number; debited: bigint }
  'job:ended': { jobId: string; peerId: string; items: number; debited: bigint; error?: FramemeshError }
  'job:refused': { peerId: string; code: string }
}

/** Job slots: at most `total` jobs at once. */
export interface JobSlots {
  tryAcquire(): boolean
  release(): void
}

export interface JobHandlerComponents {
  quotes: QuoteBook
  recipient: Pick<
    TicketRecipient,
    'receiveBatch' | 'balance' | 'debit' | 'closeSession' | 'issueParams' | 'noncesLeft'
  >
  engine: WorkEngine
  slots: JobSlots
  logger: Logger
  /** Dials the next stage of a workflow (jobs opened with a Forward); without it they are refused. */
  peer?: Pick<Peer, 'dialProtocol'>
  events?: TypedEmitter<JobHandlerEvents>
}

export interface JobHandlerOptions {
  /** Job streams one remote peer may hold at once (default 4). */
  maxStreamsPerPeer?: number
  /** Longest wait for the opening message (ms, default 10 s). */
  openTimeoutMs?: number
  /** Longest a job may sit with nothing to do and no message (ms, default 60 s). */
  idleTimeoutMs?: number
  /** Longest wait for tickets after a credit request before ERR_PAYMENT_REQUIRED (ms, default 10 s). */
  paymentTimeoutMs?: number
  /** Items of credit asked for ahead of the work (default 4): the most a broadcaster prepays. */
  creditAheadItems?: number
  /** Items of one job handed to the engine at once, so its queue never runs dry (default 2). */
  parallel?: number
  /**
   * Results of items done within this many ms of the previous result are sent in pairs, one held
   * for the next (default 10; 0 sends each at once).
   */
  pairResultsBelowMs?: number
}

export interface JobHandler {
  handler: ProtocolHandler
  events: TypedEmitter<JobHandlerEvents>
  activeJobs(): number
  /** Ends every running job with `error` (sent to its broadcaster), e.g. ERR_SHUTTING_DOWN. */
  closeAll(error: FramemeshError): void
}

export function createJobHandler(
  components: JobHandlerComponents,
  options: JobHandlerOptions = {},
): JobHandler {
  const events = components.events ?? new TypedEmitter<JobHandlerEvents>()
  const o = {
    maxStreamsPerPeer: 4,
    openTimeoutMs: 10_000,
    idleTimeoutMs: 60_000,
    paymentTimeoutMs: 10_000,
    parallel: 2,
    pairResultsBelowMs: 10,
    ...options,
  }
  const streamsPerPeer = new Map<string, number>()
  const running = new Set<(err: FramemeshError) => void>()
  /** Workflow jobs waiting for their previous stage's feed stream, by job id. */
  const feedWaiters = new Map<string, (feed: Channel, window: number) => Promise<void>>()
  let active = 0

  /** Streams ended here with an error: their handler waits for the other side to read it. */
  const erred = new WeakSet<Stream>()
  const tellError = async (channel: Channel, err: FramemeshError): Promise<void> => {
    if (await sendError(channel, err)) erred.add(channel.stream)
  }

  const handler: ProtocolHandler = async (stream, context) => {
    try {
      await serve(stream, context)
    } finally {
      // Once the job's slot and quote are free again: a peer that stops closes its connections
      // when its handlers return, and a connection closed right behind the error frame lost it
      // now and then (the broadcaster saw only the stream's end: 4 stops in 12). The broadcaster
      // closes or resets its side once it has read the error.
      if (erred.has(stream)) await remoteClosed(stream, AbortSignal.timeout(ERROR_READ_WAIT_MS))
    }
  }

  const serve: ProtocolHandler = async (stream, context) => {
    const peerId = context.remotePeer
    const channel = messageChannel(stream, { in: JOB_CLIENT_MESSAGE, out: JOB_SERVER_MESSAGE })
    const refuse = async (err: FramemeshError) => {
      events.emit('job:refused', { peerId, code: err.code })
      await tellError(channel, err)
    }
    const open = (streamsPerPeer.get(peerId) ?? 0) + 1
    if (open > o.maxStreamsPerPeer) {
      return refuse(
        new JobError(
          JOB_ERROR_CODES.tooManyStreams,
          `peer ${peerId} already has ${o.maxStreamsPerPeer} job streams open here; finish one first`,
        ),
      )
    }
    streamsPerPeer.set(peerId, open)
    try {
      const first = await readWithin(channel, o.openTimeoutMs, context.signal, 'the opening JobOpen')
      // Closed unused: a broadcaster opens the stream alongside its quote request, and closes it
      // when the quote is refused. Nothing to refuse, just close our side too.
      if (first === undefined) return await channel.closeWrite({ signal: AbortSignal.timeout(2_000) })
      if (first.open === undefined) {
        return await refuse(
          new JobError(
            JOB_ERROR_CODES.protocolViolation,
            'a job stream must start with JobOpen naming a quote',
          ),
        )
      }
      if (first.open.feed === true) return await acceptFeed(channel, first.open, peerId, refuse)
      let record: QuoteRecord
      try {
        record = components.quotes.take(first.open.quoteId, peerId)
      } catch (err) {
        return await refuse(err as FramemeshError)
      }
      if (!components.slots.tryAcquire()) {
        components.quotes.release(record.quote.quoteId)
        return await refuse(
          new JobError(JOB_ERROR_CODES.busy, 'every job slot is taken; try another orchestrator'),
        )
      }
      active++
      try {
        await runJob(channel, record, peerId, first.open, context.signal)
      } finally {
        active--
        components.slots.release()
        components.quotes.release(record.quote.quoteId)
      }
    } finally {
      const left = (streamsPerPeer.get(peerId) ?? 1) - 1
      if (left <= 0) streamsPerPeer.delete(peerId)
      else streamsPerPeer.set(peerId, left)
    }
  }

  /** A previous stage's feed stream: handed to the job it feeds, held open until that job ends. */
  async function acceptFeed(
    channel: Channel,
    open: JobOpen,
    peerId: string,
    refuse: (err: FramemeshError) => Promise<void>,
  ): Promise<void> {
    const waiter = feedWaiters.get(open.quoteId)
    try {
      components.quotes.takeFeed(open.quoteId, peerId)
      if (waiter === undefined)
        throw new JobError(JOB_ERROR_CODES.quoteUnknown, `no job ${open.quoteId} waits for a feed`)
    } catch (err) {
      return refuse(err as FramemeshError)
    }
    feedWaiters.delete(open.quoteId)
    await waiter(channel, open.window)
  }

  async function runJob(
    channel: Channel,
    record: QuoteRecord,
    peerId: string,
    open: JobOpen,
    stopSignal: AbortSignal,
  ): Promise<void> {
    const { forward, window: askedWindow } = open
    const { quote } = record
    const jobId = quote.quoteId
    const itemCost = costOfItems(quote.pricePerUnit, record.microUnits)
    const window = Math.max(1, Math.min(askedWindow > 0 ? askedWindow : quote.window, quote.window))
    const log = components.logger.child(`job:${jobId.slice(0, 8)}`)
    const stop = new AbortController()
    const signal = AbortSignal.any([stop.signal, stopSignal])
    const pending: WorkInput[] = []
    const wake = new Notifier()
    let inputEnded = false
    let failure: FramemeshError | undefined
    let lastSeq = -1
    let finished = false
    const fail = (err: FramemeshError) => {
      if (finished) return
      // Once the peer stops, whatever noticed first (an aborted read, the feed, a cut inference)
      // is told as ERR_SHUTTING_DOWN: the broadcaster then fails over or replaces this stage.
      if (failure === undefined) failure = stopSignal.aborted ? shuttingDown(err) : err
      stop.abort(err)
      wake.notify()
    }
    const outbox = new ResultOutbox(channel, {
      pairBelowMs: o.pairResultsBelowMs,
      signal,
      onError: (err) => fail(asJobError(err)),
    })
    const credit = new JobCredit(
      { recipient: components.recipient, outbox, wake, events },
      {
        jobId,
        sender: quote.spec.sender,
        price: ticketPrice(quote.pricePerUnit),
        units: record.microUnits,
        itemCost,
        // Credit ahead bounds what a broadcaster loses when we die mid-job, so it does not grow with the window.
        aheadItems: BigInt(Math.max(1, o.creditAheadItems ?? 4)),
        paymentTimeoutMs: o.paymentTimeoutMs,
        params: quote.ticketParams,
        signal,
      },
    )

    const onWork = (work: NonNullable<JobClientMessage['work']>) => {
      const item = workItemFromPb(work, quote.spec, lastSeq)
      if (pending.length >= window) {
        throw new JobError(
          JOB_ERROR_CODES.windowExceeded,
          `more than ${window} items in flight; wait for results before sending more`,
        )
      }
      lastSeq = work.seq
      pending.push(item)
      wake.notify()
    }

    // Workflows: with a feeder, work comes on the feed and this stream carries only tickets.
    const feeder = quote.spec.feeder
    // Confirmed feeds: feed items wait for the broadcaster's word that the feeder committed them.
    const gate =
      open.digests === true && feeder !== undefined
        ? new FeedGate({ feeder, timeoutMs: o.idleTimeoutMs })
        : undefined
    let feed: FeedIn | undefined
    let forwarder: Forwarder | undefined
    const replaceable = open.replaceable === true
    // Replaceable: a neighbour stage failed; the broadcaster hears it at once and replaces it.
    const lost = (neighbour: string, err: FramemeshError) =>
      void channel
        .write(
          { lost: { peerId: neighbour, code: err.code, message: err.message.slice(0, 1_000) } },
          { signal },
        )
        .catch(() => {})
    let endJob!: () => void
    const jobEnded = new Promise<void>((resolve) => {
      endJob = resolve
    })

    const reader = async () => {
      while (true) {
        // A later stage's broadcaster stream may rest while frames come from the feed.
        const idle = feeder === undefined ? o.idleTimeoutMs : MAX_TIMER_MS
        const message = await readWithin(channel, idle, signal, 'the next job message')
        if (message === undefined) {
          if (feeder !== undefined) return
          inputEnded = true
          wake.notify()
          return
        }
        if (message.work !== undefined) {
          if (feeder !== undefined) {
            throw new JobError(
              JOB_ERROR_CODES.protocolViolation,
              `this job's frames come from ${feeder}; send only tickets on this stream`,
            )
          }
          onWork(message.work)
        } else if (message.end && feeder !== undefined) {
          // The broadcaster sends nothing here: the feed's end ends the input.
        } else if (message.tickets !== undefined) await credit.receive(message.tickets)
        else if (message.confirm !== undefined && gate !== undefined) {
          gate.confirm(message.confirm.seq, message.confirm.digest)
        } else if (message.reforward !== undefined && forwarder !== undefined && replaceable) {
          // The next stage was replaced: what it had not passed on goes to the new one.
          void forwarder.repoint(message.reforward).catch((err) => fail(asJobError(err)))
        } else if (message.refeed !== undefined && feed !== undefined && replaceable) {
          components.quotes.refeed(jobId, message.refeed.feeder)
          feed.refeed(message.refeed.feeder)
          await channel.write({ accepted: { jobId, window, nextSeq: lastSeq + 1 } }, { signal })
        } else if (message.end) {
          inputEnded = true
          wake.notify()
        } else throw new JobError(JOB_ERROR_CODES.protocolViolation, 'expected a work item or tickets')
      }
    }

    running.add(fail)
    // The peer's stop: libp2p closes its connections right after this signal, long before the job
    // unwinds, so the broadcaster is told now (the frame is queued ahead of the close).
    let told: Promise<void> | undefined
    const onPeerStop = () => {
      if (finished || failure !== undefined) return
      fail(shuttingDown())
      told = tellError(channel, failure!)
    }
    stopSignal.addEventListener('abort', onPeerStop, { once: true })
    events.emit('job:started', { jobId, peerId, quote })
    log.debug('job started', { peerId, window, itemCost })
    let error: FramemeshError | undefined
    let feedDone: Promise<void> = Promise.resolve()
    try {
      if (forward !== undefined) {
        if (components.peer === undefined || isTextPipeline(quote.spec.pipeline)) {
          throw new JobError(
            JOB_ERROR_CODES.badSpec,
            components.peer === undefined
              ? 'this orchestrator cannot forward to a next stage; run the workflow through the broadcaster'
              : `${quote.spec.pipeline} outputs text and cannot feed a next stage`,
          )
        }
        forwarder = new Forwarder(components.peer, {
          forward,
          window,
          openTimeoutMs: o.openTimeoutMs,
          stallTimeoutMs: o.idleTimeoutMs,
          replaceable,
          lostTimeoutMs: o.openTimeoutMs * 2,
          onLost: (err) => lost(forwarder?.peerId ?? forward.peerId, err),
          signal,
        })
        await forwarder.open()
      }
      await channel.write({ accepted: { jobId, window } }, { signal })
      // The first credit is asked for now, not once the first item is here: the tickets then
      // arrive with the first items instead of a round trip after them.
      void credit.request().catch(fail)
      const readerDone = reader().catch((err) => fail(asJobError(err)))
      if (feeder !== undefined) {
        feed = new FeedIn(
          {
            expect: (accept) => {
              feedWaiters.set(jobId, (ch) => {
                accept(ch)
                return jobEnded
              })
              return () => feedWaiters.delete(jobId)
            },
            onWork,
            onEnd: () => {
              inputEnded = true
              wake.notify()
            },
            fail,
            lastSeq: () => lastSeq,
            onLost: (err) => lost(feed?.feeder ?? feeder, err),
          },
          {
            jobId,
            window,
            feeder,
            replaceable,
            openTimeoutMs: o.openTimeoutMs,
            idleTimeoutMs: o.idleTimeoutMs,
            lostTimeoutMs: o.openTimeoutMs * 2,
            signal,
            read: readWithin,
          },
        )
        await feed.start()
        feedDone = feed.done
      }
      const worker = new JobWorker(
        {
          engine: components.engine,
          input: { pending, ended: () => inputEnded },
          credit,
          outbox,
          wake,
          events,
          fail,
          failure: () => failure,
          ...(gate === undefined ? {} : { gate }),
          ...(forwarder === undefined ? {} : { forwarder }),
          ...(feed === undefined ? {} : { feed }),
        },
        {
          jobId,
          pipeline: quote.spec.pipeline,
          modelId: quote.spec.modelId,
          itemCost,
          parallel: o.parallel,
          idleTimeoutMs: o.idleTimeoutMs,
          digests: open.digests === true,
          signal,
        },
      )
      await worker.run().catch((err) => fail(asJobError(err)))
      if (failure === undefined) await outbox.flush().catch(fail)
      if (failure === undefined && forwarder !== undefined) await forwarder.finish().catch(fail)
      if (failure === undefined) await feed?.close()
      if (failure === undefined) {
        await channel.closeWrite({ signal: AbortSignal.timeout(o.openTimeoutMs) })
        // Everything went out: the reader's wait for the broadcaster's close is no failure.
        finished = true
      }
      stop.abort()
      await readerDone
      await feedDone
    } catch (err) {
      fail(asJobError(err))
    } finally {
      outbox.stopTimer()
      running.delete(fail)
      stopSignal.removeEventListener('abort', onPeerStop)
      error = failure
      if (error !== undefined) {
        forwarder?.abort(error)
        if (feed?.channel !== undefined) await tellError(feed.channel, error)
      }
      endJob()
      components.recipient.closeSession(quote.spec.sender, jobId)
      if (error !== undefined) {
        log.debug('job failed', { code: error.code, message: error.message })
        if (told !== undefined) await told
        else {
          await outbox.flushBeforeError()
          await tellError(channel, error)
        }
      }
      const { items, debited } = credit
      events.emit('job:ended', { jobId, peerId, items, debited, ...(error === undefined ? {} : { error }) })
    }
  }

  return {
    handler,
    events,
    activeJobs: () => active,
    closeAll(error) {
      for (const fail of [...running]) fail(error)
    },
  }
}

/** The longest a timer may wait (about 24.8 days): "no idle limit" for a read. */
const MAX_TIMER_MS = 2 ** 31 - 1

type Channel = MessageChannel<JobClientMessage, JobServerMessage>

function asJobError(err: unknown): FramemeshError {
  if (err instanceof FramemeshError) return err
  return new JobError(
    JOB_ERROR_CODES.inferenceFailed,
    `the job failed: ${(err as Error)?.message ?? String(err)}`,
    {
      cause: err,
    },
  )
}

/** A job ended by the peer's stop, whatever error surfaced: the broadcaster should go elsewhere. */
function shuttingDown(cause?: FramemeshError): FramemeshError {
  if (cause?.code === JOB_ERROR_CODES.shuttingDown) return cause
  return new JobError(
    JOB_ERROR_CODES.shuttingDown,
    'the orchestrator is stopping; retry the job with another orchestrator',
    cause === undefined ? undefined : { cause },
  )
}

/** How long a handler that ended its stream with an error waits for the other side to read it (ms). */
const ERROR_READ_WAIT_MS = 2_000

/**
 * Best effort (the stream may already be gone): tells the other side why its job ends and closes
 * our side. True when the error went out.
 */
async function sendError(channel: Channel, err: FramemeshError): Promise<boolean> {
  const signal = AbortSignal.timeout(2_000)
  try {
    if (channel.stream.writeStatus !== 'writable') return false
    await channel.write({ error: { code: err.code, message: err.message.slice(0, 1_000) } }, { signal })
    await channel.closeWrite({ signal })
    return true
  } catch {
    channel.abort(err)
    return false
  }
}

/** Resolves once the remote has closed or reset `stream`, or when `signal` fires. */
function remoteClosed(stream: Stream, signal: AbortSignal): Promise<void> {
  if (stream.status !== 'open' && stream.status !== 'closing') return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      stream.removeEventListener('close', done)
      signal.removeEventListener('abort', done)
      resolve()
    }
    stream.addEventListener('close', done)
    signal.addEventListener('abort', done)
  })
}

async function readWithin(
  channel: MessageChannel<JobClientMessage, JobServerMessage>,
  timeoutMs: number,
  signal: AbortSignal,
  what: string,
): Promise<JobClientMessage | undefined> {
  try {
    // The channel's own read timeout: no timeout signal to build and combine per message.
    return await channel.read({ signal, timeoutMs })
  } catch (err) {
    if (err instanceof TimeoutError && !signal.aborted) {
      throw new JobError('ERR_TIMEOUT', `waited ${timeoutMs} ms for ${what}; the job stream was closed`)
    }
    throw err
  }
}
