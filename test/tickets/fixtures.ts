import type { ChainClock, GasPriceSource, SenderInfo, SenderInfoSource } from '../../src/tickets/chain.js'
import { type Address, addressOfPrivateKey, type Hex } from '../../src/tickets/ticket.js'

/** Chain state for unit tests, set by hand; the real TicketBroker client is exercised in chain.test.ts. */
export class FixedChain implements ChainClock, SenderInfoSource, GasPriceSource {
  blockNumber = 1_000n
  currentRound = 10n
  roundBlockHash: Hex = `0x${'5a'.repeat(32)}`
  gasPrice = 1_000_000_000n
  readonly senders = new Map<Address, SenderInfo>()
  failSenderInfo = false
  senderInfoCalls = 0

  async getSenderInfo(sender: Address): Promise<SenderInfo> {
    this.senderInfoCalls++
    if (this.failSenderInfo) throw new Error('connection refused')
    return this.senders.get(sender) ?? { deposit: 0n, reserve: 0n, withdrawRound: 0n }
  }

  fund(sender: Address, deposit: bigint, reserve = 0n): void {
    this.senders.set(sender, { deposit, reserve, withdrawRound: 0n })
  }
}

export const SENDER_KEY: Hex = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318'
export const OTHER_KEY: Hex = '0x8da4ef21b864d2cc526dbdb2a120bd2874c36c9d0a1fb7f8c63d7f7a8b41de8f'
export const RECIPIENT_KEY: Hex = '0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'
export const SENDER = addressOfPrivateKey(SENDER_KEY)
export const RECIPIENT = addressOfPrivateKey(RECIPIENT_KEY)
export const ETH = 10n ** 18n
