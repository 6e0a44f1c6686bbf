/**
 * Shared shapes of the inference engine. A model knows nothing of who asked or who pays:
 * nothing here mentions peers, markets or tickets.
 */

/** An 8-bit RGB image, rows top to bottom, pixels interleaved (HWC), no padding. */
export interface Frame {
  width: number
  height: number
  /** Always 3 (RGB). Alpha is dropped at decode time. */
  channels: 3
  data: Uint8Array
}

/** The kinds of work framemesh sells. A pipeline fixes the inputs and outputs a model must have. */
export type PipelineId = 'upscale' | 'interpolate' | 'ocr-detect' | 'ocr-recognize' | 'ocr'

export type TensorDataType = 'float32' | 'float16' | 'uint8' | 'int8' | 'int32' | 'int64' | 'bool'

export interface TensorSpec {
  name: string
  /** Tensor layout of image tensors, e.g. 'NCHW' or 'NHWC'; omitted for non-image tensors. */
  layout?: 'NCHW' | 'NHWC'
  dtype: TensorDataType
  /** Dimensions; -1 (or a symbolic name in the file) for a free dimension. */
  shape: number[]
  /** Value range of the tensor's pixels, e.g. [0, 255] or [0, 1]. */
  range?: [number, number]
}

/** What an operator declares about a model file (bring-your-own) or what framemesh declares for built-ins. */
export interface ModelManifest {
  id: string
  pipeline: PipelineId
  /** Path of the .onnx file, relative to the manifest's folder. */
  file: string
  inputs: TensorSpec[]
  outputs: TensorSpec[]
  /** Output size ÷ input size for upscalers (2, 4, ...); 1 otherwise. */
  scale?: number
  licence: string
  description?: string
  /** Hex sha256 of the .onnx file; recorded at registration, checked on load. */
  sha256?: string
  /** Extra files a pipeline needs (e.g. OCR's character key file), relative to the manifest. */
  assets?: Record<string, string>
  /**
   * Operator's estimate of resident bytes while warm (weights + working memory). When absent the
   * engine estimates from the file size; the memory budget counts this number.
   */
  memoryBytes?: number
}

export type ModelState = 'available' | 'loading' | 'warm' | 'failed'

export interface ModelStatus {
  id: string
  pipeline: PipelineId
  state: ModelState
  pinned: boolean
  sha256: string
  /** Estimated resident bytes when warm (what the memory budget counts). */
  bytes: number
  /** When the model was loaded or a use of it last ended (ms since the epoch); absent when not loaded. */
  lastUsed?: number
  error?: string
}

/** A text line found by OCR, with its box in frame pixels (clockwise from top-left). */
export interface TextLine {
  text: string
  confidence: number
  box: [[number, number], [number, number], [number, number], [number, number]]
}
