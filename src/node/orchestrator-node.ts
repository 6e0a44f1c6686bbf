/**
 * An orchestrator node: everything an operator runs to sell inference, composed from the parts —
 * a libp2p peer, the inference engine over its models, a chain connection, the ticket recipient,
 * the durable redemption queue, and the market's orchestrator (quotes, jobs, adverts).
 */
import { join } from 'node:path'
import { Wallet } from 'ethers'
import { type InferenceEngine, openInferenceEngine } from '../inference/engine.js'
import { startExecutionProviders } from '../inference/providers.js'
import { type Logger, silentLogger } from '../logger.js'
import { marketGossipOptions } from '../market/advert-gossip.js'
import { createOrchestrator, type Orchestrator, type OrchestratorOptions } from '../market/orchestrator.js'
import { createPeer, type Peer, type PeerOptions } from '../peer/peer.js'
import type { Hex } from '../tickets/bytes.js'
import { TicketRecipient, type TicketRecipientOptions } from '../tickets/recipient.js'
import { RedemptionService } from '../tickets/redemption.js'
import { RoundKeeper } from '../tickets/round-keeper.js'
import { type ChainAccess, type ChainOptions, connectChain } from './chain.js'
import { nodeIdentity, Teardown } from './lifecycle.js'

export interface OrchestratorNodeOptions {
  /** Holds the peer key and the redemption queue; without it both are ephemeral (tests, demos). */
  dataDir?: string
  peer?: Omit<PeerOptions, 'dataDir' | 'privateKey'>
  chain: ChainOptions
  /** The Ethereum key tickets pay (hex). */
  walletKey: string
  /** Folder of bring-your-own models (built-ins are always there). */
  modelsDir?: string
  /** Wei per unit by model id: only priced models are sold. */
  prices: Record<string, bigint>
  /** Jobs at once. */
  capacity?: number
  /** Memory the warm models may hold (bytes). */
  budgetBytes?: number
  /** onnxruntime threads per session. */
  intraOpThreads?: number
  /**
   * onnxruntime execution providers in order of preference, e.g. ['cuda'] on a machine with the
   * CUDA provider installed; 'cpu' is always the fallback. Default ['cpu'].
   */
  executionProviders?: string[]
  /**
   * Where inference runs: 'auto' (the engine's default) keeps cheap models on the event loop and
   * puts the others in a worker, which keeps the network served while a model runs at ~25 MiB more
   * per warm model; 'worker' and 'main' force one or the other (see SessionFactoryOptions.runOn).
   */
  inferenceThread?: 'auto' | 'worker' | 'main'
  /** Models to keep warm from the start (pinned). */
  pin?: string[]
  recipient?: Partial<TicketRecipientOptions>
  orchestrator?: Partial<OrchestratorOptions>
}

export interface OrchestratorNode {
  peer: Peer
  engine: InferenceEngine
  orchestrator: Orchestrator
  recipient: TicketRecipient
  redemption: RedemptionService
  chain: ChainAccess
  address: string
  stop(): Promise<void>
}

export async function startOrchestratorNode(
  components: { logger?: Logger },
  options: OrchestratorNodeOptions,
): Promise<OrchestratorNode> {
  const logger = (components.logger ?? silentLogger).child('orchestrator-node')
  const teardown = new Teardown(logger)
  const stop = () => teardown.run()
  try {
    // Before the chain and the peer: a provider that cannot start here fails the node now.
    if (options.executionProviders !== undefined) await startExecutionProviders(options.executionProviders)
    const dataDir = options.dataDir
    const privateKey = await nodeIdentity(dataDir)
    const wallet = new Wallet(options.walletKey)
    const address = wallet.address.toLowerCase() as Hex

    const chain = await connectChain({ logger, wallet }, options.chain)
    teardown.add(() => chain.close())

    const modelsDir = options.modelsDir ?? join(dataDir ?? '.framemesh', 'models')
    const engine = await openInferenceEngine(
      { logger },
      {
        modelsDir,
        budgetBytes: options.budgetBytes,
        session: {
          intraOpNumThreads: options.intraOpThreads ?? 1,
          ...(options.inferenceThread === undefined ? {} : { runOn: options.inferenceThread }),
          ...(options.executionProviders === undefined
            ? {}
            : { executionProviders: options.executionProviders }),
        },
      },
    )
    teardown.add(() => engine.close())
    // A model for sale that could never load in the budget would fail every job that asks for it.
    for (const id of Object.keys(options.prices)) engine.checkFits(id)
    for (const id of options.pin ?? []) await engine.pin(id)

    const redemption = new RedemptionService(
      { broker: chain.broker, logger },
      { dbPath: dataDir === undefined ? ':memory:' : join(dataDir, 'redemptions.sqlite') },
    )
    await redemption.start()
    teardown.add(() => redemption.close())

    // Keeps this node's tickets redeemable on chains whose rounds outlast the EVM's 256-block
    // memory of block hashes; on short rounds (the dev chain's) it only reads the round length.
    const rounds = new RoundKeeper({ broker: chain.broker, watcher: chain.watcher, logger })
    await rounds.start()
    teardown.add(() => rounds.stop())

    const recipient = new TicketRecipient(
      {
        clock: chain.watcher,
        senderInfo: chain.broker,
        gasPrice: chain.watcher,
        redemptionQueue: redemption,
      },
      // One ticket pays for one pricing unit (a megapixel or a frame) unless told otherwise: the
      // recipient's own default counts micro-units, which would need hundreds of tickets a frame.
      { address, unitsPerTicket: 1_000_000n, ...options.recipient },
    )
    const peer = await createPeer(
      { ...options.peer, gossip: marketGossipOptions(options.peer?.gossip), privateKey },
      { logger },
    )
    teardown.add(() => peer.stop())

    const orchestrator = await createOrchestrator(
      { peer, privateKey, engine, recipient, wallet, logger },
      { prices: options.prices, capacity: options.capacity, ...options.orchestrator },
    )
    teardown.add(() => orchestrator.stop())
    logger.info('orchestrator ready', {
      peerId: peer.peerId.toString(),
      address,
      models: Object.keys(options.prices),
    })
    return { peer, engine, orchestrator, recipient, redemption, chain, address, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
