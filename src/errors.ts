/**
 * The base of every error framemesh throws on purpose. Callers switch on `code`;
 * the message says what went wrong and what to do about it.
 */
export class FramemeshError extends Error {
  readonly code: string
  readonly details?: Record<string, unknown>

  constructor(
    code: string,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.details = options?.details
  }
}

/** Thrown when a wait ends because its AbortSignal fired (caller cancelled or a timeout elapsed). */
export class AbortedError extends FramemeshError {
  constructor(message = 'the operation was aborted', options?: { cause?: unknown }) {
    super('ERR_ABORTED', message, options)
  }
}

/** Thrown when a wait outlives its deadline. */
export class TimeoutError extends FramemeshError {
  constructor(message = 'the operation timed out', options?: { cause?: unknown }) {
    super('ERR_TIMEOUT', message, options)
  }
}

export function isFramemeshError(err: unknown, code?: string): err is FramemeshError {
  return err instanceof FramemeshError && (code === undefined || err.code === code)
}
