/**
 * The body of one session worker thread (see worker-session.ts): it opens one onnxruntime session
 * and runs it on request. onnxruntime-node's run holds the thread it is called on for the whole
 * inference, so running it here leaves the main thread free for network and payment work.
 * Tensors travel as plain {type, dims, data}; output buffers are transferred, never copied.
 */
import { parentPort, workerData } from 'node:worker_threads'
import * as ort from 'onnxruntime-node'

/** A tensor as it crosses the thread boundary (structured-clone friendly). */
export interface WireTensor {
  type: ort.Tensor.Type
  dims: readonly number[]
  data: ort.Tensor.DataType
}

export interface ThreadInit {
  model: string | Uint8Array
  sessionOptions: ort.InferenceSession.SessionOptions
}

/** Main → thread. */
export type ThreadRequest =
  | { op: 'run'; id: number; feeds: Record<string, WireTensor> }
  | { op: 'cancel'; id: number }
  | { op: 'release' }

/** Thread → main. */
export type ThreadReply =
  | { op: 'ready'; inputNames: readonly string[]; outputNames: readonly string[] }
  | { op: 'open-failed'; message: string }
  | { op: 'result'; id: number; outputs: Record<string, WireTensor> }
  | { op: 'failed'; id: number; message: string }

/** The buffer of a typed array, when handing it over detaches nothing but that array's own bytes. */
export function ownBuffer(data: ort.Tensor.DataType): ArrayBuffer | undefined {
  if (Array.isArray(data)) return undefined
  const view = data as ArrayBufferView
  const buffer = view.buffer
  if (!(buffer instanceof ArrayBuffer)) return undefined
  return view.byteOffset === 0 && view.byteLength === buffer.byteLength ? buffer : undefined
}

async function serve(): Promise<void> {
  const port = parentPort
  if (port === null) return
  const init = workerData as ThreadInit
  let session: ort.InferenceSession
  try {
    session =
      typeof init.model === 'string'
        ? await ort.InferenceSession.create(init.model, init.sessionOptions)
        : await ort.InferenceSession.create(init.model, init.sessionOptions)
  } catch (err) {
    port.postMessage({ op: 'open-failed', message: (err as Error).message } satisfies ThreadReply)
    port.close()
    return
  }
  port.postMessage({
    op: 'ready',
    inputNames: session.inputNames,
    outputNames: session.outputNames,
  } satisfies ThreadReply)
  // One request at a time, in arrival order (onnxruntime would serialise them on this thread anyway).
  let chain = Promise.resolve()
  // Runs the caller gave up on before they started: skipped (their caller has had its answer).
  const cancelled = new Set<number>()
  port.on('message', (request: ThreadRequest) => {
    if (request.op === 'cancel') {
      cancelled.add(request.id)
      return
    }
    chain = chain.then(async () => {
      if (request.op === 'release') {
        await session.release()
        port.close()
        return
      }
      if (cancelled.delete(request.id)) return
      try {
        const feeds: Record<string, ort.Tensor> = {}
        for (const [name, t] of Object.entries(request.feeds))
          feeds[name] = new ort.Tensor(t.type, t.data as never, t.dims)
        const results = await session.run(feeds)
        const outputs: Record<string, WireTensor> = {}
        const transfer: ArrayBuffer[] = []
        for (const [name, t] of Object.entries(results)) {
          outputs[name] = { type: t.type, dims: t.dims, data: t.data }
          const buffer = ownBuffer(t.data)
          if (buffer !== undefined && !transfer.includes(buffer)) transfer.push(buffer)
        }
        port.postMessage({ op: 'result', id: request.id, outputs } satisfies ThreadReply, transfer)
      } catch (err) {
        port.postMessage({
          op: 'failed',
          id: request.id,
          message: (err as Error).message,
        } satisfies ThreadReply)
      }
    })
  })
}

await serve()
