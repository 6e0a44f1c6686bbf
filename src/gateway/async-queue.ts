/**
 * A one-reader queue that is an async iterable: producers push, the reader pulls in order.
 * `push` resolves once the item is below the high-water mark, so a producer that awaits it
 * slows down with the reader; `fail` ends the reader with the error.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = []
  readonly #highWaterMark: number
  #ended = false
  #error: unknown
  #failed = false
  #wakeReader?: () => void
  readonly #wakeWriters: Array<() => void> = []

  constructor(options: { highWaterMark?: number } = {}) {
    this.#highWaterMark = options.highWaterMark ?? Number.POSITIVE_INFINITY
  }

  push(item: T): Promise<void> {
    if (this.#ended) return Promise.resolve()
    this.#items.push(item)
    this.#wakeReader?.()
    if (this.#items.length <= this.#highWaterMark) return Promise.resolve()
    return new Promise((resolve) => this.#wakeWriters.push(resolve))
  }

  end(): void {
    this.#ended = true
    this.#wakeReader?.()
  }

  fail(error: unknown): void {
    if (this.#ended) return
    this.#failed = true
    this.#error = error
    this.end()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      if (this.#items.length > 0) {
        const item = this.#items.shift() as T
        if (this.#items.length <= this.#highWaterMark) this.#wakeWriters.shift()?.()
        yield item
        continue
      }
      if (this.#failed) throw this.#error
      if (this.#ended) return
      await new Promise<void>((resolve) => {
        this.#wakeReader = resolve
      })
      this.#wakeReader = undefined
    }
  }
}
