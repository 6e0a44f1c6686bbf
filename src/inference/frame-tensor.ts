/**
 * Frames (RGB HWC uint8) ⇄ image tensors as a manifest declares them (NHWC/NCHW, float32/uint8,
 * value range). Conversion reads a sub-region directly so tiling never copies the frame first.
 */
import * as ort from 'onnxruntime-node'
import { InferenceFailedError } from './errors.js'
import { copyRows } from './tiling.js'
import type { Frame, TensorSpec } from './types.js'

export interface Region {
  x: number
  y: number
  width: number
  height: number
}

/** Whether a model input or output is exactly a frame's bytes: uint8, NHWC, values 0–255. */
export function isFrameBytes(spec: TensorSpec): boolean {
  const range = spec.range
  return (
    spec.dtype === 'uint8' &&
    spec.layout === 'NHWC' &&
    (range === undefined || (range[0] === 0 && range[1] === 255))
  )
}

/**
 * Build the model's image tensor from a region of a frame (whole frame by default). With
 * `share`, a whole frame a model takes as its bytes (isFrameBytes) is handed over as it is,
 * without a copy: the tensor then views the caller's buffer, so it must not be transferred to
 * another thread or outlive the frame's contents.
 */
export function frameToTensor(
  frame: Frame,
  spec: TensorSpec,
  region?: Region,
  options: { share?: boolean } = {},
): ort.Tensor {
  if (options.share === true && region === undefined && isFrameBytes(spec)) {
    return new ort.Tensor('uint8', frame.data, [1, frame.height, frame.width, 3])
  }
  const r = region ?? { x: 0, y: 0, width: frame.width, height: frame.height }
  const [lo, hi] = spec.range ?? [0, 255]
  const n = r.width * r.height * 3
  const src = frame.data
  const rowBytes = frame.width * 3
  const nchw = spec.layout === 'NCHW'
  const dims = nchw ? [1, 3, r.height, r.width] : [1, r.height, r.width, 3]
  const whole = r.x === 0 && r.y === 0 && r.width === frame.width && r.height === frame.height
  if (options.share === true && whole && isFrameBytes(spec)) return new ort.Tensor('uint8', src, dims)
  if (spec.dtype === 'uint8') {
    const out = new Uint8Array(n)
    if (isFrameBytes(spec)) copyRows(src, rowBytes, r, out)
    else writePixels(src, rowBytes, r, nchw, out, (v) => v)
    return new ort.Tensor('uint8', out, dims)
  }
  if (lo === 0 && hi === 255 && !nchw && r.x === 0 && r.width === frame.width) {
    // Whole rows, so one contiguous span: constructing from it converts natively in one pass,
    // about twice as fast as allocating then set() (measured at 128²: ~25 vs ~55 µs).
    const s = r.y * rowBytes
    return new ort.Tensor('float32', new Float32Array(src.subarray(s, s + n)), dims)
  }
  const out = new Float32Array(n)
  // The common case (NHWC, 0–255): native bulk conversion, one call per row of the region.
  if (lo === 0 && hi === 255 && !nchw) copyRows(src, rowBytes, r, out)
  else if (lo === 0 && hi === 255) writePixels(src, rowBytes, r, nchw, out, (v) => v)
  else {
    const k = (hi - lo) / 255
    writePixels(src, rowBytes, r, nchw, out, (v) => lo + v * k)
  }
  return new ort.Tensor('float32', out, dims)
}

function writePixels(
  src: Uint8Array,
  rowBytes: number,
  r: Region,
  nchw: boolean,
  out: Float32Array | Uint8Array,
  map: (v: number) => number,
): void {
  const w = r.width
  const plane = r.width * r.height
  let o = 0
  for (let y = 0; y < r.height; y++) {
    let s = (r.y + y) * rowBytes + r.x * 3
    if (nchw) {
      const row = y * w
      for (let x = 0; x < w; x++, s += 3) {
        out[row + x] = map(src[s])
        out[plane + row + x] = map(src[s + 1])
        out[2 * plane + row + x] = map(src[s + 2])
      }
    } else {
      const end = s + w * 3
      for (; s < end; s++) out[o++] = map(src[s])
    }
  }
}

/** Read the model's image output back into a frame: rescale, clamp to 0–255 and round. */
export function tensorToFrame(modelId: string, tensor: ort.Tensor, spec: TensorSpec): Frame {
  const d = tensor.dims
  const nchw = spec.layout === 'NCHW'
  if (d.length !== 4 || d[0] !== 1 || (nchw ? d[1] : d[3]) !== 3) {
    throw new InferenceFailedError(
      modelId,
      `output "${spec.name}" has dims [${d}], expected one ${spec.layout} RGB image`,
    )
  }
  const height = nchw ? d[2] : d[1]
  const width = nchw ? d[3] : d[2]
  const [lo, hi] = spec.range ?? [0, 255]
  const k = 255 / (hi - lo)
  const src = tensor.data as Float32Array | Uint8Array
  if (!nchw && src instanceof Uint8Array && lo === 0 && hi === 255) {
    // Already the frame's bytes and the output tensor's buffer is ours alone: keep it, no copy.
    return { width, height, channels: 3, data: src }
  }
  const out = new Uint8Array(width * height * 3)
  const toByte = (v: number) => {
    const b = Math.round((v - lo) * k)
    if (!(b > 0)) return 0 // also catches NaN
    return Math.min(b, 255)
  }
  if (!nchw) {
    if (lo === 0 && hi === 255) {
      // The hot path of every upscale (millions of values): one tight loop, no closure call. A
      // clamped view clamps to 0–255 and turns NaN into 0 by itself; floor(v + 0.5) is exactly
      // Math.round for float32 values (the sum is exact in a double). ~30% faster than min/max.
      const clamped = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length)
      for (let i = 0; i < clamped.length; i++) clamped[i] = Math.floor(src[i] + 0.5)
    } else for (let i = 0; i < out.length; i++) out[i] = toByte(src[i])
  } else {
    const plane = width * height
    for (let p = 0, o = 0; p < plane; p++, o += 3) {
      out[o] = toByte(src[p])
      out[o + 1] = toByte(src[plane + p])
      out[o + 2] = toByte(src[2 * plane + p])
    }
  }
  return { width, height, channels: 3, data: out }
}
