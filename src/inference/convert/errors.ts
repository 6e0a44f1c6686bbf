import { FramemeshError } from '../../errors.js'

/** A TF.js layer (or a setting of one) the converter has no ONNX translation for. */
export class UnsupportedLayerError extends FramemeshError {
  constructor(layer: string, className: string, reason: string) {
    super(
      'ERR_UNSUPPORTED_LAYER',
      `layer "${layer}" (${className}) cannot be converted to ONNX: ${reason}. ` +
        'Only Conv2D, Activation(relu/linear), Concatenate, Add, UpSampling2D(nearest), ' +
        'MultiplyBeta and PixelShuffle<N>x are supported; export the model to ONNX with its own tool chain instead.',
      { details: { layer, className } },
    )
  }
}

/** model.json or its weight shards are missing, malformed or disagree with each other. */
export class TfjsModelInvalidError extends FramemeshError {
  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super(
      'ERR_TFJS_MODEL_INVALID',
      `TF.js model at ${path} is not usable: ${reason}. Check that model.json and every weight shard it lists are present and unmodified.`,
      { cause: options?.cause, details: { path } },
    )
  }
}
