/**
 * Address exchange over gossip: each peer publishes a signed PeerAnnouncement (its dialable
 * addresses) on DISCOVERY_TOPIC, and dials the peers it hears about. With the bootstrap node
 * relaying the topic, peers that only know the bootstrap address find each other. Announcements
 * go out when a new peer subscribes to the topic (debounced), on our address changes, and on a
 * slow interval so late joiners catch up.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../logger.js'
import type { Gossip, GossipMessage, ValidationResult } from './gossip.js'
import { PeerAnnouncement } from './pb/discovery.js'
import { DISCOVERY_TOPIC, MAX_MESSAGE_BYTES } from './protocols.js'

export interface AddressDiscoveryOptions {
  /** Re-announce this often (ms). */
  intervalMs: number
  /** Announcements older (or further in the future) than this are ignored (ms). */
  maxAgeMs: number
  /** Wait this long after a trigger so several triggers send one announcement (ms). */
  debounceMs: number
  /** Dial announced peers only while we have fewer connections than this. */
  maxConnections: number
}

export interface AddressDiscoveryComponents {
  libp2p: Libp2p
  gossip: Gossip
  logger: Logger
  /** Called for each valid announcement from a peer other than us. */
  onPeer: (peerId: string, addrs: Multiaddr[]) => void
}

export interface AddressDiscovery {
  /** Announce now (still debounced). */
  announce(): void
  stop(): void
}

/** Checks and decodes an announcement where it enters; undefined when it is not acceptable. */
export function decodeAnnouncement(
  message: GossipMessage,
  now: number,
  maxAgeMs: number,
): { addrs: Multiaddr[]; timestamp: number } | undefined {
  if (message.data.byteLength > MAX_MESSAGE_BYTES.peerAnnouncement) return undefined
  try {
    const decoded = PeerAnnouncement.decode(message.data, { limits: { addrs: 64 } })
    const timestamp = Number(decoded.timestamp)
    if (Math.abs(now - timestamp) > maxAgeMs) return undefined
    const addrs = decoded.addrs.map((bytes) => multiaddr(bytes))
    return { addrs, timestamp }
  } catch {
    return undefined
  }
}

export function startAddressDiscovery(
  components: AddressDiscoveryComponents,
  options: AddressDiscoveryOptions,
): AddressDiscovery {
  const { libp2p, gossip, logger, onPeer } = components
  const self = libp2p.peerId.toString()
  let stopped = false
  let pending: ReturnType<typeof setTimeout> | undefined

  gossip.setValidator(DISCOVERY_TOPIC, (message): ValidationResult => {
    if (message.from === self) return 'ignore'
    const decoded = decodeAnnouncement(message, Date.now(), options.maxAgeMs)
    // Undecodable is the sender's fault (reject, lowers its score); stale is just late (ignore).
    if (decoded === undefined) {
      return message.data.byteLength > MAX_MESSAGE_BYTES.peerAnnouncement || !decodes(message.data)
        ? 'reject'
        : 'ignore'
    }
    return 'accept'
  })
  const offMessage = gossip.onMessage(DISCOVERY_TOPIC, (message) => {
    const decoded = decodeAnnouncement(message, Date.now(), options.maxAgeMs)
    if (decoded === undefined || message.from === self) return
    onPeer(message.from, decoded.addrs)
  })
  gossip.subscribe(DISCOVERY_TOPIC)

  const publish = () => {
    pending = undefined
    if (stopped) return
    const addrs = libp2p.getMultiaddrs().map((ma) => ma.decapsulate(`/p2p/${self}`).bytes)
    if (addrs.length === 0) return
    const data = PeerAnnouncement.encode({ addrs, timestamp: BigInt(Date.now()) })
    gossip.publish(DISCOVERY_TOPIC, data).then(
      ({ recipients }) => logger.debug('announced addresses', { recipients, addrs: addrs.length }),
      (err) => logger.debug('address announcement failed', { err }),
    )
  }
  const announce = () => {
    if (stopped || pending !== undefined) return
    pending = setTimeout(publish, options.debounceMs)
  }

  const onSubscriptionChange = (
    evt: CustomEvent<{ subscriptions: Array<{ topic: string; subscribe: boolean }> }>,
  ) => {
    if (evt.detail.subscriptions.some((s) => s.topic === DISCOVERY_TOPIC && s.subscribe)) announce()
  }
  const pubsub = (libp2p.services as { pubsub: EventTarget }).pubsub
  pubsub.addEventListener('subscription-change', onSubscriptionChange as EventListener)
  const onSelfUpdate = () => announce()
  libp2p.addEventListener('self:peer:update', onSelfUpdate)
  const interval = setInterval(announce, options.intervalMs)
  interval.unref?.()

  return {
    announce,
    stop() {
      stopped = true
      clearInterval(interval)
      if (pending !== undefined) clearTimeout(pending)
      offMessage()
      gossip.removeValidator(DISCOVERY_TOPIC)
      pubsub.removeEventListener('subscription-change', onSubscriptionChange as EventListener)
      libp2p.removeEventListener('self:peer:update', onSelfUpdate)
    },
  }
}

function decodes(data: Uint8Array): boolean {
  try {
    PeerAnnouncement.decode(data)
    return true
  } catch {
    return false
  }
}

/** Parses a peer id string into a PeerId, or undefined when it is not one. */
export function parsePeerId(id: string): PeerId | undefined {
  try {
    return peerIdFromString(id)
  } catch {
    return undefined
  }
}
