/**
 * Lets the dev chain close ganache only once it has answered every request it took.
 *
 * ganache's close() stops taking requests but does not wait for those it is serving (its own
 * source says so, pointing at ganache issue 3499). One still running when the chain database
 * closes (an eth_estimateGas, a sent transaction) fails inside ganache with levelup's "Database
 * is not open", which nothing there handles, and it is never answered. The process that runs the
 * chain gets an unhandled rejection; levelup's errors are not native Errors and carry no
 * enumerable field, so ava prints it as a bare `Error {}`.
 *
 * Every request, over HTTP or in-process, goes through the provider's `_requestRaw`: the gate
 * counts them there, refuses new ones once closing, and waits for the rest.
 */
import { settledWithin } from '../settled.js'

/** The part of ganache's EthereumProvider the gate wraps. */
export interface RawRequestProvider {
  _requestRaw?: (args: { method: string; params?: unknown[] }) => Promise<{ value: Promise<unknown> }>
}

export interface RequestGate {
  /** Requests ganache is serving now. */
  inFlight(): number
  /**
   * Refuses new requests from now on (with `refusal()`) and resolves once none is in flight:
   * true, or false when some were still running after `timeoutMs`.
   */
  close(timeoutMs: number): Promise<boolean>
}

const ignore = () => {}

export function gateRequests(provider: RawRequestProvider, refusal: () => Error): RequestGate {
  const original = provider._requestRaw?.bind(provider)
  const running = new Set<Promise<void>>()
  let closing = false
  if (original !== undefined) {
    provider._requestRaw = (args) => {
      if (closing) return Promise.reject(refusal())
      const request = original(args)
      // Settles once ganache is done with the request, however it ended; the caller still gets
      // its result or error through `request`.
      const done = request.then((r) => r.value).then(ignore, ignore)
      running.add(done)
      void done.then(() => running.delete(done))
      return request
    }
  }
  return {
    inFlight: () => running.size,
    close(timeoutMs) {
      // No request starts after this, so the ones running now are all there is to wait for.
      closing = true
      return settledWithin(running, timeoutMs)
    },
  }
}
