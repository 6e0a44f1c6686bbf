/**
 * The bench's baseline for models the engine runs in a worker thread: onnxruntime-node called
 * directly in a thread of its own, the plain way an app would do it (inputs posted, copied by
 * postMessage; outputs transferred back; the thread sleeps between calls). It measures what any
 * hand-off to a thread costs on this machine, so the engine's worker rows can be read against
 * both direct calls: on the main thread and in a thread.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import * as ort from 'onnxruntime-node'
import { loaderArgv } from '../src/inference/worker-session.js'

interface Start {
  modelPath: string
  sessionOptions: ort.InferenceSession.SessionOptions
}

/** A tensor as postMessage carries it. */
interface Plain {
  type: ort.Tensor.Type
  data: ort.Tensor.DataType
  dims: readonly number[]
}

type Reply = { ok: true; outputs: Record<string, Plain> } | { ok: false; message: string }

export interface DirectThread {
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>>
  close(): Promise<void>
}

/** Opens `modelPath` with `sessionOptions` in a new thread; one call at a time. */
export async function openDirectThread(
  modelPath: string,
  sessionOptions: ort.InferenceSession.SessionOptions,
): Promise<DirectThread> {
  const start: Start = { modelPath, sessionOptions }
  const worker = new Worker(new URL(import.meta.url), {
    workerData: start,
    execArgv: loaderArgv(process.execArgv),
  })
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve())
    worker.once('error', reject)
  })
  return {
    run(feeds) {
      const plain: Record<string, Plain> = {}
      for (const [name, t] of Object.entries(feeds))
        plain[name] = { type: t.type, data: t.data, dims: t.dims }
      return new Promise((resolve, reject) => {
        worker.once('message', (reply: Reply) => {
          if (!reply.ok) return reject(new Error(reply.message))
          const out: Record<string, ort.Tensor> = {}
          for (const [name, t] of Object.entries(reply.outputs))
            out[name] = new ort.Tensor(t.type, t.data, t.dims)
          resolve(out)
        })
        worker.postMessage(plain)
      })
    },
    async close() {
      await worker.terminate()
    },
  }
}

async function serve(port: NonNullable<typeof parentPort>, start: Start): Promise<void> {
  const session = await ort.InferenceSession.create(start.modelPath, start.sessionOptions)
  port.on('message', async (feeds: Record<string, Plain>) => {
    try {
      const tensors: Record<string, ort.Tensor> = {}
      for (const [name, t] of Object.entries(feeds)) tensors[name] = new ort.Tensor(t.type, t.data, t.dims)
      const result = await session.run(tensors)
      const outputs: Record<string, Plain> = {}
      const buffers: ArrayBuffer[] = []
      for (const [name, t] of Object.entries(result)) {
        outputs[name] = { type: t.type, data: t.data, dims: t.dims }
        buffers.push((t.data as Uint8Array).buffer as ArrayBuffer)
      }
      port.postMessage({ ok: true, outputs } satisfies Reply, buffers)
    } catch (err) {
      port.postMessage({ ok: false, message: (err as Error).message } satisfies Reply)
    }
  })
  port.postMessage('ready')
}

if (!isMainThread && parentPort !== null) await serve(parentPort, workerData as Start)
