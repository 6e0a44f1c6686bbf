/**
 * Replacing one failed stage of a direct workflow in place, while the other stages keep running.
 * The order matters: the next stage is told first to take its feed from the replacement (it
 * refuses a feed it does not expect), then the replacement is opened forwarding to it, then the
 * previous stage (Reforward) or, for the first stage, we send the replacement the items the
 * failed one had not passed on. Each frame still reaches the end once, in order.
 */
import type { FramemeshError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { TypedEmitter } from '../peer/events.js'
import type { JobSession } from './job-session.js'
import { asFramemeshError, JobError, withMore } from './market-errors.js'
import type { Forward } from './pb/job.js'
import type { PeerStats } from './peer-stats.js'
import type { DirectWorkflowEvents } from './workflow.js'
import type { FrameSize, PlannedStage } from './workflow-quote.js'
import { markOwing, type StageState, type WorkflowRun } from './workflow-run.js'

export interface StageReplacerComponents {
  /** An orchestrator quoted for stage `index` (frames of `size`, fed by `feeder`), none in `exclude`. */
  quote: (stage: {
    index: number
    size: FrameSize
    exclude: ReadonlySet<string>
    feeder: string | undefined
  }) => Promise<PlannedStage>
  /** Opens `st`'s session on its planned orchestrator, forwarding to the next stage from `firstSeq`. */
  open: (st: StageState, firstSeq?: number) => Promise<JobSession>
  /** What points `st`'s feeder at its current orchestrator, from `firstSeq`. */
  forwardTo: (st: StageState, firstSeq: number) => Forward
  /** Hears 'peer:failed' and 'peer:switch'. */
  events: TypedEmitter<DirectWorkflowEvents>
  /** Orchestrators never picked again; a failed one that could not be replaced joins them. */
  culprits: Set<string>
  /**
   * Orchestrators that failed during this run, each recorded in `stats` once, when it failed:
   * no stage of the run picks them again, and the end of the run does not count them twice.
   */
  failed: Set<string>
  stats?: Pick<PeerStats, 'recordFailure'>
  logger?: Logger
}

export interface StageReplacerOptions {
  /** Longest wait for the next stage to accept the replacement's feed (ms). */
  refeedTimeoutMs: number
}

/**
 * Replaces stage `st` (its orchestrator failed with `error`) with another one, in place: the
 * next stage takes its feed from the replacement, which starts at the first output still owed
 * (one earlier when the next stage takes pairs: it needs that output again), and the previous
 * stage (or we, for the first) sends it the items from there again. Throws `error` (after
 * recording the failure) when no replacement could be set up.
 */
export async function replaceStage(
  components: StageReplacerComponents,
  options: StageReplacerOptions,
  run: WorkflowRun,
  st: StageState,
  error: FramemeshError,
): Promise<void> {
  const { events, culprits, failed, stats, logger } = components
  const { k } = st
  const dead = st.planned
  st.replacing = true
  // Whatever the old orchestrator still does for this run, it is out.
  st.session.abort(error)
  dead.use.error ??= error.code
  stats?.recordFailure(dead.candidate.peerId)
  failed.add(dead.candidate.peerId)
  const nextState = run.states[k + 1]
  const pairsNext = nextState?.pairs === true
  let from = Math.max(0, st.next - (pairsNext ? 1 : 0))
  const prev = run.states[k - 1]
  const pending = () => Math.max(0, (prev?.next ?? run.inputs.size) - (st.pairs ? 1 : 0) - from)
  events.emit('peer:failed', {
    peerId: dead.candidate.peerId,
    code: error.code,
    message: error.message,
    requeued: pending(),
    stage: k,
  })
  let opening: Promise<JobSession> | undefined
  logger?.info('workflow stage failed; replacing it in place', {
    stage: k,
    peer: dead.candidate.peerId,
    code: error.code,
    from,
  })
  try {
    const exclude = new Set([
      ...st.uses.map((u) => u.peerId),
      ...culprits,
      ...failed,
      ...(prev === undefined ? [] : [prev.planned.candidate.peerId]),
      ...(nextState === undefined ? [] : [nextState.planned.candidate.peerId]),
    ])
    const { width, height } = dead.quote.spec
    const planned = await components.quote({
      index: k,
      size: { width, height },
      exclude,
      feeder: prev?.planned.candidate.peerId,
    })
    // Downstream first: the next stage expects the replacement's feed before it dials. It may
    // have less than we heard the failed stage made (what was in transit died with it).
    if (nextState !== undefined) {
      const needed = await nextState.session.refeed(planned.candidate.peerId, options.refeedTimeoutMs)
      if (needed !== undefined) from = Math.min(from, needed)
    }
    const resend = [...run.inputs.values()].filter((i) => i.seq >= from).sort((a, b) => a.seq - b.seq)
    if (k === 0 && (resend[0]?.seq ?? from) !== from) {
      throw new JobError('ERR_STREAM_ENDED', `input ${from} is no longer kept; the run cannot resume there`)
    }
    const requeued = k === 0 ? resend.length : pending()
    st.planned = planned
    st.uses.push(planned.use)
    opening = components.open(st, nextState === undefined ? undefined : from)
    const session = await opening
    run.verify?.reopened(k)
    // Upstream: the items the failed stage had not passed on, again.
    if (prev !== undefined) await prev.session.reforward(components.forwardTo(st, from))
    else {
      for (const item of resend) await session.send(item)
      // The input already ended (and only the failed session was told): this one ends here.
      if (run.inputEnded) await session.end()
    }
    st.resent += requeued
    st.session = session
    markOwing(run, st)
    events.emit('peer:switch', {
      from: dead.candidate.peerId,
      to: planned.candidate.peerId,
      requeued,
      stage: k,
    })
  } catch (err) {
    // A replacement half set up is let go too.
    void opening?.then((s) => s.abort(error)).catch(() => {})
    culprits.add(dead.candidate.peerId)
    // The stage's failure stays the error (its code is what callers act on); why no replacement
    // could take over is part of its story.
    const reason = asFramemeshError(err, 'ERR_JOB_FAILED')
    throw withMore(error, `replacing stage ${k} failed too (${reason.code}: ${reason.message})`, {
      replacement: { code: reason.code, message: reason.message },
    })
  } finally {
    st.replacing = false
  }
}
