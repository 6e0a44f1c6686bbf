/**
 * A wake-up call for loops that wait on state another task changes (credit arrived, a result came
 * back, room in the window): `wait` resolves on the next `notify`, rejects on the signal or after
 * a timeout with the error the caller names, so no wait is unbounded.
 */
import { AbortedError } from '../errors.js'

export class Notifier {
  #waiters = new Set<() => void>()

  notify(): void {
    const waiters = this.#waiters
    this.#waiters = new Set()
    for (const w of waiters) w()
  }

  wait(options: { signal?: AbortSignal; timeoutMs?: number; onTimeout?: () => Error } = {}): Promise<void> {
    const { signal, timeoutMs } = options
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(signal.reason instanceof Error ? signal.reason : new AbortedError())
        return
      }
      let timer: ReturnType<typeof setTimeout> | undefined
      const done = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        this.#waiters.delete(wake)
      }
      const wake = () => {
        done()
        resolve()
      }
      const onAbort = () => {
        done()
        reject(signal?.reason instanceof Error ? signal.reason : new AbortedError())
      }
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          done()
          reject(options.onTimeout?.() ?? new AbortedError('timed out'))
        }, timeoutMs)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiters.add(wake)
    })
  }
}
