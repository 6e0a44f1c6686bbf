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
import { DEFAULT_OPEN_TIMEOUT_MS, openWorkerSession, WORKER_THREAD_BYTES } from './worker-session.js'

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
   * 'auto' (default): times the model's warm-up run on the main thread; a model that runs in under
   * `autoMainMs` stays there (a run that short needs no other thread, and handing it to one costs
   * more than the run), any other moves to a worker. Without warm-up feeds it picks 'worker'.
   */
  runOn?: 'worker' | 'main' | 'auto'
  /**
   * With runOn 'auto': a model whose warm-up run (best of up to five, on the engine's small 32×32
   * warm-up inputs) takes less than this stays on the main thread. Default 0.2 ms, i.e. roughly
   * ≤ 3 ms on a 128×128 frame (16× the pixels): blend stays, ESRGAN and the OCR models move.
   * Runs are timed to their promise's settling, so a loop kept busy by other work during the load
   * can send a cheap model to a worker (slower per call, never wrong).
   */
  autoMainMs?: number
  /**
   * With runOn 'worker' (and models 'auto' sends to a worker): threads (each holding its own session, i.e. its own copy of the model's
   * memory) per warm model. Default 1; more only helps with `queue.concurrency` above 1.
   */
  threadsPerModel?: number
  /** With runOn 'worker' or 'auto': longest a session thread may take to start and open its model. */
  openTimeoutMs?: number
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
   * caller. `warmUpFeeds` (small inputs the model accepts) let a runOn 'auto' factory time the model.
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
  const openWorker = (modelId: string, model: string | Uint8Array) =>
    openWorkerSession(modelId, model, sessionOptions, { threads, openTimeoutMs })
  // Memory and concurrency of 'auto' are those of a worker: the larger of the two, known before load.
  const workerShape = {
    sessionOptions,
    sessionsPerModel: threads,
    defaultConcurrency: threads + 1,
    sessionOverheadBytes: WORKER_THREAD_BYTES,
  }
  if (runOn === 'worker') return { ...workerShape, open: openWorker }
  if (runOn === 'auto') {
    const autoMainMs = options.autoMainMs ?? DEFAULT_AUTO_MAIN_MS
    return {
      ...workerShape,
      async open(modelId, model, warmUpFeeds) {
        if (warmUpFeeds === undefined) return openWorker(modelId, model)
        const main = await openMainSession(modelId, model, sessionOptions)
        let best = Number.POSITIVE_INFINITY
        try {
          // Up to five tries, since one slow run may be the first run's one-time allocations or
          // the process being descheduled on a busy machine; stop at the first fast run, or once
          // two runs show the model is clearly heavy (so loading a big model costs two extra runs).
          for (let i = 0; i < AUTO_TRIES && best >= autoMainMs; i++) {
            if (i >= 2 && best >= 10 * autoMainMs) break
            const t0 = performance.now()
            await main.run(warmUpFeeds)
            best = Math.min(best, performance.now() - t0)
          }
        } catch (err) {
          await main.release()
          throw new ModelLoadError(modelId, `the warm-up run failed (${(err as Error).message})`, {
            cause: err,
          })
        }
        if (best < autoMainMs) return main
        await main.release()
        return openWorker(modelId, model)
      },
    }
  }
  return { sessionOptions, open: (modelId, model) => openMainSession(modelId, model, sessionOptions) }
}

/** Default runOn 'auto' threshold: a warm-up run faster than this stays on the main thread. */
export const DEFAULT_AUTO_MAIN_MS = 0.2
const AUTO_TRIES = 5

async function openMainSession(
  modelId: string,
  model: string | Uint8Array,
  sessionOptions: ort.InferenceSession.SessionOptions,
): Promise<ModelSession> {
  let session: ort.InferenceSession
  try {
    session =
      typeof model === 'string'
        ? await ort.InferenceSession.create(model, sessionOptions)
        : await ort.InferenceSession.create(model, sessionOptions)
  } catch (err) {
    throw new ModelLoadError(modelId, `onnxruntime refused the file (${(err as Error).message})`, {
      cause: err,
    })
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
