/**
 * Workflows with frames flowing directly from stage to stage. The broadcaster quotes every stage
 * in order (each quote names the previous stage's orchestrator as its feeder and says its output
 * size, which sizes the next stage), opens a job stream to every stage from the last to the
 * first (each stage but the last is told to forward to the next one), sends the input to the
 * first stage, pays every stage on its own stream, and reads the last stage's outputs. Frames
 * never come back through the broadcaster between stages.
 *
 * Payment safety: each stage's tickets are made for that stage's own quote (its recipient, its
 * ticket params) and travel only on the broadcaster's stream to that stage, so no orchestrator
 * ever holds another stage's tickets to redirect or reuse; a feed stream carries frames only and
 * a stage takes it only from the feeder named in the quote the broadcaster got from it.
 *
 * Verification (components.verifier): every feed is confirmed (feed-gate.ts: each stage's acks
 * carry its outputs' digests, which we pass on to the next stage, which runs only what we
 * confirmed), so a stage bills nothing its feeder did not commit to us, and a share of the items is
 * checked through every stage (workflow-verify.ts); a primary found wrong fails the run.
 *
 * Failure: any stage failing fails the direct run with that stage's error; the mesh then carries
 * on with the chained route (through the broadcaster, with per-stage failover) from the first
 * output not yet delivered, replaying the inputs it still holds (see mesh.ts).
 */
import { FramemeshError } from '../errors.js'
import type { Logger } from '../logger.js'
import { TypedEmitter } from '../peer/events.js'
import type { Peer } from '../peer/peer.js'
import type { Address } from '../tickets/ticket.js'
import type { PeerUse, StageCandidate, StageReport, StageResult } from './failover.js'
import { JobSession, type Payer } from './job-session.js'
import { isTextPipeline, type WorkInput } from './job-work.js'
import { JOB_ERROR_CODES, JobError } from './market-errors.js'
import type { StageSpec } from './mesh.js'
import type { PeerStats } from './peer-stats.js'
import { FRAME_FORMAT_RGB24, type Quote } from './quote.js'
import { requestQuote } from './quote-protocol.js'
import type { Verifier } from './verifier.js'
import { WorkflowVerifier } from './workflow-verify.js'

/** Failure codes that say another stage (or we) ended a stage's job. */
const NOT_THEIR_FAULT: ReadonlySet<string> = new Set([
  JOB_ERROR_CODES.nextStageFailed,
  JOB_ERROR_CODES.previousStageFailed,
  'ERR_ABORTED',
])
/** How long the other stages get to report their own failure after the first one (ms). */
const SETTLE_MS = 1_000

export interface DirectWorkflowComponents {
  peer: Pick<Peer, 'dialProtocol'>
  payer: Payer
  /** An orchestrator for stage `index` taking frames of this size, never one in `exclude`. */
  choose: (
    index: number,
    size: { width: number; height: number },
    exclude: ReadonlySet<string>,
  ) => StageCandidate | undefined | Promise<StageCandidate | undefined>
  /** Binary multiaddrs we know for a peer, handed to the stage that must dial it. */
  addressesOf?: (peerId: string) => Uint8Array[]
  stats?: Pick<PeerStats, 'recordSuccess'>
  logger?: Logger
  /**
   * Verifies the run when given: the checker for stage `index`, whose primary (the orchestrator
   * running it, its model and input size) is given; checks must use the same model weights.
   */
  verifier?: (index: number, primary: StagePrimary) => Verifier
}

export interface StagePrimary {
  peerId: string
  modelId: string
  width: number
  height: number
}

export interface DirectWorkflowOptions {
  stages: StageSpec[]
  sender: Address
  maxPricePerUnit: (index: number) => bigint
  window?: number
  quoteTimeoutMs?: number
  openTimeoutMs?: number
  stallTimeoutMs?: number
  /** Orchestrators asked for a quote per stage before giving up (default 3). */
  quoteAttempts?: number
  signal: AbortSignal
}

/** `stage`: the index of the workflow stage an event concerns. */
export interface DirectWorkflowEvents {
  'peer:selected': { peerId: string; modelId: string; pricePerUnit: bigint; attempt: number; stage: number }
  'quote:refused': { peerId: string; code: string; message: string; stage: number }
  payment: { peerId: string; tickets: number; ev: bigint; stage: number }
  'payment:withheld': { peerId: string; gap: bigint; stage: number }
  /** The first stage took input item `seq` off our hands. */
  consumed: { seq: number }
  result: StageResult
}

interface Planned {
  candidate: StageCandidate
  quote: Quote
  use: PeerUse
}

export class DirectWorkflow {
  readonly events = new TypedEmitter<DirectWorkflowEvents>()
  readonly #c: DirectWorkflowComponents
  readonly #o: DirectWorkflowOptions
  #plan: Planned[] = []
  readonly #culprits = new Set<string>()
  #verify?: WorkflowVerifier

  constructor(components: DirectWorkflowComponents, options: DirectWorkflowOptions) {
    this.#c = components
    this.#o = options
  }

  /**
   * Runs the workflow over `items` (the first stage's work items; `size` their frame size).
   * Resolves with one report per stage; rejects with the first stage error.
   */
  async run(
    size: { width: number; height: number },
    items: AsyncIterable<WorkInput>,
  ): Promise<StageReport[]> {
    const plan = await this.#quoteAll(size)
    this.#plan = plan
    const sessions: JobSession[] = []
    const stop = new AbortController()
    const signal = AbortSignal.any([this.#o.signal, stop.signal])
    const last = plan.length - 1
    const verifier = this.#c.verifier
    const verify =
      verifier === undefined
        ? undefined
        : new WorkflowVerifier(
            {
              verifiers: plan.map(({ candidate, quote }, k) =>
                verifier(k, {
                  peerId: candidate.peerId,
                  modelId: candidate.modelId,
                  width: quote.spec.width,
                  height: quote.spec.height,
                }),
              ),
              release: (r) => this.events.emit('result', r),
            },
            { pipelines: this.#o.stages.map((s) => s.pipeline) },
          )
    this.#verify = verify
    /** Sessions by stage index (opened from the last stage down). */
    const byStage: JobSession[] = []
    try {
      for (let k = last; k >= 0; k--) {
        const { quote, use } = plan[k]!
        const next = plan[k + 1]
        const session = new JobSession(
          {
            peer: this.#c.peer,
            payer: this.#c.payer,
            ...(this.#c.logger === undefined ? {} : { logger: this.#c.logger }),
          },
          {
            quote,
            signal,
            input: k === 0 ? 'send' : 'none',
            output: k < last ? 'acks' : 'results',
            ...(next === undefined
              ? {}
              : {
                  forward: {
                    peerId: next.candidate.peerId,
                    quoteId: next.quote.quoteId,
                    addrs: (this.#c.addressesOf?.(next.candidate.peerId) ?? []).map((a) => new Uint8Array(a)),
                    pipeline: this.#o.stages[k + 1]!.pipeline,
                  },
                }),
            ...(this.#o.window === undefined ? {} : { window: this.#o.window }),
            ...(this.#o.openTimeoutMs === undefined ? {} : { openTimeoutMs: this.#o.openTimeoutMs }),
            ...(this.#o.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: this.#o.stallTimeoutMs }),
            ...(verify === undefined ? {} : { digests: true }),
          },
        )
        byStage[k] = session
        // A stage only works on what the previous one made. Unconfirmed feeds: more items than
        // that plus what may be in flight on the feed (its window) means its feeder invented work
        // for us to pay for. Confirmed feeds: a stage runs only what we confirmed after its
        // feeder's ack, so any item beyond the feeder's is the stage's own invention.
        const count = () => {
          use.items++
          const feeder = plan[k - 1]
          if (feeder === undefined) return
          const pairs = this.#o.stages[k]!.pipeline === 'interpolate' ? 1 : 0
          const slack = verify === undefined ? quote.window : 0
          if (use.items > Math.max(0, feeder.use.items - pairs) + slack) {
            const culprit = verify === undefined ? feeder.use.peerId : use.peerId
            session.abort(
              new JobError(
                JOB_ERROR_CODES.protocolViolation,
                verify === undefined
                  ? `stage ${k + 1} (${use.peerId}) worked on ${use.items} items but stage ${k} made ${feeder.use.items}: ${feeder.use.peerId} fed work it did not make`
                  : `stage ${k + 1} (${use.peerId}) billed ${use.items} items but stage ${k} committed ${feeder.use.items}: it billed work it was never confirmed`,
                { peerId: culprit },
              ),
            )
          }
        }
        session.events.on('ack', (a) => {
          count()
          use.debited += a.debited
          if (k === 0) this.events.emit('consumed', { seq: a.seq })
          if (verify !== undefined) this.#commit(k, a, use.peerId, session, byStage[k + 1], verify)
        })
        session.events.on('result', (r) => {
          count()
          use.debited += r.debited
          if (k === 0) this.events.emit('consumed', { seq: r.seq })
          const result: StageResult = {
            seq: r.seq,
            frame: r.frame,
            ...(r.lines === undefined ? {} : { lines: r.lines }),
            peerId: use.peerId,
          }
          if (verify === undefined) this.events.emit('result', result)
          else verify.result(result)
        })
        if (verify !== undefined) void session.done.finally(() => verify.closed(k)).catch(() => {})
        session.events.on('payment', (p) => {
          use.evSent += p.ev
          this.events.emit('payment', { peerId: p.peerId, tickets: p.tickets, ev: p.ev, stage: k })
        })
        session.events.on('payment:withheld', (p) => this.events.emit('payment:withheld', { ...p, stage: k }))
        sessions.unshift(session)
        await session.open()
        // Later stages get their frames from the feed: we send them nothing but tickets.
        if (k > 0) await session.end()
      }
      const failed = Promise.race(sessions.map((s) => s.done.then(() => new Promise<never>(() => {}))))
      failed.catch(() => {})
      const feeding = (async () => {
        const first = sessions[0]!
        for await (const item of items) {
          verify?.input(item)
          await first.send(item)
        }
        await first.end()
      })()
      const blamed = verify?.failed ?? new Promise<never>(() => {})
      await Promise.race([Promise.all([feeding, ...sessions.map((s) => s.done)]), failed, blamed])
      await Promise.race([verify?.finish(), blamed])
      for (const { candidate } of plan) this.#c.stats?.recordSuccess(candidate.peerId)
      return this.reports()
    } catch (err) {
      verify?.abort()
      if (verify?.failure !== undefined) {
        // Found wrong by a check: that stage alone is to blame; the rest is ended at once.
        const error = verify.failure
        if (error.peerId !== undefined) this.#culprits.add(error.peerId)
        for (const p of plan) p.use.error ??= p.use.peerId === error.peerId ? error.code : 'ERR_ABORTED'
        stop.abort(error)
        for (const s of sessions) s.abort(error)
        throw error
      }
      // One stage's failure ends the others a moment later: wait (briefly) for them to say why.
      await Promise.race([
        Promise.allSettled(sessions.map((s) => s.done)),
        new Promise((resolve) => setTimeout(resolve, SETTLE_MS).unref()),
      ])
      // The stage to blame failed on its own; its neighbours only lost their next or previous stage.
      const failures = sessions.map((s) => s.failure)
      const own = failures.find((f) => f !== undefined && !NOT_THEIR_FAULT.has(f.code))
      const error =
        own ??
        failures.find((f) => f !== undefined) ??
        (err instanceof FramemeshError ? err : new JobError('ERR_JOB_FAILED', String(err), { cause: err }))
      for (const [k, f] of failures.entries()) {
        // A feed item that is not what its feeder committed: the feeder is to blame.
        if (f?.code === JOB_ERROR_CODES.feedMismatch && k > 0)
          this.#culprits.add(plan[k - 1]!.candidate.peerId)
        else if (f !== undefined && !NOT_THEIR_FAULT.has(f.code)) {
          this.#culprits.add(plan[k]!.candidate.peerId)
        }
      }
      for (const [k, p] of plan.entries()) p.use.error ??= failures[k]?.code ?? error.code
      stop.abort(error)
      for (const s of sessions) s.abort(error)
      throw error
    }
  }

  /** Orchestrators whose own failure ended the run (not those that only lost their next stage). */
  culprits(): ReadonlySet<string> {
    return this.#culprits
  }

  /** Each stage's report so far (also after a failure: who was used and paid, what was checked). */
  reports(): StageReport[] {
    const verification = this.#verify?.reports()
    return this.#plan.map(({ use }, k) => ({
      items: use.items,
      peers: [use],
      debited: use.debited,
      evSent: use.evSent,
      resent: 0,
      ...(verification === undefined ? {} : { verification: verification[k]! }),
    }))
  }

  /**
   * Confirmed feeds: stage k's ack commits the digest of the output it forwarded; we vouch for it
   * to the next stage (which runs nothing we did not confirm) and keep it for the checks.
   */
  #commit(
    k: number,
    ack: { seq: number; digest?: Uint8Array },
    peerId: string,
    session: JobSession,
    next: JobSession | undefined,
    verify: WorkflowVerifier,
  ): void {
    if (ack.digest === undefined || ack.digest.byteLength !== 32) {
      session.abort(
        new JobError(
          JOB_ERROR_CODES.protocolViolation,
          `${peerId} acknowledged item ${ack.seq} without the digest of the output it forwarded`,
          { peerId },
        ),
      )
      return
    }
    verify.committed(k, { seq: ack.seq, peerId, digest: ack.digest })
    // A failed write fails the next stage's session, which the run is waiting on.
    next?.confirm(ack.seq, ack.digest).catch(() => {})
  }

  /** Quotes each stage in order; a stage's quoted output size is the next stage's input size. */
  async #quoteAll(size: { width: number; height: number }): Promise<Planned[]> {
    const plan: Planned[] = []
    let { width, height } = size
    for (const [index, spec] of this.#o.stages.entries()) {
      const excluded = new Set<string>()
      let planned: Planned | undefined
      let lastError: FramemeshError | undefined
      for (let attempt = 1; attempt <= (this.#o.quoteAttempts ?? 3) && planned === undefined; attempt++) {
        // A stage cannot feed itself (a peer does not dial itself): the next stage goes elsewhere.
        const previous = plan[index - 1]?.candidate.peerId
        const candidate = await this.#c.choose(
          index,
          { width, height },
          previous === undefined ? excluded : new Set([...excluded, previous]),
        )
        if (candidate === undefined) break
        excluded.add(candidate.peerId)
        this.events.emit('peer:selected', { ...candidate, attempt, stage: index })
        try {
          const quote = await requestQuote(
            { peer: this.#c.peer },
            candidate,
            {
              pipeline: spec.pipeline,
              modelId: candidate.modelId,
              width,
              height,
              format: FRAME_FORMAT_RGB24,
              frameCount: 0,
              maxPricePerUnit: this.#o.maxPricePerUnit(index),
              sender: this.#o.sender,
              ...(index === 0 ? {} : { feeder: plan[index - 1]!.candidate.peerId }),
            },
            { signal: this.#o.signal, timeoutMs: this.#o.quoteTimeoutMs ?? 10_000 },
          )
          planned = { candidate, quote, use: { ...candidate, items: 0, debited: 0n, evSent: 0n } }
        } catch (err) {
          lastError = err instanceof FramemeshError ? err : new JobError('ERR_QUOTE_FAILED', String(err))
          this.events.emit('quote:refused', {
            peerId: candidate.peerId,
            code: lastError.code,
            message: lastError.message,
            stage: index,
          })
          if (lastError.code === 'ERR_ABORTED') throw lastError
        }
      }
      if (planned === undefined) {
        throw new JobError(
          lastError?.code ?? JOB_ERROR_CODES.noOffers,
          `no orchestrator quoted stage ${index + 1} (${spec.pipeline}) of the workflow${lastError === undefined ? '' : `: ${lastError.message}`}`,
          { cause: lastError },
        )
      }
      const last = index === this.#o.stages.length - 1
      if (!last && !isTextPipeline(spec.pipeline)) {
        const { outputWidth, outputHeight } = planned.quote
        if (outputWidth === undefined || outputHeight === undefined) {
          throw new JobError(
            'ERR_DIRECT_UNSUPPORTED',
            `${planned.candidate.peerId} does not say its output size, so the next stage cannot be quoted ahead`,
          )
        }
        width = outputWidth
        height = outputHeight
      }
      plan.push(planned)
    }
    return plan
  }
}
