/**
 * Typed errors of the inference engine. Each has a stable `code` callers switch on, and a message
 * that says what to do. `details` carries the machine-readable facts (field, expected, actual).
 */
import { FramemeshError } from '../errors.js'

type Details = Record<string, unknown>

/** A manifest JSON is malformed; `details.field` names the field at fault. */
export class ManifestInvalidError extends FramemeshError {
  constructor(field: string, problem: string, options?: { source?: string; cause?: unknown }) {
    const where = options?.source === undefined ? '' : ` in ${options.source}`
    super(
      'ERR_MANIFEST_INVALID',
      `manifest field "${field}" ${problem}${where}; fix the manifest and retry`,
      {
        cause: options?.cause,
        details: { field, source: options?.source },
      },
    )
  }
}

/** The .onnx file does not match what its manifest declares (names, ranks, dtypes or sha256). */
export class ManifestMismatchError extends FramemeshError {
  constructor(modelId: string, differences: string[], details?: Details) {
    super(
      'ERR_MANIFEST_MISMATCH',
      `model "${modelId}" does not match its manifest: ${differences.join('; ')}. ` +
        'Correct the manifest (or the file) so they agree',
      { details: { modelId, differences, ...details } },
    )
  }
}

/** The .onnx file cannot be read or parsed as an ONNX model. */
export class ModelCorruptError extends FramemeshError {
  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    super(
      'ERR_MODEL_CORRUPT',
      `model file ${file} is not a usable ONNX model (${reason}); replace the file`,
      {
        cause: options?.cause,
        details: { file },
      },
    )
  }
}

export class ModelNotFoundError extends FramemeshError {
  constructor(modelId: string, known: string[]) {
    super(
      'ERR_MODEL_NOT_FOUND',
      `no model "${modelId}" is registered; known models: ${known.length === 0 ? '(none)' : known.join(', ')}. ` +
        'Add it with `framemesh models add <manifest.json>`',
      { details: { modelId, known } },
    )
  }
}

/** An id is registered twice (bring-your-own id collides with another model). */
export class ModelExistsError extends FramemeshError {
  constructor(modelId: string) {
    super('ERR_MODEL_EXISTS', `a model "${modelId}" is already registered; choose another id`, {
      details: { modelId },
    })
  }
}

/** The model's estimated size exceeds the whole memory budget: it can never be warm. */
export class BudgetTooSmallError extends FramemeshError {
  constructor(modelId: string, bytes: number, budgetBytes: number) {
    super(
      'ERR_BUDGET_TOO_SMALL',
      `model "${modelId}" needs about ${mib(bytes)} but the whole memory budget is ${mib(budgetBytes)}; ` +
        'raise the budget or use a smaller model',
      { details: { modelId, bytes, budgetBytes } },
    )
  }
}

/** The model fits the budget, but pinned models hold so much of it that it cannot be loaded now. */
export class BudgetExhaustedError extends FramemeshError {
  constructor(modelId: string, bytes: number, freeable: number, budgetBytes: number) {
    super(
      'ERR_BUDGET_EXHAUSTED',
      `model "${modelId}" needs about ${mib(bytes)} but pinned models leave only ${mib(freeable)} of the ` +
        `${mib(budgetBytes)} budget; unpin a model or raise the budget`,
      { details: { modelId, bytes, freeable, budgetBytes } },
    )
  }
}

/** The model file parsed but onnxruntime could not create a session or the warm-up run failed. */
export class ModelLoadError extends FramemeshError {
  constructor(modelId: string, reason: string, options?: { cause?: unknown }) {
    super('ERR_MODEL_LOAD_FAILED', `model "${modelId}" could not be loaded: ${reason}`, {
      cause: options?.cause,
      details: { modelId },
    })
  }
}

export class QueueFullError extends FramemeshError {
  constructor(modelId: string, maxQueued: number) {
    super(
      'ERR_QUEUE_FULL',
      `model "${modelId}" already has ${maxQueued} requests waiting; retry later or send to another node`,
      { details: { modelId, maxQueued } },
    )
  }
}

/** A frame's shape or buffer is wrong (zero size, channel count, data length). */
export class FrameInvalidError extends FramemeshError {
  constructor(problem: string, details?: Details) {
    super('ERR_FRAME_INVALID', `invalid frame: ${problem}`, { details })
  }
}

export class FrameTooLargeError extends FramemeshError {
  constructor(width: number, height: number, maxPixels: number) {
    super(
      'ERR_FRAME_TOO_LARGE',
      `frame ${width}x${height} has ${width * height} pixels, more than the limit of ${maxPixels}; ` +
        'downscale it or split it before sending',
      { details: { width, height, maxPixels } },
    )
  }
}

/** Raw tensor feeds that do not fit the model's declared inputs. */
export class InputInvalidError extends FramemeshError {
  constructor(modelId: string, problem: string, details?: Details) {
    super('ERR_INPUT_INVALID', `input for model "${modelId}" rejected: ${problem}`, {
      details: { modelId, ...details },
    })
  }
}

/** The model exists but serves another pipeline than the one asked for. */
export class WrongPipelineError extends FramemeshError {
  constructor(modelId: string, actual: string, wanted: string) {
    super(
      'ERR_WRONG_PIPELINE',
      `model "${modelId}" is a ${actual} model, not ${wanted}; pick a ${wanted} model`,
      { details: { modelId, actual, wanted } },
    )
  }
}

/** onnxruntime failed during a run (after inputs were validated). */
export class InferenceFailedError extends FramemeshError {
  constructor(modelId: string, reason: string, options?: { cause?: unknown }) {
    super('ERR_INFERENCE_FAILED', `model "${modelId}" failed while running: ${reason}`, {
      cause: options?.cause,
      details: { modelId },
    })
  }
}

export class ExecutionProviderUnavailableError extends FramemeshError {
  constructor(provider: string, available: string[]) {
    super(
      'ERR_EXECUTION_PROVIDER_UNAVAILABLE',
      `execution provider "${provider}" is not available in this onnxruntime build ` +
        `(available: ${available.join(', ')}); install it or use 'cpu'`,
      { details: { provider, available } },
    )
  }
}

/**
 * A provider this build knows whose libraries or device could not be used when a session opened
 * (e.g. 'cuda' on a machine without CUDA, cuDNN or onnxruntime's CUDA provider library).
 */
export class ExecutionProviderFailedError extends FramemeshError {
  constructor(provider: string, reason: string, options?: { cause?: unknown; modelId?: string }) {
    super(
      'ERR_EXECUTION_PROVIDER_FAILED',
      `execution provider "${provider}" could not start${options?.modelId === undefined ? '' : ` for model "${options.modelId}"`} (${reason}); ` +
        `install what it needs (its onnxruntime provider library, driver and runtime) or leave it out to run on cpu`,
      {
        cause: options?.cause,
        details: { provider, ...(options?.modelId === undefined ? {} : { modelId: options.modelId }) },
      },
    )
  }
}

export class EngineClosedError extends FramemeshError {
  constructor() {
    super('ERR_ENGINE_CLOSED', 'the inference engine is closed; create a new one')
  }
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
}
