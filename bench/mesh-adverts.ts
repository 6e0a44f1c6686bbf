/**
 * `npm run bench:mesh-adverts`: how fast adverts spread. N peers on loopback behind one bootstrap
 * node, each one a seller (a real Advertiser signing real adverts) and a buyer (an AdvertFeed with
 * the validator into its own order book). Measured in the same run, for N = 2 (the baseline: one
 * hop through the bootstrap node) and N = 20. Peers know only the bootstrap node's address and
 * find each other through it:
 *  - cold start: from the last peer started until every order book holds every other peer's offer
 *    (peers start 1.5 s apart: all are 127.0.0.1, and libp2p accepts 5 inbound connections a
 *    second from one host);
 *  - republish: one seller publishes a new advert; time until all N-1 order books hold that
 *    sequence (10 rounds, a different seller each time): median and worst.
 * Ratios = N peers / baseline.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Wallet } from 'ethers'
import { createBootstrapNode } from '../bootstrap/index.js'
import type { ModelStatus } from '../src/inference/types.js'
import { AdvertFeed, watchAdvertSubscribers } from '../src/market/advert-gossip.js'
import { AdvertValidator } from '../src/market/advert-validator.js'
import { Advertiser } from '../src/market/advertiser.js'
import { OrderBook } from '../src/market/order-book.js'
import { createPeer, type Peer } from '../src/peer/index.js'

/** Between two peer starts (ms). */
const START_GAP_MS = 1_500

const served: ModelStatus[] = [
  {
    id: 'esrgan-slim-x2',
    pipeline: 'upscale',
    state: 'warm',
    pinned: false,
    sha256: 'ab'.repeat(32),
    bytes: 1,
  },
]

interface Node {
  peer: Peer
  advertiser: Advertiser
  book: OrderBook
  stop(): Promise<void>
}

async function startNode(bootstrap: string[]): Promise<Node> {
  const privateKey = await generateKeyPair('Ed25519')
  const peer = await createPeer({ privateKey, bootstrap })
  const book = new OrderBook({}, { sweepIntervalMs: 0 })
  const feed = new AdvertFeed({ gossip: peer.gossip, validator: new AdvertValidator(), orderBook: book })
  feed.start()
  const advertiser = new Advertiser(
    {
      privateKey,
      peerId: peer.peerId,
      payment: Wallet.createRandom(),
      publish: (topic, data) => peer.gossip.publish(topic, data),
      models: () => served,
      capacity: () => ({ free: 4, total: 4 }),
    },
    { prices: { 'esrgan-slim-x2': { pricePerUnit: 1_000n } }, frameFormats: ['rgb24'], debounceMs: 20 },
  )
  const unwatch = watchAdvertSubscribers(peer, () => advertiser.changed())
  await advertiser.start()
  return {
    peer,
    advertiser,
    book,
    async stop() {
      unwatch()
      advertiser.stop()
      feed.stop()
      await peer.stop()
    },
  }
}

/** Polls (1 ms) until `condition` holds; returns ms waited. Gossip has no "everyone got it" event. */
async function until(
  condition: () => boolean,
  what: string,
  timeoutMs = 60_000,
  seen: () => string = () => '',
): Promise<number> {
  const start = performance.now()
  while (!condition()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}; ${seen()}`)
    await new Promise((r) => setTimeout(r, 1))
  }
  return performance.now() - start
}

interface Measured {
  coldMs: number
  republishMs: number[]
}

async function measure(n: number, rounds: number): Promise<Measured> {
  const bootstrap = await createBootstrapNode()
  const nodes: Node[] = []
  try {
    for (let i = 0; i < n; i++) {
      // Every peer here is 127.0.0.1, and libp2p refuses more than 5 inbound connections a second
      // from one host; each newcomer is dialled by every peer that hears its announcement, so
      // starts are paced (with 300 ms, peers past the 13th were refused and never heard a thing).
      if (i > 0) await new Promise((r) => setTimeout(r, START_GAP_MS))
      nodes.push(await startNode(bootstrap.multiaddrs))
    }
    const everyoneSeesEveryone = () => nodes.every((node) => node.book.peers().length === n - 1)
    const coldMs = await until(
      everyoneSeesEveryone,
      `${n} peers to see each other's adverts`,
      90_000,
      () =>
        `offers seen per peer: ${nodes.map((node) => node.book.peers().length).join(' ')}; connections: ${nodes.map((node) => node.peer.libp2p.getConnections().length).join(' ')}; advert subscribers: ${nodes.map((node) => node.peer.gossip.subscribers('/framemesh/adverts/1.0.0').length).join(' ')}`,
    )
    const republishMs: number[] = []
    for (let round = 0; round < rounds; round++) {
      const seller = nodes[round % n]!
      const start = performance.now()
      const advert = await seller.advertiser.publishNow()
      if (advert === undefined) throw new Error('the advert was not published')
      await until(
        () =>
          nodes.every(
            (node) => node === seller || (node.book.sequenceOf(seller.peer.peerId) ?? 0) >= advert.sequence,
          ),
        'a republished advert to reach every peer',
      )
      republishMs.push(performance.now() - start)
    }
    return { coldMs, republishMs }
  } finally {
    for (const node of nodes) await node.stop()
    await bootstrap.stop()
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const fmt = (ms: number) => `${ms.toFixed(0)} ms`.padStart(9)

const rounds = 10
const base = await measure(2, rounds)
const many = await measure(20, rounds)
console.log('advert propagation on loopback through one bootstrap node; ratio = 20 peers / 2 peers')
console.log(`${''.padEnd(28)} ${'2 peers'.padStart(9)} ${'20 peers'.padStart(9)}  ratio`)
const row = (what: string, a: number, b: number) =>
  console.log(`${what.padEnd(28)} ${fmt(a)} ${fmt(b)}  ${(b / a).toFixed(2)}`)
row('cold start, all see all', base.coldMs, many.coldMs)
row('republish, median', median(base.republishMs), median(many.republishMs))
row('republish, worst', Math.max(...base.republishMs), Math.max(...many.republishMs))
