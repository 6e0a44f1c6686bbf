import { AbortedError, TimeoutError } from '../errors.js'

/**
 * Races a promise against an AbortSignal: rejects with TimeoutError when the signal fired because
 * of a timeout, AbortedError otherwise. The underlying work is not cancelled (ethers and ganache
 * calls cannot be), only no longer waited for.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (signal === undefined) return promise
  const fail = () => abortError(signal, what)
  if (signal.aborted) {
    promise.catch(() => {})
    return Promise.reject(fail())
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(fail())
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}

/** TimeoutError when `signal` fired because of a timeout, AbortedError otherwise. */
function abortError(signal: AbortSignal, what: string): Error {
  return (signal.reason as { name?: string } | undefined)?.name === 'TimeoutError'
    ? new TimeoutError(`${what} timed out; check that the chain RPC endpoint is reachable and retry`, {
        cause: signal.reason,
      })
    : new AbortedError(`${what} was aborted`, { cause: signal.reason })
}

/** An AbortSignal that fires on the caller's signal or after `timeoutMs`, whichever is first. */
export function withTimeout(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs)
  return signal === undefined ? timeout : AbortSignal.any([signal, timeout])
}

/**
 * Runs `work` with a signal that fires on the caller's signal or after `timeoutMs`, and waits for
 * it no longer than that. Unlike AbortSignal.timeout, whose timer does not keep Node running, the
 * deadline here holds the process open while the wait lasts: a stuck remote signer or RPC call
 * ends in ERR_TIMEOUT instead of a process that silently exits mid-await. A caller that has
 * already given up gets its error at once and `work` never starts: a service told to stop sends
 * no more requests (they would run on at the node, unawaited, after the caller stopped).
 */
export async function withDeadline<T>(
  work: (signal: AbortSignal) => Promise<T>,
  options: { signal?: AbortSignal; timeoutMs: number; what: string },
): Promise<T> {
  if (options.signal?.aborted === true) throw abortError(options.signal, options.what)
  const deadline = new AbortController()
  const timer = setTimeout(
    () => deadline.abort(new DOMException(`${options.what} timed out`, 'TimeoutError')),
    options.timeoutMs,
  )
  const signal =
    options.signal === undefined ? deadline.signal : AbortSignal.any([options.signal, deadline.signal])
  try {
    return await abortable(work(signal), signal, options.what)
  } finally {
    clearTimeout(timer)
  }
}
