import { FramemeshError } from '../errors.js'

/** Why the TicketBroker contract (or the chain under it) refused a call. */
export type BrokerErrorCode =
  | 'ERR_TICKET_USED'
  | 'ERR_TICKET_NOT_WINNING'
  | 'ERR_TICKET_EXPIRED'
  | 'ERR_TICKET_INVALID'
  | 'ERR_TICKET_ROUND_UNKNOWN'
  | 'ERR_TICKET_ROUND_BLOCK_HASH'
  | 'ERR_RECIPIENT_RAND_MISMATCH'
  | 'ERR_SIGNATURE_INVALID'
  | 'ERR_SIGNATURE_MALLEABLE'
  | 'ERR_SENDER_UNLOCKED'
  | 'ERR_SENDER_UNFUNDED'
  | 'ERR_UNLOCK_IN_PROGRESS'
  | 'ERR_NO_UNLOCK_IN_PROGRESS'
  | 'ERR_SENDER_LOCKED'
  | 'ERR_VALUE_MISMATCH'
  | 'ERR_TRANSFER_FAILED'
  | 'ERR_BATCH_LENGTH'
  | 'ERR_CONTRACT_REVERT'
  | 'ERR_INSUFFICIENT_FUNDS'
  | 'ERR_NO_WALLET'
  | 'ERR_BROKER_NOT_FOUND'
  | 'ERR_BROKER_CONFIG'
  | 'ERR_CHAIN_UNAVAILABLE'
  | 'ERR_TX_DROPPED'

/**
 * An error from the settlement layer. `retryable` says whether the same call may succeed later
 * unchanged (an RPC hiccup, a dropped transaction) as opposed to a definite refusal by the contract.
 */
export class BrokerError extends FramemeshError {
  declare readonly code: BrokerErrorCode
  readonly retryable: boolean

  constructor(
    code: BrokerErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown>; retryable?: boolean },
  ) {
    super(code, message, options)
    this.retryable = options?.retryable ?? false
  }
}

export function isBrokerError(err: unknown, code?: BrokerErrorCode): err is BrokerError {
  return err instanceof BrokerError && (code === undefined || err.code === code)
}

/** Contract custom error name → code and what the caller should do about it. */
const contractErrors: Record<string, { code: BrokerErrorCode; advice: string }> = {
  TicketUsed: { code: 'ERR_TICKET_USED', advice: 'this ticket was already redeemed; drop it' },
  TicketNotWinning: {
    code: 'ERR_TICKET_NOT_WINNING',
    advice: 'only winning tickets can be redeemed; drop it',
  },
  TicketExpired: {
    code: 'ERR_TICKET_EXPIRED',
    advice: 'its creation round is past the validity period; redeem winning tickets sooner',
  },
  UnknownCreationRound: {
    code: 'ERR_TICKET_ROUND_UNKNOWN',
    advice:
      'the contract knows no block hash for its creation round (future, or >256 blocks old and never initialized)',
  },
  CreationRoundBlockHashMismatch: {
    code: 'ERR_TICKET_ROUND_BLOCK_HASH',
    advice: "its auxData block hash is not the creation round's; the sender used a wrong chain clock",
  },
  InvalidAuxDataLength: {
    code: 'ERR_TICKET_INVALID',
    advice: 'auxData must be 64 bytes: creationRound ‖ block hash',
  },
  RecipientIsZero: { code: 'ERR_TICKET_INVALID', advice: 'the ticket recipient is the zero address' },
  SenderIsZero: { code: 'ERR_TICKET_INVALID', advice: 'the ticket sender is the zero address' },
  RecipientRandMismatch: {
    code: 'ERR_RECIPIENT_RAND_MISMATCH',
    advice: 'recipientRand does not hash to recipientRandHash; use the secret the ticket was issued against',
  },
  InvalidSignatureLength: { code: 'ERR_SIGNATURE_INVALID', advice: 'signatures are 65 bytes r ‖ s ‖ v' },
  InvalidSignatureV: { code: 'ERR_SIGNATURE_INVALID', advice: 'signature v must be 27 or 28' },
  InvalidSignature: {
    code: 'ERR_SIGNATURE_INVALID',
    advice: 'the signature does not recover to the ticket sender',
  },
  SignatureMalleable: {
    code: 'ERR_SIGNATURE_MALLEABLE',
    advice: 'the signature has a high s value; use the low-s form',
  },
  SenderUnlocked: {
    code: 'ERR_SENDER_UNLOCKED',
    advice: "the sender's unlock period is over, so its funds can no longer pay tickets",
  },
  SenderUnfunded: {
    code: 'ERR_SENDER_UNFUNDED',
    advice: 'the sender has no deposit and no reserve; fund them first',
  },
  UnlockInProgress: {
    code: 'ERR_UNLOCK_IN_PROGRESS',
    advice: 'an unlock is already pending; wait for it or cancel it',
  },
  NoUnlockInProgress: { code: 'ERR_NO_UNLOCK_IN_PROGRESS', advice: 'call unlock first' },
  SenderLocked: {
    code: 'ERR_SENDER_LOCKED',
    advice: 'the unlock period has not ended yet; retry in a later round',
  },
  DepositReserveValueMismatch: {
    code: 'ERR_VALUE_MISMATCH',
    advice: 'the value sent must equal deposit + reserve',
  },
  TransferFailed: {
    code: 'ERR_TRANSFER_FAILED',
    advice: 'the payee refused ETH; pay an address that accepts it',
  },
  RoundBlockHashUnavailable: {
    code: 'ERR_TICKET_ROUND_UNKNOWN',
    advice:
      'the round started more than 256 blocks ago, too late to store its hash; initialize rounds earlier',
  },
  BatchLengthMismatch: {
    code: 'ERR_BATCH_LENGTH',
    advice: 'tickets, signatures and rands must be the same length',
  },
}

export function contractRevertError(
  name: string,
  args: readonly unknown[],
  what: string,
  cause?: unknown,
): BrokerError {
  const known = contractErrors[name]
  const shown = args.map((a) => String(a)).join(', ')
  if (known === undefined) {
    return new BrokerError('ERR_CONTRACT_REVERT', `${what} reverted with ${name}(${shown})`, {
      cause,
      details: { revert: name },
    })
  }
  return new BrokerError(known.code, `${what} reverted with ${name}(${shown}): ${known.advice}`, {
    cause,
    details: { revert: name, args: args.map((a) => (typeof a === 'bigint' ? a.toString() : a)) },
  })
}
