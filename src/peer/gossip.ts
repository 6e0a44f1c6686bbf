/**
 * Gossip behind one small interface. This is the only file that imports a gossipsub package:
 * swapping @libp2p/gossipsub for another implementation (e.g. back to @chainsafe/libp2p-gossipsub)
 * is the import line below plus, if its options differ, `gossipServiceFactory`.
 */

import type { GossipSub, GossipsubOpts, Message } from '@libp2p/gossipsub'
import { gossipsub } from '@libp2p/gossipsub'
import {
  createPeerScoreThresholds,
  createTopicScoreParams,
  type PeerScoreThresholds,
  type TopicScoreParams,
  validatePeerScoreThresholds,
  validateTopicScoreParams,
} from '@libp2p/gossipsub/score'
import type { PeerId } from '@libp2p/interface'
import { AbortedError, FramemeshError, TimeoutError } from '../errors.js'
import type { Logger } from '../logger.js'
import { InvalidPeerOptionError, MessageTooLargeError } from './errors.js'
import type { PeerMetrics } from './metrics.js'
import { deadline } from './signals.js'

export type ValidationResult = 'accept' | 'reject' | 'ignore'

/** gossipsub's per-topic peer-score parameters (P1-P4), re-exported so callers need no gossipsub import. */
export type { TopicScoreParams }

/** Score lines: below `gossipThreshold` a peer's gossip is ignored, below `graylistThreshold` all of its RPCs. */
export type GossipScoreThresholds = PeerScoreThresholds

export interface GossipMessage {
  topic: string
  data: Uint8Array
  /** The signer (the original publisher), already verified: we only accept signed messages. */
  from: string
  /** The neighbour that forwarded it to us. */
  via: string
}

/**
 * Decides a message's fate before delivery: 'accept' delivers and forwards it, 'ignore' drops it
 * quietly, 'reject' drops it and lowers the forwarding peer's gossip score (for spammers).
 */
export type TopicValidator = (message: GossipMessage) => ValidationResult | Promise<ValidationResult>

export interface Gossip {
  subscribe(topic: string): void
  unsubscribe(topic: string): void
  /** Publishes to the topic; resolves with how many peers it was sent to (0 is not an error). */
  publish(topic: string, data: Uint8Array): Promise<{ recipients: number }>
  /** Calls `handler` for each accepted message on `topic`; returns a function that removes it. */
  onMessage(topic: string, handler: (message: GossipMessage) => void): () => void
  setValidator(topic: string, validator: TopicValidator): void
  removeValidator(topic: string): void
  topics(): string[]
  /**
   * Peer ids subscribed to `topic` that a publish would reach now: they told us they subscribe
   * and our own gossip stream to them is open (a message published before that is lost to them).
   */
  subscribers(topic: string): string[]
  /** Peer ids we exchange gossip with, on any topic. */
  peers(): string[]
  /**
   * Resolves once `topic` has at least `count` known subscribers (default 1), or `peerId` among
   * them; rejects with ERR_TIMEOUT / ERR_ABORTED. Publishing before anyone subscribed reaches nobody.
   */
  waitForSubscribers(topic: string, options?: WaitForSubscribersOptions): Promise<string[]>
  /**
   * A neighbour's gossip score as we see it (0 for one we know nothing of). It only moves on
   * topics given `topicScoreParams`; below the graylist threshold we ignore the peer's gossip.
   * Refreshed once a heartbeat, so a penalty shows a heartbeat after the message that earned it.
   */
  score(peerId: string): number
}

export interface WaitForSubscribersOptions {
  count?: number
  peerId?: string
  signal?: AbortSignal
  /** Default 30 s. */
  timeoutMs?: number
}

export interface GossipServiceOptions {
  /** Peer exchange on prune: well-connected nodes (the bootstrap) hand out other peers' records. */
  doPX?: boolean
  /** Largest gossip message accepted (bytes); larger ones are dropped before decoding. */
  maxMessageBytes?: number
  /** Deliver our own published messages to our own handlers too. */
  emitSelf?: boolean
  /** Target mesh degree; smaller meshes suit small test networks. */
  D?: number
  Dlo?: number
  Dhi?: number
  /** Heartbeat interval in ms (gossipsub default 1000). */
  heartbeatIntervalMs?: number
  /**
   * IPs exempt from gossipsub's IP-colocation penalty, on top of loopback. Without the exemption,
   * more than `ipColocationThreshold` peers on one IP drive each other's scores below the graylist
   * line and their gossip is ignored: right against Sybils on one host, wrong for a mesh on one
   * machine (tests, the demo) or a trusted NAT.
   */
  ipColocationWhitelist?: string[]
  /** Peers allowed per IP before the colocation penalty starts (gossipsub default 10). */
  ipColocationThreshold?: number
  /**
   * Peer-score parameters by topic; unset fields take gossipsub's defaults. Without parameters for
   * a topic gossipsub scores nothing on it: a validator's 'reject' then costs the forwarding peer
   * nothing, and a spammer is never pruned or graylisted.
   */
  topicScoreParams?: Record<string, Partial<TopicScoreParams>>
  /** Score thresholds (gossipsub defaults: gossip -10, publish -50, graylist -80, accept PX 10). */
  scoreThresholds?: Partial<GossipScoreThresholds>
}

/** Loopback peers are all on this host: colocation says nothing about them. */
export const LOOPBACK_IPS = ['127.0.0.1', '::1']

/** The libp2p service factory, for `services.pubsub`. */
export function gossipServiceFactory(options: GossipServiceOptions = {}) {
  const init: Partial<GossipsubOpts> = {
    // A mesh peer publishes even when nobody subscribed yet (adverts go out on a timer anyway).
    allowPublishToZeroTopicPeers: true,
    globalSignaturePolicy: 'StrictSign',
    emitSelf: options.emitSelf ?? false,
    doPX: options.doPX ?? false,
    ...(options.maxMessageBytes === undefined ? {} : { maxInboundDataLength: options.maxMessageBytes }),
    ...(options.D === undefined ? {} : { D: options.D }),
    ...(options.Dlo === undefined ? {} : { Dlo: options.Dlo }),
    ...(options.Dhi === undefined ? {} : { Dhi: options.Dhi }),
    ...(options.heartbeatIntervalMs === undefined ? {} : { heartbeatInterval: options.heartbeatIntervalMs }),
    scoreParams: {
      topics: topicScoreParams(options.topicScoreParams ?? {}),
      IPColocationFactorWhitelist: new Set([...LOOPBACK_IPS, ...(options.ipColocationWhitelist ?? [])]),
      ...(options.ipColocationThreshold === undefined
        ? {}
        : { IPColocationFactorThreshold: options.ipColocationThreshold }),
    },
    ...(options.scoreThresholds === undefined
      ? {}
      : { scoreThresholds: scoreThresholds(options.scoreThresholds) }),
  }
  return gossipsub(init)
}

/**
 * Completes and checks each topic's parameters now: gossipsub itself never validates them, and a
 * bad value (a positive penalty weight, a decay of 1) would silently score the wrong way.
 */
function topicScoreParams(
  partial: Record<string, Partial<TopicScoreParams>>,
): Record<string, TopicScoreParams> {
  const topics: Record<string, TopicScoreParams> = {}
  for (const [topic, params] of Object.entries(partial)) {
    const full = createTopicScoreParams(params)
    try {
      validateTopicScoreParams(full)
    } catch (err) {
      throw new InvalidPeerOptionError(
        `gossip score parameters for topic ${topic} are invalid: ${(err as Error).message}; fix gossip.topicScoreParams`,
        { cause: err },
      )
    }
    topics[topic] = full
  }
  return topics
}

function scoreThresholds(partial: Partial<GossipScoreThresholds>): GossipScoreThresholds {
  const full = createPeerScoreThresholds(partial)
  try {
    validatePeerScoreThresholds(full)
  } catch (err) {
    throw new InvalidPeerOptionError(
      `gossip score thresholds are invalid: ${(err as Error).message}; fix gossip.scoreThresholds`,
      { cause: err },
    )
  }
  return full
}

export type GossipService = GossipSub

/** Wraps the running gossipsub service in the framemesh `Gossip` interface. */
export function createGossip(
  components: { service: GossipService; logger: Logger; metrics?: PeerMetrics },
  options: { maxMessageBytes?: number } = {},
): Gossip {
  const { service, logger, metrics } = components
  const handlers = new Map<string, Set<(message: GossipMessage) => void>>()

  const toMessage = (msg: Message, via: PeerId): GossipMessage | undefined => {
    // StrictSign makes every accepted message signed; an unsigned one here would be a library bug.
    if (msg.type !== 'signed') return undefined
    return { topic: msg.topic, data: msg.data, from: msg.from.toString(), via: via.toString() }
  }

  service.addEventListener('gossipsub:message', (evt) => {
    const { msg, propagationSource } = evt.detail
    const message = toMessage(msg, propagationSource)
    if (message === undefined) return
    metrics?.gossipIn.inc({ topic: message.topic })
    const set = handlers.get(message.topic)
    if (set === undefined) return
    for (const handler of [...set]) {
      try {
        handler(message)
      } catch (err) {
        logger.warn('gossip handler threw', { topic: message.topic, err })
      }
    }
  })

  return {
    subscribe: (topic) => service.subscribe(topic),
    unsubscribe: (topic) => service.unsubscribe(topic),
    async publish(topic, data) {
      if (options.maxMessageBytes !== undefined && data.byteLength > options.maxMessageBytes) {
        throw new MessageTooLargeError(
          `gossip message of ${data.byteLength} bytes exceeds the ${options.maxMessageBytes}-byte limit; publish less or split it`,
          { topic, bytes: data.byteLength, max: options.maxMessageBytes },
        )
      }
      let result: Awaited<ReturnType<GossipService['publish']>>
      try {
        result = await service.publish(topic, data)
      } catch (err) {
        throw new FramemeshError(
          'ERR_PUBLISH_FAILED',
          `publishing on ${topic} failed: ${(err as Error).message}; is the peer running and subscribed?`,
          { cause: err },
        )
      }
      metrics?.gossipOut.inc({ topic })
      return { recipients: result.recipients.length }
    },
    onMessage(topic, handler) {
      let set = handlers.get(topic)
      if (set === undefined) {
        set = new Set()
        handlers.set(topic, set)
      }
      set.add(handler)
      return () => {
        set.delete(handler)
      }
    },
    setValidator(topic, validator) {
      service.topicValidators.set(topic, async (from, msg) => {
        const message = toMessage(msg, from)
        let result: ValidationResult
        if (message === undefined) {
          result = 'reject'
        } else {
          try {
            result = await validator(message)
          } catch (err) {
            // A validator that throws has found the message unusable: treat it as a reject.
            logger.debug('gossip validator threw; rejecting', { topic, err })
            result = 'reject'
          }
        }
        if (result !== 'accept') metrics?.gossipInvalid.inc({ topic, result })
        // The gossipsub enum's values are exactly these strings.
        return result as never
      })
    },
    removeValidator: (topic) => {
      service.topicValidators.delete(topic)
    },
    topics: () => service.getTopics(),
    subscribers: (topic) => reachableSubscribers(service, topic),
    peers: () => service.getPeers().map(String),
    score: (peerId) => peerScore(service, peerId),
    waitForSubscribers(topic, waitOptions = {}) {
      const subscribers = () => reachableSubscribers(service, topic)
      const satisfied = (ids: string[]) =>
        waitOptions.peerId === undefined
          ? ids.length >= (waitOptions.count ?? 1)
          : ids.includes(waitOptions.peerId)
      const now = subscribers()
      if (satisfied(now)) return Promise.resolve(now)
      const d = deadline(waitOptions.timeoutMs ?? 30_000, waitOptions.signal)
      return new Promise<string[]>((resolve, reject) => {
        const check = () => {
          const ids = subscribers()
          if (!satisfied(ids)) return
          done()
          resolve(ids)
        }
        const onAbort = () => {
          done()
          reject(
            d.timedOut()
              ? new TimeoutError(
                  `topic ${topic} did not get the subscribers waited for; is any peer subscribed?`,
                )
              : new AbortedError(`stopped waiting for subscribers of ${topic}`),
          )
        }
        // Our outbound stream opening has no event of its own: look again every so often.
        const poll = setInterval(check, 20)
        const done = () => {
          clearInterval(poll)
          service.removeEventListener('subscription-change', check)
          d.signal.removeEventListener('abort', onAbort)
          d.clear()
        }
        service.addEventListener('subscription-change', check)
        d.signal.addEventListener('abort', onAbort, { once: true })
      })
    },
  }
}

/**
 * gossipsub's implementation has a public `getScore` that its exported interface leaves out; read
 * it through a narrow view and say so plainly if a future version drops it.
 */
function peerScore(service: GossipService, peerId: string): number {
  const getScore = (service as unknown as { getScore?: (id: string) => number }).getScore
  if (typeof getScore !== 'function') {
    throw new FramemeshError(
      'ERR_SCORING_UNAVAILABLE',
      'this gossipsub build cannot report peer scores; pin @libp2p/gossipsub to a version with getScore',
    )
  }
  return getScore.call(service, peerId)
}

/**
 * Subscribers we hold an outbound gossip stream to. gossipsub keeps that map private; if a future
 * version renames it we fall back to all known subscribers rather than none.
 */
function reachableSubscribers(service: GossipService, topic: string): string[] {
  const outbound = (service as unknown as { streamsOutbound?: Map<string, unknown> }).streamsOutbound
  const ids = service.getSubscribers(topic).map(String)
  return outbound instanceof Map ? ids.filter((id) => outbound.has(id)) : ids
}
