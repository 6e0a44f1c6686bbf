/**
 * Parsing and validation of model manifests (bring-your-own and built-in alike). Validation happens
 * once, here, at the edge: code past this point trusts a ModelManifest's types. Every failure is a
 * ManifestInvalidError naming the field at fault, e.g. `inputs[0].shape[2]`.
 */
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { ManifestInvalidError } from './errors.js'
import type { ModelManifest, PipelineId, TensorDataType, TensorSpec } from './types.js'

export const PIPELINES: readonly PipelineId[] = [
  'upscale',
  'interpolate',
  'ocr-detect',
  'ocr-recognize',
  'ocr',
]
export const TENSOR_DATA_TYPES: readonly TensorDataType[] = [
  'float32',
  'float16',
  'uint8',
  'int8',
  'int32',
  'int64',
  'bool',
]
/** Ids become folder names and advert entries: keep them short and path-safe. */
const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/
const SHA256_PATTERN = /^[0-9a-f]{64}$/

export interface LoadedManifest {
  manifest: ModelManifest
  /** Absolute folder of the manifest; `file` and `assets` resolve against it. */
  dir: string
  /** Absolute path of the .onnx file. */
  modelPath: string
}

/** Read and validate a manifest.json; resolves the model file path against the manifest's folder. */
export async function loadManifestFile(manifestPath: string): Promise<LoadedManifest> {
  const source = resolve(manifestPath)
  let text: string
  try {
    text = await readFile(source, 'utf8')
  } catch (err) {
    throw new ManifestInvalidError('(file)', `cannot be read (${(err as Error).message})`, {
      source,
      cause: err,
    })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ManifestInvalidError('(file)', `is not valid JSON (${(err as Error).message})`, {
      source,
      cause: err,
    })
  }
  const manifest = parseManifest(json, source)
  const dir = dirname(source)
  return { manifest, dir, modelPath: resolve(dir, manifest.file) }
}

/** Validate an untrusted JSON value as a ModelManifest (generic rules plus the pipeline's contract). */
export function parseManifest(json: unknown, source?: string): ModelManifest {
  const fail = (field: string, problem: string): never => {
    throw new ManifestInvalidError(field, problem, { source })
  }
  if (!isRecord(json)) return fail('(root)', 'must be a JSON object')
  const id = json.id
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    fail('id', 'must be 1-64 characters of lowercase letters, digits, ".", "_" or "-", starting alphanumeric')
  }
  const pipeline = json.pipeline
  if (typeof pipeline !== 'string' || !PIPELINES.includes(pipeline as PipelineId)) {
    fail('pipeline', `must be one of ${PIPELINES.join(', ')}`)
  }
  const file = json.file
  if (typeof file !== 'string' || file.length === 0)
    fail('file', 'must be a non-empty path to the .onnx file')
  const licence = json.licence
  if (typeof licence !== 'string' || licence.trim().length === 0) {
    fail('licence', 'must name the licence of the model weights')
  }
  const inputs = parseTensorList(json.inputs, 'inputs', fail)
  const outputs = parseTensorList(json.outputs, 'outputs', fail)
  // Strings every run compares or looks up by (the id, the pipeline, tensor names, dtypes and
  // layouts) are kept as V8's one shared copy: see asPropertyKey.
  const manifest: ModelManifest = {
    id: asPropertyKey(id as string),
    pipeline: PIPELINES.find((p) => p === pipeline) as PipelineId,
    file: file as string,
    inputs,
    outputs,
    licence: licence as string,
  }
  if (json.scale !== undefined) {
    if (!Number.isInteger(json.scale) || (json.scale as number) < 1 || (json.scale as number) > 16) {
      fail('scale', 'must be an integer from 1 to 16')
    }
    manifest.scale = json.scale as number
  }
  if (json.description !== undefined) {
    if (typeof json.description !== 'string') fail('description', 'must be a string')
    manifest.description = json.description as string
  }
  if (json.sha256 !== undefined) {
    if (typeof json.sha256 !== 'string' || !SHA256_PATTERN.test(json.sha256)) {
      fail('sha256', 'must be 64 lowercase hex characters')
    }
    manifest.sha256 = json.sha256 as string
  }
  if (json.memoryBytes !== undefined) {
    if (!Number.isSafeInteger(json.memoryBytes) || (json.memoryBytes as number) <= 0) {
      fail('memoryBytes', 'must be a positive integer number of bytes')
    }
    manifest.memoryBytes = json.memoryBytes as number
  }
  if (json.assets !== undefined) {
    if (!isRecord(json.assets)) fail('assets', 'must be an object of name → relative path')
    const assets: Record<string, string> = {}
    for (const [k, v] of Object.entries(json.assets as Record<string, unknown>)) {
      if (typeof v !== 'string' || v.length === 0) fail(`assets.${k}`, 'must be a non-empty path')
      assets[k] = v as string
    }
    manifest.assets = assets
  }
  checkPipelineContract(manifest, fail)
  return manifest
}

type Fail = (field: string, problem: string) => never

function parseTensorList(value: unknown, field: string, fail: Fail): TensorSpec[] {
  if (!Array.isArray(value) || value.length === 0) return fail(field, 'must be a non-empty array of tensors')
  const seen = new Set<string>()
  return value.map((item, i) => {
    const spec = parseTensorSpec(item, `${field}[${i}]`, fail)
    if (seen.has(spec.name)) fail(`${field}[${i}].name`, `repeats the name "${spec.name}"`)
    seen.add(spec.name)
    return spec
  })
}

/**
 * The same string as V8 keeps property keys (one shared copy, compared by address). Tensor names
 * key the feeds and outputs of every run; a name fresh from JSON.parse is looked up in V8's string
 * table on each such use (measured: a three-key feeds object 69 ns against 9 ns), a visible share
 * of a run as short as blend's (~50 µs).
 */
function asPropertyKey(name: string): string {
  return Object.keys({ [name]: 0 })[0] ?? name
}

function parseTensorSpec(value: unknown, field: string, fail: Fail): TensorSpec {
  if (!isRecord(value)) return fail(field, 'must be an object with name, dtype and shape')
  const { name, dtype, shape, layout, range } = value
  if (typeof name !== 'string' || name.length === 0) fail(`${field}.name`, 'must be a non-empty string')
  if (typeof dtype !== 'string' || !TENSOR_DATA_TYPES.includes(dtype as TensorDataType)) {
    fail(`${field}.dtype`, `must be one of ${TENSOR_DATA_TYPES.join(', ')}`)
  }
  if (!Array.isArray(shape) || shape.length > 8) fail(`${field}.shape`, 'must be an array of at most 8 dims')
  ;(shape as unknown[]).forEach((d, j) => {
    if (!Number.isInteger(d) || (d as number) < -1 || d === 0) {
      fail(`${field}.shape[${j}]`, 'must be a positive integer, or -1 for a free dimension')
    }
  })
  const spec: TensorSpec = {
    name: asPropertyKey(name as string),
    dtype: TENSOR_DATA_TYPES.find((d) => d === dtype) as TensorDataType,
    shape: shape as number[],
  }
  if (layout !== undefined) {
    if (layout !== 'NCHW' && layout !== 'NHWC') fail(`${field}.layout`, 'must be "NCHW" or "NHWC"')
    if (spec.shape.length !== 4) fail(`${field}.shape`, `must have 4 dims for layout ${layout as string}`)
    spec.layout = layout === 'NCHW' ? 'NCHW' : 'NHWC'
    const c = spec.shape[layout === 'NCHW' ? 1 : 3]
    if (c !== 3 && c !== -1) fail(`${field}.shape`, `must have 3 (RGB) channels for an image, found ${c}`)
  }
  if (range !== undefined) {
    if (
      !Array.isArray(range) ||
      range.length !== 2 ||
      !range.every((r) => typeof r === 'number' && Number.isFinite(r)) ||
      range[0] >= range[1]
    ) {
      fail(`${field}.range`, 'must be [low, high] with low < high, e.g. [0, 255]')
    }
    spec.range = [range[0], range[1]]
  }
  return spec
}

/** Frame pipelines need image tensors the engine knows how to fill; OCR pipelines check their own. */
function checkPipelineContract(m: ModelManifest, fail: Fail): void {
  const isImage = (t: TensorSpec) => t.layout !== undefined
  const imageDtype = (t: TensorSpec, field: string) => {
    if (t.dtype !== 'float32' && t.dtype !== 'uint8')
      fail(`${field}.dtype`, 'must be float32 or uint8 for images')
  }
  const needImage = (t: TensorSpec | undefined, field: string) => {
    if (t === undefined || !isImage(t))
      return fail(field, 'must be an image tensor with a layout (NCHW or NHWC)')
    imageDtype(t, field)
  }
  if (m.pipeline === 'upscale') {
    if (m.inputs.length !== 1) fail('inputs', 'must hold exactly one image tensor for an upscale model')
    if (m.outputs.length !== 1) fail('outputs', 'must hold exactly one image tensor for an upscale model')
    needImage(m.inputs[0], 'inputs[0]')
    needImage(m.outputs[0], 'outputs[0]')
    if (m.scale === undefined) fail('scale', 'is required for an upscale model (output size ÷ input size)')
  } else if (m.pipeline === 'interpolate') {
    if (m.inputs.length !== 3) fail('inputs', 'must hold frame0, frame1 (images) and t (a scalar tensor)')
    needImage(m.inputs[0], 'inputs[0]')
    needImage(m.inputs[1], 'inputs[1]')
    const t = m.inputs[2]
    if (isImage(t) || t.dtype !== 'float32' || t.shape.some((d) => d !== 1 && d !== -1)) {
      fail('inputs[2]', 'must be the float32 blend position t with every dim 1 (or free), e.g. shape [1]')
    }
    if (m.outputs.length < 1) fail('outputs', 'must hold the interpolated image first')
    needImage(m.outputs[0], 'outputs[0]')
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
