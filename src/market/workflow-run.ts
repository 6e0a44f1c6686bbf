/**
 * One direct workflow run's shared state, which the stages' sessions update as acks and results
 * come, and the rules that read it: what each stage still owes, and when owing means it failed.
 * A stage fed by another orchestrator gets nothing from us, so its own stream cannot show a stall
 * or a short close; these counts are how the run notices.
 */
import type { FramemeshError } from '../errors.js'
import type { PeerUse } from './failover.js'
import type { Notifier } from './job-notify.js'
import type { JobSession } from './job-session.js'
import type { WorkInput } from './job-work.js'
import { JOB_ERROR_CODES, JobError } from './market-errors.js'
import type { PlannedStage } from './workflow-quote.js'
import type { WorkflowVerifier } from './workflow-verify.js'

/** Failure codes that say another stage (or we) ended a stage's job. */
const NOT_THEIR_FAULT: ReadonlySet<string> = new Set([
  JOB_ERROR_CODES.nextStageFailed,
  JOB_ERROR_CODES.previousStageFailed,
  'ERR_ABORTED',
])

/** Whether a stage that failed with `code` only lost its neighbour (or was stopped by us). */
export function notTheirFault(code: string): boolean {
  return NOT_THEIR_FAULT.has(code)
}

/** One stage of the run: its orchestrator now, and every one it had. */
export interface StageState {
  k: number
  planned: PlannedStage
  uses: PeerUse[]
  session: JobSession
  /** The stage takes its input in pairs (interpolate): it owes one output fewer than it was fed. */
  pairs: boolean
  /** The next output seq the stage owes: every one before came to us (ack or result), in order. */
  next: number
  /** Items a replacement was given again. */
  resent: number
  /** Being replaced: the first stage's input waits. */
  replacing: boolean
  /** Since when (ms) the stage owes outputs for items its feeder passed on, without progress. */
  owedSince?: number
}

/** A stage failure the run has yet to handle (replace, or fail). */
export interface StageFailure {
  k: number
  session: JobSession
  error: FramemeshError
  /** The neighbour's session that said so (Lost), and when: hearsay waits for the reporter's fate. */
  reporter?: JobSession
  at?: number
}

/** Run-wide state the sessions' events reach. */
export interface WorkflowRun {
  states: StageState[]
  verify?: WorkflowVerifier
  signal: AbortSignal
  /** Confirmed feeds (with verification, or asked for): see feed-gate.ts. */
  confirmed: boolean
  /** The first stage's items not yet acknowledged, and the last few that were. */
  inputs: Map<number, WorkInput>
  /**
   * Every input item was taken. The first stage's end is written once and the stage may die
   * after it: its replacement must be ended too, or it waits for work until its orchestrator's
   * idle timeout closes it.
   */
  inputEnded: boolean
  /** Sessions that closed normally. */
  ended: Set<JobSession>
  failures: StageFailure[]
  wake: Notifier
}

/** Outputs stage `st` owes: items its feeder passed on that it has not answered for. */
export function owes(run: WorkflowRun, st: StageState): number {
  const prev = run.states[st.k - 1]
  return prev === undefined ? 0 : Math.max(0, prev.next - (st.pairs ? 1 : 0) - st.next)
}

/** Stage `st` made progress: it owes since now, or nothing. */
export function markOwing(run: WorkflowRun, st: StageState): void {
  st.owedSince = owes(run, st) > 0 ? Date.now() : undefined
}

/**
 * Stage `st` (on `planned`, the orchestrator whose session reported it) gave output `seq` (an
 * ack or a result): its count moves on, and the next stage now owes for it. Returns the error to
 * end the session with when the output is work its feeder never made.
 *
 * A stage only works on what the previous one made. Unconfirmed feeds: outputs past that plus
 * what may be in flight on the feed (its window) mean its feeder invented work for us to pay
 * for. Confirmed feeds: a stage runs only what we confirmed after its feeder's ack, so any
 * output beyond the feeder's is the stage's own invention.
 */
export function recordOutput(
  run: WorkflowRun,
  st: StageState,
  planned: PlannedStage,
  seq: number,
): JobError | undefined {
  const { k } = st
  const { use } = planned
  use.items++
  st.next = Math.max(st.next, seq + 1)
  markOwing(run, st)
  const fed = run.states[k + 1]
  if (fed !== undefined) {
    fed.owedSince ??= owes(run, fed) > 0 ? Date.now() : undefined
    checkOwed(run, fed)
  }
  const feeder = run.states[k - 1]
  if (feeder === undefined) return undefined
  const pairs = st.pairs ? 1 : 0
  const slack = run.confirmed ? 0 : planned.quote.window
  if (seq + 1 <= Math.max(0, feeder.next - pairs) + slack) return undefined
  const culprit = run.confirmed ? use.peerId : feeder.planned.use.peerId
  return new JobError(
    JOB_ERROR_CODES.protocolViolation,
    !run.confirmed
      ? `stage ${k + 1} (${use.peerId}) worked on item ${seq} but stage ${k} made ${feeder.next}: ${feeder.planned.use.peerId} fed work it did not make`
      : `stage ${k + 1} (${use.peerId}) billed item ${seq} but stage ${k} committed ${feeder.next}: it billed work it was never confirmed`,
    { peerId: culprit },
  )
}

/**
 * Queues the failure of `st`'s session (its current one unless given) for the run to handle, once.
 * A neighbour's report of it queued first gives way: the stage's own error says what happened
 * (a stopping orchestrator tells its feeder before the broadcaster, so the feeder's "lost the next
 * stage" used to win and ERR_SHUTTING_DOWN was dropped), and it is acted on without hearsay's wait.
 */
export function queueFailure(
  run: WorkflowRun,
  st: StageState,
  error: FramemeshError,
  session = st.session,
): void {
  const queued = run.failures.findIndex((f) => f.session === session)
  if (queued !== -1) {
    if (run.failures[queued]!.reporter === undefined) return
    run.failures.splice(queued, 1)
  }
  run.failures.push({ k: st.k, session, error })
  run.wake.notify()
}

/**
 * Stage `k`'s orchestrator (`reporterPeerId`, on `reporter`) says its neighbour failed: its
 * forwarder lost the next stage, or its feed lost the previous one. Queued as that stage's
 * failure (once), as hearsay: the run waits a moment for the reporter's own fate before acting.
 */
export function queueNeighbourReport(
  run: WorkflowRun,
  k: number,
  reporter: JobSession,
  reporterPeerId: string,
  lost: { peerId: string; code: string; message: string },
): void {
  const j = lost.code === JOB_ERROR_CODES.nextStageFailed ? k + 1 : k - 1
  const other = run.states[j]
  if (other?.planned.candidate.peerId !== lost.peerId || other.session === undefined) return
  if (run.failures.some((f) => f.session === other.session)) return
  run.failures.push({
    k: j,
    session: other.session,
    error: new JobError(
      'ERR_STREAM_ENDED',
      `${reporterPeerId} lost stage ${j + 1} (${lost.code}): ${lost.message}`,
      {
        peerId: lost.peerId,
      },
    ),
    reporter,
    at: Date.now(),
  })
  run.wake.notify()
}

/**
 * Confirmed feeds: stage `st`'s ack commits the digest of the output it forwarded; we vouch for
 * it to the next stage (which runs nothing we did not confirm) and keep it for the checks. An ack
 * without a digest ends the stage's `session`.
 */
export function commitAck(
  run: WorkflowRun,
  st: StageState,
  session: JobSession,
  ack: { seq: number; digest?: Uint8Array },
): void {
  const { peerId } = st.planned.candidate
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
  run.verify?.committed(st.k, { seq: ack.seq, peerId, digest: ack.digest })
  // A failed write fails the next stage's session, which the run is waiting on.
  run.states[st.k + 1]?.session.confirm(ack.seq, ack.digest).catch(() => {})
}

/**
 * A later stage's session that closed (normally, as far as the stream says) with fewer outputs
 * than its feeder passed on to it has failed: its orchestrator went away. Queued as its failure.
 */
export function checkOwed(run: WorkflowRun, st: StageState): void {
  const prev = run.states[st.k - 1]
  if (prev === undefined || !run.ended.has(st.session)) return
  const owed = Math.max(0, prev.next - (st.pairs ? 1 : 0))
  if (st.next >= owed) return
  const { peerId } = st.planned.candidate
  queueFailure(
    run,
    st,
    new JobError(
      'ERR_STREAM_ENDED',
      `${peerId} closed stage ${st.k + 1} after ${st.next} outputs; its feeder passed on ${owed}`,
      { peerId },
    ),
  )
}

/**
 * A feed-fed stage's session shows no stall (we send it nothing): it stalls when it owes outputs
 * and makes none for `stallMs`. The first stage's own session watches itself. The caller clears
 * the returned timer when the run ends.
 */
export function watchStalls(run: WorkflowRun, stallMs: number): ReturnType<typeof setInterval> {
  const timer = setInterval(
    () => {
      for (const st of run.states) {
        if (st.k === 0 || st.replacing || st.owedSince === undefined) continue
        if (Date.now() - st.owedSince <= stallMs || run.ended.has(st.session)) continue
        const { peerId } = st.planned.candidate
        queueFailure(
          run,
          st,
          new JobError(
            JOB_ERROR_CODES.peerStalled,
            `${peerId} made no output of stage ${st.k + 1} for ${stallMs} ms while owing ${owes(run, st)}`,
            { peerId },
          ),
        )
      }
    },
    Math.max(10, Math.min(1_000, stallMs / 4)),
  )
  timer.unref()
  return timer
}

/**
 * After a failed run, once the stages' sessions had a moment to say why: the error to report (a
 * stage's own failure before a neighbour's word that it lost it, else `fallback`) and the
 * orchestrators to blame. Each stage's use records the code it ended with.
 */
export function blameStages(
  states: readonly StageState[],
  fallback: FramemeshError,
): { error: FramemeshError; culprits: string[] } {
  const failures = states.map((st) => st.session?.failure)
  const own = failures.find((f) => f !== undefined && !NOT_THEIR_FAULT.has(f.code))
  const error = own ?? failures.find((f) => f !== undefined) ?? fallback
  const culprits: string[] = []
  for (const [k, f] of failures.entries()) {
    // A feed item that is not what its feeder committed: the feeder is to blame.
    if (f?.code === JOB_ERROR_CODES.feedMismatch && k > 0) {
      culprits.push(states[k - 1]!.planned.candidate.peerId)
    } else if (f !== undefined && !NOT_THEIR_FAULT.has(f.code)) {
      culprits.push(states[k]!.planned.candidate.peerId)
    }
  }
  for (const [k, st] of states.entries()) st.planned.use.error ??= failures[k]?.code ?? error.code
  return { error, culprits }
}
