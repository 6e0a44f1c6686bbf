/**
 * What an orchestrator does with one work item: hands it to the inference engine (whose per-model
 * queue is the back-pressure) and gives back the output. Stateless per item, so any item can be
 * re-sent to another orchestrator after a failover.
 */
import type { InferenceEngine } from '../inference/engine.js'
import type { Frame, PipelineId } from '../inference/types.js'
import { JOB_ERROR_CODES, JobError } from './market-errors.js'

/** The engine calls the market needs (the real engine satisfies it). */
export type WorkEngine = Pick<InferenceEngine, 'models' | 'model' | 'registry' | 'upscale' | 'interpolate'>

/** Pipelines the job stream can run today. */
export const STREAMABLE_PIPELINES: readonly PipelineId[] = ['upscale', 'interpolate']

export interface WorkInput {
  seq: number
  /** One frame (upscale) or two (interpolate). */
  frames: Frame[]
  /** Interpolation position between the two frames (0..1). */
  t: number
}

export function framesPerItem(pipeline: PipelineId): number {
  return pipeline === 'interpolate' ? 2 : 1
}

/** Output ÷ input size of a model (1 unless it is an upscaler). */
export function modelScale(engine: Pick<WorkEngine, 'registry'>, modelId: string): number {
  return engine.registry.get(modelId).manifest.scale ?? 1
}

export async function runWork(
  engine: WorkEngine,
  pipeline: PipelineId,
  modelId: string,
  item: WorkInput,
  signal: AbortSignal,
): Promise<Frame> {
  switch (pipeline) {
    case 'upscale':
      return engine.upscale(modelId, item.frames[0]!, { signal })
    case 'interpolate':
      return engine.interpolate(modelId, item.frames[0]!, item.frames[1]!, item.t, { signal })
    default:
      throw new JobError(
        JOB_ERROR_CODES.unsupportedPipeline,
        `pipeline ${pipeline} cannot run on the job stream yet; use upscale or interpolate`,
      )
  }
}
