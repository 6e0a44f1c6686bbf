// The inference area's public face: the engine and what apps need to call it and handle its errors.
export { builtinModelsDir } from './builtins.js'
export {
  createInferenceEngine,
  DEFAULT_BUDGET_BYTES,
  type InferenceEngine,
  type InferenceEngineComponents,
  type InferenceEngineEvents,
  type InferenceEngineOptions,
  type OpenInferenceEngineOptions,
  openInferenceEngine,
  type RawRunOptions,
  type RunOptions,
  type UpscaleRequestOptions,
} from './engine.js'
export * from './errors.js'
export { DEFAULT_MAX_PIXELS, validateFrame } from './frame.js'
export { frameToTensor, type Region, tensorToFrame } from './frame-tensor.js'
export { loadManifestFile, PIPELINES, parseManifest } from './manifest.js'
export { type GraphInterface, type GraphTensor, inspectOnnx, validateModelFile } from './onnx-inspect.js'
export { createRunQueue, type RunQueue, type RunQueueOptions } from './queue.js'
export {
  createModelRegistry,
  type ModelRecord,
  type ModelRegistry,
  type ModelRegistryOptions,
} from './registry.js'
export {
  createSessionFactory,
  type Feeds,
  type ModelSession,
  type RunSessionOptions,
  type SessionFactory,
  type SessionFactoryOptions,
} from './session.js'
export { DEFAULT_TILING, planTiles, type TilingOptions } from './tiling.js'
export type * from './types.js'
export type { ModelStateEvent, WarmPoolReport } from './warm-pool.js'
