/**
 * Every protocol id, gossip topic and message size limit of framemesh, in one place.
 * Each id carries a semver; a breaking wire change bumps it so old and new peers
 * simply fail to negotiate instead of misreading each other.
 */

/** Gossip topic where orchestrators publish signed adverts (models, prices, capacity). */
export const ADVERT_TOPIC = '/framemesh/adverts/1.0.0'

/**
 * Gossip topic where every peer announces its own dialable addresses (PeerAnnouncement), so peers
 * that only know the bootstrap node find each other. The bootstrap node relays it.
 */
export const DISCOVERY_TOPIC = '/framemesh/discovery/1.0.0'

/** Topic of `framemesh demo`'s hello message; only the demo's own nodes use it. */
export const DEMO_TOPIC = '/framemesh/demo/1.0.0'

/** Every framemesh gossip topic; the bootstrap node subscribes to all of them so it relays them. */
export const GOSSIP_TOPICS = [ADVERT_TOPIC, DISCOVERY_TOPIC] as const

export const PROTOCOLS = {
  /** Broadcaster asks an orchestrator for a price on a job spec; one request, one response. */
  quote: '/framemesh/quote/1.0.0',
  /** A job: frames and ticket batches out, results back in order, on one long-lived stream. */
  job: '/framemesh/job/1.0.0',
} as const

export type ProtocolName = keyof typeof PROTOCOLS

/**
 * Largest encoded message accepted per message type (bytes). A peer that sends more has its
 * stream ended with ERR_MESSAGE_TOO_LARGE before the bytes are buffered.
 */
export const MAX_MESSAGE_BYTES = {
  /** Adverts list a handful of models; 64 KiB leaves room for ~200 model entries. */
  advert: 64 * 1024,
  /** Job specs and quotes are small structured messages with ticket parameters. */
  quoteRequest: 16 * 1024,
  quoteResponse: 16 * 1024,
  /** One raw RGB 4K frame is 3840*2160*3 ≈ 24.9 MB; 32 MiB covers it plus headers. */
  jobMessage: 32 * 1024 * 1024,
  /** A peer announces a few addresses (~30-60 bytes each); 4 KiB allows dozens. */
  peerAnnouncement: 4 * 1024,
  /**
   * One gossipsub RPC frame, which may batch several messages plus control data. The largest
   * single payload is an advert (64 KiB), so 1 MiB is ample; bigger frames are dropped undecoded
   * (the library default of 4 MiB would let a peer make us buffer more for nothing).
   */
  gossipRpc: 1024 * 1024,
} as const
