import test, { type ExecutionContext } from 'ava'
import type { ModelStatus } from '../../src/inference/types.js'
import { signAdvert } from '../../src/market/advert.js'
import {
  AdvertFeed,
  gossipScore,
  installAdvertScoring,
  watchAdvertSubscribers,
} from '../../src/market/advert-gossip.js'
import { AdvertValidator } from '../../src/market/advert-validator.js'
import { Advertiser } from '../../src/market/advertiser.js'
import { LatencyProber } from '../../src/market/latency-prober.js'
import { OrderBook } from '../../src/market/order-book.js'
import { SignedAdvert } from '../../src/market/pb/advert.js'
import { PeerStats } from '../../src/market/peer-stats.js'
import { ADVERT_TOPIC } from '../../src/peer/protocols.js'
import { eventually, startPeer } from '../helpers/peer.js'
import { makeAdvert, makeSeller } from './fixtures.js'

const served: ModelStatus[] = [
  {
    id: 'esrgan-slim-x4',
    pipeline: 'upscale',
    state: 'warm',
    pinned: false,
    sha256: 'ab'.repeat(32),
    bytes: 1,
  },
]

/** A seller peer with a running advertiser, and a buyer peer with a feed into its order book, connected. */
async function pair(t: ExecutionContext) {
  const seller = await makeSeller()
  const sellerPeer = await startPeer(t, { privateKey: seller.privateKey, addressDiscovery: false })
  const buyerPeer = await startPeer(t, { addressDiscovery: false })
  installAdvertScoring(buyerPeer)
  const orderBook = new OrderBook({}, { sweepIntervalMs: 0 })
  const validator = new AdvertValidator()
  const feed = new AdvertFeed({ gossip: buyerPeer.gossip, validator, orderBook })
  feed.start()
  t.teardown(() => feed.stop())

  const sent: Uint8Array[] = []
  const advertiser = new Advertiser(
    {
      privateKey: seller.privateKey,
      peerId: seller.peerId,
      payment: seller.wallet,
      publish: (topic, data) => {
        sent.push(data)
        return sellerPeer.gossip.publish(topic, data)
      },
      models: () => served,
      capacity: () => ({ free: 3, total: 4 }),
    },
    { prices: { 'esrgan-slim-x4': { pricePerUnit: 1_000n } }, frameFormats: ['rgb24'], debounceMs: 10 },
  )
  const unwatch = watchAdvertSubscribers(sellerPeer, () => advertiser.changed())
  t.teardown(() => {
    unwatch()
    advertiser.stop()
  })
  return { seller, sellerPeer, buyerPeer, orderBook, validator, feed, advertiser, sent }
}

test("an orchestrator's advert reaches a buyer's order book over gossip", async (t) => {
  const { sellerPeer, buyerPeer, orderBook, advertiser } = await pair(t)
  await advertiser.start()
  const added = orderBook.events.waitFor('offer:added', { timeoutMs: 15_000 })
  const published = advertiser.events.waitFor('advert:published', {
    filter: (e) => e.recipients > 0,
    timeoutMs: 15_000,
  })
  // The seller learns of the buyer's subscription on connect and republishes for it at once.
  await buyerPeer.dial(sellerPeer.multiaddrs[0]!)
  const [{ offer }] = await Promise.all([added, published])
  // The advert is stamped with expiresAt = build time + ttl (default 5 min): build -> order book.
  t.log(
    `advert build, sign, gossip, validate -> order book: ${offer.receivedAt - (offer.expiresAt - 5 * 60_000)} ms`,
  )
  t.like(offer, {
    peerId: sellerPeer.peerId,
    modelId: 'esrgan-slim-x4',
    pricePerUnit: 1_000n,
    slotsFree: 3,
    warm: true,
  })
  t.deepEqual(
    orderBook.query({ pipeline: 'upscale' }).map((o) => o.peerId),
    [sellerPeer.peerId],
  )
})

test('forged, mis-published and replayed adverts are rejected at the gossip edge and cost the sender score', async (t) => {
  const { seller, sellerPeer, buyerPeer, orderBook, feed, advertiser, sent } = await pair(t)
  await advertiser.start()
  const added = orderBook.events.waitFor('offer:added', { timeoutMs: 15_000 })
  await buyerPeer.dial(sellerPeer.multiaddrs[0]!)
  await added
  const sequence = orderBook.sequenceOf(sellerPeer.peerId)
  await eventually(() => gossipScore(buyerPeer, sellerPeer.peerId) > 0)
  t.log(`seller score after a good advert: ${gossipScore(buyerPeer, sellerPeer.peerId)}`)

  const rejected: string[] = []
  const allJudged = feed.events.waitFor('advert:rejected', {
    filter: (e) => {
      rejected.push(e.code)
      return rejected.length === 3
    },
    timeoutMs: 15_000,
  })
  // 1. The exact bytes of the advert already accepted, sent again (a new gossip message).
  await sellerPeer.gossip.publish(ADVERT_TOPIC, sent.at(-1)!)
  // 2. A genuine advert of another peer, published by the seller.
  const other = await makeSeller()
  await sellerPeer.gossip.publish(ADVERT_TOPIC, await signAdvert(await makeAdvert(other), other.privateKey))
  // 3. The seller's own advert with a newer sequence and a cheaper price, but a broken signature.
  const forged = SignedAdvert.decode(
    await signAdvert(await makeAdvert(seller, { sequence: sequence! + 10 }), seller.privateKey),
  )
  forged.signature[0] ^= 1
  await sellerPeer.gossip.publish(ADVERT_TOPIC, SignedAdvert.encode(forged))
  await allJudged

  t.deepEqual(rejected.sort(), [
    'ERR_ADVERT_BAD_SIGNATURE',
    'ERR_ADVERT_PUBLISHER_MISMATCH',
    'ERR_ADVERT_REPLAYED',
  ])
  t.is(orderBook.sequenceOf(sellerPeer.peerId), sequence, 'the order book kept the genuine advert')
  t.deepEqual(orderBook.peers(), [sellerPeer.peerId])
  // gossipsub caches scores for a heartbeat, so the penalty shows a moment later.
  await eventually(() => gossipScore(buyerPeer, sellerPeer.peerId) < -100, {
    describe: () => `score ${gossipScore(buyerPeer, sellerPeer.peerId)}`,
  })
  t.log(`seller score after 3 rejected adverts: ${gossipScore(buyerPeer, sellerPeer.peerId)}`)
})

test('a new seller is pinged when its first offer arrives; an unreachable one counts as the timeout', async (t) => {
  const { sellerPeer, buyerPeer, orderBook, advertiser } = await pair(t)
  const stats = new PeerStats()
  const prober = new LatencyProber(
    { ping: (peerId, { signal }) => buyerPeer.ping(peerId, { signal }), orderBook, stats },
    { intervalMs: 0, timeoutMs: 2_000 },
  )
  prober.start()
  t.teardown(() => prober.stop())
  const probed = prober.events.waitFor('probe:done', { filter: (e) => e.peerId === sellerPeer.peerId })
  await advertiser.start()
  await buyerPeer.dial(sellerPeer.multiaddrs[0]!)
  const { ms, ok } = await probed
  t.true(ok)
  t.log(`ping to the seller on loopback: ${ms} ms`)
  t.is(stats.health(sellerPeer.peerId).latencyMs, ms)

  const nowhere = (await makeSeller()).peerId
  const failed = prober.events.waitFor('probe:done', { filter: (e) => e.peerId === nowhere })
  prober.enqueue(nowhere)
  t.like(await failed, { ok: false, ms: 2_000 })
  t.is(stats.health(nowhere).latencyMs, 2_000)
})

test('in a line seller - relay - buyer, valid adverts cross the relay and forged ones stop at it', async (t) => {
  const seller = await makeSeller()
  const gossip = { heartbeatIntervalMs: 100 }
  const sellerPeer = await startPeer(t, { privateKey: seller.privateKey, addressDiscovery: false, gossip })
  const relayPeer = await startPeer(t, { addressDiscovery: false, gossip })
  const buyerPeer = await startPeer(t, { addressDiscovery: false, gossip })
  // The relay keeps no order book: it only validates and forwards, as a bootstrap node would.
  const [relay, buyer] = [relayPeer, buyerPeer].map((peer, i) => {
    installAdvertScoring(peer)
    const orderBook = new OrderBook({}, { sweepIntervalMs: 0 })
    const feed = new AdvertFeed({
      gossip: peer.gossip,
      validator: new AdvertValidator(),
      ...(i === 0 ? {} : { orderBook }),
    })
    feed.start()
    t.teardown(() => feed.stop())
    return { orderBook, feed }
  }) as [{ orderBook: OrderBook; feed: AdvertFeed }, { orderBook: OrderBook; feed: AdvertFeed }]
  const advertiser = new Advertiser(
    {
      privateKey: seller.privateKey,
      peerId: seller.peerId,
      payment: seller.wallet,
      publish: (topic, data) => sellerPeer.gossip.publish(topic, data),
      models: () => served,
      capacity: () => ({ free: 1, total: 1 }),
    },
    // A fast heartbeat stands in for the wait until the relay grafts the buyer into its mesh.
    {
      prices: { 'esrgan-slim-x4': { pricePerUnit: 9n } },
      frameFormats: ['rgb24'],
      heartbeatMs: 200,
      ttlMs: 10_000,
    },
  )
  t.teardown(() => advertiser.stop())
  await relayPeer.dial(sellerPeer.multiaddrs[0]!)
  await buyerPeer.dial(relayPeer.multiaddrs[0]!)
  t.false(buyerPeer.connectedPeers().includes(sellerPeer.peerId))
  const reached = buyer.orderBook.events.waitFor('offer:added', { timeoutMs: 20_000 })
  await advertiser.start()
  t.is((await reached).offer.peerId, sellerPeer.peerId)

  const relayRejected = relay.feed.events.waitFor('advert:rejected', { timeoutMs: 15_000 })
  let buyerRejections = 0
  buyer.feed.events.on('advert:rejected', () => buyerRejections++)
  const other = await makeSeller()
  await sellerPeer.gossip.publish(ADVERT_TOPIC, await signAdvert(await makeAdvert(other), other.privateKey))
  t.is((await relayRejected).code, 'ERR_ADVERT_PUBLISHER_MISMATCH')
  // A valid advert sent after the forged one still crosses; the forged one never reached the buyer.
  const next = await advertiser.publishNow()
  await buyer.feed.events.waitFor('advert:accepted', {
    filter: (e) => e.advert.sequence >= next!.sequence,
    timeoutMs: 15_000,
  })
  t.is(buyerRejections, 0)
})
