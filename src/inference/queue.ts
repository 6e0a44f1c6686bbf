/**
 * Per-model admission: at most `concurrency` runs at once, at most `maxQueued` callers waiting
 * behind them (FIFO). Callers get back-pressure by awaiting a slot; past the bound they are refused
 * at once with ERR_QUEUE_FULL so a busy node tells the market quickly instead of hoarding work.
 */
import { AbortedError, TimeoutError } from '../errors.js'
import { QueueFullError } from './errors.js'

export interface RunQueueOptions {
  /**
   * Runs admitted at once. A session computes one inference at a time; worker sessions default to
   * threads + 1 (one handed over and waiting in a thread), main-thread ones to 1.
   */
  concurrency?: number
  /** Callers allowed to wait for a slot; one more is refused with ERR_QUEUE_FULL. */
  maxQueued?: number
  /** Longest a caller waits for a slot before ERR_TIMEOUT. */
  waitTimeoutMs?: number
}

export interface RunQueue {
  /** Wait for a slot; call the returned function exactly once when done. */
  acquire(options?: { signal?: AbortSignal }): Promise<() => void>
  /** A free slot now, without waiting (and without a promise), or undefined when none is free. */
  tryAcquire(): (() => void) | undefined
  /** Refuse every waiting caller with `err` (used when the engine closes). */
  rejectWaiting(err: Error): void
  readonly running: number
  readonly waiting: number
}

interface Waiter {
  grant: (release: () => void) => void
  fail: (err: Error) => void
}

export const DEFAULT_QUEUE_OPTIONS = { concurrency: 1, maxQueued: 32, waitTimeoutMs: 120_000 } as const

export function createRunQueue(name: string, options: RunQueueOptions = {}): RunQueue {
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_QUEUE_OPTIONS.concurrency)
  const maxQueued = Math.max(0, options.maxQueued ?? DEFAULT_QUEUE_OPTIONS.maxQueued)
  const waitTimeoutMs = options.waitTimeoutMs ?? DEFAULT_QUEUE_OPTIONS.waitTimeoutMs
  let running = 0
  const waiters: Waiter[] = []

  const makeRelease = () => {
    let done = false
    return () => {
      if (done) return
      done = true
      const next = waiters.shift()
      // Hand the slot straight to the next waiter so nobody can jump the queue in between.
      if (next !== undefined) next.grant(makeRelease())
      else running--
    }
  }

  return {
    get running() {
      return running
    },
    get waiting() {
      return waiters.length
    },
    rejectWaiting(err) {
      for (const w of [...waiters]) w.fail(err)
    },
    tryAcquire() {
      if (running >= concurrency) return undefined
      running++
      return makeRelease()
    },
    acquire({ signal } = {}) {
      if (signal?.aborted === true) {
        return Promise.reject(
          new AbortedError(`waiting for model "${name}" was aborted`, { cause: signal.reason }),
        )
      }
      if (running < concurrency) {
        running++
        return Promise.resolve(makeRelease())
      }
      if (waiters.length >= maxQueued) return Promise.reject(new QueueFullError(name, maxQueued))
      return new Promise<() => void>((resolve, reject) => {
        const cleanup = () => {
          clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
        }
        const leave = (err: Error) => {
          const i = waiters.indexOf(waiter)
          if (i >= 0) waiters.splice(i, 1)
          cleanup()
          reject(err)
        }
        const waiter: Waiter = {
          grant: (release) => {
            cleanup()
            resolve(release)
          },
          fail: leave,
        }
        const onAbort = () =>
          leave(new AbortedError(`waiting for model "${name}" was aborted`, { cause: signal?.reason }))
        const timer = setTimeout(
          () =>
            leave(
              new TimeoutError(
                `no slot for model "${name}" within ${waitTimeoutMs} ms; retry or send elsewhere`,
              ),
            ),
          waitTimeoutMs,
        )
        signal?.addEventListener('abort', onAbort, { once: true })
        waiters.push(waiter)
      })
    },
  }
}
