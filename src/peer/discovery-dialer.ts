/**
 * Dials the peers that discovery turns up (bootstrap list, mDNS, address announcements): libp2p 3
 * does not do it for us. Reports each peer's news once as 'peer:discovery', dials only while below
 * the connection limit, tries each peer at most once per backoff period, and retries a refused
 * dial once after a random pause (a newcomer is dialled by every peer that hears its announcement
 * at once, and some of those dials hit its pending-connection or rate limits).
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../logger.js'
import { deadline } from './signals.js'

export interface DiscoveryDialerOptions {
  maxConnections: number
  dialTimeoutMs: number
  /** Least time between two dials of the same peer (ms). */
  backoffMs: number
  /** Remembered peers (news and last attempts) before the memory is reset. */
  maxRemembered?: number
}

export interface DiscoveryDialer {
  /** Handles one discovered peer. */
  discovered(id: PeerId, addrs: Multiaddr[]): void
  stop(): void
}

export function createDiscoveryDialer(
  components: {
    libp2p: Libp2p
    logger: Logger
    /** Called when a peer is new or its addresses changed. */
    onNews: (peerId: string, multiaddrs: string[]) => void
  },
  options: DiscoveryDialerOptions,
): DiscoveryDialer {
  const { libp2p, logger, onNews } = components
  const maxRemembered = options.maxRemembered ?? 10_000
  const lastAddrs = new Map<string, string>()
  const lastAttempt = new Map<string, number>()
  const retryTimers = new Set<ReturnType<typeof setTimeout>>()
  const controller = new AbortController()

  const remember = <V>(map: Map<string, V>, key: string, value: V) => {
    // Bounded memory: forgetting only means one extra report or dial.
    if (map.size >= maxRemembered) map.clear()
    map.set(key, value)
  }

  const dial = (id: PeerId, retries: number) => {
    const d = deadline(options.dialTimeoutMs, controller.signal)
    libp2p
      .dial(id, { signal: d.signal })
      .then(
        () => logger.debug('dialled discovered peer', { peer: id.toString() }),
        (err) => {
          logger.debug('could not dial discovered peer', { peer: id.toString(), err, retries })
          if (retries <= 0 || controller.signal.aborted) return
          const timer = setTimeout(
            () => {
              retryTimers.delete(timer)
              if (!controller.signal.aborted && libp2p.getConnections(id).length === 0) dial(id, retries - 1)
            },
            1_000 + Math.random() * 2_000,
          )
          retryTimers.add(timer)
        },
      )
      .finally(() => d.clear())
  }

  return {
    discovered(id, addrs) {
      if (controller.signal.aborted || id.equals(libp2p.peerId)) return
      const key = id.toString()
      const multiaddrs = addrs.map(String)
      if (lastAddrs.get(key) !== multiaddrs.join(' ')) {
        remember(lastAddrs, key, multiaddrs.join(' '))
        onNews(key, multiaddrs)
      }
      if (libp2p.getConnections(id).length > 0) return
      if (libp2p.getConnections().length >= options.maxConnections) return
      // Re-announcements must not turn us into a dialler hammering whatever someone announces.
      const now = Date.now()
      if (now - (lastAttempt.get(key) ?? Number.NEGATIVE_INFINITY) < options.backoffMs) return
      remember(lastAttempt, key, now)
      dial(id, 1)
    },
    stop() {
      controller.abort()
      for (const timer of retryTimers) clearTimeout(timer)
      retryTimers.clear()
    },
  }
}
