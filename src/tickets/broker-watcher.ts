/**
 * ChainWatcher keeps a fresh snapshot of the chain (block, round, round block hash, gas price)
 * by polling the TicketBrokerClient, so ticket code reads it for free on every ticket
 * (ChainClock and GasPriceSource are getters, never requests).
 */
import { AbortedError, FramemeshError } from '../errors.js'
import { type Logger, silentLogger } from '../logger.js'
import type { RoundInfo, TicketBrokerClient } from './broker.js'
import type { Hex } from './bytes.js'
import type { ChainClock, GasPriceSource } from './chain.js'

export interface ChainWatcherComponents {
  broker: Pick<TicketBrokerClient, 'getRoundInfo' | 'getGasPrice'>
  logger?: Logger
}

export interface ChainWatcherOptions {
  /** How often to poll (default 2000 ms; a dev chain wants less). */
  pollIntervalMs?: number
  /** Bound on the first snapshot in start() (default 15 s). */
  startTimeoutMs?: number
  /**
   * While polls keep failing, a warning at most this often (default 60,000 ms): an outage of
   * minutes is a few lines, not one per poll. Its end is logged too.
   */
  outageWarnEveryMs?: number
}

export class ChainWatcher implements ChainClock, GasPriceSource {
  private readonly broker: ChainWatcherComponents['broker']
  private readonly log: Logger
  private readonly pollIntervalMs: number
  private readonly startTimeoutMs: number
  private snapshot: (RoundInfo & { gasPrice: bigint }) | undefined
  private timer: NodeJS.Timeout | undefined
  private polling = false
  /** Cuts off a poll in flight when stop() is called, so it sends no further requests. */
  private stopper = new AbortController()
  private readonly roundListeners = new Set<(round: bigint) => void>()
  private readonly outageWarnEveryMs: number
  /** Set while polls fail: since when, how many, and when the last warning went out. */
  private outage: { since: number; failures: number; warnedAt: number } | undefined

  constructor(components: ChainWatcherComponents, options: ChainWatcherOptions = {}) {
    this.broker = components.broker
    this.log = (components.logger ?? silentLogger).child('chain-watcher')
    this.pollIntervalMs = options.pollIntervalMs ?? 2000
    this.startTimeoutMs = options.startTimeoutMs ?? 15_000
    this.outageWarnEveryMs = options.outageWarnEveryMs ?? 60_000
  }

  /** Takes the first snapshot (so the getters work) and keeps polling until stop(). */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.stopper.signal.aborted) this.stopper = new AbortController()
    const timeout = AbortSignal.timeout(this.startTimeoutMs)
    await this.refresh(signal === undefined ? timeout : AbortSignal.any([signal, timeout]))
    this.schedule()
  }

  stop(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.stopper.abort()
  }

  /** Calls `listener` with each new round number; returns an unsubscribe function. */
  onRound(listener: (round: bigint) => void): () => void {
    this.roundListeners.add(listener)
    return () => this.roundListeners.delete(listener)
  }

  /** Polls once now. */
  async refresh(signal?: AbortSignal): Promise<void> {
    const [info, gasPrice] = await Promise.all([
      this.broker.getRoundInfo({ signal }),
      this.broker.getGasPrice({ signal }),
    ])
    const previous = this.snapshot?.round
    this.snapshot = { ...info, gasPrice }
    if (previous !== undefined && info.round !== previous) {
      this.log.debug('new round', { round: info.round })
      for (const listener of [...this.roundListeners]) listener(info.round)
    }
  }

  get blockNumber(): bigint {
    return this.current().blockNumber
  }

  get currentRound(): bigint {
    return this.current().round
  }

  get roundBlockHash(): Hex {
    return this.current().blockHash
  }

  get gasPrice(): bigint {
    return this.current().gasPrice
  }

  private current(): RoundInfo & { gasPrice: bigint } {
    if (this.snapshot === undefined) {
      throw new FramemeshError(
        'ERR_CLOCK_NOT_STARTED',
        'the chain watcher has no snapshot yet; await start() first',
      )
    }
    return this.snapshot
  }

  private schedule(): void {
    this.timer = setTimeout(() => void this.tick(), this.pollIntervalMs)
    this.timer.unref()
  }

  private async tick(): Promise<void> {
    if (this.polling || this.timer === undefined) return
    this.polling = true
    try {
      const timeout = AbortSignal.timeout(Math.max(this.pollIntervalMs * 5, 5000))
      await this.refresh(AbortSignal.any([this.stopper.signal, timeout]))
      if (this.outage !== undefined) {
        const { since, failures } = this.outage
        this.outage = undefined
        this.log.info('chain reachable again', { afterMs: Date.now() - since, failedPolls: failures })
      }
    } catch (err) {
      // Keep the last snapshot: a stale clock for a few seconds beats none. Retry next tick. A
      // poll cut off by stop() (the provider closes right after) is not a failure worth a warning.
      const stopped = this.timer === undefined
      if (!(err instanceof AbortedError) && !stopped) this.pollFailed(err)
    } finally {
      this.polling = false
      if (this.timer !== undefined) this.schedule()
    }
  }

  private pollFailed(err: unknown): void {
    const now = Date.now()
    if (this.outage === undefined) {
      this.outage = { since: now, failures: 1, warnedAt: now }
      this.log.warn('chain poll failed; keeping the last snapshot and retrying', { err })
      return
    }
    this.outage.failures++
    if (now - this.outage.warnedAt < this.outageWarnEveryMs) return
    this.outage.warnedAt = now
    this.log.warn('chain still unreachable', {
      forMs: now - this.outage.since,
      failedPolls: this.outage.failures,
      err,
    })
  }
}
