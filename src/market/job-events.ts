/**
 * A job's events, as a typed emitter that can also be read as an async iterable. The iterable
 * leaves out 'result' (outputs carry frames and have their own back-pressured stream,
 * `job.results`) and keeps only a bounded backlog for late readers, so a long job's events do
 * not pile up in memory.
 */
import { TypedEmitter } from '../peer/events.js'
import type { MeshJobEvent, MeshJobEvents } from './mesh-types.js'

/** Events the async iterable leaves out: outputs carry frames and have their own stream (`results`). */
const NOT_ITERATED: ReadonlySet<keyof MeshJobEvents> = new Set(['result'])
/** Events kept for an iterator that starts late; older ones are dropped so a long job stays bounded. */
const EVENT_BACKLOG = 1_000

/**
 * A typed emitter that can also be read as an async iterable of the job's events until it ends
 * (every event but 'result': read outputs from `job.results`). An iterator sees the events from
 * its start, plus the last 1,000 before it.
 */
export class JobEvents extends TypedEmitter<MeshJobEvents> implements AsyncIterable<MeshJobEvent> {
  readonly #backlog: MeshJobEvent[] = []
  readonly #readers = new Set<{ queue: MeshJobEvent[]; wake?: () => void }>()
  #closed = false

  override emit<K extends keyof MeshJobEvents>(name: K, detail: MeshJobEvents[K]): void {
    if (!this.#closed && !NOT_ITERATED.has(name)) {
      const event = { type: name, detail } as MeshJobEvent
      this.#backlog.push(event)
      if (this.#backlog.length > EVENT_BACKLOG) this.#backlog.shift()
      for (const reader of this.#readers) {
        reader.queue.push(event)
        reader.wake?.()
      }
    }
    super.emit(name, detail)
  }

  close(): void {
    this.#closed = true
    for (const reader of this.#readers) reader.wake?.()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<MeshJobEvent> {
    const reader: { queue: MeshJobEvent[]; wake?: () => void } = { queue: [...this.#backlog] }
    this.#readers.add(reader)
    try {
      while (true) {
        const next = reader.queue.shift()
        if (next !== undefined) {
          yield next
          continue
        }
        if (this.#closed) return
        await new Promise<void>((resolve) => {
          reader.wake = resolve
        })
        reader.wake = undefined
      }
    } finally {
      this.#readers.delete(reader)
    }
  }
}
