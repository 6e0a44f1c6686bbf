import { FramemeshError } from '../errors.js'

/**
 * Why a ticket, a signature or a set of ticket parameters was refused. Every refusal the
 * recipient makes carries one of these codes; none of them ever credits the sender.
 */
export type TicketErrorCode =
  // malformed input (a field of the wrong shape or out of range)
  | 'ERR_TICKET_FIELD'
  // signatures
  | 'ERR_SIGNATURE_LENGTH'
  | 'ERR_SIGNATURE_V'
  | 'ERR_SIGNATURE_MALLEABLE'
  | 'ERR_SIGNATURE_INVALID'
  // ticket checks on the recipient
  | 'ERR_TICKET_RECIPIENT'
  | 'ERR_TICKET_SENDER_ZERO'
  | 'ERR_TICKET_PARAMS_TAMPERED'
  | 'ERR_TICKET_NONCE_REPLAYED'
  | 'ERR_TICKET_NONCE_CAP'
  | 'ERR_TICKET_EXPIRED'
  | 'ERR_TICKET_ROUND'
  | 'ERR_SENDER_UNLOCKING'
  | 'ERR_SENDER_FUNDS'
  | 'ERR_SENDER_INFO'
  | 'ERR_SENDER_READS_BUSY'
  | 'ERR_INSUFFICIENT_CREDIT'
  // the sender refusing parameters it was quoted
  | 'ERR_PARAMS_EV_ABOVE_FACE'
  | 'ERR_PARAMS_EV_TOO_HIGH'
  | 'ERR_PARAMS_FACE_TOO_HIGH'
  | 'ERR_PARAMS_BATCH_TOO_LARGE'
  | 'ERR_PARAMS_EXPIRED'
  | 'ERR_PARAMS_INVALID'
  // keys
  | 'ERR_KEY_INVALID'
  | 'ERR_KEYSTORE'

/** The one error class of src/tickets: switch on `code`. */
export class TicketError extends FramemeshError {
  declare readonly code: TicketErrorCode

  constructor(
    code: TicketErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(code, message, options)
  }
}

export function isTicketError(err: unknown, code?: TicketErrorCode): err is TicketError {
  return err instanceof TicketError && (code === undefined || err.code === code)
}
