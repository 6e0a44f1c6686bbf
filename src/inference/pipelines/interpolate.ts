/**
 * The interpolate pipeline: two frames and a position t in [0, 1] → the frame in between, through
 * any model with the interpolate contract (frame0, frame1 images and a float32 t; image out first).
 */
import * as ort from 'onnxruntime-node'
import { FrameInvalidError, InferenceFailedError, InputInvalidError } from '../errors.js'
import { frameToTensor, isFrameBytes, tensorToFrame } from '../frame-tensor.js'
import type { Feeds } from '../session.js'
import type { Frame, ModelManifest } from '../types.js'
import type { RunnableModel } from './upscale.js'

export function checkInterpolateInputs(modelId: string, a: Frame, b: Frame, t: number): void {
  if (a.width !== b.width || a.height !== b.height) {
    throw new FrameInvalidError(
      `frames are ${a.width}x${a.height} and ${b.width}x${b.height}; send two frames of one size`,
      {
        a: [a.width, a.height],
        b: [b.width, b.height],
      },
    )
  }
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > 1) {
    throw new InputInvalidError(
      modelId,
      `t is ${t}; it must be a number from 0 (first frame) to 1 (second frame)`,
    )
  }
}

/**
 * Interpolate between two validated, same-sized frames: starts the model's run, whose result
 * interpolationResult turns into the frame. Two steps rather than one async function so that the
 * engine can give the model back and convert in one promise reaction: blend runs in ~0.05 ms, and
 * every extra promise step is a visible share of that.
 */
export function startInterpolation(
  model: RunnableModel,
  a: Frame,
  b: Frame,
  t: number,
  positions?: PositionTensors,
): Promise<Feeds> {
  const inputs = model.manifest.inputs
  const in0 = inputs[0]
  const in1 = inputs[1]
  const inT = inputs[2]
  // A model that takes frame bytes gets the caller's frames as they are (no copy); converted
  // tensors are fresh and nobody else holds them, so a worker session may take their buffers.
  const first = frameToTensor(a, in0, undefined, SHARE)
  const second = frameToTensor(b, in1, undefined, SHARE)
  const shared = isFrameBytes(in0) || isFrameBytes(in1)
  // Inputs handed away (transferInputs) are detached afterwards, so only a run that keeps its
  // inputs may use a cached position tensor.
  const position =
    shared && positions !== undefined
      ? positions.get(t, inT.shape.length)
      : positionTensor(t, inT.shape.length)
  return model.run(
    { [in0.name]: first, [in1.name]: second, [inT.name]: position },
    shared ? undefined : TRANSFER_INPUTS,
  )
}

/** The interpolated frame from a run's outputs; `a` is one of the input frames (for its size). */
export function interpolationResult(manifest: ModelManifest, a: Frame, result: Feeds): Frame {
  const output = manifest.outputs[0]
  const tensor = result[output.name]
  if (tensor === undefined)
    throw new InferenceFailedError(manifest.id, `the model returned no "${output.name}"`)
  const out = tensorToFrame(manifest.id, tensor, output)
  if (out.width !== a.width || out.height !== a.height) {
    throw new InferenceFailedError(
      manifest.id,
      `${a.width}x${a.height} inputs gave a ${out.width}x${out.height} frame`,
    )
  }
  return out
}

const TRANSFER_INPUTS = { transferInputs: true } as const
const SHARE = { share: true } as const

/** t as the model declares it, free dims as 1: [1], [1,1,1,1] or [] all carry one value. */
function positionTensor(t: number, rank: number): ort.Tensor {
  return new ort.Tensor('float32', offHeapScalar(t), new Array<number>(rank).fill(1))
}

/**
 * A one-value float32 array with its own ArrayBuffer. V8 keeps a small typed array made from
 * values (`new Float32Array([t])`) inside the JS heap and must move it out the first time native
 * code asks for its buffer: measured on blend at 128², ~1.5 µs of a 60 µs run.
 */
function offHeapScalar(value: number): Float32Array {
  const out = new Float32Array(new ArrayBuffer(4))
  out[0] = value
  return out
}

/**
 * Position tensors by value, never written after they are made, for runs that keep their inputs.
 * A stream interpolates at the same few positions (0.5, or k/n) over and over; making the tensor
 * afresh costs an ArrayBuffer allocation per frame (~0.7 µs of blend's 60 µs run at 128²).
 * Holds at most `max` values; past that it starts afresh.
 */
export class PositionTensors {
  /** By rank, then by value: number keys, no string built per call. */
  private readonly byRank: Array<Map<number, ort.Tensor>> = []
  private size = 0

  constructor(private readonly max = 16) {}

  get(t: number, rank: number): ort.Tensor {
    if (this.size >= this.max && this.byRank[rank]?.has(t) !== true) {
      // Many positions (a caller sweeping t): start afresh rather than grow; each is cheap to make.
      this.byRank.length = 0
      this.size = 0
    }
    let byValue = this.byRank[rank]
    if (byValue === undefined) {
      byValue = new Map()
      this.byRank[rank] = byValue
    }
    let tensor = byValue.get(t)
    if (tensor === undefined) {
      tensor = positionTensor(t, rank)
      byValue.set(t, tensor)
      this.size++
    }
    return tensor
  }
}
