/**
 * RoundKeeper stores each round's block hash on chain (TicketBroker.initializeRound) early in
 * the round. The EVM forgets block hashes after 256 blocks, so with longer rounds, tickets of a
 * round nobody initialized stop being redeemable (and new ones cannot be made) 256 blocks in.
 * Recipients run it: they are the ones who need their tickets to stay redeemable. With rounds of
 * at most `minRoundLength` blocks it does nothing, since the live hash then covers a round.
 */
import { type Logger, silentLogger } from '../logger.js'
import type { TicketBrokerClient } from './broker.js'
import type { ChainWatcher } from './broker-watcher.js'

export interface RoundKeeperComponents {
  /** Needs a wallet: initializeRound is a transaction. */
  broker: Pick<TicketBrokerClient, 'getRoundLength' | 'isCurrentRoundInitialized' | 'initializeRound'>
  watcher: Pick<ChainWatcher, 'onRound'>
  logger?: Logger
}

export interface RoundKeeperOptions {
  /**
   * Rounds at most this long are left alone (default 128): their hash stays readable through a
   * ticket's whole validity period anyway without a transaction every round.
   */
  minRoundLength?: number
  /** Bound on one check-and-initialize (default 120 s). */
  timeoutMs?: number
}

export class RoundKeeper {
  private readonly broker: RoundKeeperComponents['broker']
  private readonly watcher: RoundKeeperComponents['watcher']
  private readonly log: Logger
  private readonly minRoundLength: bigint
  private readonly timeoutMs: number
  private unsubscribe: (() => void) | undefined
  private running: Promise<void> = Promise.resolve()

  constructor(components: RoundKeeperComponents, options: RoundKeeperOptions = {}) {
    this.broker = components.broker
    this.watcher = components.watcher
    this.log = (components.logger ?? silentLogger).child('round-keeper')
    this.minRoundLength = BigInt(options.minRoundLength ?? 128)
    this.timeoutMs = options.timeoutMs ?? 120_000
  }

  /** Initializes the current round if needed, then every new round the watcher reports. */
  async start(signal?: AbortSignal): Promise<void> {
    if ((await this.broker.getRoundLength({ signal })) <= this.minRoundLength) return
    await this.ensure(signal)
    this.unsubscribe = this.watcher.onRound(() => {
      // One at a time: a slow transaction must not overlap the next round's check.
      this.running = this.running.then(() =>
        this.ensure().catch((err) => this.log.warn('initializeRound failed', { err })),
      )
    })
  }

  async stop(): Promise<void> {
    this.unsubscribe?.()
    this.unsubscribe = undefined
    await this.running
  }

  /** Sends initializeRound unless the current round is already initialized. */
  async ensure(signal?: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(this.timeoutMs)
    const opts = { signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) }
    if (await this.broker.isCurrentRoundInitialized(opts)) return
    const tx = await this.broker.initializeRound(opts)
    this.log.info('round initialized', { tx: tx.hash, gasUsed: tx.gasUsed })
  }
}
