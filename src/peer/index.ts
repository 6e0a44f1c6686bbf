// The peer area's public face: what the market, bootstrap node and CLI build on.
export * from './errors.js'
export * from './events.js'
export * from './framing.js'
export type {
  Gossip,
  GossipMessage,
  GossipScoreThresholds,
  GossipServiceOptions,
  TopicScoreParams,
  TopicValidator,
  ValidationResult,
} from './gossip.js'
export * from './identity.js'
export * from './metrics.js'
export * from './peer.js'
export * from './protocols.js'
export * from './request.js'
