/**
 * A small real market for tests and the bench: a dev chain with the TicketBroker, a funded
 * broadcaster (TicketSender), orchestrators with real engines, recipients and wallets, all on
 * 127.0.0.1 peers. Nothing here is mocked.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { Wallet } from 'ethers'
import { type BootstrapNode, createBootstrapNode } from '../../bootstrap/index.js'
import { type InferenceEngine, openInferenceEngine } from '../../src/inference/engine.js'
import type { Frame } from '../../src/inference/types.js'
import { marketGossipOptions, marketRelayValidators } from '../../src/market/advert-gossip.js'
import type { PeerUse } from '../../src/market/failover.js'
import type { WorkEngine } from '../../src/market/job-work.js'
import { createMesh, type Mesh, type MeshOptions } from '../../src/market/mesh.js'
import {
  createOrchestrator,
  type Orchestrator,
  type OrchestratorOptions,
  type RedemptionService,
} from '../../src/market/orchestrator.js'
import { FRAME_FORMAT_RGB24, type JobSpec } from '../../src/market/quote.js'
import { createPeer, type Peer, type PeerOptions } from '../../src/peer/index.js'
import { TicketBrokerClient } from '../../src/tickets/broker.js'
import { ChainWatcher } from '../../src/tickets/broker-watcher.js'
import type { Address, Hex } from '../../src/tickets/bytes.js'
import type { RedemptionQueue } from '../../src/tickets/chain.js'
import { type DevChain, startDevChain } from '../../src/tickets/devchain.js'
import { MemoryRedemptionQueue } from '../../src/tickets/memory-queue.js'
import { TicketRecipient, type TicketRecipientOptions } from '../../src/tickets/recipient.js'
import { TicketSender } from '../../src/tickets/sender.js'
import { testFrame } from '../inference/helpers/engine-fixture.js'

export const ETH = 10n ** 18n
/** Wei per output megapixel: 1 gwei. A 32x32 frame upscaled x2 (4096 output pixels) costs 4,096,000 wei. */
export const PRICE = 1_000_000_000n
export const GAS_PRICE = 1_000_000_000n

export interface Market {
  chain: DevChain
  broker: TicketBrokerClient
  clock: ChainWatcher
  engine: InferenceEngine
  cleanup: Array<() => Promise<unknown> | unknown>
  stop(): Promise<void>
}

/** Dev chain (`accounts` funded accounts), a read client, a clock and one shared engine over the built-in models. */
export async function startMarket(clockIntervalMs = 500, accounts = 10): Promise<Market> {
  return attachMarket(await startDevChain({ accounts, roundLength: 1_000 }), clockIntervalMs)
}

/** What another process needs to join a running dev chain (see bench/mesh.ts). */
export type ChainInfo = Pick<DevChain, 'rpcUrl' | 'chainId' | 'contractAddress' | 'accounts'>

/**
 * A Market over an already running chain: `stop` stops the chain only when it is a DevChain of
 * this process (another process's chain is left alone).
 */
export async function attachMarket(
  chain: DevChain | ChainInfo,
  clockIntervalMs = 500,
  // Where inference runs (bench:mesh compares both); the engine's default otherwise.
  runOn?: 'worker' | 'main',
): Promise<Market> {
  const options = {
    rpcUrl: chain.rpcUrl,
    contractAddress: chain.contractAddress,
    chainId: chain.chainId,
    pollingIntervalMs: 20,
  }
  const broker = new TicketBrokerClient({}, options)
  const clock = new ChainWatcher({ broker }, { pollIntervalMs: clockIntervalMs })
  await clock.start()
  const modelsDir = await mkdtemp(join(tmpdir(), 'fm-market-'))
  const engine = await openInferenceEngine(
    {},
    { modelsDir, session: { intraOpNumThreads: 1, ...(runOn === undefined ? {} : { runOn }) } },
  )
  const cleanup: Market['cleanup'] = []
  return {
    chain: chain as DevChain,
    broker,
    clock,
    engine,
    cleanup,
    async stop() {
      for (const fn of cleanup.reverse()) await fn()
      clock.stop()
      await engine.close()
      broker.close()
      if ('stop' in chain) await chain.stop()
      await rm(modelsDir, { recursive: true, force: true })
    },
  }
}

/** A broadcaster account (dev account `index`) with `amount` wei (default 1 ETH) each of deposit and reserve. */
export async function fundedSender(market: Market, index: number, amount = ETH): Promise<TicketSender> {
  const key = market.chain.accounts[index]!.privateKey
  const client = new TicketBrokerClient(
    { wallet: new Wallet(key) },
    {
      rpcUrl: market.chain.rpcUrl,
      contractAddress: market.chain.contractAddress,
      chainId: market.chain.chainId,
      pollingIntervalMs: 20,
    },
  )
  await client.fundDepositAndReserve(amount, amount)
  client.close()
  await market.clock.refresh()
  return new TicketSender(
    { key: key as Hex, senderInfo: market.broker, clock: market.clock },
    { maxTicketEV: 10n ** 15n, maxBatchEV: 10n ** 17n },
  )
}

/** A bootstrap node built as `framemesh bootstrap` builds it: it checks and scores adverts it relays. */
export async function startBootstrap(market: Market): Promise<BootstrapNode> {
  const node = await createBootstrapNode(
    { gossip: marketGossipOptions() },
    { topicValidators: marketRelayValidators() },
  )
  market.cleanup.push(() => node.stop())
  return node
}

export async function startPeer(
  market: Market,
  options: PeerOptions = {},
  privateKey?: PrivateKey,
): Promise<Peer> {
  // Market peers score adverts as the ready-made nodes do (options.gossip on top).
  const peer = await createPeer({
    ...options,
    gossip: marketGossipOptions(options.gossip),
    privateKey: privateKey ?? (await generateKeyPair('Ed25519')),
  })
  market.cleanup.push(() => peer.stop())
  return peer
}

export interface OrchestratorNode {
  peer: Peer
  privateKey: PrivateKey
  orchestrator: Orchestrator
  recipient: TicketRecipient
  queue: MemoryRedemptionQueue
  wallet: Wallet
}

/**
 * Kills an orchestrator outright, as a crash would: every connection of its peer is reset at once
 * (no job of it can say why it ends), then the peer stops (so it does not come back). Its
 * `peer.stop()` alone is a graceful stop: its jobs are told ERR_SHUTTING_DOWN first.
 */
export async function killOutright(node: OrchestratorNode): Promise<void> {
  for (const c of node.peer.libp2p.getConnections()) c.abort(new Error('killed by the test'))
  await node.peer.stop()
}

/**
 * Stops an orchestrator as its operator would: the orchestrator (its jobs told ERR_SHUTTING_DOWN)
 * and then its peer. The orchestrator alone would leave a node without handlers behind, still
 * connected and with its advert live, for later tests to pick and fail on.
 */
export async function stopNode(node: OrchestratorNode): Promise<void> {
  await node.orchestrator.stop()
  await node.peer.stop()
}

/** An orchestrator on dev account `index`, with its own peer (bootstrapped when given). */
export async function startOrchestrator(
  market: Market,
  index: number,
  options: Partial<OrchestratorOptions> & {
    bootstrap?: string[]
    recipient?: Partial<TicketRecipientOptions>
    now?: () => number
    engine?: WorkEngine
    /** The gas price the recipient prices redemption at (sets the tickets' face value; default 1 gwei). */
    gasPrice?: bigint
    /** Where winning tickets go (default an in-memory queue, returned as `queue`). */
    redemption?: RedemptionQueue & RedemptionService
    /** The peer's key (default a new one): a test that must know the peer id before it starts. */
    privateKey?: PrivateKey
  } = {},
): Promise<OrchestratorNode> {
  const privateKey = options.privateKey ?? (await generateKeyPair('Ed25519'))
  const peer = await startPeer(
    market,
    options.bootstrap === undefined ? {} : { bootstrap: options.bootstrap },
    privateKey,
  )
  const wallet = new Wallet(market.chain.accounts[index]!.privateKey)
  const queue = new MemoryRedemptionQueue()
  const recipient = new TicketRecipient(
    {
      clock: market.clock,
      senderInfo: market.broker,
      gasPrice: { gasPrice: options.gasPrice ?? GAS_PRICE },
      redemptionQueue: options.redemption ?? queue,
    },
    // About one frame of 32x32 x2 per ticket.
    { address: wallet.address.toLowerCase() as Hex, ticketEV: 4_000_000n, ...options.recipient },
  )
  const orchestrator = await createOrchestrator(
    {
      peer,
      privateKey,
      engine: options.engine ?? market.engine,
      recipient,
      wallet,
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.redemption === undefined ? {} : { redemption: options.redemption }),
    },
    { prices: { 'esrgan-slim-x2': PRICE }, capacity: 4, debounceMs: 20, ...options },
  )
  market.cleanup.push(() => orchestrator.stop())
  return { peer, privateKey, orchestrator, recipient, queue, wallet }
}

/** A market with a funded sender (dev account 1), a buyer peer and one orchestrator (account 2) reached by direct dial. */
export interface DirectPair {
  market: Market
  sender: TicketSender
  buyer: Peer
  orch: OrchestratorNode
}

export async function startDirectPair(
  orchestrator: Parameters<typeof startOrchestrator>[2] = {},
): Promise<DirectPair> {
  const market = await startMarket()
  const sender = await fundedSender(market, 1)
  const buyer = await startPeer(market)
  const orch = await startOrchestrator(market, 2, { advertise: false, ...orchestrator })
  return { market, sender, buyer, orch }
}

export async function startMesh(
  market: Market,
  peer: Peer,
  sender: TicketSender,
  options: MeshOptions = {},
): Promise<Mesh> {
  const mesh = createMesh({ peer, sender }, options)
  market.cleanup.push(() => mesh.stop())
  return mesh
}

/** A deterministic test clip: every frame differs and has texture (frame n is the engine tests' frame with seed n). */
export function clip(count: number, width = 32, height = 32): Frame[] {
  return Array.from({ length: count }, (_, n) => testFrame(width, height, n))
}

/** The job spec tests quote by default: 32x32 rgb24 frames upscaled x2 at PRICE, paid by `sender`. */
export function upscaleSpec(sender: Address, overrides: Partial<JobSpec> = {}): JobSpec {
  return {
    pipeline: 'upscale',
    modelId: 'esrgan-slim-x2',
    width: 32,
    height: 32,
    format: FRAME_FORMAT_RGB24,
    frameCount: 0,
    maxPricePerUnit: PRICE,
    sender,
    ...overrides,
  }
}

/**
 * Fault injection: the real engine, except that after `after` upscales every further one hangs
 * until its job is aborted, like a wedged GPU. Nothing else about the orchestrator changes.
 */
export function stallingEngine(engine: InferenceEngine, after: number): WorkEngine {
  let calls = 0
  return withUpscale(engine, (id, frame, options) => {
    if (++calls <= after) return engine.upscale(id, frame, options)
    return new Promise((_, reject) => {
      options?.signal?.addEventListener('abort', () => reject(options.signal?.reason), { once: true })
    })
  })
}

/**
 * The cheater: the real engine, except that it flips a few bits of every upscaled frame, the way a
 * peer skipping work or running another model would return plausible but wrong pixels.
 */
export function cheatingEngine(engine: InferenceEngine): WorkEngine {
  return withUpscale(engine, async (id, frame, options) => {
    const honest = await engine.upscale(id, frame, options)
    const data = Uint8Array.from(honest.data)
    for (let i = 0; i < data.length; i += 97) data[i] = data[i]! ^ 0x10
    return { ...honest, data }
  })
}

/** The real engine with its upscale replaced (fault injection and timing hooks in tests). */
export function withUpscale(engine: InferenceEngine, upscale: WorkEngine['upscale']): WorkEngine {
  return {
    registry: engine.registry,
    models: () => engine.models(),
    model: (id) => engine.model(id),
    interpolate: (...args) => engine.interpolate(...args),
    upscale,
  }
}

/** The workflow upscale (esrgan-slim-x2) → interpolate (blend) run locally: one frame between each upscaled pair. */
export async function upscaleThenBlend(engine: InferenceEngine, frames: Frame[]): Promise<Frame[]> {
  // One at a time: the engine queues at most 32 requests per model.
  const up: Frame[] = []
  for (const f of frames) up.push(await engine.upscale('esrgan-slim-x2', f))
  const out: Frame[] = []
  for (let i = 0; i + 1 < up.length; i++) out.push(await engine.interpolate('blend', up[i]!, up[i + 1]!, 0.5))
  return out
}

/**
 * Each orchestrator was debited for exactly the items it delivered, at its price (upscale of 32²
 * frames per output megapixel, blend per frame), and sent tickets worth at most one credit window
 * (4 items ahead + 2 in progress) and one ticket more.
 */
export function paidForDelivered(
  t: { is: (a: unknown, b: unknown, m?: string) => void; true: (v: boolean, m?: string) => void },
  uses: PeerUse[],
) {
  for (const use of uses) {
    const perItem = use.modelId === 'blend' ? use.pricePerUnit : (use.pricePerUnit * 64n * 64n) / 1_000_000n
    t.is(use.debited, perItem * BigInt(use.items), `${use.peerId} debited for its ${use.items} items`)
    t.true(use.evSent - use.debited <= perItem * 6n + 4_000_000n, `${use.peerId} was overpaid`)
  }
}
