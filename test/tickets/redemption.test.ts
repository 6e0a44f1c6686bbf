// RedemptionService against a real local chain: durable queue, gas check, restart and crash recovery.
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import anyTest, { type ExecutionContext, type TestFn } from 'ava'
import { Transaction, Wallet } from 'ethers'
import { TicketBrokerClient } from '../../src/tickets/broker.js'
import { type DevChain, startDevChain } from '../../src/tickets/devchain.js'
import { RedemptionService, type RedemptionServiceOptions } from '../../src/tickets/redemption.js'
import { createRedemptionMetrics } from '../../src/tickets/redemption-metrics.js'
import { RedemptionStore } from '../../src/tickets/redemption-store.js'
import { ticketHashHex, type WinningTicket } from '../../src/tickets/ticket.js'
import { startTcpSwitch } from '../helpers/tcp-switch.js'
import { addressOf, currentTicket, ETH, walletOf } from './chain-fixtures.js'

interface Ctx {
  chain: DevChain
  dir: string
  reader: TicketBrokerClient
  /** One client per recipient account, so its nonces stay in order across services. */
  clients: Map<number, TicketBrokerClient>
}

const test = anyTest as TestFn<Ctx>
const SENDER = 1
const FACE = ETH / 100n

test.before(async (t) => {
  const chain = await startDevChain({ accounts: 12 })
  const options = chain.clientOptions
  const reader = new TicketBrokerClient({}, options)
  const clients = new Map<number, TicketBrokerClient>()
  for (let i = 2; i < 10; i++) clients.set(i, new TicketBrokerClient({ wallet: walletOf(chain, i) }, options))
  const sender = new TicketBrokerClient({ wallet: walletOf(chain, SENDER) }, options)
  await sender.fundDepositAndReserve(20n * ETH, 0n)
  sender.close()
  t.context = { chain, dir: mkdtempSync(join(tmpdir(), 'framemesh-redemption-')), reader, clients }
})

test.after.always(async (t) => {
  t.context.reader?.close()
  for (const c of t.context.clients?.values() ?? []) c.close()
  await t.context.chain?.stop()
  if (t.context.dir !== undefined) rmSync(t.context.dir, { recursive: true, force: true })
})

function service(ctx: Ctx, recipient: number, db: string, options: { gasMargin?: number } = {}) {
  return new RedemptionService(
    { broker: ctx.clients.get(recipient)! },
    { dbPath: join(ctx.dir, db), retryBaseMs: 50, gasRecheckMs: 60_000, ...options },
  )
}

function ticketFor(ctx: Ctx, recipient: number, faceValue = FACE, winProb?: bigint): Promise<WinningTicket> {
  return currentTicket(ctx.reader, {
    senderKey: walletOf(ctx.chain, SENDER).privateKey,
    recipient: addressOf(ctx.chain, recipient),
    faceValue,
    winProb,
  })
}

/** What the recipient received net of the fees it paid, given a balance before. */
async function netReceived(ctx: Ctx, recipient: number, before: bigint, fees: bigint): Promise<bigint> {
  return (await ctx.reader.getBalance(addressOf(ctx.chain, recipient))) - before + fees
}

test.serial(
  'an enqueued winning ticket is redeemed once, paying exactly faceValue, and counted in the totals',
  async (t) => {
    const recipient = 2
    const metrics = createRedemptionMetrics()
    const svc = new RedemptionService(
      { broker: t.context.clients.get(recipient)!, metrics },
      { dbPath: join(t.context.dir, 'one.db') },
    )
    const wt = await ticketFor(t.context, recipient)
    const before = await t.context.reader.getBalance(addressOf(t.context.chain, recipient))
    await svc.enqueue(wt)
    await svc.enqueue(wt) // the same ticket twice is stored once
    t.is(svc.pendingFaceValue(wt.ticket.sender), FACE)
    const redeemed = svc.waitFor((e) => e.type === 'redeemed')
    await svc.start()
    await redeemed
    const record = svc.get(ticketHashHex(wt.ticket))!
    t.is(record.status, 'redeemed')
    t.is(record.paid, FACE)
    t.is(await netReceived(t.context, recipient, before, record.fee!), FACE)
    t.is(svc.pendingFaceValue(wt.ticket.sender), 0n)
    const totals = svc.totals()
    t.deepEqual([totals.redeemed.count, totals.redeemed.paid, totals.queued.count], [1, FACE, 0])
    const exported = await metrics.registry.metrics()
    t.regex(exported, /framemesh_redemption_tickets_total\{event="redeemed",code=""\} 1/)
    t.regex(exported, /framemesh_redemption_paid_eth_total 0\.01/)
    t.regex(exported, /framemesh_redemption_pending_tickets 0/)
    await svc.close()
  },
)

test.serial(
  'tickets queued before a stop are redeemed after reopening the database, exactly once',
  async (t) => {
    const recipient = 3
    const first = service(t.context, recipient, 'restart.db')
    const tickets = [await ticketFor(t.context, recipient), await ticketFor(t.context, recipient)]
    for (const wt of tickets) await first.enqueue(wt)
    await first.close() // never started: nothing sent yet
    const before = await t.context.reader.getBalance(addressOf(t.context.chain, recipient))

    const second = service(t.context, recipient, 'restart.db')
    t.is(second.pendingFaceValue(tickets[0].ticket.sender), 2n * FACE)
    const both = Promise.all(
      tickets.map((wt) =>
        second.waitFor((e) => e.type === 'redeemed' && e.ticketHash === ticketHashHex(wt.ticket)),
      ),
    )
    await second.start()
    await both
    await second.close()

    const third = service(t.context, recipient, 'restart.db')
    await third.start()
    await third.runOnce()
    const totals = third.totals()
    t.is(totals.redeemed.count, 2)
    t.is(await netReceived(t.context, recipient, before, totals.redeemed.fees), 2n * FACE)
    for (const wt of tickets) t.true(await t.context.reader.isTicketUsed(ticketHashHex(wt.ticket)))
    await third.close()
  },
)

test.serial(
  'a ticket already redeemed by someone else is marked failed with ERR_TICKET_USED and not sent',
  async (t) => {
    const recipient = 4
    const wt = await ticketFor(t.context, recipient)
    await t.context.clients.get(recipient)!.redeemWinningTicket(wt)
    const svc = service(t.context, recipient, 'used.db')
    const failed = svc.waitFor((e) => e.type === 'failed')
    await svc.enqueue(wt)
    await svc.start()
    t.like(await failed, { type: 'failed', code: 'ERR_TICKET_USED' })
    t.deepEqual(svc.totals().failed.byCode, { ERR_TICKET_USED: 1 })
    await svc.close()
  },
)

test.serial('a losing ticket fails with ERR_TICKET_NOT_WINNING without a transaction', async (t) => {
  const recipient = 4
  const svc = service(t.context, recipient, 'losing.db')
  const before = await t.context.reader.getBalance(addressOf(t.context.chain, recipient))
  const failed = svc.waitFor((e) => e.type === 'failed')
  await svc.enqueue(await ticketFor(t.context, recipient, FACE, 0n))
  await svc.start()
  t.like(await failed, { code: 'ERR_TICKET_NOT_WINNING' })
  t.is(await t.context.reader.getBalance(addressOf(t.context.chain, recipient)), before)
  await svc.close()
})

test.serial(
  'a ticket worth less than its gas waits in the queue instead of being redeemed at a loss',
  async (t) => {
    const recipient = 5
    const svc = service(t.context, recipient, 'gas.db', { gasMargin: 3 })
    const wt = await ticketFor(t.context, recipient, 1000n)
    const deferred = svc.waitFor((e) => e.type === 'deferred')
    await svc.enqueue(wt)
    await svc.start()
    t.like(await deferred, { type: 'deferred' })
    const record = svc.get(ticketHashHex(wt.ticket))!
    t.is(record.status, 'queued')
    t.is(record.errorCode, 'ERR_NOT_WORTH_GAS')
    t.false(await t.context.reader.isTicketUsed(ticketHashHex(wt.ticket)))
    t.is(svc.pendingFaceValue(wt.ticket.sender), 1000n)
    await svc.close()

    // Once the recheck time has come and the margin allows it (here: a node willing to pay more
    // gas than the ticket is worth), the same queued ticket is redeemed.
    const later = new RedemptionService(
      { broker: t.context.clients.get(recipient)!, now: () => Date.now() + 61_000 },
      { dbPath: join(t.context.dir, 'gas.db'), gasMargin: 0.000_001 },
    )
    await later.runOnce()
    t.like(later.get(ticketHashHex(wt.ticket)), { status: 'redeemed', paid: 1000n })
    await later.close()
  },
)

test.serial(
  'after a crash between recording a transaction and broadcasting it, restart sends the ticket once',
  async (t) => {
    const recipient = 6
    const dbPath = join(t.context.dir, 'crash-before.db')
    const wt = await ticketFor(t.context, recipient)
    // The state a crash leaves: ticket 'redeeming', a signed transaction recorded, never broadcast.
    const store = new RedemptionStore(dbPath)
    const hash = store.insert(wt, Date.now())!
    store.markRedeeming([hash], Date.now())
    const orphan = await new Wallet(walletOf(t.context.chain, recipient).privateKey).signTransaction({
      to: t.context.chain.contractAddress,
      nonce: 999,
      gasLimit: 200_000,
      gasPrice: 1,
      chainId: t.context.chain.chainId,
    })
    store.recordTx([hash], Wallet.createRandom().address.padEnd(66, '0'), orphan, Date.now())
    store.close()

    const before = await t.context.reader.getBalance(addressOf(t.context.chain, recipient))
    const svc = service(t.context, recipient, 'crash-before.db')
    const redeemed = svc.waitFor((e) => e.type === 'redeemed')
    await svc.start()
    await redeemed
    const record = svc.get(hash)!
    t.is(record.status, 'redeemed')
    t.is(await netReceived(t.context, recipient, before, record.fee!), FACE)
    await svc.close()
  },
)

test.serial(
  'after a crash between broadcasting and recording the result, restart settles from the receipt without resending',
  async (t) => {
    const recipient = 7
    const client = t.context.clients.get(recipient)!
    const dbPath = join(t.context.dir, 'crash-after.db')
    const wt = await ticketFor(t.context, recipient)
    const before = await t.context.reader.getBalance(addressOf(t.context.chain, recipient))
    // The state a crash leaves: the transaction was recorded and mined, the result never written.
    const store = new RedemptionStore(dbPath)
    const hash = store.insert(wt, Date.now())!
    store.markRedeeming([hash], Date.now())
    const sent = await client.redeemWinningTicket(wt, {
      onPrepared: (tx) => store.recordTx([hash], tx.hash, tx.raw, Date.now()),
    })
    store.close()

    const svc = service(t.context, recipient, 'crash-after.db')
    await svc.start()
    const record = svc.get(hash)!
    t.is(record.status, 'redeemed')
    t.is(record.txHash, sent.hash)
    t.is(record.paid, FACE)
    // Only the one transaction moved money: the recipient got faceValue once, net of that fee.
    t.is(await netReceived(t.context, recipient, before, sent.fee), FACE)
    await svc.close()
  },
)

test.serial('batched redemption redeems several due tickets in one transaction', async (t) => {
  const recipient = 8
  const svc = new RedemptionService(
    { broker: t.context.clients.get(recipient)! },
    { dbPath: join(t.context.dir, 'batch.db'), maxBatch: 4 },
  )
  const tickets = await Promise.all([1, 2, 3, 4].map(() => ticketFor(t.context, recipient)))
  for (const wt of tickets) await svc.enqueue(wt)
  await svc.runOnce()
  const records = tickets.map((wt) => svc.get(ticketHashHex(wt.ticket))!)
  t.true(records.every((r) => r.status === 'redeemed' && r.paid === FACE))
  t.is(new Set(records.map((r) => r.txHash)).size, 1)
  t.log(`gas per ticket in a batch of 4: ${records[0].gasUsed}`)
  await svc.close()
})

/** A service for `recipient` whose way to the chain is a switch, off until switched on. */
async function serviceBehindSwitch(
  t: ExecutionContext<Ctx>,
  recipient: number,
  db: string,
  options: Partial<RedemptionServiceOptions>,
) {
  const { chain } = t.context
  const proxy = await startTcpSwitch(Number(new URL(chain.rpcUrl).port), { on: false })
  const client = new TicketBrokerClient(
    { wallet: walletOf(chain, recipient) },
    { ...chain.clientOptions, rpcUrl: proxy.urlFor(chain.rpcUrl) },
  )
  const svc = new RedemptionService({ broker: client }, { dbPath: join(t.context.dir, db), ...options })
  t.teardown(() => {
    client.close()
    return proxy.close()
  })
  return { proxy, svc }
}

test.serial(
  'while the chain is unreachable a ticket is retried with backoff, then redeemed once it is back',
  async (t) => {
    const recipient = 9
    const { proxy, svc } = await serviceBehindSwitch(t, recipient, 'outage.db', { retryBaseMs: 20 })
    const wt = await ticketFor(t.context, recipient)
    const deferred = svc.waitFor((e) => e.type === 'deferred')
    await svc.enqueue(wt)
    await svc.start()
    await deferred
    const waiting = svc.get(ticketHashHex(wt.ticket))!
    t.is(waiting.status, 'queued')
    t.is(waiting.errorCode, 'ERR_CHAIN_UNAVAILABLE')
    t.true(waiting.attempts >= 1)

    const redeemed = svc.waitFor((e) => e.type === 'redeemed')
    proxy.on()
    await redeemed
    t.is(svc.get(ticketHashHex(wt.ticket))!.paid, FACE)
    await svc.close()
    await t.throwsAsync(svc.enqueue(wt), { code: 'ERR_REDEMPTION_CLOSED' } as never)
  },
)

test.serial(
  'an outage longer than maxAttempts retries does not give the ticket up: it is redeemed once the chain is back',
  async (t) => {
    const recipient = 11
    const { proxy, svc } = await serviceBehindSwitch(t, recipient, 'long-outage.db', {
      retryBaseMs: 20,
      retryMaxMs: 40,
      maxAttempts: 2,
    })
    const wt = await ticketFor(t.context, recipient)
    let deferrals = 0
    const many = svc.waitFor((e) => e.type === 'deferred' && ++deferrals === 6)
    await svc.enqueue(wt)
    await svc.start()
    await many
    const waiting = svc.get(ticketHashHex(wt.ticket))!
    t.is(waiting.status, 'queued')
    t.true(waiting.attempts > 2, `attempts ${waiting.attempts}`)

    const redeemed = svc.waitFor((e) => e.type === 'redeemed')
    proxy.on()
    await redeemed
    t.is(svc.get(ticketHashHex(wt.ticket))!.paid, FACE)
    await svc.close()
  },
)

test.serial(
  'a transaction stuck unmined is replaced at the same nonce with a higher fee; the ticket is paid once',
  async (t) => {
    const recipient = 10
    const { chain, reader } = t.context
    const client = new TicketBrokerClient(
      { wallet: walletOf(chain, recipient) },
      { ...chain.clientOptions, confirmTimeoutMs: 300 },
    )
    const dbPath = join(t.context.dir, 'stuck.db')
    const svc = new RedemptionService({ broker: client }, { dbPath, retryBaseMs: 20 })
    t.teardown(async () => {
      await svc.close()
      await chain.setMining(true)
      client.close()
    })
    const wt = await ticketFor(t.context, recipient)
    const hash = ticketHashHex(wt.ticket)
    const before = await reader.getBalance(addressOf(chain, recipient))

    await chain.setMining(false)
    let pendingDeferrals = 0
    const twoReplacements = svc.waitFor(
      (e) =>
        e.type === 'deferred' && e.reason.startsWith('transaction still pending') && ++pendingDeferrals === 2,
    )
    await svc.enqueue(wt)
    await svc.start()
    await twoReplacements
    await svc.stop()

    const store = new RedemptionStore(dbPath)
    const recorded = store.txsOf(hash)
    store.close()
    const sent = recorded.map((tx) => Transaction.from(tx.raw))
    t.true(sent.length >= 2)
    t.is(new Set(sent.map((tx) => tx.nonce)).size, 1, 'every resend reuses the stuck nonce')
    // Newest first: each resend pays at least 12.5 % more per gas than the one it replaces.
    for (let i = 1; i < sent.length; i++)
      t.true(sent[i - 1].maxFeePerGas! * 1000n >= sent[i].maxFeePerGas! * 1125n)

    await chain.setMining(true)
    const redeemed = svc.waitFor((e) => e.type === 'redeemed')
    await svc.start()
    await redeemed
    t.is(svc.get(hash)!.paid, FACE)
    // A real node mines one transaction per nonce; ganache mines each of them, so every other
    // recorded transaction that got mined must have reverted on the used ticket, paying nothing.
    const receipts = await Promise.all(recorded.map((tx) => reader.provider.getTransactionReceipt(tx.txHash)))
    const mined = receipts.filter((r) => r !== null)
    t.is(mined.filter((r) => r.status === 1).length, 1)
    const fees = mined.reduce((sum, r) => sum + r.gasUsed * r.gasPrice, 0n)
    t.is(await netReceived(t.context, recipient, before, fees), FACE)
  },
)

test.serial(
  'a ticket paying another recipient fails with ERR_TICKET_RECIPIENT and costs no gas',
  async (t) => {
    const recipient = 4
    const svc = service(t.context, recipient, 'other.db')
    const before = await t.context.reader.getBalance(addressOf(t.context.chain, recipient))
    const failed = svc.waitFor((e) => e.type === 'failed')
    await svc.enqueue(await ticketFor(t.context, 5))
    await svc.start()
    t.like(await failed, { code: 'ERR_TICKET_RECIPIENT' })
    t.is(await t.context.reader.getBalance(addressOf(t.context.chain, recipient)), before)
    await svc.close()
  },
)

test.serial(
  'a redemption database from a newer schema is refused with ERR_REDEMPTION_STORE, not misread',
  (t) => {
    const path = join(t.context.dir, 'future.db')
    const { DatabaseSync } = createRequire(import.meta.url)('node:sqlite') as typeof import('node:sqlite')
    const db = new DatabaseSync(path)
    db.exec('PRAGMA user_version = 99')
    db.close()
    t.throws(() => new RedemptionStore(path), {
      code: 'ERR_REDEMPTION_STORE',
      message: /newer framemesh/,
    } as never)
  },
)

test.serial(
  'a wallet with no ETH for gas keeps its winning ticket queued, says why, and redeems it once funded',
  async (t) => {
    const { chain, reader } = t.context
    // A fresh recipient account that holds nothing: an operator who has not funded its wallet yet.
    const wallet = Wallet.createRandom()
    const client = new TicketBrokerClient({ wallet }, chain.clientOptions)
    const svc = new RedemptionService(
      { broker: client },
      { dbPath: join(t.context.dir, 'unfunded.db'), retryBaseMs: 20, maxAttempts: 2, gasRecheckMs: 50 },
    )
    t.teardown(() => client.close())
    const wt = await currentTicket(reader, {
      senderKey: walletOf(chain, SENDER).privateKey,
      recipient: wallet.address.toLowerCase() as `0x${string}`,
      faceValue: FACE,
    })
    const hash = ticketHashHex(wt.ticket)
    let deferrals = 0
    const waited = svc.waitFor((e) => e.type === 'deferred' && ++deferrals === 3)
    await svc.enqueue(wt)
    await svc.start()
    const last = await waited
    // Past maxAttempts and still queued: a wallet that cannot pay gas is not the ticket's fault.
    const waiting = svc.get(hash)!
    t.is(waiting.status, 'queued')
    t.is(waiting.errorCode, 'ERR_INSUFFICIENT_FUNDS')
    t.like(last, { type: 'deferred' })
    t.regex((last as { reason: string }).reason, new RegExp(`${wallet.address.toLowerCase()}.*send ETH`, 'i'))

    const redeemed = svc.waitFor((e) => e.type === 'redeemed')
    const funder = new Wallet(walletOf(chain, 11).privateKey, reader.provider)
    await (await funder.sendTransaction({ to: wallet.address, value: ETH })).wait()
    await redeemed
    t.like(svc.get(hash), { status: 'redeemed', paid: FACE })
    await svc.close()
  },
)
