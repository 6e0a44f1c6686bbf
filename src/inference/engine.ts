/**
 * The inference engine facade: the registry (what can be served), the warm pool (what is loaded,
 * within a memory budget), per-model run queues (back-pressure) and the frame pipelines, behind one
 * object. Every request is validated at this edge; a bad request fails alone with a typed error and
 * the engine goes on serving the others.
 */
import { isFramemeshError } from '../errors.js'
import { type Logger, silentLogger } from '../logger.js'
import { builtinModelsDir } from './builtins.js'
import {
  BudgetTooSmallError,
  EngineClosedError,
  InferenceFailedError,
  ManifestMismatchError,
  WrongPipelineError,
} from './errors.js'
import type { TypedEvents } from './events.js'
import { checkFeeds, dummyFeeds } from './feeds.js'
import { DEFAULT_MAX_PIXELS, validateFrame } from './frame.js'
import { readModelFile } from './model-file.js'
import {
  checkInterpolateInputs,
  interpolationResult,
  PositionTensors,
  startInterpolation,
} from './pipelines/interpolate.js'
import { type RunnableModel, upscaleFrame } from './pipelines/upscale.js'
import { createRunQueue, type RunQueue, type RunQueueOptions } from './queue.js'
import { createModelRegistry, type ModelRegistry, type ModelRegistryOptions } from './registry.js'
import {
  createSessionFactory,
  type Feeds,
  type ModelSession,
  type RunSessionOptions,
  type SessionFactory,
  type SessionFactoryOptions,
} from './session.js'
import { checkTilingOptions, DEFAULT_TILING, type TilingOptions } from './tiling.js'
import type { Frame, ModelManifest, ModelStatus, PipelineId } from './types.js'
import {
  createWarmPool,
  type Lease,
  type WarmPool,
  type WarmPoolEvents,
  type WarmPoolReport,
} from './warm-pool.js'

export interface InferenceEngineComponents {
  registry: ModelRegistry
  logger?: Logger
  /** Defaults to an onnxruntime-node factory built from `options.session`. */
  sessions?: SessionFactory
}

export interface InferenceEngineOptions {
  /** Memory the warm models may hold together (bytes). Default 2 GiB. */
  budgetBytes?: number
  /** Largest frame accepted, in pixels. Default one 4K frame. */
  maxPixels?: number
  /** Per-model run limits. */
  queue?: RunQueueOptions
  /** Default tiling for frame pipelines (callers may override per request). */
  tiling?: Partial<TilingOptions>
  session?: SessionFactoryOptions
  /**
   * Run the model on a small zero input when loading (on a probe session released afterwards,
   * see session.ts), so a model that cannot run fails at load and runOn 'auto' can time it.
   */
  warmUp?: boolean
  /** Longest a caller waits for a model to load or for room in the budget. */
  loadTimeoutMs?: number
  /** Unload unpinned models unused for this long even without memory pressure. Default: never. */
  idleUnloadMs?: number
}

export interface RunOptions {
  signal?: AbortSignal
}

export interface RawRunOptions extends RunOptions {
  /**
   * The caller will not touch the feeds' buffers again (tensors it built for this run): a worker
   * session moves them to its thread instead of copying them, and they are detached afterwards.
   */
  transferInputs?: boolean
}

export interface UpscaleRequestOptions extends RunOptions, Partial<TilingOptions> {}

export type InferenceEngineEvents = WarmPoolEvents

export interface InferenceEngine extends TypedEvents<InferenceEngineEvents> {
  readonly registry: ModelRegistry
  /** Every registered model with its state (available / loading / warm / failed). */
  models(): ModelStatus[]
  model(id: string): ModelStatus
  /** What is warm now and how much of the budget it holds (what the market advertises). */
  warmReport(): WarmPoolReport
  /**
   * Throws BudgetTooSmallError when the model alone needs more than the whole memory budget, so
   * it could never load (ModelNotFoundError for an unknown id, its own error for a failed one).
   * For a node about to offer a model: it hears this at start, not from every job.
   */
  checkFits(id: string): void
  /** Keep a model warm for good (loads it now). */
  pin(id: string, options?: RunOptions): Promise<void>
  unpin(id: string): void
  warm(id: string, options?: RunOptions): Promise<void>
  unload(id: string): Promise<boolean>
  /** Raw tensors in, raw tensors out, through the model's queue. */
  run(modelId: string, feeds: Feeds, options?: RawRunOptions): Promise<Feeds>
  upscale(modelId: string, frame: Frame, options?: UpscaleRequestOptions): Promise<Frame>
  interpolate(modelId: string, a: Frame, b: Frame, t: number, options?: RunOptions): Promise<Frame>
  close(): Promise<void>
}

export const DEFAULT_BUDGET_BYTES = 2 * 1024 * 1024 * 1024

export function createInferenceEngine(
  components: InferenceEngineComponents,
  options: InferenceEngineOptions = {},
): InferenceEngine {
  const { registry } = components
  const log = (components.logger ?? silentLogger).child('inference')
  const sessions = components.sessions ?? createSessionFactory(options.session)
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS
  const warmUp = options.warmUp ?? true
  const tiling: TilingOptions = { ...DEFAULT_TILING, ...options.tiling }
  checkTilingOptions(tiling)
  const queues = new Map<string, RunQueue>()
  const positions = new PositionTensors()
  let closed = false

  /** Read the file once, check it is still the file that was registered, and open a session on those bytes. */
  const load = async (id: string): Promise<ModelSession> => {
    const record = registry.get(id)
    const started = performance.now()
    // Read and hashed a chunk at a time, into memory a session thread shares (model-file.ts).
    const { bytes, sha256 } = await readModelFile(record.modelPath)
    if (record.sha256 !== '' && sha256 !== record.sha256) {
      const err = new ManifestMismatchError(
        id,
        [`sha256 of ${record.modelPath} changed since registration`],
        {
          field: 'sha256',
          expected: record.sha256,
          actual: sha256,
        },
      )
      record.error = err
      throw err
    }
    // The factory runs the warm-up (on a probe session, see session.ts) and, with runOn 'auto',
    // times it to pick the model's thread.
    const session = await sessions.open(id, bytes, warmUp ? dummyFeeds(record.manifest) : undefined)
    log.info('model warm', { id, ms: Math.round(performance.now() - started), bytes: record.estimatedBytes })
    return session
  }

  // Each session of a model (one per worker thread) holds its own copy of the model's memory,
  // plus what its thread costs.
  const bytesWhenWarm = (id: string) =>
    (registry.get(id).estimatedBytes + (sessions.sessionOverheadBytes ?? 0)) *
    (sessions.sessionsPerModel ?? 1)
  const budgetBytes = options.budgetBytes ?? DEFAULT_BUDGET_BYTES

  const pool: WarmPool<ModelSession> = createWarmPool(
    {
      load,
      unload: async (id, session) => {
        await session.release()
        log.info('model unloaded', { id })
      },
      sizeOf: bytesWhenWarm,
      logger: log,
    },
    {
      budgetBytes,
      waitTimeoutMs: options.loadTimeoutMs,
      idleUnloadMs: options.idleUnloadMs,
    },
  )

  const queueOf = (id: string): RunQueue => {
    let q = queues.get(id)
    if (q === undefined) {
      q = createRunQueue(id, {
        ...options.queue,
        concurrency: options.queue?.concurrency ?? sessions.defaultConcurrency,
      })
      queues.set(id, q)
    }
    return q
  }

  /** A usable record (known, verified, of the wanted pipeline). */
  const usable = (id: string, pipeline?: PipelineId | PipelineId[]) => {
    if (closed) throw new EngineClosedError()
    const record = registry.get(id)
    if (record.error !== undefined) throw record.error
    const actual = record.manifest.pipeline
    if (
      pipeline !== undefined &&
      (Array.isArray(pipeline) ? !pipeline.includes(actual) : pipeline !== actual)
    ) {
      throw new WrongPipelineError(id, actual, Array.isArray(pipeline) ? pipeline.join(' or ') : pipeline)
    }
    return record
  }

  /** onnxruntime and session-thread failures become ERR_INFERENCE_FAILED; typed errors pass. */
  const runError = (id: string, err: unknown): unknown =>
    isFramemeshError(err) ? err : new InferenceFailedError(id, (err as Error).message, { cause: err })

  /**
   * Runs `fn` on a leased session and gives lease and queue slot back when it settles; `finish`
   * (synchronous, after the release) turns its result into the caller's. One reaction for both:
   * for a sub-millisecond model (blend) each promise step is a measurable share of the run.
   */
  const runLeased = <T, R>(
    id: string,
    manifest: ModelManifest,
    lease: Lease<ModelSession>,
    releaseSlot: () => void,
    signal: AbortSignal | undefined,
    fn: (model: RunnableModel) => Promise<T>,
    finish: (value: T) => R,
  ): Promise<R> => {
    let pending: Promise<T>
    try {
      pending = fn(new LeasedModel(manifest, lease.value, signal))
    } catch (err) {
      lease.release()
      releaseSlot()
      return Promise.reject(runError(id, err))
    }
    return pending.then(
      (value) => {
        lease.release()
        releaseSlot()
        return finish(value)
      },
      (err: unknown) => {
        lease.release()
        releaseSlot()
        throw runError(id, err)
      },
    )
  }

  /**
   * Queue slot first, then the warm model: waiting callers do not keep a model in memory. A free
   * slot on a warm model is taken synchronously and the run chained without async wrappers: for
   * a sub-millisecond model (blend) every promise hop here is a measurable share of the run.
   */
  const withModel = <T, R = T>(
    id: string,
    manifest: ModelManifest,
    signal: AbortSignal | undefined,
    fn: (model: RunnableModel) => Promise<T>,
    finish: (value: T) => R = same as (value: T) => R,
  ): Promise<R> => {
    const queue = queueOf(id)
    const slot = signal?.aborted === true ? undefined : queue.tryAcquire()
    const lease = slot === undefined ? undefined : pool.tryAcquire(id)
    if (slot !== undefined && lease !== undefined)
      return runLeased(id, manifest, lease, slot, signal, fn, finish)
    return withModelWhenReady(id, manifest, signal, fn, finish, slot)
  }

  /** The slow path: wait for a queue slot (unless one is held already) and for the model to load. */
  const withModelWhenReady = async <T, R>(
    id: string,
    manifest: ModelManifest,
    signal: AbortSignal | undefined,
    fn: (model: RunnableModel) => Promise<T>,
    finish: (value: T) => R,
    heldSlot: (() => void) | undefined,
  ): Promise<R> => {
    const releaseSlot = heldSlot ?? (await queueOf(id).acquire({ signal }))
    let lease: Lease<ModelSession>
    try {
      lease = await pool.acquire(id, { signal })
    } catch (err) {
      releaseSlot()
      throw err
    }
    return runLeased(id, manifest, lease, releaseSlot, signal, fn, finish)
  }

  const statusOf = (base: ModelStatus): ModelStatus => {
    const s = pool.status(base.id)
    if (base.state === 'failed') return { ...base, pinned: s.pinned }
    return {
      ...base,
      state: s.state,
      pinned: s.pinned,
      ...(s.lastUsed === undefined ? {} : { lastUsed: s.lastUsed }),
      ...(s.error === undefined ? {} : { error: s.error.message }),
    }
  }

  return {
    registry,
    on: (name, listener) => pool.on(name, listener),
    off: (name, listener) => pool.off(name, listener),
    models: () => registry.list().map(statusOf),
    model(id) {
      const found = registry.list().find((m) => m.id === id)
      if (found === undefined) registry.get(id) // throws ModelNotFoundError
      return statusOf(found as ModelStatus)
    },
    warmReport: () => pool.report(),
    checkFits(id) {
      usable(id)
      const bytes = bytesWhenWarm(id)
      if (bytes > budgetBytes) throw new BudgetTooSmallError(id, bytes, budgetBytes)
    },
    async pin(id, opts) {
      usable(id)
      const wasPinned = pool.status(id).pinned
      pool.pin(id)
      try {
        await pool.warm(id, opts)
      } catch (err) {
        // A pin that never got its model warm would only hold budget hostage.
        if (!wasPinned) pool.unpin(id)
        throw err
      }
    },
    unpin: (id) => pool.unpin(id),
    async warm(id, opts) {
      usable(id)
      await pool.warm(id, opts)
    },
    unload: (id) => pool.unload(id),

    run(modelId, feeds, opts = {}) {
      const handOver = opts.transferInputs === true ? { transferInputs: true } : undefined
      let manifest: ModelManifest
      try {
        manifest = usable(modelId).manifest
        checkFeeds(manifest, feeds, maxPixels * 3 * 4)
      } catch (err) {
        return Promise.reject(err)
      }
      return withModel(modelId, manifest, opts.signal, (model) => model.run(feeds, handOver))
    },

    async upscale(modelId, frame, opts = {}) {
      const { manifest } = usable(modelId, 'upscale')
      validateFrame(frame, maxPixels)
      const t: TilingOptions = {
        tileSize: opts.tileSize ?? tiling.tileSize,
        overlap: opts.overlap ?? tiling.overlap,
      }
      checkTilingOptions(t)
      return withModel(modelId, manifest, opts.signal, (model) =>
        upscaleFrame(model, frame, { ...t, signal: opts.signal }),
      )
    },

    interpolate(modelId, a, b, t, opts = {}) {
      let manifest: ModelManifest
      try {
        manifest = usable(modelId, 'interpolate').manifest
        validateFrame(a, maxPixels, 'first frame')
        validateFrame(b, maxPixels, 'second frame')
        checkInterpolateInputs(modelId, a, b, t)
      } catch (err) {
        return Promise.reject(err)
      }
      return withModel(
        modelId,
        manifest,
        opts.signal,
        (model) => startInterpolation(model, a, b, t, positions),
        (result) => interpolationResult(manifest, a, result),
      )
    },

    async close() {
      if (closed) return
      closed = true
      for (const q of queues.values()) q.rejectWaiting(new EngineClosedError())
      await pool.close()
    },
  }
}

/** withModel's finish when the run's result is the caller's. */
function same<T>(value: T): T {
  return value
}

/** As the registry's options; `builtinDirs` defaults to framemesh's models/generated folder. */
export interface OpenInferenceEngineOptions extends InferenceEngineOptions, ModelRegistryOptions {}

/** Convenience for apps and the CLI: build the registry over the given folders, scan it, start the engine. */
export async function openInferenceEngine(
  components: { logger?: Logger; sessions?: SessionFactory },
  options: OpenInferenceEngineOptions,
): Promise<InferenceEngine> {
  const builtinDirs = options.builtinDirs ?? [builtinModelsDir()]
  const registry = createModelRegistry({ logger: components.logger }, { ...options, builtinDirs })
  await registry.scan()
  return createInferenceEngine({ ...components, registry }, options)
}

/** The pipeline's view of a leased session: its runs carry the caller's abort signal. */
class LeasedModel implements RunnableModel {
  constructor(
    readonly manifest: ModelManifest,
    private readonly session: ModelSession,
    private readonly signal: AbortSignal | undefined,
  ) {}

  run(feeds: Feeds, options?: RunSessionOptions): Promise<Feeds> {
    const signal = this.signal
    const transferInputs = options?.transferInputs === true
    // No options object when there is nothing to say: blend's run is ~50 µs, and each allocation shows.
    if (signal === undefined && !transferInputs) return this.session.run(feeds)
    return this.session.run(feeds, transferInputs ? { transferInputs, signal } : { signal })
  }
}
