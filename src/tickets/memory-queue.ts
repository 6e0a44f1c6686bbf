import type { Address } from './bytes.js'
import type { RedemptionQueue } from './chain.js'
import type { WinningTicket } from './ticket.js'

/**
 * A redemption queue that keeps winning tickets in memory: for tests and throwaway nodes.
 * Anything not redeemed is lost with the process; production uses the durable sqlite queue.
 */
export class MemoryRedemptionQueue implements RedemptionQueue {
  private readonly tickets: WinningTicket[] = []
  private readonly pending = new Map<Address, bigint>()

  async enqueue(ticket: WinningTicket): Promise<void> {
    this.tickets.push(ticket)
    const sender = ticket.ticket.sender
    this.pending.set(sender, (this.pending.get(sender) ?? 0n) + ticket.ticket.faceValue)
  }

  pendingFaceValue(sender: Address): bigint {
    return this.pending.get(sender) ?? 0n
  }

  /** Takes every queued ticket out (as a redeemer would). */
  drain(): WinningTicket[] {
    this.pending.clear()
    return this.tickets.splice(0, this.tickets.length)
  }

  get size(): number {
    return this.tickets.length
  }
}
