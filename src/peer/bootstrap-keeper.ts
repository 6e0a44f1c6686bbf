/**
 * Keeps a peer connected to at least one of its bootstrap nodes. libp2p's bootstrap discovery
 * reports the list once at start; if those dials fail (node down, rate-limited) or the connection
 * drops later, nothing retries. This re-dials with exponential backoff while no bootstrap node is
 * connected, and resets the backoff once one is.
 */
import type { Libp2p } from '@libp2p/interface'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../logger.js'

export interface BootstrapKeeperOptions {
  /** First retry delay (ms); doubles up to `maxDelayMs`. */
  initialDelayMs: number
  maxDelayMs: number
  dialTimeoutMs: number
}

export interface BootstrapKeeper {
  stop(): void
}

export function keepBootstrapConnected(
  components: { libp2p: Libp2p; logger: Logger },
  addrs: string[],
  options: BootstrapKeeperOptions,
): BootstrapKeeper {
  const { libp2p, logger } = components
  const targets: Multiaddr[] = addrs.map((a) => multiaddr(a))
  const ids = new Set(targets.map((t) => t.getComponents().findLast((c) => c.name === 'p2p')?.value))
  let delay = options.initialDelayMs
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false
  const controller = new AbortController()

  const connected = () => libp2p.getPeers().some((p) => ids.has(p.toString()))

  const tick = async () => {
    timer = undefined
    if (stopped) return
    if (connected()) {
      delay = options.initialDelayMs
    } else {
      logger.debug('no bootstrap node connected; dialling', { delayMs: delay })
      const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(options.dialTimeoutMs)])
      const results = await Promise.allSettled(targets.map((ma) => libp2p.dial(ma, { signal })))
      if (results.some((r) => r.status === 'fulfilled')) {
        delay = options.initialDelayMs
      } else {
        logger.warn('cannot reach any bootstrap node; will retry', {
          retryInMs: delay,
          err: (results[0] as PromiseRejectedResult | undefined)?.reason,
        })
        delay = Math.min(delay * 2, options.maxDelayMs)
      }
    }
    schedule()
  }
  const schedule = () => {
    if (stopped) return
    timer = setTimeout(() => void tick(), delay)
    timer.unref?.()
  }
  schedule()

  return {
    stop() {
      stopped = true
      controller.abort()
      if (timer !== undefined) clearTimeout(timer)
    },
  }
}
