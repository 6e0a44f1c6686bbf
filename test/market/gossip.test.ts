import test, { type ExecutionContext } from 'ava'
import { signAdvert } from '../../src/market/advert.js'
import { AdvertFeed, marketGossipOptions, watchAdvertSubscribers } from '../../src/market/advert-gossip.js'
import { AdvertValidator } from '../../src/market/advert-validator.js'
import { Advertiser } from '../../src/market/advertiser.js'
import { LatencyProber } from '../../src/market/latency-prober.js'
import { OrderBook } from '../../src/market/order-book.js'
import { SignedAdvert } from '../../src/market/pb/advert.js'
import { PeerStats } from '../../src/market/peer-stats.js'
import { Reachability } from '../../src/market/reachability.js'
import { ADVERT_TOPIC } from '../../src/peer/protocols.js'
import { eventually, startPeer } from '../helpers/peer.js'
import { makeAdvert, makeSeller, SERVED_MODELS as served } from './fixtures.js'

/** A seller peer with a running advertiser, and a buyer peer with a feed into its order book, connected. */
async function pair(t: ExecutionContext) {
  const seller = await makeSeller()
  const sellerPeer = await startPeer(t, { privateKey: seller.privateKey, addressDiscovery: false })
  const buyerPeer = await startPeer(t, { addressDiscovery: false, gossip: marketGossipOptions() })
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
  await eventually(() => buyerPeer.gossip.score(sellerPeer.peerId) > 0)
  t.log(`seller score after a good advert: ${buyerPeer.gossip.score(sellerPeer.peerId)}`)

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
  await eventually(() => buyerPeer.gossip.score(sellerPeer.peerId) < -100, {
    describe: () => `score ${buyerPeer.gossip.score(sellerPeer.peerId)}`,
  })
  t.log(`seller score after 3 rejected adverts: ${buyerPeer.gossip.score(sellerPeer.peerId)}`)
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

test('a seller asked for again while its ping is in flight is pinged once, not over and over at the same time', async (t) => {
  const { sellerPeer, buyerPeer, orderBook } = await pair(t)
  await buyerPeer.dial(sellerPeer.multiaddrs[0]!)
  let inFlight = 0
  let most = 0
  let pings = 0
  const prober = new LatencyProber(
    {
      ping: async (peerId, { signal }) => {
        pings++
        most = Math.max(most, ++inFlight)
        try {
          return await buyerPeer.ping(peerId, { signal })
        } finally {
          inFlight--
        }
      },
      orderBook,
      stats: new PeerStats(),
    },
    { intervalMs: 0, timeoutMs: 2_000 },
  )
  prober.start()
  t.teardown(() => prober.stop())
  // As when a seller's advert brings several offers at once: each asks for a ping.
  const probed = prober.events.waitFor('probe:done', { filter: (e) => e.peerId === sellerPeer.peerId })
  for (let i = 0; i < 3; i++) prober.enqueue(sellerPeer.peerId)
  t.true((await probed).ok)
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.is(pings, 1)
  t.is(most, 1)
})

test('a seller whose connection libp2p already measured is not pinged again: its measured round trip is taken', async (t) => {
  const { sellerPeer, buyerPeer, orderBook } = await pair(t)
  await buyerPeer.dial(sellerPeer.multiaddrs[0]!)
  let pings = 0
  const stats = new PeerStats()
  const prober = new LatencyProber(
    {
      ping: (peerId, { signal }) => {
        pings++
        return buyerPeer.ping(peerId, { signal })
      },
      // As libp2p's connection monitor sets it on the connection every 10 s.
      measuredRtt: (peerId) => (peerId === sellerPeer.peerId ? 7 : undefined),
      orderBook,
      stats,
    },
    { intervalMs: 0, timeoutMs: 2_000 },
  )
  prober.start()
  t.teardown(() => prober.stop())
  const probed = prober.events.waitFor('probe:done', { filter: (e) => e.peerId === sellerPeer.peerId })
  prober.enqueue(sellerPeer.peerId)
  t.like(await probed, { ok: true, ms: 7 })
  t.is(stats.health(sellerPeer.peerId).latencyMs, 7)
  t.is(pings, 0)
})

test('a seller we hold no address for yet is not marked slow: it is asked about again, and pinged once it can be dialled', async (t) => {
  const { seller, sellerPeer, buyerPeer, orderBook } = await pair(t)
  const stats = new PeerStats()
  const reach = new Reachability({ libp2p: buyerPeer.libp2p })
  let asked = 0
  const prober = new LatencyProber(
    {
      ping: (peerId, { signal }) => buyerPeer.ping(peerId, { signal }),
      reachable: (peerId) => {
        asked++
        return reach.reachable(peerId)
      },
      orderBook,
      stats,
    },
    { intervalMs: 0, timeoutMs: 2_000, unreachableRetryMs: 20 },
  )
  prober.start()
  t.teardown(() => prober.stop())
  const probes: Array<{ ms: number; ok: boolean }> = []
  prober.events.on('probe:done', (e) => probes.push(e))
  // Its offer arrived (relayed, say) before any address of it: the ping could only fail.
  orderBook.apply(await makeAdvert(seller))
  await eventually(() => asked >= 3, { describe: () => `asked ${asked} times` })
  t.deepEqual(probes, [], 'no ping was tried, so no timeout was recorded')
  t.is(stats.health(seller.peerId).latencyMs, undefined)
  // Once it can be dialled, the next ask pings it and records the real round trip.
  await buyerPeer.dial(sellerPeer.multiaddrs[0]!)
  await eventually(() => probes.length > 0)
  t.true(probes[0]!.ok)
  t.true(probes[0]!.ms < 2_000, `${probes[0]!.ms} ms`)
  t.is(stats.health(seller.peerId).latencyMs, probes[0]!.ms)
})

// The line seller - relay - buyer, with the relay a real bootstrap node, is in advert-relay.test.ts.
