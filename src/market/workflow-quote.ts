/**
 * Quoting a direct workflow's stages ahead of the run. Each stage is quoted for the frame size the
 * previous stage's quote says it outputs, and names that stage's orchestrator as its feeder;
 * a replacement stage is quoted the same way. Kept apart from the run so the rules for who may
 * run a stage (never its own feeder, never one already tried) read in one place.
 */

import type { FramemeshError } from '../errors.js'
import type { TypedEmitter } from '../peer/events.js'
import type { Peer } from '../peer/peer.js'
import type { PeerUse, StageCandidate } from './failover.js'
import { isTextPipeline } from './job-work.js'
import { asFramemeshError, JOB_ERROR_CODES, JobError, refusedEverywhere } from './market-errors.js'
import { FRAME_FORMAT_RGB24, type Quote } from './quote.js'
import { requestQuote } from './quote-protocol.js'
import type { DirectWorkflowComponents, DirectWorkflowEvents, DirectWorkflowOptions } from './workflow.js'

/** A stage's orchestrator with its quote, and the record of its use for the report. */
export interface PlannedStage {
  candidate: StageCandidate
  quote: Quote
  use: PeerUse
}

export interface StageQuoterComponents {
  peer: Pick<Peer, 'dialProtocol'>
  choose: DirectWorkflowComponents['choose']
  /** Hears 'peer:selected' and 'quote:refused' for each orchestrator asked. */
  events: TypedEmitter<DirectWorkflowEvents>
}

export type StageQuoterOptions = Pick<
  DirectWorkflowOptions,
  'stages' | 'sender' | 'maxPricePerUnit' | 'quoteTimeoutMs' | 'quoteAttempts' | 'signal'
>

export interface FrameSize {
  width: number
  height: number
}

/** Quotes each stage in order; a stage's quoted output size is the next stage's input size. */
export async function quoteAllStages(
  components: StageQuoterComponents,
  options: StageQuoterOptions,
  size: FrameSize,
): Promise<PlannedStage[]> {
  const plan: PlannedStage[] = []
  let { width, height } = size
  for (const [index, spec] of options.stages.entries()) {
    // A stage cannot feed itself (a peer does not dial itself): the next stage goes elsewhere.
    const previous = plan[index - 1]?.candidate.peerId
    const planned = await quoteStage(components, options, {
      index,
      size: { width, height },
      exclude: new Set(previous === undefined ? [] : [previous]),
      feeder: previous,
    })
    const last = index === options.stages.length - 1
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

/** An orchestrator quoted for stage `index` (frames of `size`, fed by `feeder`), none in `exclude`. */
export async function quoteStage(
  components: StageQuoterComponents,
  options: StageQuoterOptions,
  stage: { index: number; size: FrameSize; exclude: ReadonlySet<string>; feeder: string | undefined },
): Promise<PlannedStage> {
  const { index, size, feeder } = stage
  const spec = options.stages[index]!
  const excluded = new Set(stage.exclude)
  let lastError: FramemeshError | undefined
  for (let attempt = 1; attempt <= (options.quoteAttempts ?? 3); attempt++) {
    const candidate = await components.choose(index, size, excluded)
    if (candidate === undefined) break
    excluded.add(candidate.peerId)
    components.events.emit('peer:selected', { ...candidate, attempt, stage: index })
    try {
      const quote = await requestQuote(
        { peer: components.peer },
        candidate,
        {
          pipeline: spec.pipeline,
          modelId: candidate.modelId,
          width: size.width,
          height: size.height,
          format: FRAME_FORMAT_RGB24,
          frameCount: 0,
          maxPricePerUnit: options.maxPricePerUnit(index),
          sender: options.sender,
          ...(feeder === undefined ? {} : { feeder }),
        },
        { signal: options.signal, timeoutMs: options.quoteTimeoutMs ?? 10_000 },
      )
      return { candidate, quote, use: { ...candidate, items: 0, debited: 0n, evSent: 0n } }
    } catch (err) {
      lastError = asFramemeshError(err, 'ERR_QUOTE_FAILED')
      components.events.emit('quote:refused', {
        peerId: candidate.peerId,
        code: lastError.code,
        message: lastError.message,
        stage: index,
      })
      if (lastError.code === 'ERR_ABORTED') throw lastError
      if (refusedEverywhere(lastError.code)) break
    }
  }
  throw new JobError(
    lastError?.code ?? JOB_ERROR_CODES.noOffers,
    `no orchestrator quoted stage ${index + 1} (${spec.pipeline}${spec.model === undefined ? '' : ` with model '${spec.model}'`}) of the workflow${lastError === undefined ? '' : `: ${lastError.message}`}`,
    { cause: lastError },
  )
}
