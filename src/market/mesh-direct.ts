/**
 * The direct route of a mesh workflow: frames pass from orchestrator to orchestrator
 * (workflow.ts) and only the last stage's outputs come to us. This module connects that run to
 * the mesh: stages and checkers picked from the order book, the addresses a stage needs to dial
 * the next, the run's events as the job's, and what a failed run leaves for the fallback.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { Frame } from '../inference/types.js'
import type { StageReport } from './failover.js'
import { workItems } from './job-input.js'
import type { WorkInput } from './job-work.js'
import { JobError } from './market-errors.js'
import {
  allowedPeers,
  type FrameSize,
  forwardVerifierEvents,
  type JobContext,
  type MeshContext,
  passedOn,
  STAGE_PEER_EVENTS,
  stageMaxPrice,
  stageQuery,
  toCandidate,
} from './mesh-context.js'
import type { MeshJobEvents } from './mesh-types.js'
import type { OfferQuery } from './offer.js'
import { type VerificationReport, Verifier } from './verifier.js'
import { DirectWorkflow, type StagePrimary } from './workflow.js'

/** What a direct run leaves behind, filled whether it succeeds or fails. */
export interface DirectRunOutcome {
  /** The stages' reports when the run fails (who was used and paid). */
  failedReports: StageReport[]
  /** Each stage's verification (when verifying), whether the run succeeds or fails. */
  checks: VerificationReport[]
  /** The orchestrators to blame when the run fails: the fallback leaves them out. */
  avoid: Set<string>
}

/** The workflow with frames passed stage to stage by the orchestrators (workflow.ts). */
export async function runDirect(
  mesh: MeshContext,
  job: JobContext,
  input: AsyncIterator<Frame>,
  outcome: DirectRunOutcome,
): Promise<StageReport[]> {
  const { submitted: s, specs, payer, events, signal } = job
  const { stats, logger, options } = mesh
  const first = await input.next()
  if (first.done === true) throw new JobError('ERR_EMPTY_INPUT', 'the job has no frames; pass at least one')
  const { width, height } = first.value
  const allowed = allowedPeers(s)
  const maxPrice = (index: number) => stageMaxPrice(specs[index]!, s)
  const query = (index: number, size: FrameSize): OfferQuery => stageQuery(specs[index]!, s, size)
  /** The weights each stage's pick serves (`index:peerId` → sha256): checks must use the same. */
  const weights = new Map<string, string>()
  const verify = s.verify !== undefined && s.verify.share > 0 ? s.verify : undefined
  const workflow = new DirectWorkflow(
    {
      peer: mesh.peer,
      payer,
      stats,
      logger,
      choose: async (index, size, exclude) => {
        const offer = await mesh.draw(query(index, size), exclude, allowed, signal)
        if (offer !== undefined) weights.set(`${index}:${offer.peerId}`, offer.sha256)
        return toCandidate(offer)
      },
      ...(verify === undefined
        ? {}
        : {
            verifier: (index: number, primary: StagePrimary) => {
              const q: OfferQuery = {
                ...query(index, primary),
                modelId: primary.modelId,
                ...sha256Of(weights.get(`${index}:${primary.peerId}`)),
              }
              const verifier = new Verifier(
                {
                  peer: mesh.peer,
                  payer,
                  stats,
                  logger,
                  choose: async (exclude) => toCandidate(await mesh.draw(q, exclude, allowed, signal)),
                },
                {
                  pipeline: specs[index]!.pipeline,
                  sender: mesh.sender.address,
                  width: primary.width,
                  height: primary.height,
                  maxPricePerUnit: maxPrice(index),
                  signal,
                  ...passedOn(options, [
                    'window',
                    'quoteTimeoutMs',
                    'openTimeoutMs',
                    'stallTimeoutMs',
                    'maxAttempts',
                  ]),
                },
                verify,
              )
              forwardVerifierEvents(verifier, events, index)
              return verifier
            },
          }),
      addressesOf: (peerId) => {
        const libp2p = mesh.peer.libp2p
        if (libp2p === undefined) return []
        try {
          return libp2p.getConnections(peerIdFromString(peerId)).map((c) => c.remoteAddr.bytes)
        } catch {
          return []
        }
      },
    },
    {
      stages: specs,
      sender: mesh.sender.address,
      maxPricePerUnit: maxPrice,
      ...(s.confirmFeeds === true ? { confirmFeeds: true } : {}),
      signal,
      ...passedOn(options, ['window', 'quoteTimeoutMs', 'openTimeoutMs', 'stallTimeoutMs']),
    },
  )
  for (const name of STAGE_PEER_EVENTS) {
    workflow.events.on(name, (detail) => events.emit(name, detail as MeshJobEvents[typeof name]))
  }
  workflow.events.on('result', (r) => {
    events.emit('result', r)
    job.push(r)
  })
  const pairs = specs[0]!.pipeline === 'interpolate'
  const items = workItems(first.value, input, pairs, signal)
  // A slow reader holds back the input; what is already inside the chain is bounded by the windows.
  async function* paced(): AsyncIterable<WorkInput> {
    for await (const item of items) {
      await job.room?.(signal)
      yield item
    }
  }
  try {
    const reports = await workflow.run({ width, height }, paced())
    outcome.checks.push(...reports.flatMap((r) => (r.verification === undefined ? [] : [r.verification])))
    return reports
  } catch (err) {
    outcome.failedReports.push(...workflow.reports())
    outcome.checks.push(
      ...outcome.failedReports.flatMap((r) => (r.verification === undefined ? [] : [r.verification])),
    )
    // A stage's orchestrator that failed mid-run was recorded then; it is avoided all the same.
    for (const peerId of workflow.culprits()) {
      if (!workflow.failed().has(peerId)) stats.recordFailure(peerId)
      outcome.avoid.add(peerId)
    }
    for (const peerId of workflow.failed()) outcome.avoid.add(peerId)
    throw err
  }
}

function sha256Of(sha256: string | undefined): { sha256?: string } {
  return sha256 === undefined ? {} : { sha256 }
}
