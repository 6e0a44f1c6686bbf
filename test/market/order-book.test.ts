import test from 'ava'
import { OrderBook, type OrderBookEvents } from '../../src/market/order-book.js'
import { model, plainAdvert, T0 } from './fixtures.js'

const advert = plainAdvert

function record(book: OrderBook) {
  const events: Array<[keyof OrderBookEvents, string, string?]> = []
  book.events.on('offer:added', ({ offer }) =>
    events.push(['offer:added', `${offer.peerId}/${offer.modelId}`]),
  )
  book.events.on('offer:updated', ({ offer }) =>
    events.push(['offer:updated', `${offer.peerId}/${offer.modelId}`]),
  )
  book.events.on('offer:removed', ({ offer, reason }) =>
    events.push(['offer:removed', `${offer.peerId}/${offer.modelId}`, reason]),
  )
  return events
}

test('an advert adds one offer per model and a newer one updates, withdraws and adds offers', (t) => {
  const book = new OrderBook({ now: () => T0 })
  const events = record(book)
  t.true(book.apply(advert('A', { models: [model({ id: 'x' }), model({ id: 'y' })] })))
  t.true(
    book.apply(
      advert('A', { sequence: 2, models: [model({ id: 'y', pricePerUnit: 5n }), model({ id: 'z' })] }),
    ),
  )
  t.deepEqual(events, [
    ['offer:added', 'A/x'],
    ['offer:added', 'A/y'],
    ['offer:removed', 'A/x', 'withdrawn'],
    ['offer:updated', 'A/y'],
    ['offer:added', 'A/z'],
  ])
  t.is(book.get('A', 'y')?.pricePerUnit, 5n)
  t.is(book.size, 2)
})

test('an advert not newer than the one held is ignored', (t) => {
  const book = new OrderBook({ now: () => T0 })
  t.true(book.apply(advert('A', { sequence: 5, slotsFree: 1 })))
  t.false(book.apply(advert('A', { sequence: 5, slotsFree: 3 })))
  t.false(book.apply(advert('A', { sequence: 4, slotsFree: 3 })))
  t.is(book.get('A', 'esrgan-slim-x4')?.slotsFree, 1)
})

test('offers vanish when their advert expires, with an offer:removed event saying expired', (t) => {
  let now = T0
  const book = new OrderBook({ now: () => now })
  const events = record(book)
  book.apply(advert('A', { expiresAt: T0 + 1_000 }))
  book.apply(advert('B', { expiresAt: T0 + 5_000 }))
  now = T0 + 999
  t.is(book.query().length, 2)
  now = T0 + 1_000
  t.deepEqual(
    book.query().map((o) => o.peerId),
    ['B'],
  )
  t.deepEqual(events.at(-1), ['offer:removed', 'A/esrgan-slim-x4', 'expired'])
  t.false(book.apply(advert('C', { expiresAt: now })), 'an advert already expired is not taken in')
})

test('the sweep timer drops expired offers without anyone reading', async (t) => {
  let now = T0
  const book = new OrderBook({ now: () => now }, { sweepIntervalMs: 5 })
  book.apply(advert('A', { expiresAt: T0 + 1_000 }))
  now = T0 + 2_000
  book.start()
  const removed = await book.events.waitFor('offer:removed', { timeoutMs: 5_000 })
  book.stop()
  t.is(removed.reason, 'expired')
})

test('queries filter by pipeline, model, weights, price, free slots, frame format and size', (t) => {
  const book = new OrderBook({ now: () => T0 })
  book.apply(advert('cheap', { models: [model({ pricePerUnit: 10n })], slotsFree: 0 }))
  book.apply(
    advert('mid', {
      models: [model({ pricePerUnit: 20n }), model({ id: 'rife', pipeline: 'interpolate', unit: 'frame' })],
    }),
  )
  book.apply(
    advert('dear', {
      models: [model({ pricePerUnit: 30n, sha256: 'cd'.repeat(32) })],
      frameFormats: ['png'],
      maxFrameWidth: 3840,
      maxFrameHeight: 2160,
    }),
  )
  const peers = (q: Parameters<OrderBook['query']>[0]) =>
    book
      .query(q)
      .map((o) => o.peerId)
      .sort()
  t.deepEqual(peers({ pipeline: 'upscale' }), ['cheap', 'dear', 'mid'])
  t.deepEqual(peers({ pipeline: 'interpolate' }), ['mid'])
  t.deepEqual(peers({ modelId: 'rife' }), ['mid'])
  t.deepEqual(peers({ pipeline: 'upscale', maxPricePerUnit: 20n }), ['cheap', 'mid'])
  t.deepEqual(peers({ pipeline: 'upscale', minFreeSlots: 1 }), ['dear', 'mid'])
  t.deepEqual(peers({ sha256: 'CD'.repeat(32) }), ['dear'])
  t.deepEqual(peers({ frameFormat: 'png' }), ['dear'])
  t.deepEqual(peers({ pipeline: 'upscale', frameWidth: 2560, frameHeight: 1440 }), ['dear'])
})

test('past its peer limit the book drops the peer whose advert expires soonest', (t) => {
  const book = new OrderBook({ now: () => T0 }, { maxPeers: 2 })
  const events = record(book)
  book.apply(advert('A', { expiresAt: T0 + 30_000 }))
  book.apply(advert('B', { expiresAt: T0 + 10_000 }))
  book.apply(advert('C', { expiresAt: T0 + 20_000 }))
  t.deepEqual(book.peers().sort(), ['A', 'C'])
  t.deepEqual(events.at(-2), ['offer:removed', 'B/esrgan-slim-x4', 'evicted'])
})

test('removing a peer drops all its offers', (t) => {
  const book = new OrderBook({ now: () => T0 })
  book.apply(advert('A', { models: [model({ id: 'x' }), model({ id: 'y' })] }))
  book.removePeer('A')
  t.is(book.size, 0)
  t.true(book.apply(advert('A', { sequence: 2 })), 'a newer advert brings the peer back')
})
