/**
 * Deadlines and cancellation for network waits: one signal that fires on the caller's abort or
 * after a timeout, and a mapping of whatever the library threw into ERR_ABORTED / ERR_TIMEOUT.
 */
import { AbortedError, FramemeshError, TimeoutError } from '../errors.js'

export interface Deadline {
  signal: AbortSignal
  /** True once the timeout (not the caller) fired. */
  timedOut(): boolean
  /** Clears the timer; call when the wait is over. */
  clear(): void
}

export function deadline(timeoutMs: number, signal?: AbortSignal): Deadline {
  const controller = new AbortController()
  let expired = false
  const timer = setTimeout(() => {
    expired = true
    controller.abort(new TimeoutError(`timed out after ${timeoutMs} ms`))
  }, timeoutMs)
  const onAbort = () => controller.abort(new AbortedError())
  if (signal?.aborted === true) onAbort()
  else signal?.addEventListener('abort', onAbort, { once: true })
  return {
    signal: controller.signal,
    timedOut: () => expired,
    clear() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    },
  }
}

/**
 * Turns an error seen while `d` was running into a typed one: the deadline's own reason when it
 * fired (so callers see ERR_TIMEOUT or ERR_ABORTED, whatever the library threw), else `fallback`.
 */
export function explain(err: unknown, d: Deadline, what: string, fallback: (err: unknown) => Error): Error {
  if (d.signal.aborted) {
    return d.timedOut()
      ? new TimeoutError(`${what} timed out; the remote may be overloaded or unreachable`, { cause: err })
      : new AbortedError(`${what} was aborted`, { cause: err })
  }
  if (err instanceof FramemeshError) return err
  return fallback(err)
}
