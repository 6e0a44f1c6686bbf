/**
 * A job's results as an async iterable with back-pressure. The job pushes results in order;
 * before it takes the next input item it waits for `room()`, so at most `capacity` results sit
 * unread (plus what is already in flight, bounded by the window): a slow reader slows the job
 * instead of letting a long video pile up in memory. One reader only; the queue hands each
 * result out once and forgets it.
 */
import { FramemeshError } from '../errors.js'
import { Notifier } from './job-notify.js'

export class ResultsTakenError extends FramemeshError {
  constructor() {
    super(
      'ERR_RESULTS_TAKEN',
      "a job's results stream can be read once; keep the first iterator, or submit with collect: true to get every frame in `done`",
    )
  }
}

export class ResultQueue<T> implements AsyncIterable<T> {
  readonly #capacity: number
  readonly #items: T[] = []
  readonly #changed = new Notifier()
  #closed = false
  #failure?: Error
  #taken = false

  /** `capacity`: results held unread before `room()` makes the producer wait (at least 1). */
  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity)
  }

  get size(): number {
    return this.#items.length
  }

  /** Adds a result; never blocks (the producer waits on `room()` before starting more work). */
  push(item: T): void {
    if (this.#closed) return
    this.#items.push(item)
    this.#changed.notify()
  }

  /** Resolves once fewer than `capacity` results are unread; rejects on the signal or a failure. */
  async room(signal?: AbortSignal): Promise<void> {
    while (this.#items.length >= this.#capacity && this.#failure === undefined) {
      await this.#changed.wait(signal === undefined ? {} : { signal })
    }
  }

  /** No more results: the reader finishes after the last one. */
  close(): void {
    this.#closed = true
    this.#changed.notify()
  }

  /** The job failed: the reader gets the error after the results already queued. */
  fail(error: Error): void {
    this.#failure ??= error
    this.#closed = true
    this.#changed.notify()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.#taken) throw new ResultsTakenError()
    this.#taken = true
    while (true) {
      const item = this.#items.shift()
      if (item !== undefined) {
        this.#changed.notify()
        yield item
        continue
      }
      if (this.#failure !== undefined) throw this.#failure
      if (this.#closed) return
      await this.#changed.wait()
    }
  }
}

/** Every result kept (a job submitted with collect: true): any number of readers, from the start. */
export class CollectedResults<T> implements AsyncIterable<T> {
  readonly items: T[] = []
  readonly #changed = new Notifier()
  #closed = false
  #failure?: Error

  push(item: T): void {
    this.items.push(item)
    this.#changed.notify()
  }

  close(): void {
    this.#closed = true
    this.#changed.notify()
  }

  fail(error: Error): void {
    this.#failure ??= error
    this.close()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    let read = 0
    while (true) {
      if (read < this.items.length) {
        yield this.items[read++]!
        continue
      }
      if (this.#failure !== undefined) throw this.#failure
      if (this.#closed) return
      await this.#changed.wait()
    }
  }
}
