// An advert can reach a broadcaster (relayed by the bootstrap node) before any address of its
// seller does. Here the broadcaster neither announces itself nor takes announced addresses, so it
// holds the seller's offer with no way to dial it until the seller dials in.
import { peerIdFromString } from '@libp2p/peer-id'
import anyTest, { type TestFn } from 'ava'
import type { FramemeshError } from '../../src/errors.js'
import type { Mesh } from '../../src/market/mesh.js'
import type { Peer } from '../../src/peer/index.js'
import type { TicketSender } from '../../src/tickets/sender.js'
import { eventually } from '../helpers/peer.js'
import {
  clip,
  fundedSender,
  type Market,
  type OrchestratorNode,
  startBootstrap,
  startMarket,
  startMesh,
  startOrchestrator,
  startPeer,
} from './mesh-fixtures.js'

interface Ctx {
  market: Market
  bootstrap: string[]
  sender: TicketSender
  buyer: Peer
}
const test = anyTest.serial as TestFn<Ctx>

test.before(async (t) => {
  const market = await startMarket()
  const sender = await fundedSender(market, 1)
  await market.engine.warm('esrgan-slim-x2')
  const bootstrap = await startBootstrap(market)
  const buyer = await startPeer(market, { bootstrap: bootstrap.multiaddrs, addressDiscovery: false })
  t.context = { market, bootstrap: bootstrap.multiaddrs, sender, buyer }
})

test.after.always(async (t) => {
  await t.context.market?.stop()
})

/** Each test starts its own seller after its mesh listens, so the advert reaches that mesh. */
async function sellerOffer(mesh: Mesh, seller: OrchestratorNode): Promise<void> {
  const id = seller.peer.peerId
  await eventually(() => mesh.offers({ pipeline: 'upscale' }).some((o) => o.peerId === id), {
    timeoutMs: 30_000,
  })
}

async function knowsAddressOf(buyer: Peer, peerId: string): Promise<boolean> {
  const id = peerIdFromString(peerId)
  if (buyer.libp2p.getConnections(id).length > 0) return true
  try {
    return (await buyer.libp2p.peerStore.get(id)).addresses.length > 0
  } catch {
    return false
  }
}

test('a seller whose address never arrives is left out with ERR_NO_OFFERS and not counted as failed', async (t) => {
  const { market, buyer, sender } = t.context
  const mesh = await startMesh(market, buyer, sender, { reachWaitMs: 300 })
  const seller = await startOrchestrator(market, 2, { bootstrap: t.context.bootstrap })
  await sellerOffer(mesh, seller)
  t.false(await knowsAddressOf(buyer, seller.peer.peerId), 'the race: offer held, seller not dialable')
  const job = mesh.submit({ pipeline: 'upscale', input: clip(2), peers: [seller.peer.peerId] })
  // Never tried: no dial that cannot succeed, no refusal blamed on the seller.
  const tried: string[] = []
  job.events.on('peer:selected', (e) => tried.push(e.peerId))
  const error = await t.throwsAsync<FramemeshError>(job.done)
  t.is(error?.code, 'ERR_NO_OFFERS')
  t.deepEqual(tried, [])
  t.is(mesh.stats.get(seller.peer.peerId)?.failures ?? 0, 0)
  await mesh.stop()
})

test('a job started before the only seller is dialable waits for it and succeeds', async (t) => {
  const { market, buyer, sender } = t.context
  const mesh = await startMesh(market, buyer, sender, { reachWaitMs: 30_000 })
  const seller = await startOrchestrator(market, 3, { bootstrap: t.context.bootstrap })
  await sellerOffer(mesh, seller)
  t.false(await knowsAddressOf(buyer, seller.peer.peerId), 'the race: offer held, seller not dialable')
  const failed: string[] = []
  const job = mesh.submit({ pipeline: 'upscale', input: clip(3), peers: [seller.peer.peerId] })
  job.events.on('peer:failed', (e) => failed.push(e.code))
  job.events.on('quote:refused', (e) => failed.push(e.code))
  // The seller learns of us only now, after the job has started choosing.
  await seller.peer.dial(buyer.multiaddrs[0]!)
  const { frames, report } = await job.done
  t.is(frames.length, 3)
  t.deepEqual(
    report.peers.map((p) => p.peerId),
    [seller.peer.peerId],
  )
  t.deepEqual(failed, [])
  t.is(mesh.stats.get(seller.peer.peerId)?.failures ?? 0, 0)
  await mesh.stop()
})
