/**
 * Model sessions that run in worker threads. onnxruntime-node's `run` occupies the calling thread
 * for the whole inference (measured: the event loop does not turn during a run), so on the main
 * thread every socket write, decode and ticket check of the market waits for the model and adds to
 * it. In a worker the model runs while the main thread does that work.
 *
 * Each warm model gets `threads` workers, each with its own session (so its own copy of the
 * weights and working memory, plus a thread with its own V8 isolate: ~20–30 MiB measured). A run goes to the worker with
 * the fewest runs in flight; the engine's per-model queue still decides how many run at once.
 *
 * The hand-off: inputs the caller gives away (`transferInputs`) are moved; other typed-array
 * inputs are copied once into a shared staging slot (staging.ts) that the thread reads in place,
 * instead of postMessage's copy-serialise-copy into fresh buffers; outputs are transferred back.
 * Measured on ppocr-v4-det (float32 input, 2 vCPUs, medians): main → thread 135–153 µs before,
 * 43–63 µs after at 128² (196 KB input); 165–178 → 139–150 µs at 256² (786 KB: the one copy left
 * is most of it). Thread → main stays 50–57 µs at 128², 130–141 µs at 256²: mostly waking the
 * sleeping main thread (on this VM the first postMessage after a run spends 20–50 µs in the
 * wake-up system call, more the longer the other side slept) and code running on caches the run
 * has just flushed (docs/inference-engine.md, "Hand-off to session threads").
 */
import { Worker } from 'node:worker_threads'
import * as ort from 'onnxruntime-node'
import { AbortedError } from '../errors.js'
import { ModelLoadError } from './errors.js'
import { openError } from './open-error.js'
import type { Feeds, ModelSession, RunSessionOptions } from './session.js'
import {
  ownBuffer,
  type RunRequest,
  type ThreadInit,
  type ThreadReply,
  type ThreadRequest,
  type WireInput,
  type WireTensor,
} from './session-wire.js'
import {
  DEFAULT_MAX_SLOT_BYTES,
  nextOffset,
  StagingArea,
  type StagingSlot,
  stageable,
  stageInto,
} from './staging.js'

export interface WorkerSessionOptions {
  /** Workers (each with its own session) per warm model. */
  threads: number
  /** Longest a worker may take to start and open the model. */
  openTimeoutMs: number
  /** Largest input set copied into a shared staging slot (staging.ts); default 4 MiB. */
  maxSlotBytes?: number
  /** On release, how long a thread with no run left may take to close before it is stopped (ms, default 5 s). */
  releaseTimeoutMs?: number
  /**
   * After a thread answers a run and has no other waiting, it keeps checking for the next request
   * this long (ms, busy) before it sleeps; 0: sleeps at once. Default DEFAULT_POLL_AFTER_RUN_MS.
   */
  pollAfterRunMs?: number
  /** Called with each thread once its session is open (lets a supervisor or a test watch or stop it). */
  onThread?: (worker: Worker) => void
  /**
   * Warm the model up in the first thread, on a probe session, before its serving session opens
   * there (session.ts says why a probe). The main thread's event loop keeps turning meanwhile.
   */
  warmUp?: WorkerWarmUp
}

export interface WorkerWarmUp {
  /** Small inputs the model accepts. */
  feeds: Feeds
  /**
   * For runOn 'auto': a model whose best warm-up run takes less than this (ms) is left to the
   * main thread (placeSession answers `runsOn: 'main'` and no thread stays). 0: never.
   */
  mainBelowMs?: number
}

/** Where placeSession put the model: served from worker threads, or cheap enough for the main thread. */
export type Placement = { runsOn: 'worker'; session: ModelSession } | { runsOn: 'main' }

export const DEFAULT_OPEN_TIMEOUT_MS = 120_000
/**
 * Long enough to catch a caller that reads a result and sends the next frame straight away
 * (measured: 40-100 µs from the reply to the next request), short enough that a thread whose caller
 * went quiet gives its core back at once.
 */
export const DEFAULT_POLL_AFTER_RUN_MS = 0.3

/**
 * What a session thread adds beyond the session itself: measured (RSS, esrgan-slim, under tsx)
 * +22 to +33 MiB per warm model in a worker over the same model on the main thread.
 */
export const WORKER_THREAD_BYTES = 24 * 1024 * 1024

/** The worker's entry: the .ts source when running under a TypeScript loader, the build's .js otherwise. */
function threadEntry(): URL {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js'
  return new URL(`./session-thread.${ext}`, import.meta.url)
}

const LOADER_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader'])

/**
 * The parent's module-loader flags only (e.g. tsx's `--import`), so a .ts entry loads as it does in
 * the parent. Everything else stays out: a worker refuses flags like `--input-type` or `--cpu-prof-dir`.
 */
export function loaderArgv(execArgv: readonly string[]): string[] {
  const kept: string[] = []
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!
    const eq = arg.indexOf('=')
    const flag = eq === -1 ? arg : arg.slice(0, eq)
    if (!LOADER_FLAGS.has(flag)) continue
    kept.push(arg)
    if (eq === -1 && i + 1 < execArgv.length) kept.push(execArgv[++i]!)
  }
  return kept
}

interface Pending {
  resolve: (outputs: Feeds) => void
  reject: (err: Error) => void
}

interface Thread {
  worker: Worker
  pending: Map<number, Pending>
  /** Staging slots held by runs this thread has not reported on yet, by run id. */
  held: Map<number, StagingSlot>
  /** The buffer this thread has for each slot (a slot's buffer is sent along when it changed). */
  known: Array<SharedArrayBuffer | undefined>
  /**
   * Runs the caller gave up on while they waited, that the thread has not reported on yet. The
   * thread may have started one already (its answer to the run before was still on its way), so
   * until it reports, the run counts as in flight: the process must not exit, nor the thread be
   * stopped, while onnxruntime computes in it.
   */
  cancelled: Set<number>
  /** Waiting for the thread to have no run in flight (release waits so it never stops a computing run). */
  idle: Array<() => void>
  /** Why the worker is gone, once it is. */
  gone?: Error
}

/**
 * The run's message: inputs the caller hands over (`transferInputs`, a buffer of their own) are
 * moved, typed arrays are copied into a staging slot held until the thread reports on the run,
 * anything else (strings, shared or oversized inputs) rides in the message as postMessage copies it.
 */
function handOff(
  id: number,
  feeds: Feeds,
  transferInputs: boolean,
  thread: Thread,
  staging: StagingArea,
): { request: RunRequest; transfer: ArrayBuffer[] } {
  const inputs: WireInput[] = []
  const transfer: ArrayBuffer[] = []
  const staged: Array<{ name: string; t: ort.Tensor; data: ArrayBufferView; offset: number }> = []
  let bytes = 0
  for (const [name, t] of Object.entries(feeds)) {
    const own = transferInputs ? ownBuffer(t.data) : undefined
    const data = own === undefined ? stageable(t) : undefined
    if (data === undefined || data.buffer instanceof SharedArrayBuffer) {
      inputs.push({ name, type: t.type, dims: t.dims, data: t.data })
      if (own !== undefined && !transfer.includes(own)) transfer.push(own)
      continue
    }
    staged.push({ name, t, data, offset: bytes })
    bytes = nextOffset(bytes, data.byteLength)
  }
  const request: RunRequest = { op: 'run', id, inputs }
  const slot = staged.length === 0 ? undefined : staging.acquire(bytes)
  for (const { name, t, data, offset } of staged) {
    if (slot === undefined) inputs.push({ name, type: t.type, dims: t.dims, data: t.data })
    else {
      stageInto(slot.buffer, offset, data)
      inputs.push({ name, type: t.type, dims: t.dims, offset, length: t.size })
    }
  }
  if (slot === undefined) return { request, transfer }
  thread.held.set(id, slot)
  request.slot = slot.index
  if (thread.known[slot.index] !== slot.buffer) {
    request.buffer = slot.buffer
    thread.known[slot.index] = slot.buffer
  }
  return { request, transfer }
}

/** After a run left `thread`: an idle thread lets the process exit and wakes whoever waits for it. */
function runEnded(thread: Thread): void {
  if (thread.pending.size > 0 || thread.cancelled.size > 0) return
  thread.worker.unref()
  for (const wake of thread.idle.splice(0)) wake()
}

/** Give back the staging slot run `id` held on `thread`, if it held one. */
function freeSlot(thread: Thread, id: number, staging: StagingArea): void {
  const slot = thread.held.get(id)
  if (slot === undefined) return
  thread.held.delete(id)
  staging.release(slot)
}

function fromWire(wire: Record<string, WireTensor>): Feeds {
  const feeds: Feeds = {}
  for (const [name, t] of Object.entries(wire)) feeds[name] = new ort.Tensor(t.type, t.data as never, t.dims)
  return feeds
}

type Opened = { inputNames: readonly string[]; outputNames: readonly string[] }

/**
 * Start one worker and wait until its session is open; ModelLoadError if it cannot be. Resolves
 * `{ staysMain: true }` when its warm-up says the model belongs on the main thread (the thread has ended).
 */
async function startThread(
  modelId: string,
  init: ThreadInit,
  openTimeoutMs: number,
  staging: StagingArea,
): Promise<({ thread: Thread } & Opened) | { staysMain: true }> {
  const worker = new Worker(threadEntry(), { workerData: init, execArgv: loaderArgv(process.execArgv) })
  const thread: Thread = {
    worker,
    pending: new Map(),
    held: new Map(),
    known: [],
    cancelled: new Set(),
    idle: [],
  }
  const ready = await new Promise<Opened | { staysMain: true }>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not terminate(): stopping a thread inside onnxruntime's open or run takes the process down.
      // The thread stops at its next step and ends by itself. Until then it keeps the process
      // alive: a process that exits with the thread still inside onnxruntime's open aborts.
      worker.postMessage({ op: 'release' } satisfies ThreadRequest)
      reject(new ModelLoadError(modelId, `its session thread did not open within ${openTimeoutMs} ms`))
    }, openTimeoutMs)
    const fail = (message: string, cause?: unknown) => {
      clearTimeout(timer)
      reject(new ModelLoadError(modelId, message, { cause }))
    }
    worker.once('error', (err) => fail(`its session thread failed to start (${err.message})`, err))
    worker.once('exit', (code) => fail(`its session thread exited while opening (code ${code})`))
    worker.once('message', (m: ThreadReply) => {
      clearTimeout(timer)
      worker.removeAllListeners('error').removeAllListeners('exit')
      if (m.op === 'ready') resolve(m)
      else if (m.op === 'stays-main') resolve({ staysMain: true })
      else if (m.op === 'open-failed' && m.stage === 'warm-up') fail(`the warm-up run failed (${m.message})`)
      else if (m.op === 'open-failed') {
        clearTimeout(timer)
        reject(openError(modelId, m.message, init.sessionOptions))
      } else fail(`its session thread answered ${m.op} before opening`)
    })
  })
  if ('staysMain' in ready) return ready
  // From here on: answers settle their run; a dying worker fails its runs (and every later one).
  const die = (err: Error) => {
    thread.gone ??= err
    for (const p of thread.pending.values()) p.reject(thread.gone)
    thread.pending.clear()
    for (const wake of thread.idle.splice(0)) wake()
    for (const slot of thread.held.values()) staging.release(slot)
    thread.held.clear()
    thread.cancelled.clear()
  }
  worker.on('message', (m: ThreadReply) => {
    if (m.op !== 'result' && m.op !== 'failed' && m.op !== 'skipped') return
    // The thread is done with the run's input: its slot may take the next one.
    freeSlot(thread, m.id, staging)
    if (thread.cancelled.delete(m.id)) {
      // Skipped, or computed for nobody: either way no longer in the thread.
      runEnded(thread)
      return
    }
    if (m.op === 'skipped') return
    const p = thread.pending.get(m.id)
    if (p === undefined) return
    thread.pending.delete(m.id)
    runEnded(thread)
    if (m.op === 'result') p.resolve(fromWire(m.outputs))
    else p.reject(new Error(m.message))
  })
  worker.on('error', (err) => die(new Error(`the session thread failed: ${err.message}`, { cause: err })))
  worker.on('exit', (code) =>
    die(new Error(`the session thread exited (code ${code}); unload and warm the model again`)),
  )
  // An idle session thread does not keep the process alive; one with runs in flight does.
  worker.unref()
  return { thread, inputNames: ready.inputNames, outputNames: ready.outputNames }
}

/** Open `options.threads` worker sessions on one model, behind the ModelSession interface. */
export async function openWorkerSession(
  modelId: string,
  model: string | Uint8Array,
  sessionOptions: ort.InferenceSession.SessionOptions,
  options: Omit<WorkerSessionOptions, 'warmUp'>,
): Promise<ModelSession> {
  const placed = await placeSession(modelId, model, sessionOptions, options)
  // Without a warm-up no thread answers 'stays-main'.
  if (placed.runsOn === 'main') throw new Error('a worker session was left to the main thread')
  return placed.session
}

/**
 * Start the model's threads: the first warms the model up (if `options.warmUp`), and with
 * `warmUp.mainBelowMs` may find it cheap enough for the main thread, in which case no thread stays
 * and the caller opens it there. Otherwise the other threads open too and one ModelSession serves
 * from all of them.
 */
export async function placeSession(
  modelId: string,
  model: string | Uint8Array,
  sessionOptions: ort.InferenceSession.SessionOptions,
  options: WorkerSessionOptions,
): Promise<Placement> {
  // One staging area for all of the model's threads: its slots number the runs in flight at once.
  const staging = new StagingArea({ maxSlotBytes: options.maxSlotBytes ?? DEFAULT_MAX_SLOT_BYTES })
  const start = (warmUp?: ThreadInit['warmUp']) =>
    startThread(
      modelId,
      {
        model,
        sessionOptions,
        pollAfterRunMs: options.pollAfterRunMs ?? DEFAULT_POLL_AFTER_RUN_MS,
        ...(warmUp === undefined ? {} : { warmUp }),
      },
      options.openTimeoutMs,
      staging,
    )
  const warmUp = options.warmUp
  const first = await start(
    warmUp === undefined
      ? undefined
      : { inputs: wireInputs(warmUp.feeds), mainBelowMs: warmUp.mainBelowMs ?? 0 },
  )
  if ('staysMain' in first) return { runsOn: 'main' }
  const others = await Promise.allSettled(
    Array.from({ length: Math.max(1, options.threads) - 1 }, () => start()),
  )
  const threads = [
    first.thread,
    ...others.flatMap((o) => (o.status === 'fulfilled' && 'thread' in o.value ? [o.value.thread] : [])),
  ]
  const failed = others.find((o) => o.status === 'rejected')
  if (failed !== undefined) {
    // Every thread left is open and idle, so stopping it interrupts no onnxruntime call.
    await Promise.all(threads.map((t) => t.worker.terminate()))
    throw (failed as PromiseRejectedResult).reason
  }
  for (const t of threads) options.onThread?.(t.worker)
  return { runsOn: 'worker', session: servingSession(threads, first, staging, options) }
}

/** The warm-up feeds as they ride in the thread's start data (copied there). */
function wireInputs(feeds: Feeds): WireInput[] {
  return Object.entries(feeds).map(([name, t]) => ({ name, type: t.type, dims: t.dims, data: t.data }))
}

/** One ModelSession over open threads: each run goes to the thread with the fewest runs in flight. */
function servingSession(
  threads: Thread[],
  first: Opened,
  staging: StagingArea,
  options: WorkerSessionOptions,
): ModelSession {
  let nextId = 0
  let released = false
  return {
    runsOn: 'worker',
    inputNames: first.inputNames,
    outputNames: first.outputNames,
    run(feeds: Feeds, runOptions?: RunSessionOptions): Promise<Feeds> {
      const live = threads.filter((t) => t.gone === undefined)
      if (released) return Promise.reject(new Error('the session was released; warm the model again'))
      if (live.length === 0) return Promise.reject(threads[0]!.gone)
      const signal = runOptions?.signal
      if (signal?.aborted === true) {
        return Promise.reject(new AbortedError('the model run was aborted', { cause: signal.reason }))
      }
      const thread = live.reduce((a, b) => (b.pending.size < a.pending.size ? b : a))
      const id = nextId++
      return new Promise<Feeds>((resolve, reject) => {
        // A thread works through its runs in order, so only the first pending one is computing;
        // one behind it is still waiting and leaves at once, as it would have left the queue.
        const onAbort = () => {
          if (thread.pending.keys().next().value === id) return
          thread.pending.delete(id)
          thread.cancelled.add(id)
          thread.worker.postMessage({ op: 'cancel', id } satisfies ThreadRequest)
          reject(new AbortedError('the model run was aborted before it started', { cause: signal?.reason }))
        }
        signal?.addEventListener('abort', onAbort, { once: true })
        const done = () => signal?.removeEventListener('abort', onAbort)
        thread.pending.set(id, {
          resolve: (out) => {
            done()
            resolve(out)
          },
          reject: (err) => {
            done()
            reject(err)
          },
        })
        thread.worker.ref()
        try {
          const { request, transfer } = handOff(
            id,
            feeds,
            runOptions?.transferInputs === true,
            thread,
            staging,
          )
          thread.worker.postMessage(request, transfer)
        } catch (err) {
          // Nothing reached the thread (e.g. an input postMessage cannot copy): the run ends here.
          freeSlot(thread, id, staging)
          thread.pending.delete(id)
          runEnded(thread)
          done()
          reject(err)
        }
      })
    },
    async release() {
      if (released) return
      released = true
      await Promise.all(
        threads.map(async (t) => {
          if (t.gone !== undefined) return
          // Stopping a thread from outside while onnxruntime computes in it takes the whole process
          // down (its binding throws where nothing can catch it: seen as SIGABRT), so the runs
          // already handed over finish first; new ones are refused once released.
          if (t.pending.size > 0 || t.cancelled.size > 0)
            await new Promise<void>((resolve) => t.idle.push(resolve))
          if (t.gone !== undefined) return
          const exited = new Promise<void>((resolve) => t.worker.once('exit', () => resolve()))
          t.worker.postMessage({ op: 'release' } satisfies ThreadRequest)
          // A thread that does not wind down by itself (it has no run left) is stopped.
          const timer = setTimeout(() => void t.worker.terminate(), options.releaseTimeoutMs ?? 5_000)
          await exited
          clearTimeout(timer)
        }),
      )
    },
  }
}
