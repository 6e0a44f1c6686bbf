import * as ort from 'onnxruntime-node'
import { AbortedError } from '../../errors.js'
import { InferenceFailedError } from '../errors.js'
import { assertFrame } from '../media/image.js'
import type { Frame, TextLine } from '../types.js'
import {
  boxesFromProbabilityMap,
  DEFAULT_DETECT_OPTIONS,
  type DetectOptions,
  prepareDetectInput,
} from './ocr-detect.js'
import { alphabetFor } from './ocr-keys.js'
import {
  batchWidth,
  cropAspect,
  ctcGreedyDecode,
  fillLineTensor,
  REC_HEIGHT,
  withMargin,
} from './ocr-recognize.js'

/**
 * The OCR pipeline: PaddleOCR v4 detection then recognition on one frame, giving the text lines
 * in reading order with their boxes. Models run through a `runner` (the engine implements it),
 * so this module knows nothing of sessions, queues or memory budgets.
 */

export interface OcrModelRunner {
  run(
    modelId: string,
    feeds: Record<string, ort.Tensor>,
    /** `transferInputs`: the feeds are the pipeline's own, built for this run (see the engine's run). */
    options: { signal?: AbortSignal; transferInputs?: boolean },
  ): Promise<Record<string, ort.Tensor>>
}

export interface OcrModelRef {
  modelId: string
  /** Name of the image input (PaddleOCR exports call it 'x'). */
  inputName?: string
  /** Name of the output to read; by default the model's only output. */
  outputName?: string
}

export interface OcrPipelineComponents {
  runner: OcrModelRunner
}

export interface OcrPipelineOptions {
  detector: OcrModelRef
  recognizer: OcrModelRef
  /** The recogniser's key file lines (see ocr-keys.ts). */
  keys: readonly string[]
  detect?: Partial<DetectOptions>
  /** Lines read with less confidence are dropped (PaddleOCR's drop_score, default 0.5). */
  minConfidence?: number
  /** Lines recognised per model call (default 6, as PaddleOCR). */
  batchSize?: number
  /** Background added around each box before recognition, × the box height (default 0.3). */
  cropMargin?: number
}

export interface OcrPipeline {
  recognize(frame: Frame, options?: { signal?: AbortSignal }): Promise<TextLine[]>
}

export function createOcrPipeline(
  components: OcrPipelineComponents,
  options: OcrPipelineOptions,
): OcrPipeline {
  const { runner } = components
  const detect: DetectOptions = { ...DEFAULT_DETECT_OPTIONS, ...options.detect }
  const minConfidence = options.minConfidence ?? 0.5
  const batchSize = Math.max(1, options.batchSize ?? 6)
  const cropMargin = options.cropMargin ?? 0.3
  const det = options.detector
  const rec = options.recognizer
  const alphabets = new Map<number, string[]>()

  async function detectBoxes(frame: Frame, signal?: AbortSignal) {
    const input = prepareDetectInput(frame, detect.limitSideLen)
    const feeds = {
      [det.inputName ?? 'x']: new ort.Tensor('float32', input.data, [1, 3, input.height, input.width]),
    }
    const map = pickOutput(det, await runner.run(det.modelId, feeds, { signal, transferInputs: true }))
    const [, , h, w] = map.dims
    if (map.dims.length !== 4 || h !== input.height || w !== input.width) {
      throw new InferenceFailedError(
        det.modelId,
        `detector output is [${map.dims}], expected [1, 1, ${input.height}, ${input.width}]; is this a PaddleOCR DB detector?`,
      )
    }
    return boxesFromProbabilityMap(map.data as Float32Array, w, h, frame.width, frame.height, detect)
  }

  async function recognizeBatch(frame: Frame, detected: TextLine['box'][], signal?: AbortSignal) {
    const boxes = detected.map((box) => withMargin(box, cropMargin))
    const width = batchWidth(boxes.map((box) => cropAspect(box).aspect))
    const slot = 3 * REC_HEIGHT * width
    const data = new Float32Array(boxes.length * slot)
    for (const [i, box] of boxes.entries()) fillLineTensor(frame, box, data, i * slot, width)
    const feeds = {
      [rec.inputName ?? 'x']: new ort.Tensor('float32', data, [boxes.length, 3, REC_HEIGHT, width]),
    }
    const out = pickOutput(rec, await runner.run(rec.modelId, feeds, { signal, transferInputs: true }))
    const [batch, steps, classes] = out.dims
    if (out.dims.length !== 3 || batch !== boxes.length) {
      throw new InferenceFailedError(
        rec.modelId,
        `recogniser output is [${out.dims}], expected [${boxes.length}, steps, classes]; is this a PaddleOCR CTC recogniser?`,
      )
    }
    let alphabet = alphabets.get(classes)
    if (alphabet === undefined) {
      alphabet = alphabetFor(rec.modelId, options.keys, classes)
      alphabets.set(classes, alphabet)
    }
    const probs = out.data as Float32Array
    return boxes.map((_, i) => ctcGreedyDecode(probs, i * steps * classes, steps, classes, alphabet))
  }

  return {
    async recognize(frame, { signal } = {}) {
      assertFrame(frame)
      checkAborted(signal)
      const found = await detectBoxes(frame, signal)
      // Similar aspects share a batch so little of each batch is padding.
      const order = found
        .map((_, i) => i)
        .sort((a, b) => cropAspect(found[a].box).aspect - cropAspect(found[b].box).aspect)
      const lines: (TextLine | undefined)[] = new Array(found.length)
      for (let start = 0; start < order.length; start += batchSize) {
        checkAborted(signal)
        const indices = order.slice(start, start + batchSize)
        const decoded = await recognizeBatch(
          frame,
          indices.map((i) => found[i].box),
          signal,
        )
        indices.forEach((index, k) => {
          // Spaces at the ends come from the margin's background, not from the text.
          const text = decoded[k].text.trim()
          const { confidence } = decoded[k]
          if (text !== '' && confidence >= minConfidence)
            lines[index] = { text, confidence, box: found[index].box }
        })
      }
      return lines.filter((line): line is TextLine => line !== undefined)
    },
  }
}

function pickOutput(ref: OcrModelRef, outputs: Record<string, ort.Tensor>): ort.Tensor {
  const names = Object.keys(outputs)
  const name = ref.outputName ?? (names.length === 1 ? names[0] : undefined)
  const tensor = name === undefined ? undefined : outputs[name]
  if (tensor === undefined || tensor.type !== 'float32') {
    throw new InferenceFailedError(
      ref.modelId,
      `expected one float32 output${ref.outputName === undefined ? '' : ` named "${ref.outputName}"`}, got [${names.join(', ')}]; set outputName`,
    )
  }
  return tensor
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new AbortedError('OCR was aborted', { cause: signal.reason })
}
