import test from 'ava'
import { bytesToHex, hexToBytes } from '../../src/tickets/bytes.js'
import type { TicketErrorCode } from '../../src/tickets/errors.js'
import { MemoryRedemptionQueue } from '../../src/tickets/memory-queue.js'
import { TicketRecipient, type TicketRecipientOptions } from '../../src/tickets/recipient.js'
import { nobleBackend, type Secp256k1Backend } from '../../src/tickets/secp256k1.js'
import { TicketSender } from '../../src/tickets/sender.js'
import {
  type Address,
  expectedValue,
  isWinningTicket,
  type Price,
  recipientRandHash,
  signTicket,
  type TicketBatch,
  type TicketParams,
  ticketFromParams,
  ZERO_ADDRESS,
} from '../../src/tickets/ticket.js'
import { ETH, FixedChain, OTHER_KEY, RECIPIENT, SENDER, SENDER_KEY } from './fixtures.js'

const PRICE: Price = { wei: 1_000n, units: 1n }
const SESSION = 'session-1'

function setup(options: Partial<TicketRecipientOptions> = {}, secp256k1?: Secp256k1Backend) {
  const chain = new FixedChain()
  chain.fund(SENDER, ETH, ETH)
  const queue = new MemoryRedemptionQueue()
  const recipient = new TicketRecipient(
    { clock: chain, senderInfo: chain, gasPrice: chain, redemptionQueue: queue, secp256k1 },
    { address: RECIPIENT, senderInfoTtlMs: 0, ...options },
  )
  const sender = new TicketSender(
    { key: SENDER_KEY, senderInfo: chain, clock: chain },
    { maxTicketEV: ETH, maxBatchEV: 10n * ETH, senderInfoTtlMs: 0 },
  )
  return { chain, queue, recipient, sender }
}

/** A batch signed by SENDER_KEY over arbitrary (possibly tampered) params. */
function signedBatch(params: TicketParams, nonces: number[], key = SENDER_KEY, sender = SENDER): TicketBatch {
  return {
    sender,
    params,
    tickets: nonces.map((n) => ({
      senderNonce: n,
      signature: signTicket(ticketFromParams(sender, params, n), key),
    })),
  }
}

/** Rewrites a signature's bytes. */
function editSignature(sig: string, edit: (b: Uint8Array) => Uint8Array): `0x${string}` {
  return bytesToHex(edit(hexToBytes(sig).slice()))
}

const CURVE_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

async function expectBatchRejected(
  t: import('ava').ExecutionContext,
  recipient: TicketRecipient,
  batch: TicketBatch,
  code: TicketErrorCode,
) {
  const who = /^0x[0-9a-f]{40}$/i.test(batch.sender) ? batch.sender : SENDER
  const before = recipient.balance(who, SESSION)
  await t.throwsAsync(recipient.receiveBatch(batch, { sessionId: SESSION }), { code })
  t.is(recipient.balance(who, SESSION), before, 'a rejected batch never credits')
}

async function expectTicketRejected(
  t: import('ava').ExecutionContext,
  recipient: TicketRecipient,
  batch: TicketBatch,
  code: TicketErrorCode,
) {
  const before = recipient.balance(batch.sender, SESSION)
  const result = await recipient.receiveBatch(batch, { sessionId: SESSION })
  t.is(result.accepted, 0)
  t.is(result.credited, 0n)
  t.deepEqual(
    result.rejected.map((r) => r.error.code),
    batch.tickets.map(() => code),
  )
  t.is(recipient.balance(batch.sender, SESSION), before, 'a rejected ticket never credits')
}

test('issued params carry the current round, its block hash and an expiry block', async (t) => {
  const { chain, recipient } = setup()
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  t.is(params.recipient, RECIPIENT)
  t.is(params.expirationParams.creationRound, chain.currentRound)
  t.is(params.expirationParams.creationRoundBlockHash, chain.roundBlockHash)
  t.is(params.expirationBlock, chain.blockNumber + 40n)
  t.is(params.faceValue, 350_000n * chain.gasPrice * 100n)
  t.is(expectedValue(params.faceValue, params.winProb), 100n * PRICE.wei)
})

test('the face value is capped by what the sender can cover', async (t) => {
  const { chain, recipient } = setup()
  chain.fund(SENDER, 10n ** 15n, 2n * 10n ** 15n)
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  t.is(params.faceValue, 3n * 10n ** 15n)
})

test('valid tickets are accepted and credit their expected value to the session', async (t) => {
  const { recipient, sender } = setup()
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  const batch = await sender.createBatch(params, 5)
  const result = await recipient.receiveBatch(batch, { sessionId: SESSION })
  const ev = expectedValue(params.faceValue, params.winProb)
  t.is(result.accepted, 5)
  t.deepEqual(result.rejected, [])
  t.is(result.credited, 5n * ev)
  t.is(recipient.balance(SENDER, SESSION), 5n * ev)
  t.is(recipient.balance(SENDER, 'another-session'), 0n)
})

test('a ticket signed by someone other than its sender is rejected with ERR_SIGNATURE_INVALID', async (t) => {
  const { recipient } = setup()
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  await expectTicketRejected(
    t,
    recipient,
    signedBatch(params, [0], OTHER_KEY, SENDER),
    'ERR_SIGNATURE_INVALID',
  )
})

test('a ticket with a truncated signature is rejected with ERR_SIGNATURE_LENGTH', async (t) => {
  const { recipient } = setup()
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  const batch = signedBatch(params, [0])
  batch.tickets[0].signature = editSignature(batch.tickets[0].signature, (b) => b.subarray(0, 64))
  await expectTicketRejected(t, recipient, batch, 'ERR_SIGNATURE_LENGTH')
})

for (const backend of [undefined, nobleBackend]) {
  test(`a ticket with a high-S signature is rejected with ERR_SIGNATURE_MALLEABLE (${backend?.name ?? 'default'} backend)`, async (t) => {
    const { recipient } = setup({}, backend)
    const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
    const good = signedBatch(params, [1])
    const batch = signedBatch(params, [0])
    // The high-S twin (n − s, flipped v) is an equally valid ECDSA signature by the same key.
    batch.tickets[0].signature = editSignature(batch.tickets[0].signature, (b) => {
      const s = BigInt(bytesToHex(b.subarray(32, 64)))
      b.set(hexToBytes(`0x${(CURVE_N - s).toString(16).padStart(64, '0')}`), 32)
      b[64] = b[64] === 27 ? 28 : 27
      return b
    })
    await expectTicketRejected(t, recipient, batch, 'ERR_SIGNATURE_MALLEABLE')
    t.is((await recipient.receiveBatch(good, { sessionId: SESSION })).accepted, 1)
  })
}

test('a ticket whose signature has v other than 27 or 28 is rejected with ERR_SIGNATURE_V', async (t) => {
  const { recipient } = setup()
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  const batch = signedBatch(params, [0, 1])
  batch.tickets[0].signature = editSignature(batch.tickets[0].signature, (b) => {
    b[64] -= 27 // the raw recovery id, as some libraries emit
    return b
  })
  batch.tickets[1].signature = editSignature(batch.tickets[1].signature, (b) => {
    b[64] = 29
    return b
  })
  await expectTicketRejected(t, recipient, batch, 'ERR_SIGNATURE_V')
})

test('a replayed nonce is rejected with ERR_TICKET_NONCE_REPLAYED and credits once', async (t) => {
  const { recipient } = setup()
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  const batch = signedBatch(params, [3])
  const first = await recipient.receiveBatch(batch, { sessionId: SESSION })
  t.is(first.accepted, 1)
  await expectTicketRejected(t, recipient, batch, 'ERR_TICKET_NONCE_REPLAYED')
  // and a duplicate inside one batch
  const dup = await recipient.receiveBatch(signedBatch(params, [4, 4]), { sessionId: SESSION })
  t.is(dup.accepted, 1)
  t.deepEqual(
    dup.rejected.map((r) => r.error.code),
    ['ERR_TICKET_NONCE_REPLAYED'],
  )
})

test('tickets past the nonce cap of one recipientRand are rejected with ERR_TICKET_NONCE_CAP', async (t) => {
  const { recipient } = setup({ maxNoncesPerRand: 3 })
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  const result = await recipient.receiveBatch(signedBatch(params, [0, 1, 2, 3, 4]), { sessionId: SESSION })
  t.is(result.accepted, 3)
  t.deepEqual(
    result.rejected.map((r) => [r.senderNonce, r.error.code]),
    [
      [3, 'ERR_TICKET_NONCE_CAP'],
      [4, 'ERR_TICKET_NONCE_CAP'],
    ],
  )
  t.is(result.credited, 3n * expectedValue(params.faceValue, params.winProb))
})

for (const [field, tamper] of [
  ['faceValue', (p: TicketParams): TicketParams => ({ ...p, faceValue: p.faceValue * 2n })],
  ['winProb', (p: TicketParams): TicketParams => ({ ...p, winProb: p.winProb * 1000n })],
  ['seed', (p: TicketParams): TicketParams => ({ ...p, seed: `0x${'11'.repeat(32)}` })],
  [
    'expirationBlock',
    (p: TicketParams): TicketParams => ({ ...p, expirationBlock: p.expirationBlock + 1000n }),
  ],
  ['price', (p: TicketParams): TicketParams => ({ ...p, price: { wei: 1n, units: 1n } })],
] as const) {
  test(`params with a tampered ${field} are rejected with ERR_TICKET_PARAMS_TAMPERED`, async (t) => {
    const { recipient } = setup()
    const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
    await expectBatchRejected(t, recipient, signedBatch(tamper(params), [0]), 'ERR_TICKET_PARAMS_TAMPERED')
  })
}

test('params issued to one sender do not work for another (ERR_TICKET_PARAMS_TAMPERED)', async (t) => {
  const { chain, recipient } = setup()
  const other = new TicketSender(
    { key: OTHER_KEY, senderInfo: chain, clock: chain },
    { maxTicketEV: ETH, maxBatchEV: ETH, senderInfoTtlMs: 0 },
  )
  chain.fund(other.address, ETH, ETH)
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  await expectBatchRejected(
    t,
    recipient,
    signedBatch(params, [0], OTHER_KEY, other.address),
    'ERR_TICKET_PARAMS_TAMPERED',
  )
})

test('tickets on expired params are rejected with ERR_TICKET_EXPIRED', async (t) => {
  const { chain, recipient } = setup()
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  chain.blockNumber = params.expirationBlock + 1n
  await expectBatchRejected(t, recipient, signedBatch(params, [0]), 'ERR_TICKET_EXPIRED')
})

test('tickets from a round TicketBroker no longer redeems are rejected with ERR_TICKET_ROUND', async (t) => {
  const { chain, recipient } = setup()
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  chain.currentRound += 2n
  await expectBatchRejected(t, recipient, signedBatch(params, [0]), 'ERR_TICKET_ROUND')
})

test('tickets from a sender whose funds are unlocking are rejected with ERR_SENDER_UNLOCKING', async (t) => {
  const { chain, recipient } = setup()
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  chain.senders.set(SENDER, { deposit: ETH, reserve: ETH, withdrawRound: 12n })
  await expectBatchRejected(t, recipient, signedBatch(params, [0]), 'ERR_SENDER_UNLOCKING')
  await t.throwsAsync(recipient.issueParams({ sender: SENDER, price: PRICE }), {
    code: 'ERR_SENDER_UNLOCKING',
  })
})

test('tickets whose face value the sender can no longer cover are rejected with ERR_SENDER_FUNDS', async (t) => {
  const { chain, recipient } = setup()
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  chain.fund(SENDER, params.faceValue / 4n, params.faceValue / 4n)
  await expectTicketRejected(t, recipient, signedBatch(params, [0, 1]), 'ERR_SENDER_FUNDS')
})

test('a sender who cannot cover one ticket is refused params with ERR_SENDER_FUNDS', async (t) => {
  const { chain, recipient } = setup()
  chain.fund(SENDER, 10n, 0n)
  await t.throwsAsync(recipient.issueParams({ sender: SENDER, price: PRICE }), { code: 'ERR_SENDER_FUNDS' })
})

test('tickets for another recipient are rejected with ERR_TICKET_RECIPIENT', async (t) => {
  const { chain, queue, recipient } = setup()
  const elsewhere = new TicketRecipient(
    { clock: chain, senderInfo: chain, gasPrice: chain, redemptionQueue: queue },
    { address: `0x${'77'.repeat(20)}` },
  )
  const params = await elsewhere.issueParams({ sender: SENDER, price: PRICE })
  await expectBatchRejected(t, recipient, signedBatch(params, [0]), 'ERR_TICKET_RECIPIENT')
})

test('tickets from the zero address are rejected with ERR_TICKET_SENDER_ZERO', async (t) => {
  const { recipient } = setup()
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  await expectBatchRejected(
    t,
    recipient,
    signedBatch(params, [0], SENDER_KEY, ZERO_ADDRESS),
    'ERR_TICKET_SENDER_ZERO',
  )
})

test('a malformed batch is rejected with ERR_TICKET_FIELD', async (t) => {
  const { recipient } = setup()
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  await expectBatchRejected(
    t,
    recipient,
    { ...signedBatch(params, [0]), sender: '0x1234' },
    'ERR_TICKET_FIELD',
  )
  const badNonce = signedBatch(params, [0])
  badNonce.tickets[0].senderNonce = -1
  await expectBatchRejected(t, recipient, badNonce, 'ERR_TICKET_FIELD')
  await expectBatchRejected(t, recipient, { ...signedBatch(params, [0]), tickets: [] }, 'ERR_TICKET_FIELD')
  const badFace = signedBatch(params, [0])
  badFace.params = { ...params, faceValue: -1n }
  await expectBatchRejected(t, recipient, badFace, 'ERR_TICKET_FIELD')
})

test('when the chain cannot be read and no read of the sender is recent enough the batch is rejected with ERR_SENDER_INFO', async (t) => {
  const { chain, recipient } = setup({ senderInfoStaleMs: 0 })
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  chain.failSenderInfo = true
  await expectBatchRejected(t, recipient, signedBatch(params, [0]), 'ERR_SENDER_INFO')
})

test('when the chain stops answering, a sender read before is checked on that read up to senderInfoStaleMs, then refused', async (t) => {
  const { chain, recipient } = setup({ senderInfoStaleMs: 200 })
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  await recipient.receiveBatch(signedBatch(params, [0]), { sessionId: SESSION })
  chain.failSenderInfo = true
  t.is((await recipient.receiveBatch(signedBatch(params, [1]), { sessionId: SESSION })).accepted, 1)
  await new Promise((resolve) => setTimeout(resolve, 250))
  await expectBatchRejected(t, recipient, signedBatch(params, [2]), 'ERR_SENDER_INFO')
  chain.failSenderInfo = false
  t.is((await recipient.receiveBatch(signedBatch(params, [3]), { sessionId: SESSION })).accepted, 1)
})

test('the recipient remembers at most maxRememberedSenders senders, dropping the least recently seen', async (t) => {
  const { chain, recipient } = setup({ senderInfoTtlMs: 60_000, maxRememberedSenders: 2 })
  const senders = ['0x' + '1'.repeat(40), '0x' + '2'.repeat(40), '0x' + '3'.repeat(40)] as Address[]
  for (const s of senders) chain.fund(s, ETH, ETH)
  for (const s of senders) await recipient.issueParams({ sender: s, price: PRICE })
  t.is(chain.senderInfoCalls, 3)
  // The two latest are remembered; the first was dropped and is read again.
  await recipient.issueParams({ sender: senders[2]!, price: PRICE })
  await recipient.issueParams({ sender: senders[1]!, price: PRICE })
  t.is(chain.senderInfoCalls, 3)
  await recipient.issueParams({ sender: senders[0]!, price: PRICE })
  t.is(chain.senderInfoCalls, 4)
})

test('past maxSenderReadsInFlight an unseen sender is refused with ERR_SENDER_READS_BUSY and a known one is checked on its last read', async (t) => {
  const chain = new FixedChain()
  const senders = ['0x' + '1'.repeat(40), '0x' + '2'.repeat(40), '0x' + '3'.repeat(40)] as Address[]
  for (const s of [SENDER, ...senders]) chain.fund(s, ETH, ETH)
  let open: () => void = () => {}
  let gate: Promise<void> = Promise.resolve()
  const gated = {
    getSenderInfo: async (s: Address) => {
      await gate
      return chain.getSenderInfo(s)
    },
  }
  const recipient = new TicketRecipient(
    { clock: chain, senderInfo: gated, gasPrice: chain, redemptionQueue: new MemoryRedemptionQueue() },
    { address: RECIPIENT, senderInfoTtlMs: 0, maxSenderReadsInFlight: 2 },
  )
  await recipient.issueParams({ sender: SENDER, price: PRICE })
  gate = new Promise((resolve) => (open = resolve))
  const slow = senders.slice(0, 2).map((sender) => recipient.issueParams({ sender, price: PRICE }))
  const readsBefore = chain.senderInfoCalls
  const busy = await t.throwsAsync(recipient.issueParams({ sender: senders[2]!, price: PRICE }))
  t.is((busy as { code?: string }).code, 'ERR_SENDER_READS_BUSY')
  t.regex(busy!.message, /retry shortly or try another orchestrator/)
  // A sender read before is served on that read, without a third read in flight.
  await t.notThrowsAsync(recipient.issueParams({ sender: SENDER, price: PRICE }))
  open()
  await Promise.all(slow)
  t.is(chain.senderInfoCalls, readsBefore + 2)
  // With the reads done, the refused sender is read and quoted.
  await t.notThrowsAsync(recipient.issueParams({ sender: senders[2]!, price: PRICE }))
})

test('sender funds are read once per TTL, not once per ticket', async (t) => {
  const { chain, recipient } = setup({ senderInfoTtlMs: 60_000 })
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  await recipient.receiveBatch(signedBatch(params, [0, 1, 2]), { sessionId: SESSION })
  await recipient.receiveBatch(signedBatch(params, [3]), { sessionId: SESSION })
  t.is(chain.senderInfoCalls, 1)
})

test('winning tickets go to the redemption queue with the rand that redeems them', async (t) => {
  const { queue, recipient, sender } = setup({ ticketEV: 10n ** 16n })
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  const batch = await sender.createBatch(params, 40)
  const result = await recipient.receiveBatch(batch, { sessionId: SESSION })
  t.is(result.accepted, 40)
  t.true(result.winners > 0, 'at EV = faceValue/3.5 some of 40 tickets win')
  const winners = queue.drain()
  t.is(winners.length, result.winners)
  for (const w of winners) {
    t.is(recipientRandHash(w.recipientRand), params.recipientRandHash)
    t.true(isWinningTicket(w.signature, w.recipientRand, w.ticket.winProb))
    t.is(w.ticket.sender, SENDER)
  }
})

test('queued wins reduce what a sender can still cover', async (t) => {
  const { chain, queue, recipient } = setup({ ticketEV: 10n ** 16n })
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  chain.fund(SENDER, params.faceValue, 0n)
  await queue.enqueue({
    ticket: ticketFromParams(SENDER, params, 99),
    signature: `0x${'00'.repeat(65)}`,
    recipientRand: 1n,
  })
  await expectTicketRejected(t, recipient, signedBatch(params, [0]), 'ERR_SENDER_FUNDS')
})

test('debit refuses work with ERR_INSUFFICIENT_CREDIT when the balance is below the next unit and takes nothing', async (t) => {
  const { recipient, sender } = setup()
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  const ev = expectedValue(params.faceValue, params.winProb) // 100 units' worth
  t.throws(() => recipient.debit({ sender: SENDER, sessionId: SESSION, units: 1n, price: PRICE }), {
    code: 'ERR_INSUFFICIENT_CREDIT',
  })
  await recipient.receiveBatch(await sender.createBatch(params, 1), { sessionId: SESSION })
  t.is(recipient.debit({ sender: SENDER, sessionId: SESSION, units: 60n, price: PRICE }), ev - 60_000n)
  const err = t.throws(
    () => recipient.debit({ sender: SENDER, sessionId: SESSION, units: 41n, price: PRICE }),
    {
      code: 'ERR_INSUFFICIENT_CREDIT',
    },
  )
  t.is((err as { details?: Record<string, unknown> } | undefined)?.details?.gap, 1_000n)
  t.is(recipient.balance(SENDER, SESSION), ev - 60_000n, 'a refused debit takes nothing')
  t.is(recipient.debit({ sender: SENDER, sessionId: SESSION, units: 40n, price: PRICE }), 0n)
})

test('a sender closing a credit gap sends ⌈gap ÷ EV⌉ tickets and then the work is paid', async (t) => {
  const { recipient, sender } = setup()
  const params = await recipient.issueParams({ sender: SENDER, price: PRICE })
  const ev = expectedValue(params.faceValue, params.winProb)
  const units = 1_050n // 10.5 tickets' worth
  const gap = recipient.creditGap({ sender: SENDER, sessionId: SESSION, units, price: PRICE })
  t.is(gap, units * PRICE.wei)
  const batch = await sender.ticketsForCredit(params, gap)
  t.is(batch?.tickets.length, Number((gap + ev - 1n) / ev))
  t.is(batch?.tickets.length, 11)
  if (batch === undefined) return
  await recipient.receiveBatch(batch, { sessionId: SESSION })
  t.is(recipient.creditGap({ sender: SENDER, sessionId: SESSION, units, price: PRICE }), 0n)
  t.notThrows(() => recipient.debit({ sender: SENDER, sessionId: SESSION, units, price: PRICE }))
  t.is(await sender.ticketsForCredit(params, 0n), undefined)
})

test('an aborted wait for sender funds ends with ERR_ABORTED', async (t) => {
  const chain = new FixedChain()
  let release: () => void = () => {}
  const slow = {
    getSenderInfo: () => new Promise<never>((_, reject) => (release = () => reject(new Error('x')))),
  }
  const recipient = new TicketRecipient(
    { clock: chain, senderInfo: slow, gasPrice: chain, redemptionQueue: new MemoryRedemptionQueue() },
    { address: RECIPIENT },
  )
  const controller = new AbortController()
  const pending = recipient.issueParams({ sender: SENDER, price: PRICE, signal: controller.signal })
  controller.abort()
  await t.throwsAsync(pending, { code: 'ERR_ABORTED' })
  release()
})
