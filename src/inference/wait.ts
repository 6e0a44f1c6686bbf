/**
 * Abortable, time-limited waiting on a promise. The promise itself keeps running (onnxruntime work
 * cannot be interrupted); only this caller stops waiting for it.
 */
import { AbortedError, TimeoutError } from '../errors.js'

export async function waitFor<T>(
  promise: Promise<T>,
  options: { signal?: AbortSignal; timeoutMs?: number; what: string },
): Promise<T> {
  const { signal, timeoutMs, what } = options
  if (signal?.aborted === true) throw new AbortedError(`${what} was aborted`, { cause: signal.reason })
  if (signal === undefined && timeoutMs === undefined) return promise
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        if (timeoutMs !== undefined) {
          timer = setTimeout(
            () =>
              reject(
                new TimeoutError(`${what} did not finish within ${timeoutMs} ms; retry or raise the timeout`),
              ),
            timeoutMs,
          )
        }
        if (signal !== undefined) {
          onAbort = () => reject(new AbortedError(`${what} was aborted`, { cause: signal.reason }))
          signal.addEventListener('abort', onAbort, { once: true })
        }
      }),
    ])
  } finally {
    if (timer !== undefined) clearTimeout(timer)
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
  }
}

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted === true) throw new AbortedError(`${what} was aborted`, { cause: signal.reason })
}
