import { FramemeshError } from '../errors.js'

/** A peer sent a message larger than its type allows; the stream it came on is ended. */
export class MessageTooLargeError extends FramemeshError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('ERR_MESSAGE_TOO_LARGE', message, { details })
  }
}

/** A peer sent bytes that do not decode as the expected message; the stream is ended. */
export class MalformedMessageError extends FramemeshError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('ERR_MALFORMED_MESSAGE', message, options)
  }
}

/** The remote closed the stream before the message we were waiting for arrived. */
export class StreamEndedError extends FramemeshError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('ERR_STREAM_ENDED', message, { details })
  }
}

/** The identity key file exists but cannot be used. */
export class InvalidKeyFileError extends FramemeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INVALID_KEY_FILE', message, options)
  }
}

/** A peer option (listen address, bootstrap address, limit) is not usable. */
export class InvalidPeerOptionError extends FramemeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INVALID_PEER_OPTION', message, options)
  }
}

/** A dial failed (no route, refused, protocol not supported by the remote). */
export class DialError extends FramemeshError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('ERR_DIAL_FAILED', message, options)
  }
}

/** The remote does not serve the protocol we asked for (older version, or not that role). */
export class ProtocolNotSupportedError extends FramemeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PROTOCOL_NOT_SUPPORTED', message, options)
  }
}
