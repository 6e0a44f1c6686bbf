/**
 * A small typed event emitter: `on` returns an unsubscribe function and `waitFor` turns an event
 * into a promise with a filter, an AbortSignal and a timeout, so callers and tests await events
 * instead of sleeping. A listener that throws is reported, never re-thrown: one faulty app
 * listener must not stop the other listeners, the emitting code, or the process.
 */
import { AbortedError, TimeoutError } from '../errors.js'

export type Listener<T> = (detail: T) => void

/** What a listener-error hook is told besides the error itself. */
export interface ListenerErrorInfo {
  /** The event whose listener threw. */
  event: string
  /** The listener that threw (to tell repeat offenders apart). */
  listener: Listener<never>
}

export interface TypedEmitterOptions {
  /**
   * Called each time a listener throws; the remaining listeners still run. Default: one line on
   * stderr the first time each listener throws (repeats from it stay quiet, so a listener that
   * fails on every event cannot flood the log).
   */
  onListenerError?: (error: unknown, info: ListenerErrorInfo) => void
}

export interface WaitForOptions<T> {
  /** Only resolve for events this returns true for. */
  filter?: (detail: T) => boolean
  signal?: AbortSignal
  /** Rejects with ERR_TIMEOUT after this many ms (default 30 s: no wait is unbounded). */
  timeoutMs?: number
}

export class TypedEmitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>()
  readonly #onListenerError: (error: unknown, info: ListenerErrorInfo) => void

  constructor(options: TypedEmitterOptions = {}) {
    this.#onListenerError = options.onListenerError ?? reportOncePerListener()
  }

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
      // One faulty listener must not stop the others, the emitter's caller or the process.
      try {
        ;(listener as Listener<Events[K]>)(detail)
      } catch (err) {
        this.#reportListenerError(err, { event: String(name), listener })
      }
    }
  }

  #reportListenerError(error: unknown, info: ListenerErrorInfo): void {
    try {
      this.#onListenerError(error, info)
    } catch (hookError) {
      // A hook that throws is itself a faulty listener: say so, and still never throw from emit.
      process.stderr.write(
        `framemesh: the onListenerError hook threw while reporting a '${info.event}' listener error: ${describeError(hookError)}\n`,
      )
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

/** The default hook: one stderr line per faulty listener, with the stack to find it by. */
function reportOncePerListener(): (error: unknown, info: ListenerErrorInfo) => void {
  const reported = new WeakSet<Listener<never>>()
  return (error, { event, listener }) => {
    if (reported.has(listener)) return
    reported.add(listener)
    process.stderr.write(
      `framemesh: a listener for '${event}' threw; the other listeners still ran and this listener's later errors are not shown. Fix the listener (or pass onListenerError to the emitter). ${describeError(error)}\n`,
    )
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error)
}
