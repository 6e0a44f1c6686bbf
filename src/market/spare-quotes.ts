/**
 * One spare quote per (orchestrator, job spec), for the broadcaster's next job of the same kind.
 *
 * Without one, a job's start waits for a quote: agreeing the quote stream's protocol (a round trip)
 * and the request itself (another). Between two otherwise idle processes on loopback that is
 * ~4–5 ms of a job's ~15 ms start, a visible share of a short job. Jobs of one kind often follow
 * each other (a stream cut into segments, a batch of clips), so a stage that takes a quote asks
 * for the next one in the background, and the next job of that kind to that orchestrator starts
 * from it while it is still well inside its expiry. A quote binds its price until then, so a
 * spare buys nothing the broadcaster could not have asked for at that moment.
 *
 * An orchestrator may no longer honour a spare (it restarted, or its clock runs ahead): the stage
 * then asks it again rather than hold that against it (see failover.ts).
 */
import type { Logger } from '../logger.js'
import type { DialTarget, Peer } from '../peer/index.js'
import { setMostRecent } from '../recent-map.js'
import type { JobSpec, Quote } from './quote.js'
import { requestQuote } from './quote-protocol.js'

export interface SpareQuotesComponents {
  peer: Pick<Peer, 'dialProtocol'>
  logger?: Logger
  /** Clock for expiry checks (ms); Date.now by default. */
  now?: () => number
}

export interface SpareQuotesOptions {
  /** A spare closer than this to its expiry is dropped, not used (ms, default 5 s). */
  marginMs?: number
  /** Spares kept at most; the oldest goes first (default 64). */
  maxSpares?: number
  /** Timeout of a background quote request (ms, default 10 s). */
  timeoutMs?: number
}

/** Codes a job opened from a spare may fail with because the spare went stale, not the orchestrator. */
export const STALE_SPARE_CODES: ReadonlySet<string> = new Set([
  'ERR_QUOTE_UNKNOWN',
  'ERR_QUOTE_EXPIRED',
  'ERR_QUOTE_USED',
  'ERR_PARAMS_EXPIRED',
])

export class SpareQuotes {
  readonly #c: SpareQuotesComponents
  readonly #o: Required<SpareQuotesOptions>
  readonly #spares = new Map<string, Quote>()
  readonly #asking = new Set<string>()
  readonly #stop = new AbortController()

  constructor(components: SpareQuotesComponents, options: SpareQuotesOptions = {}) {
    this.#c = components
    this.#o = { marginMs: 5_000, maxSpares: 64, timeoutMs: 10_000, ...options }
  }

  /** The spare for this orchestrator and spec, removed from the store; undefined if none is fresh. */
  take(peerId: string, spec: JobSpec): Quote | undefined {
    const key = keyOf(peerId, spec)
    const quote = this.#spares.get(key)
    if (quote === undefined) return undefined
    this.#spares.delete(key)
    const now = (this.#c.now ?? Date.now)()
    return quote.expiresAt - now > this.#o.marginMs ? quote : undefined
  }

  /**
   * Asks `target` for a spare in the background unless one is held or being asked for. Failures
   * only mean no spare: the next job asks as it would have anyway.
   */
  refill(target: { peerId: string; dial?: DialTarget }, spec: JobSpec): void {
    // Workflow stages are quoted for one named feeder: nothing to reuse.
    if (spec.feeder !== undefined || this.#stop.signal.aborted) return
    const key = keyOf(target.peerId, spec)
    if (this.#spares.has(key) || this.#asking.has(key)) return
    this.#asking.add(key)
    requestQuote({ peer: this.#c.peer }, target, spec, {
      signal: this.#stop.signal,
      timeoutMs: this.#o.timeoutMs,
    })
      .then(
        (quote) => {
          if (this.#stop.signal.aborted) return
          setMostRecent(this.#spares, key, quote, this.#o.maxSpares)
        },
        (err: Error) => this.#c.logger?.debug('no spare quote', { peer: target.peerId, error: err.message }),
      )
      .finally(() => this.#asking.delete(key))
  }

  /** Spares held now (for reports and tests). */
  get size(): number {
    return this.#spares.size
  }

  /** Drops every spare and stops the requests under way. */
  clear(): void {
    this.#stop.abort()
    this.#spares.clear()
  }
}

/** Everything the quote answers to: two jobs with equal keys may use each other's quote. */
function keyOf(peerId: string, spec: JobSpec): string {
  return [
    peerId,
    spec.pipeline,
    spec.modelId,
    spec.width,
    spec.height,
    spec.format,
    spec.frameCount,
    spec.maxPricePerUnit.toString(10),
    spec.sender.toLowerCase(),
  ].join('\n')
}
