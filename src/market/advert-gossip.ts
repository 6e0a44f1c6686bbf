/**
 * Adverts on the wire: the feed hooks the advert validator into gossip (so bad adverts are
 * rejected before they are delivered or forwarded) and puts accepted ones in the order book;
 * `watchAdvertSubscribers` tells an advertiser when a newcomer joins the topic; and the advert
 * topic's peer-score parameters make a 'reject' cost the forwarding peer.
 */
import { createTopicScoreParams, type TopicScoreParams } from '@libp2p/gossipsub/score'
import { FramemeshError } from '../errors.js'
import type { Logger } from '../logger.js'
import { TypedEmitter } from '../peer/events.js'
import type { Gossip, GossipMessage, ValidationResult } from '../peer/gossip.js'
import type { Peer } from '../peer/peer.js'
import { ADVERT_TOPIC } from '../peer/protocols.js'
import type { Advert, AdvertRejectCode } from './advert.js'
import { type AdvertValidator, gossipVerdict } from './advert-validator.js'
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
    this.#c.gossip.setValidator(ADVERT_TOPIC, (message) => this.#validate(message))
    this.#c.gossip.subscribe(ADVERT_TOPIC)
  }

  stop(): void {
    this.#c.gossip.unsubscribe(ADVERT_TOPIC)
    this.#c.gossip.removeValidator(ADVERT_TOPIC)
  }

  async #validate(message: GossipMessage): Promise<ValidationResult> {
    const result = await this.#c.validator.validate(message.data, message.from)
    if (!result.ok) {
      this.#c.logger?.debug('advert rejected', { code: result.code, from: message.from, via: message.via })
      this.events.emit('advert:rejected', {
        code: result.code,
        message: result.message,
        from: message.from,
        via: message.via,
      })
      return gossipVerdict(result.code)
    }
    // Applied here rather than on delivery so the advert is decoded and checked exactly once.
    const applied = this.#c.orderBook?.apply(result.advert) ?? false
    this.events.emit('advert:accepted', {
      advert: result.advert,
      from: message.from,
      via: message.via,
      applied,
    })
    return 'accept'
  }
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

/** The part of gossipsub's implementation (not its public interface) that holds live score parameters. */
interface ScoreInternals {
  score?: { params?: { topics?: Record<string, TopicScoreParams> }; score?: (peerId: string) => number }
}

function scoreInternals(peer: Pick<Peer, 'libp2p'>): NonNullable<ScoreInternals['score']> {
  const score = (peer.libp2p.services.pubsub as unknown as ScoreInternals).score
  if (score?.params?.topics === undefined) {
    throw new FramemeshError(
      'ERR_SCORING_UNAVAILABLE',
      'this gossipsub build exposes no score parameters; pass ADVERT_TOPIC_SCORE_PARAMS through the peer gossip options instead',
    )
  }
  return score
}

/**
 * Installs ADVERT_TOPIC_SCORE_PARAMS on a running peer's gossipsub. A stopgap: src/peer's
 * GossipServiceOptions takes no score parameters yet, and without topic parameters gossipsub
 * counts no P4 penalty at all, so a 'reject' would cost a spammer nothing. Call before traffic.
 * Throws ERR_SCORING_UNAVAILABLE if the gossipsub internals it reaches into have moved.
 */
export function installAdvertScoring(peer: Pick<Peer, 'libp2p'>): void {
  scoreInternals(peer).params!.topics![ADVERT_TOPIC] = createTopicScoreParams(ADVERT_TOPIC_SCORE_PARAMS)
}

/** A remote peer's current gossip score as our gossipsub sees it (for logs, dashboards, tests). */
export function gossipScore(peer: Pick<Peer, 'libp2p'>, peerId: string): number {
  const score = scoreInternals(peer)
  if (score.score === undefined)
    throw new FramemeshError('ERR_SCORING_UNAVAILABLE', 'this gossipsub build cannot report scores')
  return score.score(peerId)
}
