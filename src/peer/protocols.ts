/**
 * Every protocol id, gossip topic and message size limit of framemesh, in one place.
 * Each id carries a semver; a breaking wire change bumps it so old and new peers
 * simply fail to negotiate instead of misreading each other.
 */

/** Gossip topic where orchestrators publish signed adverts (models, prices, capacity). */
export const ADVERT_TOPIC = '/framemesh/adverts/1.0.0'

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
} as const
