/**
 * The well-known entry node of a framemesh mesh. It is an ordinary peer with three extra jobs:
 * listening on TCP and WebSockets at stable ports, relaying connections for peers behind NAT
 * (circuit relay v2 server), and relaying every framemesh gossip topic with peer exchange on, so
 * a newcomer that knows only this node's address learns the others. It holds no market state:
 * whoever starts it hands in the checks (`topicValidators`) and score parameters (`gossip`) for
 * the topics it relays, so it never forwards what every receiver would reject.
 */
import type { Logger } from '../src/logger.js'
import {
  createPeer,
  GOSSIP_TOPICS,
  type GossipServiceOptions,
  type Peer,
  type PeerMetrics,
  type PeerOptions,
  type TopicValidator,
} from '../src/peer/index.js'

export interface BootstrapNodeOptions {
  /** Identity key location; without it the node gets a new peer id each start (fine for tests only). */
  dataDir?: string
  /** Default: TCP and WebSockets on 127.0.0.1 with OS-picked ports (tests); a server passes 0.0.0.0 ports. */
  listen?: string[]
  /** Public addresses to advertise when the host sits behind NAT or a load balancer. */
  announce?: string[]
  /** Other bootstrap nodes to peer with, so several entry nodes form one mesh. */
  bootstrap?: string[]
  maxConnections?: number
  /** Also find peers on the local network by multicast DNS. */
  mdns?: boolean
  /** Circuit relay v2 reservations this node grants at once. */
  maxRelayReservations?: number
  /** Extra gossip topics to relay besides the framemesh ones. */
  topics?: string[]
  /** Re-announce interval for the address-exchange topic (ms). */
  announceIntervalMs?: number
  /**
   * Gossip tuning, notably `topicScoreParams` for the relayed topics: without them a forwarder of
   * rejected messages loses no score here. Peer exchange stays on unless `doPX: false`.
   */
  gossip?: GossipServiceOptions
}

export interface BootstrapNodeComponents {
  logger?: Logger
  metrics?: PeerMetrics
  /**
   * Checks for relayed topics, in place before the node listens. A topic without one is relayed
   * unchecked: its forgeries reach every peer, and every peer's gossipsub blames this node.
   */
  topicValidators?: Record<string, TopicValidator>
}

export interface BootstrapNode {
  peer: Peer
  /** Full addresses (with /p2p/<id>) to hand to peers as --bootstrap. */
  readonly multiaddrs: string[]
  stop(): Promise<void>
}

export const DEFAULT_BOOTSTRAP_LISTEN = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']

export async function createBootstrapNode(
  options: BootstrapNodeOptions = {},
  components: BootstrapNodeComponents = {},
): Promise<BootstrapNode> {
  const peerOptions: PeerOptions = {
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    listen: options.listen ?? DEFAULT_BOOTSTRAP_LISTEN,
    ...(options.announce === undefined ? {} : { announce: options.announce }),
    ...(options.bootstrap === undefined ? {} : { bootstrap: options.bootstrap }),
    maxConnections: options.maxConnections ?? 500,
    mdns: options.mdns ?? false,
    // An entry node is dialled by every newcomer, often many from one NAT or one test host.
    maxIncomingPendingConnections: 100,
    inboundConnectionThreshold: 100,
    relay: { client: true, server: true, maxReservations: options.maxRelayReservations ?? 128 },
    // Peer exchange: when this node prunes its mesh it hands out other peers' records.
    gossip: { doPX: true, ...options.gossip },
    // Subscribing is what makes a gossipsub node forward a topic.
    topics: [...GOSSIP_TOPICS, ...(options.topics ?? [])],
    ...(options.announceIntervalMs === undefined ? {} : { announceIntervalMs: options.announceIntervalMs }),
  }
  const peer = await createPeer(peerOptions, components)
  return {
    peer,
    get multiaddrs() {
      return peer.multiaddrs
    },
    stop: () => peer.stop(),
  }
}
