/**
 * What the main thread and a session thread (session-thread.ts) say to each other. Apart from the
 * thread's entry module, which starts serving when imported: an app's own worker thread that
 * embeds the engine imports this, never the entry.
 */
import type * as ort from 'onnxruntime-node'

/** An output as it crosses the thread boundary (structured-clone friendly). */
export interface WireTensor {
  type: ort.Tensor.Type
  dims: readonly number[]
  data: ort.Tensor.DataType
}

/** An input: its own `data` (moved or copied by postMessage), or `length` elements at `offset` in the run's slot. */
export interface WireInput {
  name: string
  type: ort.Tensor.Type
  dims: readonly number[]
  data?: ort.Tensor.DataType
  offset?: number
  length?: number
}

export interface ThreadInit {
  model: string | Uint8Array
  sessionOptions: ort.InferenceSession.SessionOptions
  /**
   * Run these inputs on a probe session first (released before the serving session opens, see
   * session.ts for why a probe). With `mainBelowMs` > 0 and a best run under it, the thread opens
   * no serving session: it answers 'stays-main' and ends.
   */
  warmUp?: { inputs: WireInput[]; mainBelowMs: number }
  /** After answering a run with nothing waiting, keep checking for the next request this long (ms) before sleeping. */
  pollAfterRunMs?: number
}

/** A run; `buffer` comes along only when the thread has not seen this slot's current buffer yet. */
export interface RunRequest {
  op: 'run'
  id: number
  inputs: WireInput[]
  slot?: number
  buffer?: SharedArrayBuffer
}

/** Main → thread. */
export type ThreadRequest = RunRequest | { op: 'cancel'; id: number } | { op: 'release' }

/** Thread → main. 'result', 'failed' and 'skipped' (a cancelled run) each end a run: its slot is free again. */
export type ThreadReply =
  | { op: 'ready'; inputNames: readonly string[]; outputNames: readonly string[] }
  | { op: 'stays-main' }
  | { op: 'open-failed'; stage: 'open' | 'warm-up'; message: string }
  | { op: 'result'; id: number; outputs: Record<string, WireTensor> }
  | { op: 'failed'; id: number; message: string }
  | { op: 'skipped'; id: number }

/** The buffer of a typed array, when handing it over detaches nothing but that array's own bytes. */
export function ownBuffer(data: ort.Tensor.DataType): ArrayBuffer | undefined {
  if (Array.isArray(data)) return undefined
  const view = data as ArrayBufferView
  const buffer = view.buffer
  if (!(buffer instanceof ArrayBuffer)) return undefined
  return view.byteOffset === 0 && view.byteLength === buffer.byteLength ? buffer : undefined
}
