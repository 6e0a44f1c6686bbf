import type { Address, Hex } from './bytes.js'
import type { WinningTicket } from './ticket.js'

/**
 * What ticket senders and recipients need to know about the chain, as interfaces so the real
 * TicketBroker client, a dev chain or a test fixture can plug in.
 */

/** A sender's funds in TicketBroker. */
export interface SenderInfo {
  deposit: bigint
  reserve: bigint
  /** 0 while the funds are locked; otherwise the round from which the sender may withdraw. */
  withdrawRound: bigint
}

export interface SenderInfoSource {
  getSenderInfo(sender: Address, options?: { signal?: AbortSignal }): Promise<SenderInfo>
}

/**
 * The chain's current position. Read on every ticket, so reads must be cheap: implement it as
 * a snapshot a watcher keeps fresh (getters over polled state), never as a request per read.
 */
export interface ChainClock {
  /** The latest block number seen. */
  readonly blockNumber: bigint
  /** The current Livepeer round. */
  readonly currentRound: bigint
  /** Hash of the block that started the current round (goes into auxData). */
  readonly roundBlockHash: Hex
}

/** The gas price the recipient expects to pay when it redeems (wei per gas); a snapshot like ChainClock. */
export interface GasPriceSource {
  readonly gasPrice: bigint
}

/** Where a recipient puts winning tickets until they are redeemed on chain. */
export interface RedemptionQueue {
  enqueue(ticket: WinningTicket): Promise<void>
  /**
   * Face value of this sender's tickets queued but not yet redeemed. The recipient subtracts it
   * from what the sender can still cover, so one sender cannot win more than its funds pay.
   */
  pendingFaceValue?(sender: Address): bigint
}
