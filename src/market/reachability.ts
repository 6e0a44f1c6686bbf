/**
 * Which sellers we can dial now. An advert can reach us (relayed by a bootstrap node) before any
 * address of its seller does; a job that picked such a seller would fail its dial and blame a
 * seller that did nothing wrong. `pick` prefers sellers we are connected to or hold addresses for,
 * and when only unreachable ones match it waits (bounded, abortable) for one to become reachable.
 */
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { AbortedError } from '../errors.js'
import type { Logger } from '../logger.js'

export interface ReachabilityComponents {
  /** Without it every seller counts as reachable (nothing to tell them apart by). */
  libp2p?: Pick<Libp2p, 'getConnections' | 'peerStore' | 'addEventListener' | 'removeEventListener'>
  logger?: Logger
}

export interface ReachabilityOptions {
  /** Longest wait for an unreachable seller to become reachable (ms, default 5 s). */
  waitMs?: number
}

export class Reachability {
  readonly #c: ReachabilityComponents
  readonly #waitMs: number

  constructor(components: ReachabilityComponents, options: ReachabilityOptions = {}) {
    this.#c = components
    this.#waitMs = options.waitMs ?? 5_000
  }

  /** Connected to `peerId`, or holding an address for it in the peer store. */
  async reachable(peerId: string): Promise<boolean> {
    const libp2p = this.#c.libp2p
    if (libp2p === undefined) return true
    try {
      const id = peerIdFromString(peerId)
      if (libp2p.getConnections(id).length > 0) return true
      return (await libp2p.peerStore.get(id)).addresses.length > 0
    } catch {
      // Not in the peer store (or not a peer id): nothing to dial it by.
      return false
    }
  }

  /**
   * `select` over the reachable part of `offers()`. When `select` would pick only among unreachable
   * sellers, waits for a connection or address of one of them (re-reading `offers()` each time) up
   * to the wait limit, then gives up with undefined rather than hand out a seller we cannot dial.
   */
  async pick<T extends { peerId: string }>(
    offers: () => readonly T[],
    select: (offers: T[]) => T | undefined,
    signal?: AbortSignal,
  ): Promise<T | undefined> {
    const libp2p = this.#c.libp2p
    if (libp2p === undefined) return select([...offers()])
    // Listening from the start: news arriving while we check the peer store is not lost.
    const watch = new NewsWatch(libp2p)
    try {
      const deadline = Date.now() + this.#waitMs
      while (true) {
        signal?.throwIfAborted()
        const seen = watch.count
        const all = offers()
        const reachable: T[] = []
        for (const o of all) if (await this.reachable(o.peerId)) reachable.push(o)
        const chosen = select(reachable)
        if (chosen !== undefined) return chosen
        if (reachable.length === all.length || select([...all]) === undefined) return undefined
        const left = deadline - Date.now()
        if (left <= 0) {
          this.#c.logger?.info('no reachable seller within the wait; leaving the unreachable ones out', {
            unreachable: all.length - reachable.length,
          })
          return undefined
        }
        if (watch.count === seen) await watch.next(left, signal)
      }
    } finally {
      watch.close()
    }
  }
}

/** Counts connections and peer store updates (of anyone: the candidates change as adverts do). */
class NewsWatch {
  count = 0
  readonly #libp2p: NonNullable<ReachabilityComponents['libp2p']>
  #wake: (() => void) | undefined
  readonly #onNews = () => {
    this.count++
    this.#wake?.()
  }

  constructor(libp2p: NonNullable<ReachabilityComponents['libp2p']>) {
    this.#libp2p = libp2p
    libp2p.addEventListener('peer:connect', this.#onNews)
    libp2p.addEventListener('peer:update', this.#onNews)
  }

  /** Resolves at the next news or after `ms`; rejects when `signal` aborts. */
  next(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(signal.reason)
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer)
        this.#wake = undefined
        signal?.removeEventListener('abort', onAbort)
      }
      const onAbort = () => {
        done()
        reject(signal?.reason ?? new AbortedError('the wait for a reachable seller was aborted'))
      }
      const timer = setTimeout(() => {
        done()
        resolve()
      }, ms)
      this.#wake = () => {
        done()
        resolve()
      }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  close(): void {
    this.#libp2p.removeEventListener('peer:connect', this.#onNews)
    this.#libp2p.removeEventListener('peer:update', this.#onNews)
  }
}
