// The whole payment path on a real chain: a sender's tickets, validated by the recipient, winners
// queued durably and redeemed; the recipient ends up paid exactly faceValue per winning ticket.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { TicketBrokerClient } from '../../src/tickets/broker.js'
import { ChainWatcher } from '../../src/tickets/broker-watcher.js'
import { startDevChain } from '../../src/tickets/devchain.js'
import { TicketRecipient } from '../../src/tickets/recipient.js'
import { RedemptionService } from '../../src/tickets/redemption.js'
import { TicketSender } from '../../src/tickets/sender.js'
import type { Hex } from '../../src/tickets/ticket.js'
import { addressOf, ETH, walletOf } from './chain-fixtures.js'

test('winning tickets from a live sender/recipient session are redeemed once each and pay their face value', async (t) => {
  const chain = await startDevChain({ accounts: 3, roundLength: 1000 })
  const dir = mkdtempSync(join(tmpdir(), 'framemesh-e2e-'))
  const reader = new TicketBrokerClient({}, chain.clientOptions)
  const recipientClient = new TicketBrokerClient({ wallet: walletOf(chain, 2) }, chain.clientOptions)
  const watcher = new ChainWatcher({ broker: reader }, { pollIntervalMs: 50 })
  const service = new RedemptionService({ broker: recipientClient }, { dbPath: join(dir, 'r.db') })
  t.teardown(async () => {
    watcher.stop()
    await service.close()
    reader.close()
    recipientClient.close()
    await chain.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const senderClient = new TicketBrokerClient({ wallet: walletOf(chain, 1) }, chain.clientOptions)
  await senderClient.fundDepositAndReserve(10n * ETH, ETH)
  senderClient.close()
  await watcher.start()
  await service.start()

  const recipient = new TicketRecipient(
    { clock: watcher, senderInfo: reader, gasPrice: watcher, redemptionQueue: service },
    { address: addressOf(chain, 2), ticketEV: ETH / 50n },
  )
  const sender = new TicketSender(
    { key: chain.accounts[1].privateKey as Hex, senderInfo: reader, clock: watcher },
    { maxTicketEV: ETH, maxBatchEV: 10n * ETH },
  )
  const params = await recipient.issueParams({ sender: sender.address, price: { wei: 1n, units: 1n } })
  const before = await reader.getBalance(addressOf(chain, 2))

  const batch = await sender.createBatch(params, 60)
  const result = await recipient.receiveBatch(batch, { sessionId: 'e2e' })
  t.is(result.accepted, 60)
  t.true(result.winners > 0, 'with winProb ≈ 0.2 and 60 tickets, no winner has odds of ~1e-6')
  // Checked and subscribed in the same tick, so no redemption can slip between the two.
  const allRedeemed = () => service.totals().redeemed.count === result.winners
  if (!allRedeemed()) await service.waitFor(allRedeemed, { timeoutMs: 60_000 })

  const totals = service.totals()
  t.is(totals.redeemed.paid, BigInt(result.winners) * params.faceValue)
  t.is(totals.queued.count + totals.redeeming.count + totals.failed.count, 0)
  t.is((await reader.getBalance(addressOf(chain, 2))) - before + totals.redeemed.fees, totals.redeemed.paid)
  t.is((await reader.getSenderInfo(sender.address)).deposit, 10n * ETH - totals.redeemed.paid)
  t.log(
    `${result.winners}/60 tickets won at faceValue ${params.faceValue} wei; redeemed with ${totals.redeemed.fees} wei of gas`,
  )
})
