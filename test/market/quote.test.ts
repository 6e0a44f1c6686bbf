// PROTOCOLS.quote between real peers: signed quotes, refusal codes, expiry. Real tickets on a dev chain.
import { generateKeyPair } from '@libp2p/crypto/keys'
import anyTest, { type TestFn } from 'ava'
import { BudgetPayer } from '../../src/market/broadcaster-payer.js'
import { JobSession } from '../../src/market/job-session.js'
import { type JobSpec, signQuote, verifyQuote } from '../../src/market/quote.js'
import { requestQuote } from '../../src/market/quote-protocol.js'
import type { Address } from '../../src/tickets/ticket.js'
import { type DirectPair, PRICE, startDirectPair, upscaleSpec } from './mesh-fixtures.js'

interface Ctx extends DirectPair {
  clock: { now: number }
}
const test = anyTest.serial as TestFn<Ctx>

test.before(async (t) => {
  // The orchestrator's clock is ours to move, so quote expiry needs no sleeping.
  const clock = { now: Date.now() }
  const pair = await startDirectPair({
    now: () => clock.now,
    ttlMs: 5_000,
    capacity: 1,
    maxFrameWidth: 64,
    maxFrameHeight: 64,
  })
  t.context = { ...pair, clock }
})

test.after.always(async (t) => {
  await t.context.market?.stop()
})

function spec(ctx: Ctx, overrides: Partial<JobSpec> = {}): JobSpec {
  return upscaleSpec(ctx.sender.address, { frameCount: 10, ...overrides })
}

const ask = (ctx: Ctx, s: JobSpec) =>
  requestQuote({ peer: ctx.buyer }, { peerId: ctx.orch.peer.peerId, dial: ctx.orch.peer.multiaddrs[0] }, s)

test('a quote is signed by the orchestrator, binds its price and carries ticket params for its own address', async (t) => {
  const quote = await ask(t.context, spec(t.context))
  t.is(quote.peerId, t.context.orch.peer.peerId)
  t.is(quote.pricePerUnit, PRICE)
  t.is(quote.unit, 'output-megapixel')
  t.is<string, string>(quote.ticketParams.recipient, t.context.orch.wallet.address.toLowerCase())
  t.deepEqual(quote.ticketParams.price, { wei: PRICE, units: 1_000_000n })
  t.is(quote.expiresAt, t.context.clock.now + 5_000)
  // The broadcaster's ticket sender accepts the params (EV cap, funds, expiry).
  await t.notThrowsAsync(t.context.sender.checkParams(quote.ticketParams))
})

test('each refusal reason comes back as its code', async (t) => {
  const cases: Array<[Partial<JobSpec>, string]> = [
    [{ modelId: 'no-such-model' }, 'ERR_UNKNOWN_MODEL'],
    [{ modelId: 'esrgan-slim-x4' }, 'ERR_UNKNOWN_MODEL'],
    [{ pipeline: 'interpolate' }, 'ERR_UNKNOWN_MODEL'],
    [{ maxPricePerUnit: PRICE - 1n }, 'ERR_PRICE_TOO_LOW'],
    [{ width: 65 }, 'ERR_FRAME_TOO_LARGE'],
    [{ format: 'png' }, 'ERR_UNSUPPORTED_FORMAT'],
    [{ pipeline: 'ocr-detect' }, 'ERR_UNSUPPORTED_PIPELINE'],
    [{ width: 0 }, 'ERR_BAD_SPEC'],
    // An address with no deposit in the broker cannot cover a ticket.
    [{ sender: `0x${'12'.repeat(20)}` as Address }, 'ERR_SENDER_FUNDS'],
  ]
  for (const [overrides, code] of cases) {
    const err = await t.throwsAsync(ask(t.context, spec(t.context, overrides)))
    t.is((err as { code?: string }).code, code, `${Object.keys(overrides).join()}: ${err?.message}`)
  }
})

test('an orchestrator with every slot taken refuses with ERR_BUSY', async (t) => {
  const { buyer, sender } = t.context
  const quote = await ask(t.context, spec(t.context))
  const session = new JobSession({ peer: buyer, payer: new BudgetPayer(sender) }, { quote })
  await session.open()
  const err = await t.throwsAsync(ask(t.context, spec(t.context)))
  t.is((err as { code?: string }).code, 'ERR_BUSY')
  await session.end()
  await session.done
})

test('an expired quote opens no job: ERR_QUOTE_EXPIRED', async (t) => {
  const { buyer, sender, clock } = t.context
  const quote = await ask(t.context, spec(t.context))
  clock.now += 5_001
  try {
    const session = new JobSession({ peer: buyer, payer: new BudgetPayer(sender) }, { quote })
    const err = await t.throwsAsync(session.open())
    t.is((err as { code?: string }).code, 'ERR_QUOTE_EXPIRED')
  } finally {
    clock.now = Date.now()
  }
})

test('a quote whose body was altered, or that another key signed, is rejected with ERR_QUOTE_INVALID', async (t) => {
  const { orch } = t.context
  const quote = await ask(t.context, spec(t.context))
  const genuine = await signQuote(quote, orch.privateKey)
  t.is((await verifyQuote(genuine, orch.peer.peerId)).quoteId, quote.quoteId)
  const altered = { ...genuine, body: Uint8Array.from(genuine.body) }
  altered.body[altered.body.length - 1]! ^= 1
  const forgedBody = await t.throwsAsync(verifyQuote(altered, orch.peer.peerId))
  t.is((forgedBody as { code?: string }).code, 'ERR_QUOTE_INVALID')
  const impostor = await signQuote(quote, await generateKeyPair('Ed25519'))
  const forgedKey = await t.throwsAsync(verifyQuote(impostor, orch.peer.peerId))
  t.is((forgedKey as { code?: string }).code, 'ERR_QUOTE_INVALID')
})

test('a peer naming more than 8 different senders in 10 minutes is refused with ERR_TOO_MANY_SENDERS, and its own wallet still gets quotes', async (t) => {
  const { clock } = t.context
  try {
    // Made-up senders: each costs the orchestrator a chain read and is refused for its funds,
    // until the peer has named 8 different senders (its own wallet among them).
    const codes: string[] = []
    for (let n = 1; n <= 10; n++) {
      const err = await t.throwsAsync(
        ask(t.context, spec(t.context, { sender: `0x${n.toString(16).padStart(40, 'a')}` as Address })),
      )
      codes.push((err as { code?: string }).code ?? '')
    }
    const refusedAt = codes.indexOf('ERR_TOO_MANY_SENDERS')
    t.true(refusedAt > 0, codes.join())
    t.true(
      codes.slice(0, refusedAt).every((c) => c === 'ERR_SENDER_FUNDS'),
      codes.join(),
    )
    t.true(
      codes.slice(refusedAt).every((c) => c === 'ERR_TOO_MANY_SENDERS'),
      codes.join(),
    )
    await t.notThrowsAsync(ask(t.context, spec(t.context)))
    // Ten minutes on, the made-up senders no longer count.
    clock.now += 600_000
    const later = await t.throwsAsync(
      ask(t.context, spec(t.context, { sender: `0x${'b'.repeat(40)}` as Address })),
    )
    t.is((later as { code?: string }).code, 'ERR_SENDER_FUNDS')
  } finally {
    clock.now = Date.now()
  }
})
