/**
 * One mesh job from its input to its report: which route its frames take, and what happens when
 * the direct route fails. A workflow goes direct (stage to stage) unless asked otherwise or
 * verified by PSNR; a direct run that fails goes on through the broadcaster from the first output
 * not yet delivered, leaving out the orchestrators it blamed. A one-stage job goes through us.
 */
import { AbortedError, FramemeshError } from '../errors.js'
import type { Frame } from '../inference/types.js'
import { BudgetPayer } from './broadcaster-payer.js'
import type { StageReport, StageResult } from './failover.js'
import type { JobEvents } from './job-events.js'
import { ReplayInput, stageSpecs } from './job-input.js'
import { JOB_ERROR_CODES, JobError, withMore } from './market-errors.js'
import { runChained } from './mesh-chained.js'
import type { JobContext, MeshContext } from './mesh-context.js'
import { runDirect } from './mesh-direct.js'
import { jobReport, mergeReports } from './mesh-report.js'
import type { JobReport, MeshResult, StageSpec, SubmitOptions } from './mesh-types.js'
import { type CollectedResults, ResultQueue } from './result-queue.js'
import type { VerificationReport, Verifier } from './verifier.js'

/** Where a job's outputs go: kept whole for `done`, or streamed to one reader with back-pressure. */
export type ResultSink = CollectedResults<MeshResult> | ResultQueue<MeshResult>

export interface MeshJobRun {
  id: string
  submitted: SubmitOptions
  events: JobEvents
  sink: ResultSink
  signal: AbortSignal
}

/** Runs the job; resolves with its report (also emitted as 'finished'), rejects with its typed error (also 'failed'). */
export async function runMeshJob(mesh: MeshContext, run: MeshJobRun): Promise<JobReport> {
  const { id, submitted: s, events, sink, signal } = run
  const specs = stageSpecs(s)
  const frames = s.input
  const source: AsyncIterator<Frame> | Iterator<Frame> =
    Symbol.asyncIterator in frames
      ? (frames as AsyncIterable<Frame>)[Symbol.asyncIterator]()
      : (frames as Iterable<Frame>)[Symbol.iterator]()
  const total =
    Array.isArray(frames) && specs.length === 1 ? outputCount(specs[0]!, frames.length) : undefined
  const verifiers: Verifier[] = []
  /** A direct run's verification, per stage (the chained run's are in `verifiers`). */
  const directChecks: VerificationReport[] = []
  let delivered = 0
  /** A fallback's outputs are numbered from 0 again: they continue the job's seqs from here. */
  let seqOffset = 0
  const replay = new ReplayInput(source)
  // Streamed results: the reader's pace holds back the job.
  const room = sink instanceof ResultQueue ? (sig?: AbortSignal) => sink.room(sig) : undefined
  const push = (r: StageResult) => {
    sink.push(seqOffset === 0 ? r : { ...r, seq: r.seq + seqOffset })
    events.emit('progress', {
      done: ++delivered,
      ...(total === undefined ? {} : { total }),
      peerId: r.peerId,
    })
    // Output m needs inputs m.. only: what came before can no longer be needed for a replay.
    replay.release(delivered)
  }
  const job: JobContext = {
    submitted: s,
    specs,
    // One budget for the whole job, every stage paid from it.
    payer: new BudgetPayer(mesh.sender, s.budget),
    events,
    push,
    room,
    signal,
  }
  let route: JobReport['route'] = specs.length > 1 ? 'broadcaster' : undefined
  const finish = (reports: StageReport[]): JobReport => {
    const report = jobReport({
      jobId: id,
      delivered,
      stages: reports,
      workflow: specs.length > 1,
      route,
      checks: [...directChecks, ...verifiers.map((v) => v.report())],
    })
    events.emit('finished', report)
    return report
  }
  /** Why the direct run failed, when the job went on through the broadcaster. */
  let directError: FramemeshError | undefined
  try {
    const direct: StageReport[] = []
    const avoid = new Set<string>()
    let input: AsyncIterator<Frame> = replay
    // A stage that doubles the frame rate needs its input frames here, and lanes (parallel) are
    // run from here: both take the broadcaster route.
    const directRoute =
      specs.length > 1 &&
      (s.route ?? 'direct') === 'direct' &&
      s.verify?.minPsnrDb === undefined &&
      (s.parallel ?? 1) <= 1 &&
      !specs.some((spec) => spec.doubleRate === true)
    if (directRoute) {
      try {
        const reports = await runDirect(mesh, job, replay, {
          failedReports: direct,
          checks: directChecks,
          avoid,
        })
        route = 'direct'
        return finish(reports)
      } catch (err) {
        route = 'direct, then broadcaster'
        const error = err instanceof FramemeshError ? err : new JobError('ERR_JOB_FAILED', String(err))
        // Strict verification found no checker: the broadcaster route would have none either.
        if (
          signal.aborted ||
          error.code === 'ERR_EMPTY_INPUT' ||
          error.code === JOB_ERROR_CODES.unverifiable ||
          error.details?.paymentWithheld === true
        )
          throw error
        mesh.logger.info('direct workflow failed; going on through the broadcaster', {
          code: error.code,
          delivered,
        })
        const blamed = (error as JobError).peerId
        events.emit('route:fallback', {
          code: error.code,
          message: error.message,
          ...(blamed === undefined ? {} : { peerId: blamed }),
          delivered,
        })
        directError = error
        seqOffset = delivered
        input = replay.from(delivered)
      }
    }
    const chained = await runChained(mesh, job, input, verifiers, avoid)
    return finish(direct.length === 0 ? chained : chained.map((r, k) => mergeReports(direct[k], r)))
  } catch (err) {
    for (const v of verifiers) v.abort()
    const error =
      err instanceof FramemeshError
        ? err
        : signal.aborted
          ? new AbortedError('the job was cancelled', { cause: err })
          : new JobError('ERR_JOB_FAILED', String(err), { cause: err })
    // A fallback's failure alone would hide what went wrong first (e.g. ERR_NO_OFFERS where the
    // only seller of a stage stalled): the direct run's failure comes along.
    const told =
      directError === undefined || error === directError || signal.aborted
        ? error
        : withMore(error, `the direct run had failed first (${directError.code}: ${directError.message})`, {
            directFailure: { code: directError.code, message: directError.message },
          })
    events.emit('failed', { error: told })
    throw told
  }
}

/** How many outputs a stage gives for `frames` input frames. */
function outputCount(spec: StageSpec, frames: number): number {
  if (spec.pipeline !== 'interpolate') return frames
  return spec.doubleRate === true ? 2 * frames : Math.max(0, frames - 1)
}
