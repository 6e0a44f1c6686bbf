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
 * Failure of one stage (it dies, stalls or fails on its own): the stage is replaced in place
 * (#replace): another orchestrator is quoted for it (naming the same feeder), the next stage is
 * told to take its feed from the replacement (Refeed), the replacement is opened forwarding to
 * the next stage, and the previous stage (Reforward) or, for the first stage, we send it again
 * the items the failed one had not passed on. The other stages keep running; each frame reaches
 * the end once, in order. When that is not possible (no replacement, a neighbour failed too, a
 * verification blame: the stages after a cheater already worked on its frames), the run fails
 * with the stage's error and the mesh carries on with the chained route (through the
 * broadcaster, with per-stage failover) from the first output not yet delivered, replaying the
 * inputs it still holds (see mesh.ts).
 *
 * This class runs the sequence (quote, open, feed, handle failures); beside it: quoting in
 * workflow-quote.ts, the run's shared state and its rules (what a stage owes, stalls, invented
 * outputs, blame) in workflow-run.ts, replacing a stage in workflow-replace.ts, checks in
 * workflow-verify.ts.
 */
import type { FramemeshError } from '../errors.js'
import type { Logger } from '../logger.js'
import { TypedEmitter } from '../peer/events.js'
import type { Peer } from '../peer/peer.js'
import type { Address } from '../tickets/ticket.js'
import type { StageCandidate, StageReport, StageResult } from './failover.js'
import { Notifier } from './job-notify.js'
import { JobSession, type Payer } from './job-session.js'
import type { WorkInput } from './job-work.js'
import { asFramemeshError, isRetryableElsewhere, JOB_ERROR_CODES } from './market-errors.js'
import type { StageSpec } from './mesh-types.js'
import type { Forward } from './pb/job.js'
import type { PeerStats } from './peer-stats.js'
import type { Verifier } from './verifier.js'
import { quoteAllStages, quoteStage, type StageQuoterComponents } from './workflow-quote.js'
import { replaceStage } from './workflow-replace.js'
import {
  blameStages,
  checkOwed,
  commitAck,
  notTheirFault,
  queueFailure,
  queueNeighbourReport,
  recordOutput,
  type StageState,
  type WorkflowRun,
  watchStalls,
} from './workflow-run.js'
import { WorkflowVerifier } from './workflow-verify.js'

/** How long the other stages get to report their own failure after the first one (ms). */
const SETTLE_MS = 1_000
/** How long a neighbour's report that a stage failed waits for the reporter's own fate (ms). */
const HEARSAY_MS = 300
/** Finished first-stage inputs kept for a replacement (covers a window in transit at the next stage). */
const KEPT_INPUTS = 16
/** Stages replaced in place in one run before the run gives up (and the mesh falls back). */
const MAX_REPLACEMENTS = 3

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
  stats?: Pick<PeerStats, 'recordSuccess' | 'recordFailure'>
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
  /** Replace a failed stage in place (default true); false: the run fails with the stage's error. */
  replace?: boolean
  /** Confirmed feeds without verification (always on with a verifier; see feed-gate.ts). */
  confirmFeeds?: boolean
  signal: AbortSignal
}

/** `stage`: the index of the workflow stage an event concerns. */
export interface DirectWorkflowEvents {
  'peer:selected': { peerId: string; modelId: string; pricePerUnit: bigint; attempt: number; stage: number }
  'quote:refused': { peerId: string; code: string; message: string; stage: number }
  /** A stage's orchestrator failed; `requeued`: items its replacement is given again. */
  'peer:failed': { peerId: string; code: string; message: string; requeued: number; stage: number }
  /** A failed stage was replaced in place: the rest of the workflow kept running. */
  'peer:switch': { from: string; to: string; requeued: number; stage: number }
  payment: { peerId: string; tickets: number; ev: bigint; stage: number }
  'payment:withheld': { peerId: string; gap: bigint; stage: number }
  /** The first stage took input item `seq` off our hands. */
  consumed: { seq: number }
  result: StageResult
}

export class DirectWorkflow {
  readonly events = new TypedEmitter<DirectWorkflowEvents>()
  readonly #c: DirectWorkflowComponents
  readonly #o: DirectWorkflowOptions
  #states: StageState[] = []
  readonly #culprits = new Set<string>()
  readonly #failed = new Set<string>()
  readonly #changed = new Notifier()
  #verify?: WorkflowVerifier

  constructor(components: DirectWorkflowComponents, options: DirectWorkflowOptions) {
    this.#c = components
    this.#o = options
  }

  /**
   * Runs the workflow over `items` (the first stage's work items; `size` their frame size).
   * Resolves with one report per stage; rejects with the error of a stage that failed and could
   * not be replaced.
   */
  async run(
    size: { width: number; height: number },
    items: AsyncIterable<WorkInput>,
  ): Promise<StageReport[]> {
    const plan = await quoteAllStages(this.#quoter(), this.#o, size)
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
    const states: StageState[] = plan.map((planned, k) => ({
      k,
      planned,
      uses: [planned.use],
      // Set when opened, below.
      session: undefined as unknown as JobSession,
      pairs: this.#o.stages[k]!.pipeline === 'interpolate',
      next: 0,
      resent: 0,
      replacing: false,
    }))
    this.#states = states
    const run: WorkflowRun = {
      states,
      signal,
      confirmed: verify !== undefined || this.#o.confirmFeeds === true,
      inputs: new Map(),
      inputEnded: false,
      ended: new Set(),
      failures: [],
      wake: new Notifier(),
      ...(verify === undefined ? {} : { verify }),
    }
    let replacements = 0
    try {
      // From the last stage down: each stage's feed target is open before it dials it.
      for (let k = last; k >= 0; k--) states[k]!.session = await this.#open(run, states[k]!)
      const watchdog = watchStalls(run, this.#o.stallTimeoutMs ?? 30_000)
      signal.addEventListener('abort', () => clearInterval(watchdog), { once: true })
      let fed = false
      let feedError: unknown
      this.#feed(run, items).then(
        () => {
          fed = true
          run.wake.notify()
        },
        (err) => {
          feedError = err
          run.wake.notify()
        },
      )
      const blamed = verify?.failed ?? new Promise<never>(() => {})
      blamed.catch(() => run.wake.notify())
      while (true) {
        if (feedError !== undefined) throw feedError
        if (verify?.failure !== undefined) throw verify.failure
        // What a stage's own session shows comes first; a neighbour's word only after a moment.
        run.failures.sort((a, b) => Number(a.reporter !== undefined) - Number(b.reporter !== undefined))
        const failure = run.failures.shift()
        if (failure !== undefined) {
          // Already replaced: an old session's late news.
          if (states[failure.k]!.session !== failure.session) continue
          const { reporter } = failure
          if (reporter !== undefined) {
            // A dying orchestrator may blame its neighbour on the way out: heard only if it lives on.
            if (reporter.failure !== undefined || run.ended.has(reporter)) continue
            const wait = (failure.at ?? 0) + HEARSAY_MS - Date.now()
            if (wait > 0) {
              run.failures.push(failure)
              await run.wake.wait({ signal, timeoutMs: wait }).catch(() => signal.throwIfAborted())
              continue
            }
          }
          if (!this.#replaceable(failure.error) || replacements >= MAX_REPLACEMENTS) throw failure.error
          replacements++
          await this.#replace(run, states[failure.k]!, failure.error)
          continue
        }
        if (fed && states.every((st) => run.ended.has(st.session))) {
          // Every stage closed: each must have made an output for every item its feeder passed on.
          for (const st of states) checkOwed(run, st)
          if (run.failures.length === 0) break
          continue
        }
        await run.wake.wait({ signal })
      }
      clearInterval(watchdog)
      await Promise.race([verify?.finish(), blamed])
      for (const st of states) this.#c.stats?.recordSuccess(st.planned.candidate.peerId)
      return this.reports()
    } catch (err) {
      this.#changed.notify()
      verify?.abort()
      const sessions = states.flatMap((st) => (st.session === undefined ? [] : [st.session]))
      if (verify?.failure !== undefined) {
        // Found wrong by a check: that stage alone is to blame; the rest is ended at once.
        const error = verify.failure
        if (error.peerId !== undefined) this.#culprits.add(error.peerId)
        for (const st of states) {
          st.planned.use.error ??= st.planned.use.peerId === error.peerId ? error.code : 'ERR_ABORTED'
        }
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
      const thrown = asFramemeshError(err, 'ERR_JOB_FAILED')
      const { error: blamed, culprits } = blameStages(states, thrown)
      // A stage that could not be replaced: its failure as told by replaceStage, with the reason.
      const error = thrown.cause === blamed ? thrown : blamed
      for (const peerId of culprits) this.#culprits.add(peerId)
      stop.abort(error)
      for (const s of sessions) s.abort(error)
      throw error
    }
  }

  /** Orchestrators whose own failure ended the run (not those that only lost their next stage). */
  culprits(): ReadonlySet<string> {
    return this.#culprits
  }

  /** Orchestrators that failed during the run and were replaced or tried to be: already recorded in stats. */
  failed(): ReadonlySet<string> {
    return this.#failed
  }

  /** Each stage's report so far (also after a failure: who was used and paid, what was checked). */
  reports(): StageReport[] {
    const verification = this.#verify?.reports()
    return this.#states.map((st, k) => ({
      items: st.next,
      peers: [...st.uses],
      debited: st.uses.reduce((n, u) => n + u.debited, 0n),
      evSent: st.uses.reduce((n, u) => n + u.evSent, 0n),
      resent: st.resent,
      ...(verification === undefined ? {} : { verification: verification[k]! }),
    }))
  }

  /** Whether a stage failing with `error` may be replaced in place. */
  #replaceable(error: FramemeshError): boolean {
    return (
      this.#o.replace !== false &&
      !notTheirFault(error.code) &&
      error.code !== JOB_ERROR_CODES.feedMismatch &&
      isRetryableElsewhere(error.code) &&
      error.details?.paymentWithheld !== true &&
      !this.#o.signal.aborted
    )
  }

  /** Sends the input to the first stage; while it is being replaced, waits (the replacement gets what is unacknowledged). */
  async #feed(run: WorkflowRun, items: AsyncIterable<WorkInput>): Promise<void> {
    const first = run.states[0]!
    for await (const item of items) {
      await this.#settled(run, first)
      run.inputs.set(item.seq, item)
      run.verify?.input(item)
      const session = first.session
      try {
        await session.send(item)
      } catch (err) {
        // The replacement is sent every unacknowledged item again, this one too.
        await this.#replacedSince(run, first, session, err)
      }
    }
    // From here a replacement of the first stage is ended by whoever replaces it (see replaceStage).
    run.inputEnded = true
    while (true) {
      await this.#settled(run, first)
      const session = first.session
      await session.end()
      if (session.failure === undefined) return
      await this.#replacedSince(run, first, session, session.failure)
    }
  }

  /** Waits while `st` is being replaced. */
  async #settled(run: WorkflowRun, st: StageState): Promise<void> {
    while (st.replacing) await this.#changed.wait({ signal: run.signal })
  }

  /** Waits until `st` runs on another session than `session`; rethrows `err` if the run ends first. */
  async #replacedSince(run: WorkflowRun, st: StageState, session: JobSession, err: unknown): Promise<void> {
    while (st.session === session || st.replacing) {
      if (run.signal.aborted) throw err
      await this.#changed.wait({ signal: run.signal }).catch(() => {
        throw err
      })
    }
  }

  /** Opens stage `st`'s session (forwarding to the next stage's current orchestrator from `firstSeq`). */
  async #open(run: WorkflowRun, st: StageState, firstSeq?: number): Promise<JobSession> {
    const { k } = st
    const planned = st.planned
    const { quote, use } = planned
    const last = run.states.length - 1
    const next = run.states[k + 1]
    const session = new JobSession(
      {
        peer: this.#c.peer,
        payer: this.#c.payer,
        ...(this.#c.logger === undefined ? {} : { logger: this.#c.logger }),
      },
      {
        quote,
        signal: run.signal,
        input: k === 0 ? 'send' : 'none',
        output: k < last ? 'acks' : 'results',
        ...(next === undefined ? {} : { forward: this.#forwardTo(next, firstSeq) }),
        ...(this.#o.window === undefined ? {} : { window: this.#o.window }),
        ...(this.#o.openTimeoutMs === undefined ? {} : { openTimeoutMs: this.#o.openTimeoutMs }),
        ...(this.#o.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: this.#o.stallTimeoutMs }),
        ...(run.confirmed ? { digests: true } : {}),
        replaceable: this.#o.replace !== false,
      },
    )
    const progress = (seq: number) => {
      const invented = recordOutput(run, st, planned, seq)
      if (invented !== undefined) session.abort(invented)
    }
    session.events.on('ack', (a) => {
      progress(a.seq)
      use.debited += a.debited
      if (k === 0) this.#consumed(run, a.seq)
      if (run.confirmed) commitAck(run, st, session, a)
    })
    session.events.on('result', (r) => {
      // A replacement may make again what its predecessor delivered: delivered once only.
      const fresh = r.seq >= st.next
      progress(r.seq)
      use.debited += r.debited
      if (k === 0) this.#consumed(run, r.seq)
      if (!fresh) return
      const result: StageResult = {
        seq: r.seq,
        frame: r.frame,
        ...(r.lines === undefined ? {} : { lines: r.lines }),
        peerId: use.peerId,
      }
      if (run.verify === undefined) this.events.emit('result', result)
      else run.verify.result(result)
    })
    session.done.then(
      () => {
        run.ended.add(session)
        // Confirmed feeds: the next stage learns nothing more will be confirmed (an item beyond is invented).
        if (run.confirmed && st.session === session) {
          run.states[k + 1]?.session.confirm(st.next, new Uint8Array(0)).catch(() => {})
        }
        checkOwed(run, st)
        run.wake.notify()
      },
      (err) => queueFailure(run, st, asFramemeshError(err, 'ERR_JOB_FAILED'), session),
    )
    if (run.verify !== undefined) {
      const verify = run.verify
      void session.done
        .finally(() => {
          if (st.session === session || st.session === undefined) verify.closed(k)
        })
        .catch(() => {})
    }
    session.events.on('payment', (p) => {
      use.evSent += p.ev
      this.events.emit('payment', { peerId: p.peerId, tickets: p.tickets, ev: p.ev, stage: k })
    })
    session.events.on('payment:withheld', (p) => this.events.emit('payment:withheld', { ...p, stage: k }))
    // A neighbour says the stage next to it failed: its stream to us may not show it (yet).
    session.events.on('lost', (lost) => queueNeighbourReport(run, k, session, use.peerId, lost))
    await session.open()
    // Later stages get their frames from the feed: we send them nothing but tickets.
    if (k > 0) await session.end()
    return session
  }

  #forwardTo(next: StageState, firstSeq?: number): Forward {
    const { candidate, quote } = next.planned
    return {
      peerId: candidate.peerId,
      quoteId: quote.quoteId,
      addrs: (this.#c.addressesOf?.(candidate.peerId) ?? []).map((a) => new Uint8Array(a)),
      pipeline: this.#o.stages[next.k]!.pipeline,
      ...(firstSeq === undefined ? {} : { firstSeq }),
    }
  }

  /**
   * The first stage finished item `seq`. The last few finished inputs are kept: if the stage dies,
   * the next stage may not have got their outputs, and its replacement makes them again.
   */
  #consumed(run: WorkflowRun, seq: number): void {
    for (const s of run.inputs.keys()) if (s < seq - KEPT_INPUTS) run.inputs.delete(s)
    this.events.emit('consumed', { seq })
  }

  /**
   * Replaces stage `st` in place (workflow-replace.ts); whoever waits on the stage (the input
   * feed) hears of it either way.
   */
  async #replace(run: WorkflowRun, st: StageState, error: FramemeshError): Promise<void> {
    try {
      await replaceStage(
        {
          quote: (stage) => quoteStage(this.#quoter(), this.#o, stage),
          open: (state, firstSeq) => this.#open(run, state, firstSeq),
          forwardTo: (state, firstSeq) => this.#forwardTo(state, firstSeq),
          events: this.events,
          culprits: this.#culprits,
          failed: this.#failed,
          ...(this.#c.stats === undefined ? {} : { stats: this.#c.stats }),
          ...(this.#c.logger === undefined ? {} : { logger: this.#c.logger }),
        },
        { refeedTimeoutMs: this.#o.openTimeoutMs ?? 10_000 },
        run,
        st,
        error,
      )
    } finally {
      this.#changed.notify()
    }
  }

  /** What quoting a stage needs: who to ask, how, and where its events go. */
  #quoter(): StageQuoterComponents {
    return { peer: this.#c.peer, choose: this.#c.choose, events: this.events }
  }
}
