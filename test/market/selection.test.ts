import test from 'ava'
import { offerChooser } from '../../src/market/chooser.js'
import type { Offer } from '../../src/market/offer.js'
import { OrderBook } from '../../src/market/order-book.js'
import { type PeerHealth, PeerStats } from '../../src/market/peer-stats.js'
import { seededRng } from '../../src/market/rng.js'
import { rankOffers, selectOffer, selectOffers } from '../../src/market/selection.js'
import { model, plainAdvert, T0 } from './fixtures.js'

function offer(peerId: string, overrides: Partial<Offer> = {}): Offer {
  return {
    peerId,
    paymentAddress: '0x000000000000000000000000000000000000dEaD',
    modelId: 'esrgan-slim-x4',
    pipeline: 'upscale',
    sha256: 'ab'.repeat(32),
    warm: true,
    pricePerUnit: 100n,
    unit: 'output-megapixel',
    slotsFree: 2,
    slotsTotal: 4,
    frameFormats: ['rgb24'],
    maxFrameWidth: 0,
    maxFrameHeight: 0,
    sequence: 1,
    expiresAt: Number.MAX_SAFE_INTEGER,
    receivedAt: 0,
    ...overrides,
  }
}

const healthy: PeerHealth = { latencyMs: 50, successRate: 0.95, suspended: false }

const market: Offer[] = [
  offer('cheap', { pricePerUnit: 100n }),
  offer('near1', { pricePerUnit: 110n }),
  offer('near2', { pricePerUnit: 125n }),
  offer('fourth', { pricePerUnit: 140n }),
  offer('suspended', { pricePerUnit: 50n }),
  offer('busy', { pricePerUnit: 60n, slotsFree: 0 }),
  offer('pricey', { pricePerUnit: 1_000n }),
  offer('other-model', { pricePerUnit: 10n, modelId: 'esrgan-thick-x4' }),
]
const health = (peerId: string): PeerHealth =>
  peerId === 'suspended' ? { ...healthy, suspended: true } : healthy

function tally(picks: number, seed: number, count = 1): Map<string, number> {
  const rng = seededRng(seed)
  const counts = new Map<string, number>()
  for (let i = 0; i < picks; i++) {
    for (const s of selectOffers(
      market,
      { modelId: 'esrgan-slim-x4', maxPricePerUnit: 500n },
      health,
      count,
      { rng },
    )) {
      counts.set(s.offer.peerId, (counts.get(s.offer.peerId) ?? 0) + 1)
    }
  }
  return counts
}

test('ranking puts the cheap healthy peer first and leaves out suspended, busy, too-expensive and other-model offers', (t) => {
  const ranked = rankOffers(market, { modelId: 'esrgan-slim-x4', maxPricePerUnit: 500n }, health)
  t.deepEqual(
    ranked.map((s) => s.offer.peerId),
    ['cheap', 'near1', 'near2', 'fourth'],
  )
})

test('over many picks the cheap peer wins most but load spreads across the best three, never beyond', (t) => {
  const counts = tally(3_000, 42)
  t.log(Object.fromEntries(counts))
  const share = (p: string) => (counts.get(p) ?? 0) / 3_000
  t.true(share('cheap') > share('near1') && share('near1') > share('near2'))
  t.true(share('cheap') < 0.5, 'the cheapest peer is not swamped')
  t.true(share('near2') > 0.2, 'the third best still gets a fair share')
  for (const never of ['fourth', 'suspended', 'busy', 'pricey', 'other-model'])
    t.is(counts.get(never), undefined, never)
})

test('the same seed gives the same picks', (t) => {
  t.deepEqual([...tally(50, 7)], [...tally(50, 7)])
})

test('selectOffers returns distinct peers, best first-draws, for fallbacks', (t) => {
  const picks = selectOffers(market, { modelId: 'esrgan-slim-x4' }, health, 3, { rng: seededRng(1) })
  t.is(new Set(picks.map((p) => p.offer.peerId)).size, 3)
  t.false(picks.some((p) => ['suspended', 'busy'].includes(p.offer.peerId)))
})

test('a peer scoring far below the best is not drawn even inside the top few', (t) => {
  const offers = [offer('good'), offer('awful', { pricePerUnit: 100_000n })]
  const rng = seededRng(3)
  for (let i = 0; i < 200; i++) t.is(selectOffer(offers, {}, () => healthy, { rng })?.offer.peerId, 'good')
})

test('nothing qualifies: no pick rather than a busy or suspended one', (t) => {
  const offers = [offer('busy', { slotsFree: 0 }), offer('s')]
  t.is(
    selectOffer(offers, {}, (p) => ({ ...healthy, suspended: p === 's' })),
    undefined,
  )
})

test('slow, failing and cold peers score below fast, reliable, warm ones at the same price', (t) => {
  const offers = [offer('slow'), offer('flaky'), offer('cold', { warm: false }), offer('good')]
  const h = (p: string): PeerHealth => ({
    latencyMs: p === 'slow' ? 2_000 : 50,
    successRate: p === 'flaky' ? 0.5 : 0.95,
    suspended: false,
  })
  const score = new Map(rankOffers(offers, {}, h).map((s) => [s.offer.peerId, s.score]))
  for (const worse of ['slow', 'flaky', 'cold']) t.true(score.get(worse)! < score.get('good')!, worse)
})

test('excluded peers are never picked', (t) => {
  const rng = seededRng(9)
  for (let i = 0; i < 100; i++) {
    t.not(
      selectOffer(market, { modelId: 'esrgan-slim-x4' }, health, { rng, exclude: new Set(['cheap']) })?.offer
        .peerId,
      'cheap',
    )
  }
})

test('prices of 0 and of uint256 size rank without dividing by zero or losing order', (t) => {
  const offers = [offer('free', { pricePerUnit: 0n }), offer('huge', { pricePerUnit: 2n ** 255n })]
  const ranked = rankOffers(offers, {}, () => healthy)
  t.is(ranked[0]!.offer.peerId, 'free')
  t.true(ranked.every((s) => Number.isFinite(s.score)))
})

test('back-off doubles with each consecutive failure up to the cap and a success resets it', (t) => {
  let now = 0
  const stats = new PeerStats({ now: () => now }, { baseSuspendMs: 1_000, maxSuspendMs: 5_000 })
  const lengths: number[] = []
  for (let i = 0; i < 5; i++) {
    stats.recordFailure('p')
    lengths.push(stats.get('p')!.suspendedUntil - now)
  }
  t.deepEqual(lengths, [1_000, 2_000, 4_000, 5_000, 5_000])
  t.true(stats.isSuspended('p'))
  now += 5_000
  t.false(stats.isSuspended('p'), 'the suspension lapses on its own')
  stats.recordSuccess('p')
  stats.recordFailure('p')
  t.is(
    stats.get('p')!.suspendedUntil - now,
    1_000,
    'after a success the next failure starts from the base again',
  )
})

test('a success lifts a running suspension', (t) => {
  const stats = new PeerStats({ now: () => 0 })
  stats.recordFailure('p')
  t.true(stats.health('p').suspended)
  stats.recordSuccess('p')
  t.false(stats.health('p').suspended)
})

test('a peer caught returning wrong work stays suspended through a success elsewhere, until its suspension ends', (t) => {
  let now = 0
  const stats = new PeerStats({ now: () => now }, { maxSuspendMs: 60_000 })
  stats.recordMisbehaviour('cheat')
  // Another job's session with it, already running, ends well.
  now += 1_000
  stats.recordSuccess('cheat')
  t.true(stats.isSuspended('cheat'))
  now += 59_000
  t.false(stats.isSuspended('cheat'), 'the suspension lapses on its own')
  // Later failures are back to the ordinary back-off, lifted by a success.
  stats.recordFailure('cheat')
  stats.recordSuccess('cheat')
  t.false(stats.isSuspended('cheat'))
})

test('latency is an exponential moving average of network round trips; a finished job leaves it alone', (t) => {
  const stats = new PeerStats({}, { latencyAlpha: 0.5 })
  t.is(stats.health('p').latencyMs, undefined)
  stats.recordLatency('p', 100)
  stats.recordLatency('p', 200)
  t.is(stats.health('p').latencyMs, 150)
  stats.recordSuccess('p')
  t.is(stats.health('p').latencyMs, 150)
})

test('success rate starts at the prior, falls with failures and climbs back with successes', (t) => {
  const stats = new PeerStats({ now: () => 0 }, { priorSuccessRate: 0.8, successAlpha: 0.5 })
  t.is(stats.health('new').successRate, 0.8)
  stats.recordFailure('p')
  t.is(stats.health('p').successRate, 0.4)
  stats.recordSuccess('p')
  t.is(stats.health('p').successRate, 0.7)
})

test('peer stats feed selection: a suspended peer is skipped until it recovers', (t) => {
  let now = 0
  const stats = new PeerStats({ now: () => now }, { baseSuspendMs: 1_000 })
  const offers = [offer('a', { pricePerUnit: 1n }), offer('b', { pricePerUnit: 1_000_000n })]
  stats.recordFailure('a')
  const pick = () => selectOffer(offers, {}, (p) => stats.health(p), { rng: seededRng(1) })?.offer.peerId
  t.is(pick(), 'b')
  now = 1_000
  t.is(pick(), 'a')
})

test('a chooser over the live order book skips excluded peers and peers suspended after a failure', (t) => {
  let now = T0
  const book = new OrderBook({ now: () => now }, { sweepIntervalMs: 0 })
  const stats = new PeerStats({ now: () => now }, { baseSuspendMs: 1_000 })
  for (const [peerId, price] of [
    ['a', 1n],
    ['b', 2n],
    ['c', 3n],
  ] as const) {
    book.apply(plainAdvert(peerId, { models: [model({ pricePerUnit: price })] }))
  }
  const choose = offerChooser(
    { orderBook: book, stats },
    { pipeline: 'upscale' },
    { rng: seededRng(5), topK: 1 },
  )
  t.is(choose()?.peerId, 'a')
  t.is(choose(new Set(['a']))?.peerId, 'b')
  stats.recordFailure('b')
  t.is(choose(new Set(['a']))?.peerId, 'c')
  t.is(choose(new Set(['a', 'c'])), undefined, 'b is suspended, so nobody is left')
  now += 1_000
  t.is(choose(new Set(['a', 'c']))?.peerId, 'b')
})
