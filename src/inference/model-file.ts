/**
 * Reading a model file for loading. A model can be tens of MB, and whatever touches it in one
 * piece holds the event loop for that long (measured on a 29 MB model: sha256 15 ms, copying it
 * into a session thread's start data 16-26 ms). So the file is read and hashed a chunk at a time,
 * into memory shared with session threads: handing it to a thread then copies nothing here.
 */
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import * as ort from 'onnxruntime-node'
import { ModelCorruptError } from './errors.js'

/** Per read: short enough that hashing it (~0.5 ms) is not noticed by the event loop. */
const CHUNK_BYTES = 1024 * 1024

export interface ModelFile {
  /** The file's bytes, in a SharedArrayBuffer. */
  bytes: Uint8Array
  /** Lower-case hex sha256 of `bytes`. */
  sha256: string
}

/** Throws ModelCorruptError when the file cannot be read or ends before its stated size. */
export async function readModelFile(path: string): Promise<ModelFile> {
  const fail = (reason: string, cause?: unknown) => new ModelCorruptError(path, reason, { cause })
  let file: Awaited<ReturnType<typeof open>>
  try {
    file = await open(path, 'r')
  } catch (err) {
    throw fail(`it cannot be read: ${(err as Error).message}`, err)
  }
  try {
    const size = (await file.stat()).size
    const bytes = new Uint8Array(new SharedArrayBuffer(size))
    const hash = createHash('sha256')
    let at = 0
    while (at < size) {
      const { bytesRead } = await file.read(bytes, at, Math.min(CHUNK_BYTES, size - at), at)
      if (bytesRead === 0) throw fail(`it ended at byte ${at} of ${size} while being read`)
      hash.update(bytes.subarray(at, at + bytesRead))
      at += bytesRead
    }
    return { bytes, sha256: hash.digest('hex') }
  } catch (err) {
    if (err instanceof ModelCorruptError) throw err
    throw fail(`it cannot be read: ${(err as Error).message}`, err)
  } finally {
    await file.close()
  }
}

/**
 * Model bytes as onnxruntime-node takes them: it refuses a view on a SharedArrayBuffer, so such
 * bytes are copied into a buffer of their own (on whichever thread opens the session).
 */
export function ortModelBytes<M extends string | Uint8Array>(model: M): M {
  if (typeof model === 'string' || !(model.buffer instanceof SharedArrayBuffer)) return model
  return model.slice() as M
}

/** An onnxruntime session on a model file's path or bytes (shared bytes are copied first, above). */
export function openOrtSession(
  model: string | Uint8Array,
  options: ort.InferenceSession.SessionOptions,
): Promise<ort.InferenceSession> {
  const own = ortModelBytes(model)
  // Two calls, not one: create's overloads take a path or bytes, not their union.
  return typeof own === 'string'
    ? ort.InferenceSession.create(own, options)
    : ort.InferenceSession.create(own, options)
}
