/**
 * `createPeer`: one started framemesh peer around a libp2p 3 node. TCP and WebSockets, Noise,
 * Yamux, identify, ping, gossipsub, circuit-relay v2 (client; server on request), bootstrap-list
 * and optional mDNS discovery, plus address exchange over gossip so peers that know only the
 * bootstrap node find each other. Everything the rest of framemesh needs from the network goes
 * through the `Peer` interface; `libp2p` is there as an escape hatch.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { type CircuitRelayService, circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { type Identify, identify } from '@libp2p/identify'
import type { Connection, Libp2p, PeerId, PrivateKey, Stream } from '@libp2p/interface'
import { mdns } from '@libp2p/mdns'
import { type Ping, ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { isMultiaddr, type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { FramemeshError } from '../errors.js'
import { type Logger, silentLogger } from '../logger.js'
import { settledWithin } from '../settled.js'
import { keepBootstrapConnected } from './bootstrap-keeper.js'
import { type AddressDiscovery, parsePeerId, startAddressDiscovery } from './discovery.js'
import { createDiscoveryDialer } from './discovery-dialer.js'
import { DialError, InvalidPeerOptionError, ProtocolNotSupportedError } from './errors.js'
import { TypedEmitter } from './events.js'
import {
  createGossip,
  type Gossip,
  type GossipService,
  type GossipServiceOptions,
  gossipServiceFactory,
  type TopicValidator,
} from './gossip.js'
import { loadOrCreatePrivateKey } from './identity.js'
import { countProtocolError, type PeerMetrics } from './metrics.js'
import { MAX_MESSAGE_BYTES } from './protocols.js'
import { deadline, explain } from './signals.js'

export interface PeerOptions {
  /** Where the identity key lives (`peer.key`, mode 0600). Without one the identity is ephemeral. */
  dataDir?: string
  /** Use this key instead of the data dir's (tests, embedding). */
  privateKey?: PrivateKey
  /** Listen multiaddrs; default one TCP port on 127.0.0.1 picked by the OS. */
  listen?: string[]
  /** Addresses to announce instead of the listen addresses (e.g. a public IP behind NAT). */
  announce?: string[]
  /** Multiaddrs (with /p2p/<id>) of bootstrap nodes to dial on start. */
  bootstrap?: string[]
  /** Find peers on the local network by multicast DNS. */
  mdns?: boolean
  /** Exchange addresses over gossip (DISCOVERY_TOPIC) and dial announced peers; default true. */
  addressDiscovery?: boolean
  /** How often to re-announce our addresses (ms, default 30 s). */
  announceIntervalMs?: number
  /** Least time between two dials of the same discovered peer (ms, default 10 s). */
  discoveryDialBackoffMs?: number
  /** Circuit relay v2: dial through relays (default true), act as a relay (default false). */
  relay?: { client?: boolean; server?: boolean; maxReservations?: number }
  /** Connection limits. */
  maxConnections?: number
  maxIncomingPendingConnections?: number
  /**
   * Inbound connections accepted per second from one IP before refusing (default 25; libp2p's own
   * default of 5 refuses peers that share a NAT, or a whole mesh on one host, when they all dial
   * a newcomer at once).
   */
  inboundConnectionThreshold?: number
  /** Re-dial the bootstrap list while none of it is connected (default true when a list is given). */
  keepBootstrapConnected?: boolean
  /** Default timeout for dial/dialProtocol/ping without their own (ms, default 10 s). */
  dialTimeoutMs?: number
  /**
   * On stop, how long the protocol handlers still running get to finish, after their signal
   * aborts, before the connections close (ms, default 2 s). Their last words (e.g. a job's
   * ERR_SHUTTING_DOWN) are written then, not cut off by the close.
   */
  stopGraceMs?: number
  /** Gossipsub tuning (peer exchange, mesh degree, heartbeat). */
  gossip?: GossipServiceOptions
  /** Topics to subscribe to right away. */
  topics?: string[]
}

/** The libp2p services every framemesh peer runs (`relay` only on relay servers). */
export interface PeerServices extends Record<string, unknown> {
  identify: Identify
  ping: Ping
  pubsub: GossipService
  relay?: CircuitRelayService
}

export interface PeerComponents {
  logger?: Logger
  metrics?: PeerMetrics
  /**
   * Gossip validators by topic, in place before the peer starts listening, so not one message on
   * those topics is delivered or forwarded unchecked (setting them after createPeer leaves a gap).
   */
  topicValidators?: Record<string, TopicValidator>
}

export interface PeerEvents {
  'peer:connect': { peerId: string }
  'peer:disconnect': { peerId: string }
  /** A peer was discovered (bootstrap list, mDNS or an address announcement). */
  'peer:discovery': { peerId: string; multiaddrs: string[] }
  /** A stream handler failed; its stream was aborted with `error`. */
  'protocol:error': { protocol: string; peerId: string; error: Error }
}

export interface ProtocolHandlerContext {
  remotePeer: string
  protocol: string
  connection: Connection
  /** Fires when the peer stops: long handlers end then. */
  signal: AbortSignal
}

/**
 * Serves one inbound stream. Throwing (or rejecting) aborts the stream with that error, counts a
 * protocol error and emits 'protocol:error'; the peer keeps serving other streams.
 */
export type ProtocolHandler = (stream: Stream, context: ProtocolHandlerContext) => void | Promise<void>

export interface HandleOptions {
  maxInboundStreams?: number
  maxOutboundStreams?: number
  /** Allow the protocol over limited (relayed) connections; default false. */
  runOnLimitedConnection?: boolean
}

export interface DialOptions {
  signal?: AbortSignal
  /** Overrides the peer's dialTimeoutMs. */
  timeoutMs?: number
}

/** A peer id string, a PeerId, a multiaddr (string or object, with /p2p/<id>) or several. */
export type DialTarget = string | PeerId | Multiaddr | Multiaddr[]

export interface Peer {
  readonly peerId: string
  /** Our dialable addresses, each ending in /p2p/<peerId>. */
  readonly multiaddrs: string[]
  readonly libp2p: Libp2p<PeerServices>
  readonly events: TypedEmitter<PeerEvents>
  readonly gossip: Gossip
  handle(protocol: string, handler: ProtocolHandler, options?: HandleOptions): Promise<void>
  unhandle(protocol: string): Promise<void>
  dial(target: DialTarget, options?: DialOptions): Promise<Connection>
  dialProtocol(target: DialTarget, protocol: string, options?: DialOptions): Promise<Stream>
  /** Round-trip time in ms. */
  ping(target: DialTarget, options?: DialOptions): Promise<number>
  /** Peer ids we have an open connection to. */
  connectedPeers(): string[]
  hangUp(target: DialTarget): Promise<void>
  stop(): Promise<void>
}

const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0']

export async function createPeer(options: PeerOptions = {}, components: PeerComponents = {}): Promise<Peer> {
  const logger = components.logger ?? silentLogger
  const metrics = components.metrics
  const privateKey =
    options.privateKey ??
    (options.dataDir === undefined
      ? await generateKeyPair('Ed25519')
      : await loadOrCreatePrivateKey(options.dataDir))
  const listen = options.listen ?? DEFAULT_LISTEN
  validateAddrs('listen', listen)
  validateAddrs('announce', options.announce ?? [])
  validateAddrs('bootstrap', options.bootstrap ?? [], true)
  const maxConnections = options.maxConnections ?? 100
  const dialTimeoutMs = options.dialTimeoutMs ?? 10_000
  const relayClient = options.relay?.client ?? true

  const peerDiscovery = []
  if ((options.bootstrap ?? []).length > 0)
    peerDiscovery.push(bootstrap({ list: options.bootstrap!, timeout: 0 }))
  if (options.mdns === true) peerDiscovery.push(mdns())

  const services = {
    identify: identify(),
    ping: ping(),
    pubsub: gossipServiceFactory({ maxMessageBytes: MAX_MESSAGE_BYTES.gossipRpc, ...options.gossip }),
    ...(options.relay?.server === true
      ? {
          relay: circuitRelayServer({
            reservations: { maxReservations: options.relay.maxReservations ?? 128 },
          }),
        }
      : {}),
  }

  let libp2p: Libp2p<PeerServices>
  try {
    libp2p = await createLibp2p({
      privateKey,
      addresses: {
        listen,
        ...(options.announce === undefined ? {} : { announce: options.announce }),
      },
      transports: [tcp(), webSockets(), ...(relayClient ? [circuitRelayTransport()] : [])],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery,
      connectionManager: {
        maxConnections,
        // libp2p's default of 10 refuses part of the burst of dials a newcomer's announcement causes.
        maxIncomingPendingConnections: options.maxIncomingPendingConnections ?? 32,
        dialTimeout: dialTimeoutMs,
        inboundConnectionThreshold: options.inboundConnectionThreshold ?? 25,
      },
      services,
      start: false,
    })
  } catch (err) {
    throw new InvalidPeerOptionError(`cannot build the libp2p node: ${(err as Error).message}`, {
      cause: err,
    })
  }

  const events = new TypedEmitter<PeerEvents>()
  const stopController = new AbortController()
  // Protocol handlers still running: stop gives them stopGraceMs to write their last words.
  const running = new Set<Promise<void>>()
  const stopGraceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS
  const peerId = libp2p.peerId.toString()
  const log = logger.child(peerId.slice(-6))

  libp2p.addEventListener('peer:connect', (evt) =>
    events.emit('peer:connect', { peerId: evt.detail.toString() }),
  )
  libp2p.addEventListener('peer:disconnect', (evt) =>
    events.emit('peer:disconnect', { peerId: evt.detail.toString() }),
  )
  libp2p.addEventListener('connection:open', (evt) => {
    metrics?.connectionsOpened.inc()
    metrics?.connections.inc({ direction: evt.detail.direction })
  })
  libp2p.addEventListener('connection:close', (evt) => {
    metrics?.connectionsClosed.inc()
    metrics?.connections.dec({ direction: evt.detail.direction })
  })

  const dialer = createDiscoveryDialer(
    {
      libp2p,
      logger: log.child('dialer'),
      onNews: (id, multiaddrs) => events.emit('peer:discovery', { peerId: id, multiaddrs }),
    },
    { maxConnections, dialTimeoutMs, backoffMs: options.discoveryDialBackoffMs ?? 10_000 },
  )
  // libp2p 3 does not dial what discovery finds (apart from the bootstrap list): we do, up to the limit.
  libp2p.addEventListener('peer:discovery', (evt) => dialer.discovered(evt.detail.id, evt.detail.multiaddrs))

  const gossip = createGossip(
    { service: libp2p.services.pubsub, logger: log.child('gossip'), metrics },
    { maxMessageBytes: MAX_MESSAGE_BYTES.gossipRpc },
  )
  for (const [topic, validator] of Object.entries(components.topicValidators ?? {}))
    gossip.setValidator(topic, validator)

  try {
    await libp2p.start()
  } catch (err) {
    await Promise.resolve(libp2p.stop()).catch(() => {})
    throw new InvalidPeerOptionError(
      `cannot start the peer (listen ${listen.join(', ')}): ${(err as Error).message}; check the listen addresses and that the ports are free`,
      { cause: err },
    )
  }

  for (const topic of options.topics ?? []) gossip.subscribe(topic)

  let discovery: AddressDiscovery | undefined
  if (options.addressDiscovery ?? true) {
    discovery = startAddressDiscovery(
      {
        libp2p,
        gossip,
        logger: log.child('discovery'),
        onPeer: (id, addrs) => {
          const remote = parsePeerId(id)
          if (remote === undefined) return
          libp2p.peerStore.merge(remote, { multiaddrs: addrs }).then(
            () => dialer.discovered(remote, addrs),
            (err) => log.debug('cannot store announced addresses', { err }),
          )
        },
      },
      {
        intervalMs: options.announceIntervalMs ?? 30_000,
        maxAgeMs: 5 * 60_000,
        debounceMs: 50,
      },
    )
  }

  const bootstrapKeeper =
    (options.bootstrap ?? []).length > 0 && (options.keepBootstrapConnected ?? true)
      ? keepBootstrapConnected({ libp2p, logger: log.child('bootstrap') }, options.bootstrap!, {
          initialDelayMs: 2_000,
          maxDelayMs: 60_000,
          dialTimeoutMs,
        })
      : undefined

  const withDeadline = async <T>(
    what: string,
    dialOptions: DialOptions | undefined,
    run: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> => {
    const d = deadline(
      dialOptions?.timeoutMs ?? dialTimeoutMs,
      anySignal(dialOptions?.signal, stopController.signal),
    )
    try {
      return await run(d.signal)
    } catch (err) {
      throw explain(
        err,
        d,
        what,
        (cause) => new DialError(`${what} failed: ${(cause as Error).message}`, { cause }),
      )
    } finally {
      d.clear()
    }
  }

  log.info('peer started', { peerId, addrs: libp2p.getMultiaddrs().map(String) })

  return {
    peerId,
    get multiaddrs() {
      return libp2p.getMultiaddrs().map(String)
    },
    libp2p,
    events,
    gossip,
    async handle(protocol, handler, handleOptions = {}) {
      /** Runs the handler on one stream; never rejects. */
      const serve = async (stream: Stream, connection: Connection): Promise<void> => {
        const remotePeer = connection.remotePeer.toString()
        try {
          await handler(stream, { remotePeer, protocol, connection, signal: stopController.signal })
        } catch (err) {
          const error = err instanceof Error ? err : new Error(String(err))
          // Streams cut by our own shutdown are not the remote's protocol errors.
          if (stopController.signal.aborted) {
            stream.abort(error)
            return
          }
          countProtocolError(metrics, protocol, error)
          log.debug('protocol handler failed; aborting its stream', { protocol, remotePeer, err: error })
          stream.abort(error)
          events.emit('protocol:error', { protocol, peerId: remotePeer, error })
        }
      }
      if (libp2p.getProtocols().includes(protocol)) {
        throw new FramemeshError(
          'ERR_PROTOCOL_ALREADY_HANDLED',
          `${protocol} already has a handler on this peer; unhandle it first`,
        )
      }
      await libp2p.handle(
        protocol,
        async (stream, connection) => {
          const served = serve(stream, connection)
          running.add(served)
          await served
          running.delete(served)
        },
        {
          ...(handleOptions.maxInboundStreams === undefined
            ? {}
            : { maxInboundStreams: handleOptions.maxInboundStreams }),
          ...(handleOptions.maxOutboundStreams === undefined
            ? {}
            : { maxOutboundStreams: handleOptions.maxOutboundStreams }),
          runOnLimitedConnection: handleOptions.runOnLimitedConnection ?? false,
        },
      )
    },
    async unhandle(protocol) {
      await libp2p.unhandle(protocol)
    },
    dial(target, dialOptions) {
      return withDeadline(`dial ${describe(target)}`, dialOptions, (signal) =>
        libp2p.dial(toDialable(target), { signal }),
      )
    },
    dialProtocol(target, protocol, dialOptions) {
      return withDeadline(`open ${protocol} to ${describe(target)}`, dialOptions, (signal) =>
        libp2p.dialProtocol(toDialable(target), protocol, { signal }).catch((err: Error) => {
          if (err.name !== 'UnsupportedProtocolError') throw err
          throw new ProtocolNotSupportedError(
            `${describe(target)} does not serve ${protocol}; it may run another framemesh version`,
            { cause: err },
          )
        }),
      )
    },
    ping(target, dialOptions) {
      return withDeadline(`ping ${describe(target)}`, dialOptions, (signal) =>
        libp2p.services.ping.ping(toDialable(target), { signal }),
      )
    },
    connectedPeers() {
      return libp2p.getPeers().map(String)
    },
    async hangUp(target) {
      await libp2p.hangUp(toDialable(target) as PeerId | Multiaddr)
    },
    async stop() {
      if (stopController.signal.aborted) return
      stopController.abort()
      discovery?.stop()
      bootstrapKeeper?.stop()
      dialer.stop()
      if (!(await settledWithin(running, stopGraceMs)))
        log.warn('protocol handlers still running at stop; closing their connections', {
          handlers: running.size,
        })
      await libp2p.stop()
      log.info('peer stopped')
    },
  }
}

const DEFAULT_STOP_GRACE_MS = 2_000

function validateAddrs(key: string, addrs: string[], needPeerId = false): void {
  for (const addr of addrs) {
    let ma: Multiaddr
    try {
      ma = multiaddr(addr)
    } catch (err) {
      throw new InvalidPeerOptionError(
        `${key} address '${addr}' is not a multiaddr; use e.g. /ip4/127.0.0.1/tcp/4001`,
        { cause: err },
      )
    }
    if (needPeerId && ma.getComponents().every((c) => c.name !== 'p2p')) {
      throw new InvalidPeerOptionError(
        `${key} address '${addr}' has no /p2p/<peer-id>; copy the full address the bootstrap node prints`,
      )
    }
  }
}

function toDialable(target: DialTarget): PeerId | Multiaddr | Multiaddr[] {
  if (typeof target !== 'string') return target
  if (target.startsWith('/')) {
    try {
      return multiaddr(target)
    } catch (err) {
      throw new InvalidPeerOptionError(`'${target}' is not a multiaddr`, { cause: err })
    }
  }
  const id = parsePeerId(target)
  if (id === undefined) {
    throw new InvalidPeerOptionError(`'${target}' is neither a peer id nor a multiaddr`)
  }
  return id
}

function describe(target: DialTarget): string {
  if (Array.isArray(target)) return target.map(String).join(',')
  return isMultiaddr(target) ? target.toString() : String(target)
}

/** A signal that fires when either fires. */
function anySignal(a: AbortSignal | undefined, b: AbortSignal): AbortSignal {
  return a === undefined ? b : AbortSignal.any([a, b])
}
