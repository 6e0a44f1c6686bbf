import test from 'ava'
import type { ModelStatus } from '../../src/inference/types.js'
import { ADVERT_RATE, AdvertValidator } from '../../src/market/advert-validator.js'
import { Advertiser, type AdvertiserOptions } from '../../src/market/advertiser.js'
import { OrderBook } from '../../src/market/order-book.js'
import { ADVERT_TOPIC } from '../../src/peer/protocols.js'
import { makeSeller, type Seller } from './fixtures.js'

const SHA = 'AB'.repeat(32)

function status(id: string, overrides: Partial<ModelStatus> = {}): ModelStatus {
  return { id, pipeline: 'upscale', state: 'available', pinned: false, sha256: SHA, bytes: 1, ...overrides }
}

interface Harness {
  advertiser: Advertiser
  sent: Uint8Array[]
  seller: Seller
  models: ModelStatus[]
  fail: { next: boolean }
}

async function harness(options: Partial<AdvertiserOptions> = {}, seller?: Seller): Promise<Harness> {
  const s = seller ?? (await makeSeller())
  const sent: Uint8Array[] = []
  const fail = { next: false }
  const models = [
    status('esrgan', { state: 'warm' }),
    status('rife', { pipeline: 'interpolate' }),
    status('broken', { state: 'failed' }),
    status('unpriced'),
  ]
  const advertiser = new Advertiser(
    {
      privateKey: s.privateKey,
      peerId: s.peerId,
      payment: s.wallet,
      // The advertiser's only outlet: record what would go on the wire (gossip itself is tested in gossip.test.ts).
      publish: async (topic, data) => {
        if (topic !== ADVERT_TOPIC) throw new Error(`published on ${topic}`)
        if (fail.next) {
          fail.next = false
          throw new Error('no route')
        }
        sent.push(data)
        return { recipients: 1 }
      },
      models: () => models,
      capacity: () => ({ free: 1, total: 2 }),
    },
    {
      prices: { esrgan: { pricePerUnit: 5n }, rife: { pricePerUnit: 7n }, broken: { pricePerUnit: 1n } },
      frameFormats: ['rgb24'],
      heartbeatMs: 60_000,
      ...options,
    },
  )
  return { advertiser, sent, seller: s, models, fail }
}

test('the first advert carries only priced, usable models with warm state, sha256 and pipeline units, and validates', async (t) => {
  const h = await harness()
  await h.advertiser.start()
  h.advertiser.stop()
  t.is(h.sent.length, 1)
  const result = await new AdvertValidator().validate(h.sent[0]!, h.seller.peerId)
  if (!result.ok) return t.fail(result.message)
  t.deepEqual(
    result.advert.models.map((m) => [m.id, m.warm, m.unit, m.pricePerUnit, m.sha256]),
    [
      ['esrgan', true, 'output-megapixel', 5n, SHA.toLowerCase()],
      ['rife', false, 'frame', 7n, SHA.toLowerCase()],
    ],
  )
  t.like(result.advert, {
    slotsFree: 1,
    slotsTotal: 2,
    paymentAddress: h.seller.wallet.address.toLowerCase(),
  })
})

test('withdrawing publishes a newer advert that offers nothing: an order book holding the last advert drops every offer of the peer at once', async (t) => {
  const h = await harness()
  await h.advertiser.start()
  const validator = new AdvertValidator()
  const book = new OrderBook()
  t.teardown(() => book.stop())
  const applyAll = async () => {
    for (const bytes of h.sent.splice(0)) {
      const result = await validator.validate(bytes, h.seller.peerId)
      if (!result.ok) return t.fail(result.message)
      book.apply(result.advert)
    }
  }
  await applyAll()
  t.is(book.query().length, 2)
  const removed: string[] = []
  book.events.on('offer:removed', (e) => removed.push(`${e.offer.modelId} ${e.reason}`))
  await h.advertiser.withdraw()
  t.is(h.sent.length, 1)
  await applyAll()
  t.deepEqual(book.query(), [])
  t.deepEqual(removed.sort(), ['esrgan withdrawn', 'rife withdrawn'])
  // Stopped for good: no heartbeat or change brings the offers back.
  h.advertiser.changed()
  t.is(await h.advertiser.publishNow(), undefined)
  t.is(h.sent.length, 0)
})

test('a burst of changes sends one advert after the debounce', async (t) => {
  const h = await harness({ debounceMs: 20 })
  await h.advertiser.start()
  const published = h.advertiser.events.waitFor('advert:published', { timeoutMs: 5_000 })
  for (let i = 0; i < 5; i++) h.advertiser.changed()
  await published
  // publishNow queues behind anything already pending, so extra debounced sends would show here.
  await h.advertiser.publishNow()
  h.advertiser.stop()
  t.is(h.sent.length, 3)
})

test('under constant change an advertiser publishes no faster than receivers accept, so none of its adverts is dropped', async (t) => {
  const h = await harness({ debounceMs: 1 })
  // Receivers check each advert as it arrives, on their own clock.
  const receiver = new AdvertValidator()
  const verdicts: string[] = []
  h.advertiser.events.on('advert:published', () => {
    void receiver.validate(h.sent.at(-1)!, h.seller.peerId).then((r) => verdicts.push(r.ok ? 'ok' : r.code))
  })
  await h.advertiser.start()
  // A slot taken or freed every 10 ms for 3.5 s: far more changes than adverts a peer may send.
  const churn = setInterval(() => h.advertiser.changed(), 10)
  await new Promise((resolve) => setTimeout(resolve, 3_500))
  clearInterval(churn)
  h.advertiser.stop()
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.true(
    verdicts.length > ADVERT_RATE.burst,
    `${verdicts.length} adverts: past the burst, so pacing is what kept them in`,
  )
  t.deepEqual(
    verdicts.filter((v) => v !== 'ok'),
    [],
  )
})

test('the heartbeat republishes with rising sequences while nothing changes', async (t) => {
  const h = await harness({ heartbeatMs: 20, ttlMs: 1_000 })
  const seen: number[] = []
  h.advertiser.events.on('advert:published', ({ advert }) => seen.push(advert.sequence))
  // waitFor's own timer keeps the process alive: the heartbeat timer is unref'd by design.
  const twoMore = h.advertiser.events.waitFor('advert:published', {
    filter: () => seen.length >= 3,
    timeoutMs: 5_000,
  })
  await h.advertiser.start()
  await twoMore
  h.advertiser.stop()
  t.true(seen[0]! < seen[1]! && seen[1]! < seen[2]!)
})

test('a restarted advertiser continues above the sequences it sent before', async (t) => {
  const first = await harness()
  await first.advertiser.start()
  for (let i = 0; i < 3; i++) await first.advertiser.publishNow()
  first.advertiser.stop()
  const validator = new AdvertValidator()
  for (const bytes of first.sent) t.true((await validator.validate(bytes)).ok)
  const second = await harness({}, first.seller)
  await second.advertiser.start()
  second.advertiser.stop()
  t.true((await validator.validate(second.sent[0]!)).ok, 'the restarted advert is not taken for a replay')
})

test('with no priced usable model nothing is published', async (t) => {
  const h = await harness({ prices: {} })
  await h.advertiser.start()
  h.advertiser.stop()
  t.is(h.sent.length, 0)
  t.is(h.advertiser.current(), undefined)
})

test('a failed publish is reported as advert:error and the next one goes out', async (t) => {
  const h = await harness()
  await h.advertiser.start()
  h.fail.next = true
  const error = h.advertiser.events.waitFor('advert:error', { timeoutMs: 5_000 })
  t.is(await h.advertiser.publishNow(), undefined)
  t.regex((await error).error.message, /no route/)
  t.truthy(await h.advertiser.publishNow())
  h.advertiser.stop()
  t.is(h.sent.length, 2)
})

test('a model warming up shows as warm in the next advert', async (t) => {
  const h = await harness({ debounceMs: 1 })
  await h.advertiser.start()
  h.models[1] = status('rife', { pipeline: 'interpolate', state: 'warm' })
  const next = h.advertiser.events.waitFor('advert:published', { timeoutMs: 5_000 })
  h.advertiser.changed()
  const { advert } = await next
  h.advertiser.stop()
  t.true(advert.models.find((m) => m.id === 'rife')!.warm)
})

test('a ttl not above the heartbeat or over the receivers cap is refused with ERR_ADVERTISER_CONFIG', async (t) => {
  for (const options of [{ ttlMs: 1_000, heartbeatMs: 1_000 }, { ttlMs: 11 * 60_000 }]) {
    const err = await t.throwsAsync(harness(options))
    t.is((err as { code?: string }).code, 'ERR_ADVERTISER_CONFIG')
  }
})

test('a payment signer that never answers makes start fail with ERR_TIMEOUT', async (t) => {
  const h = await harness()
  const stuck = new Advertiser(
    {
      privateKey: h.seller.privateKey,
      peerId: h.seller.peerId,
      payment: {
        getAddress: async () => h.seller.wallet.address,
        signMessage: () => new Promise<string>(() => {}),
      },
      publish: async () => ({ recipients: 0 }),
      models: () => h.models,
      capacity: () => ({ free: 1, total: 1 }),
    },
    { prices: {}, frameFormats: [] },
  )
  const err = await t.throwsAsync(stuck.start({ timeoutMs: 50 }))
  t.is((err as { code?: string }).code, 'ERR_TIMEOUT')
})

test('options passed as undefined take their defaults instead of breaking the ttl check', async (t) => {
  const h = await harness({ ttlMs: undefined, heartbeatMs: undefined, debounceMs: undefined })
  await h.advertiser.start()
  h.advertiser.stop()
  const advert = h.advertiser.current()!
  t.is(advert.expiresAt - Math.floor(advert.sequence / 1000), 5 * 60_000)
})
