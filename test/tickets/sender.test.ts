import test from 'ava'
import { encryptKeystoreJson } from 'ethers'
import { MemoryRedemptionQueue } from '../../src/tickets/memory-queue.js'
import { issueTicketParams } from '../../src/tickets/params.js'
import { TicketRecipient } from '../../src/tickets/recipient.js'
import { TicketSender, type TicketSenderOptions, ticketsNeeded } from '../../src/tickets/sender.js'
import {
  expectedValue,
  isWinningTicket,
  MAX_WIN_PROB,
  type Price,
  recoverTicketSigner,
  type TicketParams,
  ticketFromParams,
} from '../../src/tickets/ticket.js'
import { ETH, FixedChain, RECIPIENT, SENDER, SENDER_KEY } from './fixtures.js'

const PRICE: Price = { wei: 1_000n, units: 1n }
const SECRET = new Uint8Array(32).fill(7)

function setup(options: Partial<TicketSenderOptions> = {}) {
  const chain = new FixedChain()
  chain.fund(SENDER, ETH, ETH)
  const sender = new TicketSender(
    { key: SENDER_KEY, senderInfo: chain, clock: chain },
    { maxTicketEV: 10n ** 15n, maxBatchEV: 10n ** 16n, senderInfoTtlMs: 0, ...options },
  )
  return { chain, sender }
}

function quote(chain: FixedChain, faceValue: bigint, winProb: bigint): TicketParams {
  return issueTicketParams(SECRET, {
    recipient: RECIPIENT,
    sender: SENDER,
    faceValue,
    winProb,
    expirationBlock: chain.blockNumber + 10n,
    price: PRICE,
    creationRound: chain.currentRound,
    creationRoundBlockHash: chain.roundBlockHash,
  }).params
}

test('the sender signs tickets numbered from 0 and continues the numbering across batches', async (t) => {
  const { chain, sender } = setup()
  const params = quote(chain, 10n ** 16n, MAX_WIN_PROB / 1000n)
  const a = await sender.createBatch(params, 3)
  const b = await sender.createBatch(params, 2)
  t.deepEqual(
    [...a.tickets, ...b.tickets].map((x) => x.senderNonce),
    [0, 1, 2, 3, 4],
  )
  for (const x of b.tickets) {
    t.is(recoverTicketSigner(ticketFromParams(SENDER, params, x.senderNonce), x.signature), SENDER)
  }
  // fresh params start again at 0
  const c = await sender.createBatch(quote(chain, 10n ** 16n, MAX_WIN_PROB / 1000n), 1)
  t.is(c.tickets[0].senderNonce, 0)
})

test('ticketsNeeded is ⌈gap ÷ EV⌉', (t) => {
  t.is(ticketsNeeded(1n, 10n), 1)
  t.is(ticketsNeeded(10n, 10n), 1)
  t.is(ticketsNeeded(11n, 10n), 2)
  t.is(ticketsNeeded(0n, 10n), 0)
  t.throws(() => ticketsNeeded(5n, 0n), { code: 'ERR_PARAMS_INVALID' })
})

test('the sender refuses params whose ticket EV is above its cap with ERR_PARAMS_EV_TOO_HIGH', async (t) => {
  const { chain, sender } = setup()
  await t.throwsAsync(sender.createBatch(quote(chain, 10n ** 17n, MAX_WIN_PROB / 10n), 1), {
    code: 'ERR_PARAMS_EV_TOO_HIGH',
  })
})

test('the sender refuses a batch worth more than its batch cap with ERR_PARAMS_BATCH_TOO_LARGE', async (t) => {
  const { chain, sender } = setup()
  const params = quote(chain, 10n ** 16n, MAX_WIN_PROB / 10n) // EV 10^15
  await t.notThrowsAsync(sender.createBatch(params, 10))
  await t.throwsAsync(sender.createBatch(params, 11), { code: 'ERR_PARAMS_BATCH_TOO_LARGE' })
})

test('the sender refuses a face value its deposit cannot cover with ERR_PARAMS_FACE_TOO_HIGH', async (t) => {
  const { chain, sender } = setup({ depositMultiplier: 200n })
  // deposit 1 ETH / 200 = 0.005 ETH
  await t.notThrowsAsync(sender.checkParams(quote(chain, 5n * 10n ** 15n, MAX_WIN_PROB / 1000n)))
  await t.throwsAsync(sender.checkParams(quote(chain, 6n * 10n ** 15n, MAX_WIN_PROB / 1000n)), {
    code: 'ERR_PARAMS_FACE_TOO_HIGH',
  })
})

test('the sender refuses params that make every ticket win with ERR_PARAMS_EV_ABOVE_FACE', async (t) => {
  const { chain, sender } = setup({ maxTicketEV: ETH })
  await t.throwsAsync(sender.checkParams(quote(chain, 10n ** 15n, MAX_WIN_PROB)), {
    code: 'ERR_PARAMS_EV_ABOVE_FACE',
  })
})

test('the sender refuses expired params with ERR_PARAMS_EXPIRED and worthless ones with ERR_PARAMS_INVALID', async (t) => {
  const { chain, sender } = setup()
  const params = quote(chain, 10n ** 16n, MAX_WIN_PROB / 1000n)
  await t.throwsAsync(sender.checkParams({ ...params, winProb: 0n }), { code: 'ERR_PARAMS_INVALID' })
  await t.throwsAsync(sender.checkParams({ ...params, winProb: 1n }), { code: 'ERR_PARAMS_INVALID' })
  chain.blockNumber = params.expirationBlock + 1n
  await t.throwsAsync(sender.checkParams(params), { code: 'ERR_PARAMS_EXPIRED' })
})

test('the sender refuses to pay while its own funds are unlocking (ERR_SENDER_UNLOCKING)', async (t) => {
  const { chain, sender } = setup()
  chain.senders.set(SENDER, { deposit: ETH, reserve: ETH, withdrawRound: 20n })
  await t.throwsAsync(sender.createBatch(quote(chain, 10n ** 16n, MAX_WIN_PROB / 1000n), 1), {
    code: 'ERR_SENDER_UNLOCKING',
  })
})

test('while its funds cannot be read the sender pays on the last read, up to senderInfoStaleMs; then ERR_SENDER_INFO says how old that read is', async (t) => {
  const { chain, sender } = setup({ senderInfoStaleMs: 200 })
  const params = quote(chain, 10n ** 16n, MAX_WIN_PROB / 1000n)
  await sender.createBatch(params, 1)
  chain.failSenderInfo = true
  // The chain is unreachable, but funds were read a moment ago: payments go on.
  t.is((await sender.createBatch(params, 2)).tickets.length, 2)
  await new Promise((resolve) => setTimeout(resolve, 250))
  const err = await t.throwsAsync(sender.createBatch(params, 1), { code: 'ERR_SENDER_INFO' })
  t.regex(err!.message, /connection refused; the last read is \d+ s old/)
  // Back: read afresh, and paying again.
  chain.failSenderInfo = false
  t.is((await sender.createBatch(params, 1)).tickets.length, 1)
})

test('a sender that has never read its funds refuses to pay while the chain cannot be read (ERR_SENDER_INFO)', async (t) => {
  const { chain, sender } = setup()
  chain.failSenderInfo = true
  await t.throwsAsync(sender.createBatch(quote(chain, 10n ** 16n, MAX_WIN_PROB / 1000n), 1), {
    code: 'ERR_SENDER_INFO',
    message: /none read yet/,
  })
})

test('the sender stops at the per-params nonce cap with ERR_TICKET_NONCE_CAP', async (t) => {
  const { chain, sender } = setup({ maxNoncesPerParams: 4 })
  const params = quote(chain, 10n ** 16n, MAX_WIN_PROB / 1000n)
  await sender.createBatch(params, 3)
  await t.throwsAsync(sender.createBatch(params, 2), { code: 'ERR_TICKET_NONCE_CAP' })
  const last = await sender.createBatch(params, 1)
  t.is(last.tickets[0].senderNonce, 3)
})

test('paying a credit gap, params near their nonce cap carry what they still can; at the cap, ERR_TICKET_NONCE_CAP', async (t) => {
  const { chain, sender } = setup({ maxNoncesPerParams: 4 })
  const params = quote(chain, 10n ** 16n, MAX_WIN_PROB / 1000n)
  const ev = expectedValue(params.faceValue, params.winProb)
  await sender.createBatch(params, 3)
  // Three tickets' worth asked for, one nonce left: one ticket (the recipient asks again for the rest).
  const partial = await sender.ticketsForCredit(params, 3n * ev)
  t.deepEqual(
    partial?.tickets.map((x) => x.senderNonce),
    [3],
  )
  await t.throwsAsync(sender.ticketsForCredit(params, ev), { code: 'ERR_TICKET_NONCE_CAP' })
})

test('20,000 tickets at winProb 10% win within 4σ of 2,000', async (t) => {
  const { chain, sender } = setup({ maxTicketEV: ETH, maxBatchEV: 10_000n * ETH, maxNoncesPerParams: 1_000 })
  let wins = 0
  // 20 sets of params × 1,000 tickets: each set has its own recipientRand, as in real use.
  for (let i = 0; i < 20; i++) {
    const { params, recipientRand } = issueTicketParams(SECRET, {
      recipient: RECIPIENT,
      sender: SENDER,
      faceValue: 10n ** 15n,
      winProb: MAX_WIN_PROB / 10n,
      expirationBlock: chain.blockNumber + 10n,
      price: PRICE,
      creationRound: chain.currentRound,
      creationRoundBlockHash: chain.roundBlockHash,
    })
    const batch = await sender.createBatch(params, 1_000)
    for (const x of batch.tickets) if (isWinningTicket(x.signature, recipientRand, params.winProb)) wins++
  }
  const sigma = Math.sqrt(20_000 * 0.1 * 0.9) // ≈ 42.4
  t.true(Math.abs(wins - 2_000) <= 4 * sigma, `${wins} wins`)
})

test('a sender from an Ethereum JSON keystore signs as the keystore address', async (t) => {
  const chain = new FixedChain()
  chain.fund(SENDER, ETH, ETH)
  const json = await encryptKeystoreJson({ address: SENDER, privateKey: SENDER_KEY }, 'pw', {
    scrypt: { N: 1 << 10 },
  })
  const sender = await TicketSender.fromKeystore(
    { json, password: 'pw' },
    { senderInfo: chain, clock: chain },
    { maxTicketEV: ETH, maxBatchEV: ETH },
  )
  t.is(sender.address, SENDER)
  await t.throwsAsync(
    TicketSender.fromKeystore(
      { json, password: 'wrong' },
      { senderInfo: chain, clock: chain },
      { maxTicketEV: ETH, maxBatchEV: ETH },
    ),
    { code: 'ERR_KEYSTORE' },
  )
  await t.throwsAsync(
    TicketSender.fromKeystore(
      { json: '{}', password: 'pw' },
      { senderInfo: chain, clock: chain },
      { maxTicketEV: ETH, maxBatchEV: ETH },
    ),
    { code: 'ERR_KEYSTORE' },
  )
})

test('an invalid private key is refused with ERR_KEY_INVALID', (t) => {
  const chain = new FixedChain()
  for (const key of ['0x00', `0x${'00'.repeat(32)}`, `0x${'ff'.repeat(32)}`] as const) {
    t.throws(
      () => new TicketSender({ key, senderInfo: chain, clock: chain }, { maxTicketEV: 1n, maxBatchEV: 1n }),
      {
        code: 'ERR_KEY_INVALID',
      },
    )
  }
})

test('tickets from TicketSender pass every TicketRecipient check end to end', async (t) => {
  const { chain, sender } = setup()
  const recipient = new TicketRecipient(
    { clock: chain, senderInfo: chain, gasPrice: chain, redemptionQueue: new MemoryRedemptionQueue() },
    { address: RECIPIENT },
  )
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  const result = await recipient.receiveBatch(await sender.createBatch(params, 20), { sessionId: 's' })
  t.is(result.accepted, 20)
  t.is(result.credited, 20n * expectedValue(params.faceValue, params.winProb))
})
