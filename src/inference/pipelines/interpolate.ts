/**
 * The interpolate pipeline: two frames and a position t in [0, 1] → the frame in between, through
 * any model with the interpolate contract (frame0, frame1 images and a float32 t; image out first).
 */
import * as ort from 'onnxruntime-node'
import { FrameInvalidError, InferenceFailedError, InputInvalidError } from '../errors.js'
import { frameToTensor, tensorToFrame } from '../frame-tensor.js'
import type { Frame } from '../types.js'
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
 * Interpolate between two validated, same-sized frames. Chained with then() rather than async:
 * blend runs in ~0.05 ms, and an async wrapper's extra promise is a visible share of that.
 */
export function interpolateFrames(model: RunnableModel, a: Frame, b: Frame, t: number): Promise<Frame> {
  const { manifest } = model
  const [in0, in1, inT] = manifest.inputs
  const output = manifest.outputs[0]
  // t's declared shape with free dims as 1: [1], [1,1,1,1] or [] all carry one value.
  const tDims = inT.shape.map(() => 1)
  // A model that takes frame bytes gets the caller's frames as they are (no copy); converted
  // tensors are fresh and nobody else holds them, so a worker session may take their buffers.
  const first = frameToTensor(a, in0, undefined, { share: true })
  const second = frameToTensor(b, in1, undefined, { share: true })
  const shared = first.data === a.data || second.data === b.data
  const run = model.run(
    {
      [in0.name]: first,
      [in1.name]: second,
      [inT.name]: new ort.Tensor('float32', new Float32Array([t]), tDims),
    },
    { transferInputs: !shared },
  )
  return run.then((result) => {
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
  })
}
