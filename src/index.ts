// The public face of the framemesh library. Each area exports only what apps need.
export * from './errors.js'
export * from './inference/index.js'
export * from './logger.js'
// Market: negotiation, jobs, the orchestrator service and the mesh API apps embed.
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
  type RedemptionService,
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
export * from './peer/index.js'
export * from './tickets/index.js'
