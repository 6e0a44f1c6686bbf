/**
 * Gas and wall time of ticket redemption on the local dev chain: one ticket per transaction
 * (the baseline) against batchRedeemWinningTickets with N tickets, and the reserve path.
 * Gas is deterministic; wall time depends on the machine and is shown as a ratio.
 *
 *   npm run bench:redemption
 */
import { Wallet } from 'ethers'
import { TicketBrokerClient } from '../src/tickets/broker.js'
import { startDevChain } from '../src/tickets/devchain.js'
import {
  type Address,
  type Hex,
  MAX_WIN_PROB,
  recipientRandHash,
  signTicket,
  type Ticket,
  type WinningTicket,
} from '../src/tickets/ticket.js'

const chain = await startDevChain({ accounts: 4, roundLength: 10_000 })
const ETH = 10n ** 18n
const sender = new TicketBrokerClient(
  { wallet: new Wallet(chain.accounts[1].privateKey) },
  chain.clientOptions,
)
const recipient = new TicketBrokerClient(
  { wallet: new Wallet(chain.accounts[2].privateKey) },
  chain.clientOptions,
)
const reserveOnly = new TicketBrokerClient(
  { wallet: new Wallet(chain.accounts[3].privateKey) },
  chain.clientOptions,
)
await sender.fundDeposit(100n * ETH)
await reserveOnly.fundReserve(100n * ETH)
let nonce = 0

async function tickets(count: number, senderIndex = 1): Promise<WinningTicket[]> {
  const round = await recipient.getRoundInfo()
  return Array.from({ length: count }, () => {
    const recipientRand = BigInt(
      `0x${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('hex')}`,
    )
    const ticket: Ticket = {
      recipient: chain.accounts[2].address.toLowerCase() as Address,
      sender: chain.accounts[senderIndex].address.toLowerCase() as Address,
      faceValue: ETH / 1000n,
      winProb: MAX_WIN_PROB,
      senderNonce: ++nonce,
      recipientRandHash: recipientRandHash(recipientRand),
      creationRound: round.round,
      creationRoundBlockHash: round.blockHash,
    }
    return {
      ticket,
      signature: signTicket(ticket, chain.accounts[senderIndex].privateKey as Hex),
      recipientRand,
    }
  })
}

const rows: { label: string; perTicketGas: bigint; perTicketMs: number }[] = []
async function measure(label: string, count: number, batch: boolean, senderIndex = 1): Promise<void> {
  const reps = batch ? 3 : 10
  let gas = 0n
  const start = performance.now()
  for (let i = 0; i < reps; i++) {
    const ts = await tickets(count, senderIndex)
    if (batch) gas += (await recipient.batchRedeemWinningTickets(ts)).gasUsed
    else for (const t of ts) gas += (await recipient.redeemWinningTicket(t)).gasUsed
  }
  const n = reps * count
  rows.push({ label, perTicketGas: gas / BigInt(n), perTicketMs: (performance.now() - start) / n })
}

await measure('single redeemWinningTicket (baseline)', 1, false)
for (const n of [1, 5, 10, 20, 50]) await measure(`batch of ${n}`, n, true)
await measure('single, paid from the reserve', 1, false, 3)

const base = rows[0]
console.log('redemption on the dev chain (ganache, shanghai), per ticket:')
console.log(
  `${'case'.padEnd(40)} ${'gas'.padStart(8)} ${'gas vs base'.padStart(12)} ${'ms'.padStart(7)} ${'time vs base'.padStart(13)}`,
)
for (const r of rows) {
  const gasRatio = Number((r.perTicketGas * 1000n) / base.perTicketGas) / 1000
  console.log(
    `${r.label.padEnd(40)} ${String(r.perTicketGas).padStart(8)} ${`${gasRatio.toFixed(3)}x`.padStart(12)} ${r.perTicketMs.toFixed(1).padStart(7)} ${`${(r.perTicketMs / base.perTicketMs).toFixed(3)}x`.padStart(13)}`,
  )
}
sender.close()
recipient.close()
reserveOnly.close()
await chain.stop()
