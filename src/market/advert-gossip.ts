/**
 * Adverts on the wire: the feed hooks the advert validator into gossip (so bad adverts are
 * rejected before they are delivered or forwarded) and puts accepted ones in the order book;
 * `watchAdvertSubscribers` tells an advertiser when a newcomer joins the topic; the advert
 * topic's peer-score parameters (given to every market peer through `marketGossipOptions`) make a
 * 'reject' cost the forwarding peer; and `marketRelayValidators` lets a node that only relays
 * (the bootstrap node) check adverts without knowing the market.
 */
import type { Logger } from '../logger.js'
import { TypedEmitter } from '../peer/events.js'
import type {
  Gossip,
  GossipMessage,
  GossipServiceOptions,
  TopicScoreParams,
  TopicValidator,
  ValidationResult,
} from '../peer/gossip.js'
import type { Peer } from '../peer/peer.js'
import { ADVERT_TOPIC } from '../peer/protocols.js'
import type { Advert, AdvertRejectCode } from './advert.js'
import { AdvertValidator, type AdvertValidatorOptions, gossipVerdict } from './advert-validator.js'
import type { OrderBook } from './order-book.js'

export interface AdvertFeedEvents {
  'advert:accepted': { advert: Advert; from: string; via: string; applied: boolean }
  'advert:rejected': { code: AdvertRejectCode; message: string; from: string; via: string }
}

export interface AdvertFeedComponents {
  gossip: Gossip
  validator: AdvertValidator
  /**
   * Where accepted adverts go. Leave it out on a relay-only node (e.g. the bootstrap node): it
   * still validates, so it never forwards a bad advert and never takes the score penalty for one.
   */
  orderBook?: OrderBook
  logger?: Logger
}

/** Listens on ADVERT_TOPIC: validated adverts go into the order book, the rest are rejected. */
export class AdvertFeed {
  readonly events = new TypedEmitter<AdvertFeedEvents>()
  readonly #c: AdvertFeedComponents

  constructor(components: AdvertFeedComponents) {
    this.#c = components
  }

  start(): void {
    this.#c.gossip.setValidator(ADVERT_TOPIC, advertTopicValidator({ ...this.#c, events: this.events }))
    this.#c.gossip.subscribe(ADVERT_TOPIC)
  }

  stop(): void {
    this.#c.gossip.unsubscribe(ADVERT_TOPIC)
    this.#c.gossip.removeValidator(ADVERT_TOPIC)
  }
}

/**
 * The gossip validator for ADVERT_TOPIC: checks each advert once, applies accepted ones to the
 * order book (if any) and reports both outcomes on `events`.
 */
export function advertTopicValidator(components: {
  validator: AdvertValidator
  orderBook?: OrderBook
  events?: TypedEmitter<AdvertFeedEvents>
  logger?: Logger
}): TopicValidator {
  const { validator, orderBook, events, logger } = components
  return async (message: GossipMessage): Promise<ValidationResult> => {
    const result = await validator.validate(message.data, message.from)
    if (!result.ok) {
      logger?.debug('advert rejected', { code: result.code, from: message.from, via: message.via })
      events?.emit('advert:rejected', {
        code: result.code,
        message: result.message,
        from: message.from,
        via: message.via,
      })
      return gossipVerdict(result.code)
    }
    // Applied here rather than on delivery so the advert is decoded and checked exactly once.
    const applied = orderBook?.apply(result.advert) ?? false
    events?.emit('advert:accepted', { advert: result.advert, from: message.from, via: message.via, applied })
    return 'accept'
  }
}

/**
 * Validators for every market topic, for a node that relays them without taking part (the
 * bootstrap node, which may import only src/peer and so takes them as plain functions). Without
 * them such a node forwards forged adverts, and every buyer's gossipsub penalises it for that
 * until it is graylisted and the mesh loses its hub.
 */
export function marketRelayValidators(
  components: { logger?: Logger; events?: TypedEmitter<AdvertFeedEvents> } = {},
  options: AdvertValidatorOptions = {},
): Record<string, TopicValidator> {
  const validator = new AdvertValidator(
    { ...(components.logger ? { logger: components.logger } : {}) },
    options,
  )
  return { [ADVERT_TOPIC]: advertTopicValidator({ ...components, validator }) }
}

/**
 * Calls `onJoin` whenever a connected peer subscribes to ADVERT_TOPIC, so an advertiser can
 * republish at once instead of leaving a newcomer blind until the next heartbeat. Returns a stop
 * function.
 */
export function watchAdvertSubscribers(
  peer: Pick<Peer, 'libp2p'>,
  onJoin: (peerId: string) => void,
): () => void {
  const pubsub = peer.libp2p.services.pubsub
  const listener = (
    evt: CustomEvent<{
      peerId: { toString(): string }
      subscriptions: Array<{ topic: string; subscribe: boolean }>
    }>,
  ) => {
    if (evt.detail.subscriptions.some((s) => s.topic === ADVERT_TOPIC && s.subscribe))
      onJoin(evt.detail.peerId.toString())
  }
  pubsub.addEventListener('subscription-change', listener as EventListener)
  return () => pubsub.removeEventListener('subscription-change', listener as EventListener)
}

/**
 * Peer-score parameters for ADVERT_TOPIC. Adverts are sparse (one per seller per minute or on
 * change), so mesh-delivery quotas (P3) would punish honest quiet peers and are off; what matters
 * is P4: each rejected advert a peer forwards counts, squared, at -20. Two in a short while put
 * it under the default graylist threshold (-80); the count decays by 1% a second, so a one-off
 * honest slip (an advert overtaken in flight) is forgiven within a minute or so.
 */
export const ADVERT_TOPIC_SCORE_PARAMS: Partial<TopicScoreParams> = {
  topicWeight: 1,
  timeInMeshWeight: 0.01,
  timeInMeshQuantum: 1_000,
  timeInMeshCap: 300,
  firstMessageDeliveriesWeight: 1,
  firstMessageDeliveriesDecay: 0.9,
  firstMessageDeliveriesCap: 10,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0,
  invalidMessageDeliveriesWeight: -20,
  invalidMessageDeliveriesDecay: 0.99,
}

/**
 * Gossip options every market peer needs, merged over `base`: peer-score parameters for the
 * market's topics, without which gossipsub counts no penalty for a rejected advert and a spammer
 * is never pruned. Peer options are fixed when the peer is created, so pass this to createPeer
 * (`gossip: marketGossipOptions(...)`) on broadcasters, orchestrators and the bootstrap node alike.
 * Parameters `base` gives for a market topic win over ours.
 */
export function marketGossipOptions(base: GossipServiceOptions = {}): GossipServiceOptions {
  return {
    ...base,
    topicScoreParams: { [ADVERT_TOPIC]: ADVERT_TOPIC_SCORE_PARAMS, ...base.topicScoreParams },
  }
}
