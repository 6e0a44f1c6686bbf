import { resolve } from 'node:path'
import { WrongPipelineError } from '../errors.js'
import type { ModelManifest } from '../types.js'
import { createOcrPipeline, type OcrModelRunner, type OcrPipeline, type OcrPipelineOptions } from './ocr.js'
import { loadOcrKeys, OcrKeysInvalidError } from './ocr-keys.js'

/**
 * Builds the OCR pipeline for two registered models (a detector and a recogniser): checks their
 * pipelines, takes tensor names from their manifests and loads the recogniser's key file asset.
 * The engine satisfies `OcrModelSource` (its registry plus its queued `run`).
 */
export const DEFAULT_OCR_DETECTOR = 'ppocr-v4-det'
export const DEFAULT_OCR_RECOGNIZER = 'ppocr-v4-rec'

export interface OcrModelSource extends OcrModelRunner {
  registry: { get(id: string): { manifest: ModelManifest; dir: string } }
}

export interface OpenOcrOptions extends Omit<OcrPipelineOptions, 'detector' | 'recognizer' | 'keys'> {
  detectorId?: string
  recognizerId?: string
}

export async function openOcrPipeline(
  source: OcrModelSource,
  options: OpenOcrOptions = {},
): Promise<OcrPipeline> {
  const { detectorId = DEFAULT_OCR_DETECTOR, recognizerId = DEFAULT_OCR_RECOGNIZER, ...rest } = options
  const det = source.registry.get(detectorId)
  const rec = source.registry.get(recognizerId)
  if (det.manifest.pipeline !== 'ocr-detect')
    throw new WrongPipelineError(detectorId, det.manifest.pipeline, 'ocr-detect')
  if (rec.manifest.pipeline !== 'ocr-recognize') {
    throw new WrongPipelineError(recognizerId, rec.manifest.pipeline, 'ocr-recognize')
  }
  const keysFile = rec.manifest.assets?.keys
  if (keysFile === undefined) {
    throw new OcrKeysInvalidError(
      `of model "${recognizerId}"`,
      'is not declared: the manifest needs assets.keys (the character list the model was trained with)',
    )
  }
  const keys = await loadOcrKeys(resolve(rec.dir, keysFile))
  const ref = (id: string, m: ModelManifest) => ({
    modelId: id,
    inputName: m.inputs[0]?.name,
    outputName: m.outputs[0]?.name,
  })
  return createOcrPipeline(
    { runner: source },
    { ...rest, detector: ref(detectorId, det.manifest), recognizer: ref(recognizerId, rec.manifest), keys },
  )
}
