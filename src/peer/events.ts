/**
 * A small typed event emitter: `on` returns an unsubscribe function and `waitFor` turns an event
 * into a promise with a filter, an AbortSignal and a timeout, so callers and tests await events
 * instead of sleeping.
 */
import { AbortedError, TimeoutError } from '../errors.js'

export type Listener<T> = (detail: T) => void

export interface WaitForOptions<T> {
  /** Only resolve for events this returns true for. */
  filter?: (detail: T) => boolean
  signal?: AbortSignal
  /** Rejects with ERR_TIMEOUT after this many ms (default 30 s: no wait is unbounded). */
  timeoutMs?: number
}

export class TypedEmitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>()

  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(name)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(name, set)
    }
    set.add(listener as Listener<never>)
    return () => this.off(name, listener)
  }

  off<K extends keyof Events>(name: K, listener: Listener<Events[K]>): void {
    this.#listeners.get(name)?.delete(listener as Listener<never>)
  }

  emit<K extends keyof Events>(name: K, detail: Events[K]): void {
    const set = this.#listeners.get(name)
    if (set === undefined) return
    for (const listener of [...set]) {
      // One faulty listener must not stop the others (or the emitter's caller).
      try {
        ;(listener as Listener<Events[K]>)(detail)
      } catch (err) {
        queueMicrotask(() => {
          throw err
        })
      }
    }
  }

  listenerCount<K extends keyof Events>(name: K): number {
    return this.#listeners.get(name)?.size ?? 0
  }

  waitFor<K extends keyof Events>(name: K, options: WaitForOptions<Events[K]> = {}): Promise<Events[K]> {
    const timeoutMs = options.timeoutMs ?? 30_000
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted === true) {
        reject(new AbortedError(`stopped waiting for '${String(name)}': aborted`))
        return
      }
      const cleanup = () => {
        off()
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', onAbort)
      }
      const off = this.on(name, (detail) => {
        if (options.filter !== undefined && !options.filter(detail)) return
        cleanup()
        resolve(detail)
      })
      const timer = setTimeout(() => {
        cleanup()
        reject(new TimeoutError(`no '${String(name)}' event within ${timeoutMs} ms`))
      }, timeoutMs)
      const onAbort = () => {
        cleanup()
        reject(new AbortedError(`stopped waiting for '${String(name)}': aborted`))
      }
      options.signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}
