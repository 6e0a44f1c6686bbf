/**
 * Adverts through the nodes as they are really built: the market's score parameters in force on
 * the broadcaster and the bootstrap node, and the bootstrap node checking adverts before it relays.
 */
import test from 'ava'
import { createBootstrapNode } from '../../bootstrap/index.js'
import { signAdvert } from '../../src/market/advert.js'
import {
  AdvertFeed,
  type AdvertFeedEvents,
  marketGossipOptions,
  marketRelayValidators,
} from '../../src/market/advert-gossip.js'
import { AdvertValidator } from '../../src/market/advert-validator.js'
import { Advertiser } from '../../src/market/advertiser.js'
import { OrderBook } from '../../src/market/order-book.js'
import { SignedAdvert } from '../../src/market/pb/advert.js'
import { startLocalMesh } from '../../src/node/local-mesh.js'
import { TypedEmitter } from '../../src/peer/events.js'
import { ADVERT_TOPIC } from '../../src/peer/protocols.js'
import { eventually, startPeer } from '../helpers/peer.js'
import { makeAdvert, makeSeller, SERVED_MODELS as served } from './fixtures.js'

test('a peer that forwards forged adverts ends with a negative score at the broadcaster and the bootstrap node of a local mesh', async (t) => {
  // No orchestrators: the broadcaster and the bootstrap node are built exactly as `npm start` builds them.
  const local = await startLocalMesh({}, { orchestrators: [], waitForOffersMs: 0 })
  t.teardown(() => local.stop())
  const receivers = [
    { name: 'broadcaster', peer: local.broadcaster.peer },
    { name: 'bootstrap', peer: local.bootstrap.peer },
  ]
  // A plain peer: it checks nothing and publishes whatever it is given.
  const spammer = await startPeer(t, { addressDiscovery: false })
  spammer.gossip.subscribe(ADVERT_TOPIC)
  for (const { peer } of receivers) {
    await spammer.dial(peer.multiaddrs[0]!)
    await spammer.gossip.waitForSubscribers(ADVERT_TOPIC, { peerId: peer.peerId, timeoutMs: 15_000 })
  }

  const victim = await makeSeller()
  const forgedOf = async (sequence: number) => {
    const signed = SignedAdvert.decode(
      await signAdvert(await makeAdvert(victim, { sequence }), victim.privateKey),
    )
    signed.signature[0] ^= 1
    return SignedAdvert.encode(signed)
  }
  // Two kinds of fake: a broken signature, and another peer's genuine advert under the spammer's name.
  await spammer.gossip.publish(ADVERT_TOPIC, await forgedOf(Date.now()))
  await spammer.gossip.publish(ADVERT_TOPIC, await signAdvert(await makeAdvert(victim), victim.privateKey))

  for (const { name, peer } of receivers) {
    await eventually(() => peer.gossip.score(spammer.peerId) < 0, {
      timeoutMs: 15_000,
      describe: () => `${name} scores the spammer ${peer.gossip.score(spammer.peerId)}`,
    })
    t.log(`${name}'s score of the spammer: ${peer.gossip.score(spammer.peerId)}`)
  }
  t.deepEqual(local.broadcaster.mesh.offers(), [], 'no fake reached the order book')
})

test('a forged advert published through a bootstrap node stops there; a valid one crosses to the buyer', async (t) => {
  const seller = await makeSeller()
  // A fast heartbeat stands in for the wait until the bootstrap node grafts the buyer into its mesh.
  const gossip = marketGossipOptions({ heartbeatIntervalMs: 100 })
  const relayEvents = new TypedEmitter<AdvertFeedEvents>()
  // Built as `framemesh bootstrap` builds it: the market's checks and score parameters handed in.
  const boot = await createBootstrapNode(
    { gossip },
    { topicValidators: marketRelayValidators({ events: relayEvents }) },
  )
  t.teardown(() => boot.stop())

  const sellerPeer = await startPeer(t, { privateKey: seller.privateKey, addressDiscovery: false, gossip })
  const buyerPeer = await startPeer(t, { addressDiscovery: false, gossip })
  const orderBook = new OrderBook({}, { sweepIntervalMs: 0 })
  const feed = new AdvertFeed({ gossip: buyerPeer.gossip, validator: new AdvertValidator(), orderBook })
  feed.start()
  t.teardown(() => feed.stop())
  let buyerRejections = 0
  feed.events.on('advert:rejected', () => buyerRejections++)

  const advertiser = new Advertiser(
    {
      privateKey: seller.privateKey,
      peerId: seller.peerId,
      payment: seller.wallet,
      publish: (topic, data) => sellerPeer.gossip.publish(topic, data),
      models: () => served,
      capacity: () => ({ free: 1, total: 1 }),
    },
    {
      prices: { 'esrgan-slim-x4': { pricePerUnit: 9n } },
      frameFormats: ['rgb24'],
      heartbeatMs: 200,
      ttlMs: 10_000,
    },
  )
  t.teardown(() => advertiser.stop())
  await sellerPeer.dial(boot.multiaddrs[0]!)
  await buyerPeer.dial(boot.multiaddrs[0]!)
  t.false(buyerPeer.connectedPeers().includes(sellerPeer.peerId), 'only the bootstrap node links them')
  const reached = orderBook.events.waitFor('offer:added', { timeoutMs: 20_000 })
  await advertiser.start()
  t.is((await reached).offer.peerId, sellerPeer.peerId)

  const stopped = relayEvents.waitFor('advert:rejected', { timeoutMs: 15_000 })
  const other = await makeSeller()
  await sellerPeer.gossip.publish(ADVERT_TOPIC, await signAdvert(await makeAdvert(other), other.privateKey))
  t.like(await stopped, { code: 'ERR_ADVERT_PUBLISHER_MISMATCH', from: sellerPeer.peerId })
  // Gossip keeps order on a connection: a valid advert sent after the forged one arriving means
  // the forged one would have arrived first, had the bootstrap node relayed it.
  const next = await advertiser.publishNow()
  await feed.events.waitFor('advert:accepted', {
    filter: (e) => e.advert.sequence >= next!.sequence,
    timeoutMs: 15_000,
  })
  t.is(buyerRejections, 0, 'the forged advert never reached the buyer')
  t.false(orderBook.peers().includes(other.peerId))
  await eventually(() => boot.peer.gossip.score(sellerPeer.peerId) < 0, {
    timeoutMs: 15_000,
    describe: () => `bootstrap scores the seller ${boot.peer.gossip.score(sellerPeer.peerId)}`,
  })
  t.true(buyerPeer.gossip.score(boot.peer.peerId) >= 0, 'the buyer holds nothing against the bootstrap node')
})
