// Child process for redemption-crash.test.ts: queues one winning ticket, starts redeeming it, and
// SIGKILLs itself just before or just after the transaction is broadcast, as a real crash would.
import { Wallet } from 'ethers'
import { type PreparedTx, type SendOptions, TicketBrokerClient } from '../../src/tickets/broker.js'
import { RedemptionService } from '../../src/tickets/redemption.js'
import type { WinningTicket } from '../../src/tickets/ticket.js'

const env = process.env
const crashAt = env.CRASH_AT as 'before-broadcast' | 'after-broadcast'

class CrashingClient extends TicketBrokerClient {
  override async broadcast(tx: PreparedTx, opts: SendOptions = {}): Promise<void> {
    if (crashAt === 'before-broadcast') process.kill(process.pid, 'SIGKILL')
    await super.broadcast(tx, opts)
    if (crashAt === 'after-broadcast') process.kill(process.pid, 'SIGKILL')
  }
}

const ticket = JSON.parse(env.TICKET!, (_k, v) =>
  typeof v === 'string' && /^\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v,
) as WinningTicket
const client = new CrashingClient(
  { wallet: new Wallet(env.RECIPIENT_KEY!) },
  { rpcUrl: env.RPC!, contractAddress: env.BROKER!, chainId: Number(env.CHAIN_ID), pollingIntervalMs: 20 },
)
const service = new RedemptionService({ broker: client }, { dbPath: env.DB! })
await service.enqueue(ticket)
await service.start()
// Not reached when the crash fires; wait long enough for it, then fail loudly.
await service.waitFor(() => false, { timeoutMs: 20_000 }).catch(() => {})
console.error('the crash point was never reached')
process.exit(3)
