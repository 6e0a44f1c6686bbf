/**
 * A whole framemesh on loopback in one process: a dev chain with the TicketBroker, the bootstrap
 * node, orchestrators selling the built-in models at different prices, and a funded broadcaster.
 * `npm start` runs on this, and so do the gateway's tests: every part is the real one.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BootstrapNode, createBootstrapNode } from '../../bootstrap/index.js'
import { type Logger, silentLogger } from '../logger.js'
import { marketGossipOptions, marketRelayValidators } from '../market/advert-gossip.js'
import type { MeshOptions } from '../market/mesh.js'
import { type DevAccount, type DevChain, startDevChain } from '../tickets/devchain.js'
import { type BroadcasterNode, startBroadcasterNode } from './broadcaster-node.js'
import { Teardown } from './lifecycle.js'
import { type OrchestratorNode, startOrchestratorNode } from './orchestrator-node.js'

export const ETH = 10n ** 18n

export interface LocalOrchestratorSpec {
  /** Wei per unit by model id. */
  prices: Record<string, bigint>
  capacity?: number
  pin?: string[]
  /** Where the seller runs inference (orchestrator-node's inferenceThread). */
  inferenceThread?: 'auto' | 'worker' | 'main'
}

/**
 * Default sellers: three orchestrators, the cheapest first. Upscale is priced per output
 * megapixel, OCR per input megapixel, blend per frame. 2 gwei per output megapixel is about
 * $0.000006 at $3000/ETH: the order of what an A10G at $1/h costs for ESRGAN-slim's output.
 */
export const DEFAULT_ORCHESTRATORS: LocalOrchestratorSpec[] = [
  {
    prices: {
      'esrgan-slim-x2': 2_000_000_000n,
      'esrgan-slim-x4': 3_000_000_000n,
      blend: 10_000_000n,
    },
  },
  {
    prices: {
      'esrgan-slim-x2': 3_000_000_000n,
      'ppocr-v4-det': 4_000_000_000n,
      'ppocr-v4-rec': 4_000_000_000n,
    },
  },
  {
    prices: {
      'esrgan-slim-x2': 5_000_000_000n,
      'ppocr-v4-det': 6_000_000_000n,
      'ppocr-v4-rec': 6_000_000_000n,
      blend: 20_000_000n,
    },
  },
]

export interface LocalMeshOptions {
  orchestrators?: LocalOrchestratorSpec[]
  /** What the broadcaster puts in the TicketBroker (wei). */
  deposit?: bigint
  reserve?: bigint
  mesh?: MeshOptions
  /**
   * Funded dev-chain accounts left for nodes started outside this process (another terminal's
   * orchestrator or gateway joining the mesh). Default 2.
   */
  spareAccounts?: number
  /** Wait until the broadcaster's order book holds an offer from every orchestrator (ms; 0 = don't). */
  waitForOffersMs?: number
  signal?: AbortSignal
}

export interface LocalMesh {
  chain: DevChain
  bootstrap: BootstrapNode
  orchestrators: OrchestratorNode[]
  broadcaster: BroadcasterNode
  /** Funded accounts no node here uses (options.spareAccounts). */
  spareAccounts: DevAccount[]
  stop(): Promise<void>
}

export async function startLocalMesh(
  components: { logger?: Logger } = {},
  options: LocalMeshOptions = {},
): Promise<LocalMesh> {
  const logger = components.logger ?? silentLogger
  const specs = options.orchestrators ?? DEFAULT_ORCHESTRATORS
  const teardown = new Teardown(logger)
  const stop = () => teardown.run()
  try {
    // Account 0 deploys the broker, 1 is the broadcaster, then the orchestrators, then the spares.
    const spare = options.spareAccounts ?? 2
    const chain = await startDevChain(
      { accounts: specs.length + 2 + spare, roundLength: 1_000 },
      { logger },
      options.signal,
    )
    teardown.add(() => chain.stop())
    const chainOptions = {
      rpcUrl: chain.rpcUrl,
      contractAddress: chain.contractAddress,
      chainId: chain.chainId,
      pollIntervalMs: 200,
    }
    // The hub checks and scores adverts like any buyer, so it never relays a forged one.
    const bootstrapLogger = logger.child('bootstrap')
    const bootstrap = await createBootstrapNode(
      { gossip: marketGossipOptions() },
      { logger: bootstrapLogger, topicValidators: marketRelayValidators({ logger: bootstrapLogger }) },
    )
    teardown.add(() => bootstrap.stop())
    const modelsDir = await mkdtemp(join(tmpdir(), 'framemesh-local-models-'))
    teardown.add(() => rm(modelsDir, { recursive: true, force: true }))

    const orchestrators: OrchestratorNode[] = []
    for (const [i, spec] of specs.entries()) {
      const node = await startOrchestratorNode(
        { logger: logger.child(`orchestrator-${i + 1}`) },
        {
          peer: { bootstrap: bootstrap.multiaddrs },
          chain: chainOptions,
          walletKey: chain.accounts[i + 2].privateKey,
          modelsDir,
          prices: spec.prices,
          capacity: spec.capacity ?? 4,
          pin: spec.pin,
          ...(spec.inferenceThread === undefined ? {} : { inferenceThread: spec.inferenceThread }),
          orchestrator: { debounceMs: 50 },
          // A ticket carries 10 gwei of expected value: ~5 output megapixels at these prices, so a
          // frame costs a ticket at most rather than hundreds of tickets a frame.
          recipient: { ticketEV: 10_000_000_000n },
        },
      )
      teardown.add(() => node.stop())
      orchestrators.push(node)
    }

    const broadcaster = await startBroadcasterNode(
      { logger: logger.child('broadcaster') },
      {
        peer: { bootstrap: bootstrap.multiaddrs },
        chain: chainOptions,
        walletKey: chain.accounts[1].privateKey,
        mesh: options.mesh,
      },
    )
    teardown.add(() => broadcaster.stop())
    await broadcaster.chain.broker.fundDepositAndReserve(
      options.deposit ?? 2n * ETH,
      options.reserve ?? 2n * ETH,
    )
    await broadcaster.chain.watcher.refresh()

    const waitMs = options.waitForOffersMs ?? 15_000
    if (waitMs > 0) await waitForSellers(broadcaster, orchestrators, waitMs, options.signal)
    const spareAccounts = chain.accounts.slice(specs.length + 2)
    return { chain, bootstrap, orchestrators, broadcaster, spareAccounts, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/**
 * Resolves once the broadcaster's order book holds an offer from each orchestrator and it is
 * connected to each, so "started" means every seller can be picked at once (an advert relayed by
 * the bootstrap node can arrive before the seller's address; the mesh would wait for it).
 */
async function waitForSellers(
  broadcaster: BroadcasterNode,
  orchestrators: OrchestratorNode[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const want = orchestrators.map((o) => o.peer.peerId.toString())
  const missing = () => {
    const offered = new Set(broadcaster.mesh.offers().map((o) => o.peerId))
    const connected = new Set(broadcaster.peer.connectedPeers().map(String))
    return want.filter((id) => !offered.has(id) || !connected.has(id))
  }
  if (missing().length === 0) return
  const book = broadcaster.mesh.orderBook
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      off()
      reject(
        new Error(
          `${missing().length} of ${want.length} orchestrators not advertised and connected within ${timeoutMs} ms`,
        ),
      )
    }, timeoutMs)
    const onAbort = () => {
      off()
      reject(signal?.reason)
    }
    const check = () => {
      if (missing().length === 0) {
        off()
        resolve()
      }
    }
    const unsubscribe = [
      book.events.on('offer:added', check),
      book.events.on('offer:updated', check),
      broadcaster.peer.events.on('peer:connect', check),
    ]
    const off = () => {
      clearTimeout(timer)
      for (const u of unsubscribe) u()
      signal?.removeEventListener('abort', onAbort)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
