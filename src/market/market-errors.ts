/**
 * Typed errors of negotiation and jobs. Every refusal an orchestrator sends carries one of these
 * codes on the wire (Refusal.code, JobError.code), so the broadcaster throws the same code the
 * orchestrator chose and callers switch on it.
 */
import { FramemeshError } from '../errors.js'
import type { VerificationBlame } from './verifier.js'

export const JOB_ERROR_CODES = {
  /** No free job slot, or the engine queue is full: try another orchestrator. */
  busy: 'ERR_BUSY',
  unknownModel: 'ERR_UNKNOWN_MODEL',
  unsupportedPipeline: 'ERR_UNSUPPORTED_PIPELINE',
  unsupportedFormat: 'ERR_UNSUPPORTED_FORMAT',
  priceTooLow: 'ERR_PRICE_TOO_LOW',
  frameTooLarge: 'ERR_FRAME_TOO_LARGE',
  itemTooLarge: 'ERR_ITEM_TOO_LARGE',
  badSpec: 'ERR_BAD_SPEC',
  quoteExpired: 'ERR_QUOTE_EXPIRED',
  quoteUnknown: 'ERR_QUOTE_UNKNOWN',
  quoteUsed: 'ERR_QUOTE_USED',
  quoteInvalid: 'ERR_QUOTE_INVALID',
  paymentRequired: 'ERR_PAYMENT_REQUIRED',
  paymentRejected: 'ERR_PAYMENT_REJECTED',
  frameSizeMismatch: 'ERR_FRAME_SIZE_MISMATCH',
  badWorkItem: 'ERR_BAD_WORK_ITEM',
  protocolViolation: 'ERR_PROTOCOL_VIOLATION',
  windowExceeded: 'ERR_WINDOW_EXCEEDED',
  tooManyStreams: 'ERR_TOO_MANY_STREAMS',
  inferenceFailed: 'ERR_INFERENCE_FAILED',
  peerStalled: 'ERR_PEER_STALLED',
  noOffers: 'ERR_NO_OFFERS',
  budgetExhausted: 'ERR_BUDGET_EXHAUSTED',
  shuttingDown: 'ERR_SHUTTING_DOWN',
  /** Workflows: the next stage this orchestrator forwards to failed (the next stage is to blame). */
  nextStageFailed: 'ERR_NEXT_STAGE_FAILED',
  /** Workflows: the previous stage feeding this orchestrator failed or fed bad items (it is to blame). */
  previousStageFailed: 'ERR_PREVIOUS_STAGE_FAILED',
  /** Verification: another orchestrator with the same model contradicted this one's output. */
  verificationFailed: 'ERR_VERIFICATION_FAILED',
  /**
   * Verification: this orchestrator's output and a checker's disagreed, and nothing settled which
   * was right (no third opinion, the same history): both leave the job, neither is blamed beyond it.
   */
  verificationTie: 'ERR_VERIFICATION_TIE',
  /** Strict verification: an output could not be checked (no second orchestrator), so none is delivered. */
  unverifiable: 'ERR_UNVERIFIABLE',
  /**
   * Workflows with confirmed feeds: a feed item differs from the output its feeder committed to the
   * broadcaster (the feeder is to blame).
   */
  feedMismatch: 'ERR_FEED_MISMATCH',
  /** Quotes: the asking peer named more different sender addresses than one peer may (our doing). */
  tooManySenders: 'ERR_TOO_MANY_SENDERS',
} as const

export type JobErrorCode = (typeof JOB_ERROR_CODES)[keyof typeof JOB_ERROR_CODES]

/** An orchestrator would not quote: `code` says why (busy, unknown model, price too low, ...). */
export class QuoteRefusedError extends FramemeshError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, { details })
  }
}

/** A job stream failed; `code` is the orchestrator's (from its JobError) or ours. */
export class JobError extends FramemeshError {
  readonly peerId?: string
  constructor(
    code: string,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown>; peerId?: string },
  ) {
    super(code, message, options)
    this.peerId = options?.peerId
  }
}

/**
 * A refusal no other orchestrator would answer differently, so nobody else is asked: the job
 * message limit (ERR_ITEM_TOO_LARGE) is the protocol's, the same on every orchestrator.
 */
export function refusedEverywhere(code: string): boolean {
  return code === JOB_ERROR_CODES.itemTooLarge
}

/** Codes after which another orchestrator may well succeed: the job fails over instead of failing. */
export function isRetryableElsewhere(code: string): boolean {
  return !(
    code === JOB_ERROR_CODES.budgetExhausted ||
    code === 'ERR_ABORTED' ||
    // Our own funds: unreadable (our chain connection) or unlocking; no orchestrator takes them.
    code === 'ERR_SENDER_INFO' ||
    code === 'ERR_SENDER_UNLOCKING' ||
    code === JOB_ERROR_CODES.frameTooLarge ||
    refusedEverywhere(code) ||
    code === JOB_ERROR_CODES.unsupportedFormat
  )
}

/** `err` as a FramemeshError: itself when it is one, else a JobError with `code` that keeps it as the cause. */
export function asFramemeshError(err: unknown, code: string): FramemeshError {
  return err instanceof FramemeshError ? err : new JobError(code, String(err), { cause: err })
}

/**
 * `error` with the rest of its story: the same code (what callers act on), `more` appended to its
 * message and `details` merged into its own. The original is the cause.
 */
export function withMore(error: FramemeshError, more: string, details: Record<string, unknown>): JobError {
  const peerId = error instanceof JobError ? error.peerId : undefined
  return new JobError(error.code, `${error.message}; ${more}`, {
    cause: error,
    details: { ...error.details, ...details },
    ...(peerId === undefined ? {} : { peerId }),
  })
}

/** The error that ends a session of a blamed peer: found wrong, or (a tie) not found right. */
export function blameError({ peerId, reason }: Pick<VerificationBlame, 'peerId' | 'reason'>): JobError {
  return reason === 'tie'
    ? new JobError(
        JOB_ERROR_CODES.verificationTie,
        `${peerId}'s output and another orchestrator's disagreed, and nothing settled which was right; its work moves elsewhere`,
        { peerId },
      )
    : new JobError(
        JOB_ERROR_CODES.verificationFailed,
        `${peerId} returned output that another orchestrator with the same model contradicted; its work moves elsewhere`,
        { peerId },
      )
}
