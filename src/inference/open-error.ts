/**
 * What a failed session open is called. onnxruntime reports a provider it could not start (its
 * library, driver or device missing) the same way as a model it cannot read; the caller should
 * hear which it was, since only one of them is fixed by another model file.
 */
import type * as ort from 'onnxruntime-node'
import { ExecutionProviderFailedError, ModelLoadError } from './errors.js'

/**
 * Why opening a session failed, as the caller should hear it: a provider that could not start
 * (ExecutionProviderFailedError), not "the file was refused", when onnxruntime's message says so.
 */
export function openError(
  modelId: string,
  message: string,
  sessionOptions: ort.InferenceSession.SessionOptions,
  cause?: unknown,
): ModelLoadError | ExecutionProviderFailedError {
  const provider = failedProvider(message, sessionOptions)
  return provider === undefined
    ? new ModelLoadError(modelId, `onnxruntime refused the file (${message})`, { cause })
    : new ExecutionProviderFailedError(provider, message, { cause, modelId })
}

/**
 * The provider onnxruntime could not start, read from its message: appending one names it
 * ("OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library"), WebGPU says
 * so when no adapter is found. undefined when the failure is the model's.
 */
function failedProvider(
  message: string,
  sessionOptions: ort.InferenceSession.SessionOptions,
): string | undefined {
  const wanted = (sessionOptions.executionProviders ?? []).map((p) => (typeof p === 'string' ? p : p.name))
  const appended = /AppendExecutionProvider_(\w+)/.exec(message)?.[1]?.toLowerCase()
  if (appended !== undefined) return wanted.find((p) => p.toLowerCase() === appended) ?? appended
  return wanted.find((p) => p !== 'cpu' && new RegExp(`\\b${p}\\b`, 'i').test(message))
}
