/**
 * The upscale pipeline: frame → image tensor → model → clamp/round → frame, tiled for large frames.
 * Works with any manifest-described upscaler (NHWC or NCHW, float32 0–255 or 0–1, uint8).
 */
import { InferenceFailedError } from '../errors.js'
import { frameToTensor, tensorToFrame } from '../frame-tensor.js'
import type { Feeds, RunSessionOptions } from '../session.js'
import { DEFAULT_TILING, runTiled, type TilingOptions } from '../tiling.js'
import type { Frame, ModelManifest } from '../types.js'

/** A warm model as pipelines see it: its manifest and a way to run it. */
export interface RunnableModel {
  manifest: ModelManifest
  run(feeds: Feeds, options?: RunSessionOptions): Promise<Feeds>
}

export interface UpscaleOptions extends Partial<TilingOptions> {
  signal?: AbortSignal
}

/** Upscale a validated frame; the output is exactly scale× the input on both axes. */
export async function upscaleFrame(
  model: RunnableModel,
  frame: Frame,
  options: UpscaleOptions = {},
): Promise<Frame> {
  const { manifest } = model
  const scale = manifest.scale ?? 1
  const input = manifest.inputs[0]
  const output = manifest.outputs[0]
  const tiling: TilingOptions = {
    tileSize: options.tileSize ?? DEFAULT_TILING.tileSize,
    overlap: options.overlap ?? DEFAULT_TILING.overlap,
  }
  return runTiled(
    frame,
    scale,
    tiling,
    async (region) => {
      // The tile's tensor is ours alone: a worker session may take its buffer instead of copying it.
      const result = await model.run(
        { [input.name]: frameToTensor(frame, input, region) },
        { transferInputs: true },
      )
      const tensor = result[output.name]
      if (tensor === undefined)
        throw new InferenceFailedError(manifest.id, `the model returned no "${output.name}"`)
      const out = tensorToFrame(manifest.id, tensor, output)
      if (out.width !== region.width * scale || out.height !== region.height * scale) {
        throw new InferenceFailedError(
          manifest.id,
          `a ${region.width}x${region.height} input gave ${out.width}x${out.height}, not ×${scale}; ` +
            "fix the manifest's scale",
        )
      }
      return out
    },
    options.signal,
  )
}
