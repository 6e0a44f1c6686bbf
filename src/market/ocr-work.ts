/**
 * OCR as a market pipeline. The engine holds OCR as two models (a detector and a recogniser); the
 * market sells it as one offer of pipeline 'ocr', named by the detector's id (as `framemesh run
 * ocr --model` does), priced per input megapixel. This view over the engine presents each
 * detector as an 'ocr' model and adds the `ocr` call the job handler runs. The offer's sha256
 * covers both weight files, so two orchestrators with the same sha256 read with the same models.
 */
import { createHash } from 'node:crypto'
import type { InferenceEngine } from '../inference/engine.js'
import type { OcrPipeline } from '../inference/pipelines/ocr.js'
import { DEFAULT_OCR_RECOGNIZER, openOcrPipeline } from '../inference/pipelines/ocr-models.js'
import type { ModelState, ModelStatus } from '../inference/types.js'
import type { WorkEngine } from './job-work.js'

export interface OcrWorkOptions {
  /** The recogniser every detector is paired with (default ppocr-v4-rec). */
  recognizerId?: string
}

/** The sha256 an ocr offer advertises: of "ocr:<detector sha256>:<recogniser sha256>". */
export function ocrPairSha256(detectorSha256: string, recognizerSha256: string): string {
  return createHash('sha256')
    .update(`ocr:${detectorSha256.toLowerCase()}:${recognizerSha256.toLowerCase()}`)
    .digest('hex')
}

function pairState(a: ModelState, b: ModelState): ModelState {
  if (a === 'failed' || b === 'failed') return 'failed'
  if (a === 'warm' && b === 'warm') return 'warm'
  if (a === 'loading' || b === 'loading') return 'loading'
  return 'available'
}

/**
 * The engine with OCR added: detectors show as 'ocr' models (when the recogniser is registered)
 * and `ocr(detectorId, frame)` reads a frame. An engine without `run` is returned unchanged.
 */
export function withOcr<E extends WorkEngine & Partial<Pick<InferenceEngine, 'run'>>>(
  engine: E,
  options: OcrWorkOptions = {},
): E & Required<Pick<WorkEngine, 'ocr'>> {
  const run = engine.run
  if (run === undefined) return engine as E & Required<Pick<WorkEngine, 'ocr'>>
  const recognizerId = options.recognizerId ?? DEFAULT_OCR_RECOGNIZER
  const pipelines = new Map<string, Promise<OcrPipeline>>()
  const asOcr = (status: ModelStatus): ModelStatus => {
    if (status.pipeline !== 'ocr-detect') return status
    let rec: ModelStatus
    try {
      rec = engine.model(recognizerId)
    } catch {
      return status
    }
    return {
      ...status,
      pipeline: 'ocr',
      state: pairState(status.state, rec.state),
      sha256: ocrPairSha256(status.sha256, rec.sha256),
      bytes: status.bytes + rec.bytes,
    }
  }
  const source = {
    registry: engine.registry,
    run: (id: string, feeds: Parameters<typeof run>[1], o: { signal?: AbortSignal }) =>
      run.call(engine, id, feeds, o),
  }
  return Object.assign(Object.create(engine) as E, {
    models: () => engine.models().map(asOcr),
    model: (id: string) => asOcr(engine.model(id)),
    ocr: async (
      modelId: string,
      frame: Parameters<OcrPipeline['recognize']>[0],
      o: { signal?: AbortSignal },
    ) => {
      let pipeline = pipelines.get(modelId)
      if (pipeline === undefined) {
        pipeline = openOcrPipeline(source, { detectorId: modelId, recognizerId })
        pipelines.set(modelId, pipeline)
        // A failed open is not cached: the next item tries again (e.g. after the model is fixed).
        pipeline.catch(() => pipelines.delete(modelId))
      }
      return (await pipeline).recognize(frame, o)
    },
  })
}
