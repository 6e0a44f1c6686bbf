/**
 * onnxruntime-node sessions: one InferenceSession per warm model, created once, reused for every
 * run, released on unload. Execution providers and thread counts come from options so an operator
 * with the CUDA provider installed can use it; 'cpu' is always appended as the fallback.
 * By default (runOn 'auto') a model's session lives in a worker thread (worker-session.ts),
 * because a run holds the thread it is called on until the inference is done; only a model whose
 * warm-up run is too short to be worth the hand-off (blend: ~0.04 ms) stays on the main thread.
 */
import * as ort from 'onnxruntime-node'
import { ExecutionProviderUnavailableError, ModelLoadError } from './errors.js'
import { openOrtSession, ortModelBytes } from './model-file.js'
import { openError } from './open-error.js'
import { DEFAULT_OPEN_TIMEOUT_MS, placeSession, WORKER_THREAD_BYTES } from './worker-session.js'

export type OrtTensor = ort.Tensor
export type Feeds = Record<string, ort.Tensor>

export interface SessionFactoryOptions {
  /** In order of preference, e.g. ['cuda', 'cpu']. Default ['cpu']. */
  executionProviders?: string[]
  /** Threads one run may use; default lets onnxruntime pick (all cores). */
  intraOpNumThreads?: number
  interOpNumThreads?: number
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all'
  /** onnxruntime's own log level: 0 verbose … 4 fatal. Default 3 (errors only). */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4
  /**
   * Let idle worker threads spin waiting for work. Off by default: every warm model owns a thread
   * pool, and spinning pools of idle models steal CPU from the one that is running.
   */
  allowSpinning?: boolean
  /**
   * Where runs execute. 'worker': in worker threads, so the main thread keeps serving
   * the network while a model runs; costs a thread with its own V8 isolate (~20–30 MiB, counted
   * in the budget) per warm model. 'main': on the calling thread (no extra memory; a run blocks the event loop).
   * 'auto' (default): times the model's warm-up run in a session thread; a model that runs in
   * under `autoMainMs` is opened on the main thread instead (a run that short needs no other
   * thread, and handing it to one costs more than the run), any other is served from that thread.
   * Without warm-up feeds it picks 'worker'.
   */
  runOn?: 'worker' | 'main' | 'auto'
  /**
   * With runOn 'auto': a model whose warm-up run (best of up to five after an untimed first, on the engine's small 32×32
   * warm-up inputs) takes less than this stays on the main thread. Default 0.2 ms, i.e. roughly
   * ≤ 3 ms on a 128×128 frame (16× the pixels): blend stays, ESRGAN and the OCR models move.
   * The thread times them with nothing else on its event loop, so the main thread's load does
   * not count.
   */
  autoMainMs?: number
  /**
   * With runOn 'worker' (and models 'auto' sends to a worker): threads (each holding its own session, i.e. its own copy of the model's
   * memory) per warm model. Default 1; more only helps with `queue.concurrency` above 1.
   */
  threadsPerModel?: number
  /** With runOn 'worker' or 'auto': longest a session thread may take to start and open its model. */
  openTimeoutMs?: number
  /**
   * With runOn 'worker' or 'auto': after answering a run with no other waiting, a session thread
   * keeps checking (busy) for the next one this long before it sleeps, so frames sent one after
   * another do not each pay for waking it up. Default 0.3 ms; 0 turns it off.
   */
  pollAfterRunMs?: number
}

export interface RunSessionOptions {
  /**
   * The caller will not touch the input tensors again, so a worker session may move their
   * buffers to its thread instead of copying them (they are detached afterwards).
   */
  transferInputs?: boolean
  /**
   * Aborts a run that has not started computing (one waiting behind another in a worker thread)
   * with ERR_ABORTED. A run that is computing cannot be stopped; main-thread sessions ignore it.
   */
  signal?: AbortSignal
}

export interface ModelSession {
  /** The thread its runs execute on (what runOn 'auto' picked). */
  readonly runsOn?: 'main' | 'worker'
  readonly inputNames: readonly string[]
  readonly outputNames: readonly string[]
  run(feeds: Feeds, options?: RunSessionOptions): Promise<Feeds>
  release(): Promise<void>
}

export interface SessionFactory {
  /**
   * Create a session from a file path or from the bytes already read (and hash-checked) by the
   * caller. `warmUpFeeds` (small inputs the model accepts): the factory runs them before it returns
   * (a failure is ModelLoadError) and a runOn 'auto' factory times the model with them.
   */
  open(modelId: string, model: string | Uint8Array, warmUpFeeds?: Feeds): Promise<ModelSession>
  readonly sessionOptions: ort.InferenceSession.SessionOptions
  /** Sessions one warm model holds (its memory counts this many times). Default 1. */
  readonly sessionsPerModel?: number
  /**
   * Runs per model the engine admits at once unless its `queue.concurrency` says otherwise.
   * Worker sessions take one more than their threads: the next input then already waits in a
   * thread when a run ends, instead of the thread idling while the main thread hands it over.
   */
  readonly defaultConcurrency?: number
  /** Memory each session costs beyond the model's own estimate (a worker thread's isolate). */
  readonly sessionOverheadBytes?: number
}

/** Throws ExecutionProviderUnavailableError for a provider this onnxruntime build does not know. */
export function createSessionFactory(options: SessionFactoryOptions = {}): SessionFactory {
  const wanted = options.executionProviders ?? ['cpu']
  const known = ort.listSupportedBackends().map((b) => b.name)
  for (const p of wanted) {
    if (!known.includes(p)) throw new ExecutionProviderUnavailableError(p, known)
  }
  const providers = wanted.includes('cpu') ? wanted : [...wanted, 'cpu']
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: providers,
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    logSeverityLevel: options.logSeverityLevel ?? 3,
    extra: spinning(options.allowSpinning ?? false),
    ...(options.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: options.intraOpNumThreads }),
    ...(options.interOpNumThreads === undefined ? {} : { interOpNumThreads: options.interOpNumThreads }),
  }
  const runOn = options.runOn ?? 'auto'
  const threads = Math.max(1, Math.floor(options.threadsPerModel ?? 1))
  const openTimeoutMs = options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS
  // Memory and concurrency of 'auto' are those of a worker: the larger of the two, known before load.
  const workerShape = {
    sessionOptions,
    sessionsPerModel: threads,
    defaultConcurrency: threads + 1,
    sessionOverheadBytes: WORKER_THREAD_BYTES,
  }
  const autoMainMs = options.autoMainMs ?? DEFAULT_AUTO_MAIN_MS
  return {
    ...(runOn === 'main' ? { sessionOptions } : workerShape),
    async open(modelId, model, warmUpFeeds) {
      if (runOn === 'main') {
        // Shared bytes copied once for the probe and the serving session both.
        const own = ortModelBytes(model)
        if (warmUpFeeds !== undefined) await probe(modelId, own, sessionOptions, warmUpFeeds)
        return openMainSession(modelId, own, sessionOptions)
      }
      // The warm-up (and 'auto''s timing of it) runs in the session thread, so loading a model
      // does not hold this thread's event loop; only a model 'auto' leaves here opens here.
      const placed = await placeSession(modelId, model, sessionOptions, {
        threads,
        openTimeoutMs,
        ...(options.pollAfterRunMs === undefined ? {} : { pollAfterRunMs: options.pollAfterRunMs }),
        ...(warmUpFeeds === undefined
          ? {}
          : { warmUp: { feeds: warmUpFeeds, mainBelowMs: runOn === 'auto' ? autoMainMs : 0 } }),
      })
      return placed.runsOn === 'worker' ? placed.session : openMainSession(modelId, model, sessionOptions)
    },
  }
}

/**
 * The warm-up on this thread (runOn 'main'): runs `feeds` on a session of its own, released
 * afterwards, so a model that cannot run fails at load. It runs on a probe rather than on the session that will
 * serve because onnxruntime keeps running inputs of another size slower in a session whose first
 * runs had the warm-up's small size (measured: the PaddleOCR detector at 128², 4–8 % slower after
 * warm-up runs at 32², 256² or 512²; 0–3 % after warm-up runs at 128²). The serving session's
 * first run is then a real input. Worker placements do the same inside their thread.
 */
async function probe(
  modelId: string,
  model: string | Uint8Array,
  sessionOptions: ort.InferenceSession.SessionOptions,
  feeds: Feeds,
): Promise<void> {
  const session = await openMainSession(modelId, model, sessionOptions)
  try {
    await session.run(feeds)
  } catch (err) {
    throw new ModelLoadError(modelId, `the warm-up run failed (${(err as Error).message})`, { cause: err })
  } finally {
    await session.release()
  }
}

/** Default runOn 'auto' threshold: a warm-up run faster than this stays on the main thread. */
export const DEFAULT_AUTO_MAIN_MS = 0.2

async function openMainSession(
  modelId: string,
  model: string | Uint8Array,
  sessionOptions: ort.InferenceSession.SessionOptions,
): Promise<ModelSession> {
  let session: ort.InferenceSession
  try {
    session = await openOrtSession(model, sessionOptions)
  } catch (err) {
    throw openError(modelId, (err as Error).message, sessionOptions, err)
  }
  let released = false
  return {
    runsOn: 'main',
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    run: (feeds) => session.run(feeds),
    async release() {
      if (released) return
      released = true
      await session.release()
    },
  }
}

/** onnxruntime session config entries (flattened by the binding to `session.intra_op.allow_spinning`). */
function spinning(allow: boolean): Record<string, unknown> {
  const v = allow ? '1' : '0'
  return { session: { intra_op: { allow_spinning: v }, inter_op: { allow_spinning: v } } }
}
