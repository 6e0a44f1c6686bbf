// The public face of the framemesh library. Each area exports only what apps need.
export * from './errors.js'
// The HTTP gateway (Livepeer-compatible routes, jobs, dashboard) in front of a mesh.
export { meshForGateway } from './gateway/mesh-adapter.js'
export type { GatewayMesh } from './gateway/mesh-port.js'
export { createGateway, type Gateway, type GatewayOptions } from './gateway/server.js'
export * from './inference/index.js'
export * from './logger.js'
// Market: negotiation, jobs, the orchestrator service and the mesh API apps embed.
// A peer made for createMesh/createOrchestrator takes `gossip: marketGossipOptions()` (advert scoring).
export { marketGossipOptions, marketRelayValidators } from './market/advert-gossip.js'
export {
  type PeerUse,
  Stage,
  type StageCandidate,
  type StageEvents,
  type StageReport,
  type StageResult,
} from './market/failover.js'
export { JOB_ERROR_CODES, JobError, type JobErrorCode, QuoteRefusedError } from './market/market-errors.js'
export {
  createMesh,
  type JobReport,
  type JobResult,
  type Mesh,
  type MeshComponents,
  type MeshJob,
  type MeshJobEvent,
  type MeshJobEvents,
  type MeshOptions,
  type MeshResult,
  type StageSpec,
  type SubmitOptions,
} from './market/mesh.js'
export { ocrPairSha256, withOcr } from './market/ocr-work.js'
export {
  createOrchestrator,
  type Orchestrator,
  type OrchestratorComponents,
  type OrchestratorOptions,
  // The tickets area's RedemptionService class keeps the plain name.
  type RedemptionService as OrchestratorRedemption,
} from './market/orchestrator.js'
export type { JobSpec, Quote } from './market/quote.js'
export { requestQuote } from './market/quote-protocol.js'
export { ResultsTakenError } from './market/result-queue.js'
export {
  psnr,
  type VerificationBlame,
  type VerificationReport,
  type VerifyOptions,
} from './market/verifier.js'
// Ready-made nodes: an operator's orchestrator, an app's broadcaster, a whole mesh on loopback.
export {
  type BroadcasterNode,
  type BroadcasterNodeOptions,
  startBroadcasterNode,
} from './node/broadcaster-node.js'
export { type ChainOptions, connectChain } from './node/chain.js'
export { type LocalMesh, type LocalMeshOptions, startLocalMesh } from './node/local-mesh.js'
export {
  type OrchestratorNode,
  type OrchestratorNodeOptions,
  startOrchestratorNode,
} from './node/orchestrator-node.js'
export * from './peer/index.js'
export * from './tickets/index.js'
