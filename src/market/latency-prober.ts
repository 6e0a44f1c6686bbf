/**
 * Keeps latency figures fresh for the sellers in the order book: pings each new seller once its
 * first offer arrives, and every seller again on an interval, feeding PeerStats' moving average.
 * A ping that fails or times out counts as the timeout (a pessimistic figure, not a suspension:
 * only failed jobs suspend a peer). A seller we hold no address for yet (its advert came relayed
 * before its address did) is not pinged and not marked slow: it is asked about again shortly.
 */
import type { Logger } from '../logger.js'
import { TypedEmitter } from '../peer/events.js'
import type { OrderBook } from './order-book.js'
import type { PeerStats } from './peer-stats.js'

export interface LatencyProberEvents {
  'probe:done': { peerId: string; ms: number; ok: boolean }
}

export interface LatencyProberComponents {
  /** Round trip to a peer in ms (Peer.ping). */
  ping: (peerId: string, options: { signal: AbortSignal }) => Promise<number>
  /**
   * The round trip libp2p's connection monitor last measured on a connection to the peer, if any.
   * Used instead of a ping of our own: the ping protocol allows one outbound stream per peer, and
   * a monitor ping refused for ours makes libp2p abort the whole connection, jobs and all.
   */
  measuredRtt?: (peerId: string) => number | undefined
  /**
   * Whether we could dial the peer now (connected, or an address known). Without it every peer
   * counts as dialable.
   */
  reachable?: (peerId: string) => Promise<boolean>
  orderBook: OrderBook
  stats: PeerStats
  logger?: Logger
}

export interface LatencyProberOptions {
  /** Re-ping every seller this often (ms, default 30 s); 0 pings only new sellers. */
  intervalMs?: number
  /** A ping slower than this counts as this (ms, default 5 s). */
  timeoutMs?: number
  /** Pings in flight at once (default 4). */
  concurrency?: number
  /**
   * First wait before asking again about a seller with no address yet (ms, default 500; doubling,
   * at most intervalMs or 30 s).
   */
  unreachableRetryMs?: number
}

export class LatencyProber {
  readonly events = new TypedEmitter<LatencyProberEvents>()
  readonly #c: LatencyProberComponents
  readonly #intervalMs: number
  readonly #timeoutMs: number
  readonly #concurrency: number
  readonly #retryMs: number
  readonly #queue: string[] = []
  /** Sellers with no address yet: the timer that asks about them again, and its next wait. */
  readonly #retries = new Map<string, { timer: ReturnType<typeof setTimeout>; nextMs: number }>()
  /** Peers waiting for a ping or being pinged: asked for again meanwhile, they are not pinged twice. */
  readonly #pending = new Set<string>()
  #active = 0
  #timer?: ReturnType<typeof setInterval>
  #off?: () => void
  #stopped?: AbortController

  constructor(components: LatencyProberComponents, options: LatencyProberOptions = {}) {
    this.#c = components
    this.#intervalMs = options.intervalMs ?? 30_000
    this.#timeoutMs = options.timeoutMs ?? 5_000
    this.#concurrency = Math.max(1, options.concurrency ?? 4)
    this.#retryMs = Math.max(1, options.unreachableRetryMs ?? 500)
  }

  start(): void {
    if (this.#stopped !== undefined && !this.#stopped.signal.aborted) return
    this.#stopped = new AbortController()
    this.#off = this.#c.orderBook.events.on('offer:added', ({ offer }) => {
      if (this.#c.stats.health(offer.peerId).latencyMs === undefined) this.enqueue(offer.peerId)
    })
    if (this.#intervalMs > 0) {
      this.#timer = setInterval(() => {
        for (const peerId of this.#c.orderBook.peers()) this.enqueue(peerId)
      }, this.#intervalMs)
      this.#timer.unref()
    }
  }

  stop(): void {
    this.#off?.()
    clearInterval(this.#timer)
    this.#stopped?.abort()
    this.#queue.length = 0
    this.#pending.clear()
    for (const { timer } of this.#retries.values()) clearTimeout(timer)
    this.#retries.clear()
  }

  /** Asks for a ping of `peerId` (once, however often asked while it waits or is pinged). */
  enqueue(peerId: string): void {
    if (this.#stopped?.signal.aborted !== false || this.#pending.has(peerId)) return
    this.#pending.add(peerId)
    this.#queue.push(peerId)
    this.#drain()
  }

  #drain(): void {
    while (this.#active < this.#concurrency && this.#queue.length > 0) {
      const peerId = this.#queue.shift()!
      this.#active++
      void this.#probe(peerId).finally(() => {
        this.#pending.delete(peerId)
        this.#active--
        this.#drain()
      })
    }
  }

  async #probe(peerId: string): Promise<void> {
    const stopped = this.#stopped!.signal
    const signal = AbortSignal.any([stopped, AbortSignal.timeout(this.#timeoutMs)])
    let ms: number
    let ok = true
    try {
      const measured = this.#c.measuredRtt?.(peerId)
      if (measured === undefined && this.#c.reachable !== undefined && !(await this.#c.reachable(peerId))) {
        this.#askAgainLater(peerId)
        return
      }
      this.#retries.delete(peerId)
      ms = Math.min(measured ?? (await this.#c.ping(peerId, { signal })), this.#timeoutMs)
    } catch (err) {
      if (stopped.aborted) return
      this.#c.logger?.debug('ping failed; counting it as the timeout', { peerId, err })
      ms = this.#timeoutMs
      ok = false
    }
    this.#c.stats.recordLatency(peerId, ms)
    this.events.emit('probe:done', { peerId, ms, ok })
  }

  /** A seller with no address yet: asked about again after a wait that doubles, while it sells. */
  #askAgainLater(peerId: string): void {
    if (this.#stopped?.signal.aborted !== false || !this.#c.orderBook.peers().includes(peerId)) {
      this.#retries.delete(peerId)
      return
    }
    const waitMs = this.#retries.get(peerId)?.nextMs ?? this.#retryMs
    const timer = setTimeout(() => this.enqueue(peerId), waitMs)
    timer.unref()
    const cap = this.#intervalMs > 0 ? this.#intervalMs : 30_000
    this.#retries.set(peerId, { timer, nextMs: Math.min(waitMs * 2, cap) })
  }
}
