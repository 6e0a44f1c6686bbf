/**
 * Frames for the inference benches, and the direct onnxruntime calls an app holding frames makes
 * (plain onnxruntime code, none of the engine's): shared by inference.ts and inference-split.ts.
 */
import * as ort from 'onnxruntime-node'
import type { Frame } from '../src/inference/types.js'

/** A size×size RGB test frame, different for each `seed`. */
export function benchFrame(size: number, seed: number): Frame {
  const data = new Uint8Array(size * size * 3)
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed * 17 + ((i / 3) | 0) * 7) & 255
  return { width: size, height: size, channels: 3, data }
}

/** uint8 NHWC over the frame's own bytes, as the built-in image models take them. */
export const frameTensor = (f: Frame) => new ort.Tensor('uint8', f.data, [1, f.height, f.width, 3])

/** The first output of a uint8 NHWC image model, as a frame (its bytes, not copied). */
export function outputFrame(
  session: ort.InferenceSession,
  out: ort.InferenceSession.OnnxValueMapType,
): Frame {
  const t = out[session.outputNames[0]!] as ort.Tensor
  return { width: t.dims[2]!, height: t.dims[1]!, channels: 3, data: t.data as Uint8Array }
}
