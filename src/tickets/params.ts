import { createHmac, randomBytes } from 'node:crypto'
import {
  type Address,
  assertUint256,
  bytesToBigInt,
  bytesToHex,
  type Hex,
  toAddress,
  toBytes32,
  writeHex,
  writeUint256,
} from './bytes.js'
import { TicketError } from './errors.js'
import { type Price, recipientRandHash, type TicketParams } from './ticket.js'

/**
 * Ticket parameters: the price arithmetic, the face value a recipient asks for, and the
 * stateless recipientRand. The recipient keeps no record per issue: recipientRand is an HMAC
 * under its secret of the seed and every parameter it issued, so it can re-derive it from what
 * the sender echoes, and any echoed field changed in transit yields another rand whose hash no
 * longer matches recipientRandHash.
 */

export const RECIPIENT_SECRET_LENGTH = 32

/** Checks a price is positive wei over positive units. */
export function assertPrice(price: Price): Price {
  if (
    typeof price?.wei !== 'bigint' ||
    typeof price.units !== 'bigint' ||
    price.wei < 0n ||
    price.units <= 0n
  ) {
    throw new TicketError(
      'ERR_TICKET_FIELD',
      'a price is { wei ≥ 0n, units > 0n } (wei per that many units of work)',
    )
  }
  return price
}

/** What `units` units of work cost at `price`, rounded up to whole wei. */
export function costOf(price: Price, units: bigint): bigint {
  if (units < 0n) throw new TicketError('ERR_TICKET_FIELD', `units of work must be ≥ 0; got ${units}`)
  return (price.wei * units + price.units - 1n) / price.units
}

/** Face value = redemption gas × gas price × multiplier, capped by what the sender can cover. */
export function faceValueFor(input: {
  redeemGas: bigint
  gasPrice: bigint
  multiplier: bigint
  maxFloat: bigint
}): bigint {
  const wanted = input.redeemGas * input.gasPrice * input.multiplier
  // biome-ignore lint/complexity/useMathMinMax: Math.min does not take bigints
  return wanted < input.maxFloat ? wanted : input.maxFloat
}

/** Everything the recipient binds into recipientRand, as it issued it. */
export interface RandInput {
  sender: Address
  seed: Hex
  faceValue: bigint
  winProb: bigint
  expirationBlock: bigint
  price: Price
  creationRound: bigint
  creationRoundBlockHash: Hex
}

const RAND_PREIMAGE_LENGTH = 32 + 20 + 32 * 6 + 32

/** HMAC-SHA256(secret, seed ‖ sender ‖ faceValue ‖ winProb ‖ expirationBlock ‖ price.wei ‖ price.units ‖ auxData) as a uint256. */
export function deriveRecipientRand(secret: Uint8Array, input: RandInput): bigint {
  const pre = new Uint8Array(RAND_PREIMAGE_LENGTH)
  writeHex(pre, 0, toBytes32(input.seed, 'seed'))
  writeHex(pre, 32, toAddress(input.sender, 'sender'))
  writeUint256(pre, 52, assertUint256(input.faceValue, 'faceValue'))
  writeUint256(pre, 84, assertUint256(input.winProb, 'winProb'))
  writeUint256(pre, 116, assertUint256(input.expirationBlock, 'expirationBlock'))
  writeUint256(pre, 148, assertUint256(input.price.wei, 'price.wei'))
  writeUint256(pre, 180, assertUint256(input.price.units, 'price.units'))
  writeUint256(pre, 212, assertUint256(input.creationRound, 'creationRound'))
  writeHex(pre, 244, toBytes32(input.creationRoundBlockHash, 'creationRoundBlockHash'))
  return bytesToBigInt(createHmac('sha256', secret).update(pre).digest())
}

/** The rand input of issued params for a given sender. */
export function randInputOf(sender: Address, params: TicketParams): RandInput {
  return {
    sender,
    seed: params.seed,
    faceValue: params.faceValue,
    winProb: params.winProb,
    expirationBlock: params.expirationBlock,
    price: params.price,
    creationRound: params.expirationParams.creationRound,
    creationRoundBlockHash: params.expirationParams.creationRoundBlockHash,
  }
}

export interface IssueInput extends Omit<RandInput, 'seed'> {
  recipient: Address
  /** 32 random bytes; fresh ones are drawn when omitted. */
  seed?: Hex
}

/** Makes TicketParams and the rand behind them (which stays with the recipient). */
export function issueTicketParams(
  secret: Uint8Array,
  input: IssueInput,
): { params: TicketParams; recipientRand: bigint } {
  const seed = input.seed ?? bytesToHex(randomBytes(32))
  const recipientRand = deriveRecipientRand(secret, { ...input, seed })
  return {
    recipientRand,
    params: {
      recipient: toAddress(input.recipient, 'recipient'),
      faceValue: input.faceValue,
      winProb: input.winProb,
      recipientRandHash: recipientRandHash(recipientRand),
      seed: toBytes32(seed, 'seed'),
      expirationBlock: input.expirationBlock,
      expirationParams: {
        creationRound: input.creationRound,
        creationRoundBlockHash: toBytes32(input.creationRoundBlockHash, 'creationRoundBlockHash'),
      },
      price: assertPrice(input.price),
    },
  }
}

/** Checks every field of params received over the wire; returns a copy with hex lowercased. */
export function normalizeTicketParams(p: TicketParams): TicketParams {
  if (
    p === null ||
    typeof p !== 'object' ||
    typeof p.expirationParams !== 'object' ||
    p.expirationParams === null
  ) {
    throw new TicketError('ERR_TICKET_FIELD', 'ticket params must be an object with expirationParams')
  }
  return {
    recipient: toAddress(p.recipient, 'recipient'),
    faceValue: assertUint256(p.faceValue, 'faceValue'),
    winProb: assertUint256(p.winProb, 'winProb'),
    recipientRandHash: toBytes32(p.recipientRandHash, 'recipientRandHash'),
    seed: toBytes32(p.seed, 'seed'),
    expirationBlock: assertUint256(p.expirationBlock, 'expirationBlock'),
    expirationParams: {
      creationRound: assertUint256(p.expirationParams.creationRound, 'creationRound'),
      creationRoundBlockHash: toBytes32(p.expirationParams.creationRoundBlockHash, 'creationRoundBlockHash'),
    },
    price: assertPrice(p.price),
  }
}
