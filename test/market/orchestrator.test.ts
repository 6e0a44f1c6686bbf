// createOrchestrator as a service: its advert follows the engine and its live capacity, and the
// winning tickets it takes go to the tickets area's redemption service and are redeemed on chain.
import anyTest, { type TestFn } from 'ava'
import { Wallet } from 'ethers'
import { BudgetPayer } from '../../src/market/broadcaster-payer.js'
import { JobSession } from '../../src/market/job-session.js'
import type { Mesh } from '../../src/market/mesh.js'
import { requestQuote } from '../../src/market/quote-protocol.js'
import type { Peer } from '../../src/peer/index.js'
import { TicketBrokerClient } from '../../src/tickets/broker.js'
import { type RedemptionEvent, RedemptionService } from '../../src/tickets/redemption.js'
import type { TicketSender } from '../../src/tickets/sender.js'
import { eventually } from '../helpers/peer.js'
import {
  clip,
  fundedSender,
  type Market,
  PRICE,
  startBootstrap,
  startMarket,
  startMesh,
  startOrchestrator,
  startPeer,
  upscaleSpec,
} from './mesh-fixtures.js'

interface Ctx {
  market: Market
  sender: TicketSender
  buyer: Peer
  mesh: Mesh
  bootstrap: string[]
}
const test = anyTest.serial as TestFn<Ctx>

test.before(async (t) => {
  const market = await startMarket()
  const sender = await fundedSender(market, 1)
  await market.engine.warm('esrgan-slim-x2')
  const bootstrap = (await startBootstrap(market)).multiaddrs
  const buyer = await startPeer(market, { bootstrap })
  const mesh = await startMesh(market, buyer, sender)
  t.context = { market, sender, buyer, mesh, bootstrap }
})

test.after.always(async (t) => {
  await t.context.market?.stop()
})

test('the advert carries the engine models it prices, their warm state and the free job slots as they change', async (t) => {
  const { market, mesh, buyer, sender, bootstrap } = t.context
  const node = await startOrchestrator(market, 2, { bootstrap, capacity: 2 })
  const offerOf = () => mesh.orderBook.get(node.peer.peerId, 'esrgan-slim-x2')
  await eventually(() => offerOf() !== undefined, { timeoutMs: 30_000 })
  t.like(offerOf(), { pipeline: 'upscale', warm: true, slotsFree: 2, slotsTotal: 2, pricePerUnit: PRICE })
  t.is(offerOf()!.sha256, market.engine.model('esrgan-slim-x2').sha256.toLowerCase())
  // Only priced models are offered: the engine serves more.
  t.deepEqual(
    mesh
      .offers()
      .filter((o) => o.peerId === node.peer.peerId)
      .map((o) => o.modelId),
    ['esrgan-slim-x2'],
  )

  const quote = await requestQuote(
    { peer: buyer },
    { peerId: node.peer.peerId, dial: node.peer.multiaddrs[0] },
    upscaleSpec(sender.address),
  )
  const session = new JobSession({ peer: buyer, payer: new BudgetPayer(sender) }, { quote })
  const busier = mesh.orderBook.events.waitFor('offer:updated', {
    filter: (e) => e.offer.peerId === node.peer.peerId && e.offer.slotsFree === 1,
    timeoutMs: 30_000,
  })
  await session.open()
  await busier
  const freer = mesh.orderBook.events.waitFor('offer:updated', {
    filter: (e) => e.offer.peerId === node.peer.peerId && e.offer.slotsFree === 2,
    timeoutMs: 30_000,
  })
  await session.end()
  await session.done
  await freer
  t.pass()
})

test('winning tickets go to the redemption service, which redeems them on chain for the orchestrator', async (t) => {
  const { market, buyer, sender } = t.context
  const account = market.chain.accounts[3]!
  const broker = new TicketBrokerClient(
    { wallet: new Wallet(account.privateKey) },
    {
      rpcUrl: market.chain.rpcUrl,
      contractAddress: market.chain.contractAddress,
      chainId: market.chain.chainId,
      pollingIntervalMs: 20,
    },
  )
  t.teardown(() => broker.close())
  // Redeem every win whatever its gas cost: on a dev chain the point is that it happens.
  const redemption = new RedemptionService({ broker }, { dbPath: ':memory:', gasMargin: 0, retryBaseMs: 100 })
  t.teardown(() => redemption.close())
  const redeemed: Extract<RedemptionEvent, { type: 'redeemed' }>[] = []
  const firstRedeemed = new Promise<void>((resolve) =>
    redemption.on((e) => {
      if (e.type !== 'redeemed') return
      redeemed.push(e)
      resolve()
    }),
  )
  // Face value = 1 gas × 4,000,000 wei × 2 = twice a ticket's 4,000,000 wei EV: every ticket wins with p = 1/2.
  const node = await startOrchestrator(market, 3, {
    advertise: false,
    redemption,
    gasPrice: 4_000_000n,
    recipient: { redeemGas: 1n, faceValueMultiplier: 2n },
  })
  // Stop taking tickets before the redemption service closes (teardowns run last-added first):
  // a win queued into a closed service would surface as an unhandled rejection after the test.
  t.teardown(() => node.orchestrator.stop())
  const balanceBefore = await broker.getBalance(account.address)
  const quote = await requestQuote(
    { peer: buyer },
    { peerId: node.peer.peerId, dial: node.peer.multiaddrs[0] },
    upscaleSpec(sender.address),
  )
  t.is(quote.ticketParams.faceValue, 8_000_000n)
  const session = new JobSession({ peer: buyer, payer: new BudgetPayer(sender) }, { quote })
  await session.open()
  for (const [seq, frame] of clip(24).entries()) await session.send({ seq, frames: [frame], t: 0 })
  await session.end()
  await session.done
  // ~25 tickets at p = 1/2: the chance that none won is about 3e-8.
  await Promise.race([
    firstRedeemed,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error('no ticket redeemed within 60 s')), 60_000).unref(),
    ),
  ])
  t.true(redeemed[0]!.paid > 0n)
  const totals = redemption.totals()
  t.true(totals.redeemed.count >= 1)
  t.is(totals.redeemed.faceValue, 8_000_000n * BigInt(totals.redeemed.count))
  // Paid on chain to the orchestrator's address (less the gas it spent redeeming).
  t.not(await broker.getBalance(account.address), balanceBefore)
})
