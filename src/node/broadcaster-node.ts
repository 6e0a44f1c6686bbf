/**
 * A broadcaster node: what an app runs to buy work — a libp2p peer, a chain connection for its
 * own deposit, the ticket sender, and the market's mesh (order book, selection, jobs).
 */
import { Wallet } from 'ethers'
import { type Logger, silentLogger } from '../logger.js'
import { marketGossipOptions } from '../market/advert-gossip.js'
import { LatencyProber, type LatencyProberOptions } from '../market/latency-prober.js'
import { createMesh, type Mesh, type MeshOptions } from '../market/mesh.js'
import { Reachability } from '../market/reachability.js'
import { createPeer, type Peer, type PeerOptions } from '../peer/peer.js'
import type { Hex } from '../tickets/bytes.js'
import { TicketSender, type TicketSenderOptions } from '../tickets/sender.js'
import { type ChainAccess, type ChainOptions, connectChain } from './chain.js'
import { nodeIdentity, Teardown } from './lifecycle.js'

export interface BroadcasterNodeOptions {
  /** Holds the peer key; without it the identity is ephemeral. */
  dataDir?: string
  peer?: Omit<PeerOptions, 'dataDir' | 'privateKey'>
  chain: ChainOptions
  /** The Ethereum key that signs tickets (hex); its deposit and reserve back them. */
  walletKey: string
  /** Caps on what one ticket and one batch may carry (wei of expected value). */
  sender?: Partial<TicketSenderOptions>
  mesh?: MeshOptions
  /** Ping sellers to keep latency figures fresh for selection and the dashboard. */
  latency?: LatencyProberOptions
}

export interface BroadcasterNode {
  peer: Peer
  mesh: Mesh
  sender: TicketSender
  chain: ChainAccess
  address: string
  stop(): Promise<void>
}

export async function startBroadcasterNode(
  components: { logger?: Logger },
  options: BroadcasterNodeOptions,
): Promise<BroadcasterNode> {
  const logger = (components.logger ?? silentLogger).child('broadcaster-node')
  const teardown = new Teardown(logger)
  const stop = () => teardown.run()
  try {
    const privateKey = await nodeIdentity(options.dataDir)
    const wallet = new Wallet(options.walletKey)
    const chain = await connectChain({ logger, wallet }, options.chain)
    teardown.add(() => chain.close())
    const sender = new TicketSender(
      { key: options.walletKey as Hex, senderInfo: chain.broker, clock: chain.watcher, logger },
      // Defaults: a ticket may carry up to 0.001 ETH of expected value, a batch up to 0.1 ETH.
      { maxTicketEV: 10n ** 15n, maxBatchEV: 10n ** 17n, ...options.sender },
    )
    // Advert score parameters must be in place from the start: they cannot be added to a running peer.
    const peer = await createPeer(
      { ...options.peer, gossip: marketGossipOptions(options.peer?.gossip), privateKey },
      { logger },
    )
    teardown.add(() => peer.stop())
    const mesh = createMesh({ peer, sender, logger }, options.mesh)
    teardown.add(() => mesh.stop())
    const reach = new Reachability({ libp2p: peer.libp2p })
    const prober = new LatencyProber(
      {
        ping: (peerId, opts) => peer.ping(peerId, opts),
        measuredRtt: (peerId) => measuredRtt(peer, peerId),
        reachable: (peerId) => reach.reachable(peerId),
        orderBook: mesh.orderBook,
        stats: mesh.stats,
        logger,
      },
      options.latency,
    )
    prober.start()
    teardown.add(() => prober.stop())
    return { peer, mesh, sender, chain, address: wallet.address.toLowerCase(), stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** The connection monitor's last round trip to `peerId` on an open connection (it pings each every 10 s). */
function measuredRtt(peer: Peer, peerId: string): number | undefined {
  for (const conn of peer.libp2p.getConnections()) {
    if (conn.remotePeer.toString() === peerId && conn.status === 'open' && conn.rtt !== undefined)
      return conn.rtt
  }
  return undefined
}
