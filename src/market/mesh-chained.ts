/**
 * The broadcaster route of a mesh job: a one-stage job, or a workflow whose every stage's outputs
 * come back through us and go on to the next stage. Each stage picks an orchestrator from the
 * order book once its first frame fixes the size, runs with failover (failover.ts) and, when the
 * job asks, has a share of its items checked on another orchestrator (verifier.ts).
 */
import type { Frame } from '../inference/types.js'
import { BlameLedger } from './blame-ledger.js'
import { RateDoubler } from './double-rate.js'
import {
  Stage,
  type StageComponents,
  type StageEvents,
  type StageReport,
  type StageResult,
} from './failover.js'
import { assembleWindows, needsWindows, planWindows } from './frame-windows.js'
import { framesOf, STAGE_BUFFER, workItems } from './job-input.js'
import { runInLanes } from './lanes.js'
import { blameError, JobError } from './market-errors.js'
import {
  allowedPeers,
  forwardVerifierEvents,
  type JobContext,
  type MeshContext,
  passedOn,
  STAGE_PEER_EVENTS,
  stageMaxPrice,
  stageQuery,
  toCandidate,
} from './mesh-context.js'
import { mergeVerification } from './mesh-report.js'
import type { MeshJobEvents, StageSpec } from './mesh-types.js'
import type { OfferQuery } from './offer.js'
import { ResultQueue } from './result-queue.js'
import { maxUncheckedOf, Verifier } from './verifier.js'

/**
 * Runs every stage of the job at once, each fed by the previous one's outputs through a bounded
 * queue. `verifiers` gets each stage's verifier (the job's report reads them, also on failure);
 * `avoid`: orchestrators left out from the start (they failed a direct run of this job).
 */
export async function runChained(
  mesh: MeshContext,
  job: JobContext,
  source: AsyncIterator<Frame>,
  verifiers: Verifier[],
  avoid: ReadonlySet<string>,
): Promise<StageReport[]> {
  const { specs } = job
  // A stage that fails ends the others: upstream through this signal, downstream through its queue.
  const stop = new AbortController()
  const jobSignal = AbortSignal.any([job.signal, stop.signal])
  let input: AsyncIterator<Frame> | Iterator<Frame> = source
  const runs: Promise<StageReport>[] = []
  for (const [index, spec] of specs.entries()) {
    const last = index === specs.length - 1
    // Between stages: a bounded queue, so a slow later stage slows the earlier.
    const between = last ? undefined : new ResultQueue<StageResult>(STAGE_BUFFER)
    const run = runStage(mesh, job, {
      index,
      last,
      spec,
      input,
      signal: jobSignal,
      verifiers,
      avoid,
      output: last
        ? { push: job.push, ...(job.room === undefined ? {} : { room: job.room }) }
        : { push: (r) => between!.push(r), room: (sig?: AbortSignal) => between!.room(sig) },
    }).then(
      (report) => {
        between?.close()
        return report
      },
      (err: unknown) => {
        between?.fail(err as Error)
        stop.abort(err)
        throw err
      },
    )
    run.catch(() => {})
    runs.push(run)
    if (between !== undefined) input = framesOf(between)[Symbol.asyncIterator]()
  }
  return Promise.all(runs)
}

interface StageRun {
  index: number
  /** The job's last stage: its results are the job's. */
  last: boolean
  spec: StageSpec
  input: AsyncIterator<Frame> | Iterator<Frame>
  /** The job's signal, also aborted when another stage fails. */
  signal: AbortSignal
  verifiers: Verifier[]
  /** Orchestrators to leave out from the start (they failed a direct run of this job). */
  avoid: ReadonlySet<string>
  output: { push: (r: StageResult) => void; room?: (signal?: AbortSignal) => Promise<void> }
}

/** One stage of a job: waits for its first input frame (its size fixes the quote), then runs with failover. */
async function runStage(mesh: MeshContext, job: JobContext, r: StageRun): Promise<StageReport> {
  const { spec, signal } = r
  const { submitted: s, payer, events } = job
  const { stats, logger } = mesh
  const first = await r.input.next()
  if (first.done === true) {
    if (r.index === 0) throw new JobError('ERR_EMPTY_INPUT', 'the job has no frames; pass at least one')
    return { items: 0, peers: [], debited: 0n, evSent: 0n, resent: 0 }
  }
  const pairs = spec.pipeline === 'interpolate'
  // An upscale whose result could not fit one job message goes through in windows of one size.
  const windows =
    spec.pipeline === 'upscale' && needsWindows(first.value.width, first.value.height)
      ? planWindows(first.value.width, first.value.height)
      : undefined
  const { width, height } = windows?.[0] ?? first.value
  const deliver = (result: StageResult) => {
    if (r.last) events.emit('result', result)
    r.output.push(result)
  }
  const doubler = spec.doubleRate === true ? new RateDoubler(deliver) : undefined
  const input = doubler === undefined ? r.input : doubler.keep(r.input, first.value)
  const items = workItems(first.value, input, pairs, signal, windows)
  const perFrame = windows?.length ?? 1
  const query: OfferQuery = stageQuery(spec, s, { width, height })
  const allowed = allowedPeers(s)
  // Only sellers we can dial: one we have no address for yet is waited for, not tried and blamed.
  const pickOffer = (q: OfferQuery, exclude: ReadonlySet<string>) => mesh.draw(q, exclude, allowed, signal)
  const stageOptions = {
    pipeline: spec.pipeline,
    ...(spec.model === undefined ? {} : { modelId: spec.model }),
    sender: mesh.sender.address,
    width,
    height,
    itemCount:
      r.index === 0 && Array.isArray(s.input) ? Math.max(0, s.input.length - (pairs ? 1 : 0)) * perFrame : 0,
    maxPricePerUnit: stageMaxPrice(spec, s),
    signal,
    ...passedOn(mesh.options, ['window', 'quoteTimeoutMs', 'openTimeoutMs', 'stallTimeoutMs', 'maxAttempts']),
  }
  const verify = s.verify !== undefined && s.verify.share > 0 ? s.verify : undefined
  // One orchestrator at a time, or (job.parallel) up to that many at once, each lane beyond the
  // first waiting for a seller of its own (lanes.ts).
  const lanes = s.parallel ?? 1
  // Verifying: a verifier per lane (its own checker, kept off its own primary) and one ledger of
  // who was found wrong for them all: a peer blamed in one lane leaves every lane, and what it
  // made there is redone.
  const ledger = verify === undefined ? undefined : new BlameLedger()
  const verifiers: Verifier[] = []
  const laneStages: Stage[] = []
  ledger?.onBlamed((blame) => {
    for (const stage of laneStages) stage.drop(blame.peerId, blameError(blame))
  })
  const newVerifier = (): Verifier => {
    const verifier = new Verifier(
      {
        peer: mesh.peer,
        payer,
        stats,
        logger,
        // Checks run on another peer with the very weights the job settled on.
        choose: async (exclude) => toCandidate(await pickOffer({ ...query }, exclude)),
        ...(ledger === undefined ? {} : { ledger }),
      },
      stageOptions,
      verify!,
    )
    r.verifiers.push(verifier)
    verifiers.push(verifier)
    forwardVerifierEvents(verifier, events, r.index)
    return verifier
  }
  const newStage = (choose: StageComponents['choose'], stageSignal: AbortSignal): Stage => {
    const verifier = verify === undefined ? undefined : newVerifier()
    const stage = new Stage(
      {
        peer: mesh.peer,
        payer,
        stats,
        logger,
        // Lanes wait for the reader before handing out an item; a lone stage before taking one.
        ...(r.output.room === undefined || lanes > 1 ? {} : { room: r.output.room }),
        ...(verifier === undefined ? {} : { verify: verifier }),
        ...(mesh.spareQuotes === undefined ? {} : { spareQuotes: mesh.spareQuotes }),
        choose: verifier === undefined ? choose : awayFromChecker(choose, verifier),
      },
      {
        ...stageOptions,
        signal: stageSignal,
        // A lane gets about its share of the items.
        itemCount: Math.ceil(stageOptions.itemCount / lanes),
      },
    )
    laneStages.push(stage)
    for (const peerId of r.avoid) {
      stage.drop(peerId, new JobError('ERR_PEER_EXCLUDED', `${peerId} already failed this job`))
    }
    const forward = <K extends keyof StageEvents>(name: K) =>
      stage.events.on(name, (detail) => events.emit(name, { ...detail, stage: r.index } as MeshJobEvents[K]))
    for (const name of STAGE_PEER_EVENTS) {
      forward(name)
    }
    return stage
  }
  const choose = async (exclude: ReadonlySet<string>) => {
    const offer = await pickOffer(query, exclude)
    // Verifying compares like with like: the job keeps to the first pick's weights.
    if (verify !== undefined && offer !== undefined) query.sha256 = offer.sha256
    return toCandidate(offer)
  }
  const onResult =
    doubler !== undefined
      ? (result: StageResult) => doubler.result(result)
      : windows === undefined
        ? deliver
        : assembleWindows(windows, first.value.width, first.value.height, deliver, (done, result) => {
            if (r.last) events.emit('progress:windows', { done, of: windows.length, peerId: result.peerId })
          })
  const run = (): Promise<StageReport> => {
    if (lanes > 1) {
      // The job's window, or what orchestrators usually grant.
      const window = mesh.options.window ?? 4
      return runInLanes(
        {
          newStage,
          choose,
          sellers: () => mesh.sellers(query, allowed),
          ...(r.output.room === undefined ? {} : { room: r.output.room }),
          // Results held for checks may be what the others wait behind: check them now.
          ...(verify === undefined ? {} : { behind: () => checkHeld(laneStages) }),
        },
        items,
        onResult,
        {
          lanes,
          startEvery: window,
          // Verifying, a lane also holds up to maxUnchecked results until a check covers them.
          maxAhead: lanes * (window * 2 + (verify === undefined ? 0 : maxUncheckedOf(verify))),
          signal,
        },
      )
    }
    const stage = newStage(choose, signal)
    stage.events.on('result', onResult)
    return stage.run(items)
  }
  try {
    const report = await run()
    doubler?.end()
    await Promise.all(verifiers.map((v) => v.close()))
    return verify === undefined
      ? report
      : { ...report, verification: mergeVerification(verifiers.map((v) => v.report())) }
  } catch (err) {
    for (const v of verifiers) v.abort()
    throw err
  }
}

/** Starts a check of each lane's newest unchecked results. */
function checkHeld(stages: Stage[]): void {
  for (const stage of stages) stage.checkHeld()
}

/** A verifying lane's pick: off the orchestrator its own checks run on, while another will do. */
function awayFromChecker(choose: StageComponents['choose'], verifier: Verifier): StageComponents['choose'] {
  return async (exclude) => {
    const checker = verifier.checkerPeer
    if (checker === undefined || exclude.has(checker)) return choose(exclude)
    return (await choose(new Set([...exclude, checker]))) ?? choose(exclude)
  }
}
