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

/** An announcement listing more addresses than this is rejected. */
export const MAX_ANNOUNCED_ADDRS = 64

export interface AddressDiscoveryOptions {
  /** Re-announce this often (ms). */
  intervalMs: number
  /** Announcements older (or further in the future) than this are ignored (ms). */
  maxAgeMs: number
  /** Wait this long after a trigger so several triggers send one announcement (ms). */
  debounceMs: number
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

export type DecodedAnnouncement =
  | { ok: true; addrs: Multiaddr[]; timestamp: number }
  | { ok: false; verdict: 'reject' | 'ignore'; reason: string }

/**
 * Checks and decodes an announcement where it enters. Broken or oversized ones are the sender's
 * fault (reject: lowers its gossip score); stale ones are merely late (ignore).
 */
export function decodeAnnouncement(
  message: GossipMessage,
  now: number,
  maxAgeMs: number,
): DecodedAnnouncement {
  if (message.data.byteLength > MAX_MESSAGE_BYTES.peerAnnouncement) {
    return { ok: false, verdict: 'reject', reason: 'too large' }
  }
  let decoded: PeerAnnouncement
  let addrs: Multiaddr[]
  try {
    decoded = PeerAnnouncement.decode(message.data, { limits: { addrs: MAX_ANNOUNCED_ADDRS } })
    addrs = decoded.addrs.map((bytes) => multiaddr(bytes))
  } catch (err) {
    return { ok: false, verdict: 'reject', reason: (err as Error).message }
  }
  const timestamp = Number(decoded.timestamp)
  if (Math.abs(now - timestamp) > maxAgeMs) return { ok: false, verdict: 'ignore', reason: 'stale' }
  return { ok: true, addrs, timestamp }
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
    return decoded.ok ? 'accept' : decoded.verdict
  })
  const offMessage = gossip.onMessage(DISCOVERY_TOPIC, (message) => {
    const decoded = decodeAnnouncement(message, Date.now(), options.maxAgeMs)
    if (decoded.ok && message.from !== self) onPeer(message.from, decoded.addrs)
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

/** Parses a peer id string into a PeerId, or undefined when it is not one. */
export function parsePeerId(id: string): PeerId | undefined {
  try {
    return peerIdFromString(id)
  } catch {
    return undefined
  }
}
