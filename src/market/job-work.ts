/**
 * What an orchestrator does with one work item: hands it to the inference engine (whose per-model
 * queue is the back-pressure) and gives back the output: a frame (upscale, interpolate) or the
 * text lines read from the frame (ocr). Stateless per item, so any item can be re-sent to another
 * orchestrator after a failover.
 */
import type { InferenceEngine } from '../inference/engine.js'
import type { Frame, PipelineId, TextLine } from '../inference/types.js'
import { JOB_ERROR_CODES, JobError } from './market-errors.js'

/**
 * The engine calls the market needs (the real engine satisfies it). `ocr` is there when the
 * orchestrator serves the OCR pipeline (see ocr-work.ts, which adds it on top of the engine).
 */
export type WorkEngine = Pick<
  InferenceEngine,
  'models' | 'model' | 'registry' | 'upscale' | 'interpolate'
> & {
  ocr?: (modelId: string, frame: Frame, options: { signal?: AbortSignal }) => Promise<TextLine[]>
}

/** Pipelines the job stream can run. */
export const STREAMABLE_PIPELINES: readonly PipelineId[] = ['upscale', 'interpolate', 'ocr']

export interface WorkInput {
  seq: number
  /** One frame (upscale, ocr) or two (interpolate). */
  frames: Frame[]
  /** Interpolation position between the two frames (0..1). */
  t: number
}

/** What one item gives back: an image, or (ocr) the text lines found in the frame. */
export type WorkOutput = { frame: Frame; lines?: undefined } | { frame?: undefined; lines: TextLine[] }

export function framesPerItem(pipeline: PipelineId): number {
  return pipeline === 'interpolate' ? 2 : 1
}

/** True for pipelines whose results are text lines rather than images. */
export function isTextPipeline(pipeline: PipelineId): boolean {
  return pipeline === 'ocr'
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
): Promise<WorkOutput> {
  switch (pipeline) {
    case 'upscale':
      return { frame: await engine.upscale(modelId, item.frames[0]!, { signal }) }
    case 'interpolate':
      return {
        frame: await engine.interpolate(modelId, item.frames[0]!, item.frames[1]!, item.t, { signal }),
      }
    case 'ocr':
      if (engine.ocr !== undefined) return { lines: await engine.ocr(modelId, item.frames[0]!, { signal }) }
      break
  }
  throw new JobError(
    JOB_ERROR_CODES.unsupportedPipeline,
    `pipeline ${pipeline} is not served on this orchestrator's job stream; use ${STREAMABLE_PIPELINES.join(', ')}`,
  )
}
