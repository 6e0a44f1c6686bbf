import { keccak_256 } from '@noble/hashes/sha3.js'
import {
  type Address,
  asBuffer,
  assertUint256,
  bytesToBigInt,
  bytesToHex,
  type Hex,
  hexToBytes,
  MAX_UINT256,
  toAddress,
  toBytes32,
  uint256ToBytes,
  writeHex,
  writeUint256,
  ZERO_BYTES32,
} from './bytes.js'
import { TicketError } from './errors.js'
import { defaultBackend, type Secp256k1Backend } from './secp256k1.js'

/**
 * Livepeer-compatible probabilistic micropayment tickets: the shapes, the hash TicketBroker
 * computes, EIP-191 signatures, the win check and expected value.
 *
 * Conventions: uint256 fields are `bigint`; addresses, bytes32 values and signatures are
 * lowercase `0x` hex (`Hex`). `senderNonce` is a uint32 `number` as in go-livepeer, written as a
 * uint256 in the hash and on chain.
 */
export type { Address, Hex } from './bytes.js'
export { MAX_UINT256, ZERO_ADDRESS, ZERO_BYTES32 } from './bytes.js'

export const MAX_SENDER_NONCE = 0xffffffff
/** The value of winProb that always wins; EV = faceValue × winProb / MAX_WIN_PROB. */
export const MAX_WIN_PROB = MAX_UINT256
export const SIGNATURE_LENGTH = 65
export const AUX_DATA_LENGTH = 64

/** The round a ticket was created in; TicketBroker refuses tickets from rounds too far back. */
export interface TicketExpirationParams {
  creationRound: bigint
  creationRoundBlockHash: Hex
}

/** One ticket, field for field what TicketBroker hashes (auxData = creationRound ‖ creationRoundBlockHash). */
export interface Ticket {
  recipient: Address
  sender: Address
  faceValue: bigint
  winProb: bigint
  senderNonce: number
  recipientRandHash: Hex
  creationRound: bigint
  creationRoundBlockHash: Hex
}

export interface SignedTicket {
  ticket: Ticket
  /** 65 bytes r‖s‖v, v ∈ {27, 28}, over the EIP-191 hash of the ticket hash. */
  signature: Hex
}

/** A winning ticket with everything `TicketBroker.redeemWinningTicket` needs. */
export interface WinningTicket extends SignedTicket {
  recipientRand: bigint
}

/** A price: `wei` for every `units` units of work (a rational, so sub-wei unit prices work). */
export interface Price {
  wei: bigint
  units: bigint
}

/** What a recipient issues and a sender echoes back with its tickets (go-livepeer's TicketParams). */
export interface TicketParams {
  recipient: Address
  faceValue: bigint
  winProb: bigint
  recipientRandHash: Hex
  /** Random per issue; the recipient re-derives recipientRand from it, keeping no state per issue. */
  seed: Hex
  /** Last block at which the recipient accepts tickets made with these parameters. */
  expirationBlock: bigint
  expirationParams: TicketExpirationParams
  /** The price quoted together with these parameters (bound into recipientRand). */
  price: Price
}

/** What a sender gives a ticket beyond the shared parameters. */
export interface TicketSenderParams {
  senderNonce: number
  signature: Hex
}

/** Many tickets made from one parameter set: one sender, one set of params, nonce/signature pairs. */
export interface TicketBatch {
  sender: Address
  params: TicketParams
  tickets: TicketSenderParams[]
}

/** Builds the ticket a sender makes from issued params with the given nonce. */
export function ticketFromParams(sender: Address, params: TicketParams, senderNonce: number): Ticket {
  return {
    recipient: params.recipient,
    sender,
    faceValue: params.faceValue,
    winProb: params.winProb,
    senderNonce,
    recipientRandHash: params.recipientRandHash,
    creationRound: params.expirationParams.creationRound,
    creationRoundBlockHash: params.expirationParams.creationRoundBlockHash,
  }
}

/** Expands a batch into signed tickets. */
export function batchToSignedTickets(batch: TicketBatch): SignedTicket[] {
  return batch.tickets.map((t) => ({
    ticket: ticketFromParams(batch.sender, batch.params, t.senderNonce),
    signature: t.signature,
  }))
}

/** Checks every field's shape and range; returns a copy with hex lowercased. Use where tickets enter. */
export function normalizeTicket(t: Ticket): Ticket {
  return {
    recipient: toAddress(t.recipient, 'recipient'),
    sender: toAddress(t.sender, 'sender'),
    faceValue: assertUint256(t.faceValue, 'faceValue'),
    winProb: assertUint256(t.winProb, 'winProb'),
    senderNonce: assertSenderNonce(t.senderNonce),
    recipientRandHash: toBytes32(t.recipientRandHash, 'recipientRandHash'),
    creationRound: assertUint256(t.creationRound, 'creationRound'),
    creationRoundBlockHash: toBytes32(t.creationRoundBlockHash, 'creationRoundBlockHash'),
  }
}

export function assertSenderNonce(nonce: number): number {
  if (!Number.isInteger(nonce) || nonce < 0 || nonce > MAX_SENDER_NONCE) {
    throw new TicketError(
      'ERR_TICKET_FIELD',
      `senderNonce must be an integer in [0, 2^32); got ${String(nonce)}`,
      {
        details: { field: 'senderNonce' },
      },
    )
  }
  return nonce
}

/** auxData as TicketBroker wants it: creationRound (uint256) ‖ creationRoundBlockHash, always 64 bytes. */
export function encodeAuxData(creationRound: bigint, creationRoundBlockHash: Hex): Uint8Array {
  const out = new Uint8Array(AUX_DATA_LENGTH)
  writeUint256(out, 0, assertUint256(creationRound, 'creationRound'))
  writeHex(out, 32, toBytes32(creationRoundBlockHash, 'creationRoundBlockHash'))
  return out
}

/** Reads auxData back; empty auxData (go-livepeer's form for round 0) reads as round 0, zero hash. */
export function decodeAuxData(auxData: Uint8Array): TicketExpirationParams {
  if (auxData.length === 0) return { creationRound: 0n, creationRoundBlockHash: ZERO_BYTES32 }
  if (auxData.length !== AUX_DATA_LENGTH) {
    throw new TicketError(
      'ERR_TICKET_FIELD',
      `auxData must be 0 or ${AUX_DATA_LENGTH} bytes; got ${auxData.length}`,
    )
  }
  return {
    creationRound: bytesToBigInt(auxData.subarray(0, 32)),
    creationRoundBlockHash: bytesToHex(auxData.subarray(32)),
  }
}

/**
 * The auxData bytes that go into the ticket hash: like go-livepeer, empty when the round and
 * block hash are both zero, else 64 bytes. The chain always needs the 64-byte form, so
 * recipients never issue round 0 with a zero block hash.
 */
export function ticketAuxData(t: Ticket): Uint8Array {
  if (t.creationRound === 0n && t.creationRoundBlockHash === ZERO_BYTES32) return new Uint8Array(0)
  return encodeAuxData(t.creationRound, t.creationRoundBlockHash)
}

const HASH_PREFIX_LENGTH = 20 + 20 + 32 + 32 + 32 + 32

/** keccak256(recipient ‖ sender ‖ faceValue ‖ winProb ‖ senderNonce ‖ recipientRandHash ‖ auxData). */
export function ticketHash(ticket: Ticket): Uint8Array {
  return ticketHashOfNormalized(normalizeTicket(ticket))
}

/** ticketHash without the field checks: only for tickets built from normalized (checked) params. */
export function ticketHashOfNormalized(t: Ticket): Uint8Array {
  const auxZero = t.creationRound === 0n && t.creationRoundBlockHash === ZERO_BYTES32
  const pre = new Uint8Array(HASH_PREFIX_LENGTH + (auxZero ? 0 : AUX_DATA_LENGTH))
  writeHex(pre, 0, t.recipient)
  writeHex(pre, 20, t.sender)
  writeUint256(pre, 40, t.faceValue)
  writeUint256(pre, 72, t.winProb)
  writeUint256(pre, 104, BigInt(t.senderNonce))
  writeHex(pre, 136, t.recipientRandHash)
  if (!auxZero) {
    writeUint256(pre, 168, t.creationRound)
    writeHex(pre, 200, t.creationRoundBlockHash)
  }
  return keccak_256(pre)
}

export function ticketHashHex(ticket: Ticket): Hex {
  return bytesToHex(ticketHash(ticket))
}

const EIP191_PREFIX = new TextEncoder().encode('\x19Ethereum Signed Message:\n32')

/** The digest personal_sign signs for a 32-byte message: keccak256("\x19Ethereum Signed Message:\n32" ‖ msg). */
export function personalMessageDigest(message32: Uint8Array): Uint8Array {
  if (message32.length !== 32) {
    throw new TicketError('ERR_TICKET_FIELD', `a ticket hash is 32 bytes; got ${message32.length}`)
  }
  const pre = new Uint8Array(EIP191_PREFIX.length + 32)
  pre.set(EIP191_PREFIX, 0)
  pre.set(message32, EIP191_PREFIX.length)
  return keccak_256(pre)
}

const CURVE_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const HALF_N_BYTES = Buffer.from(uint256ToBytes(CURVE_N >> 1n))
const N_BYTES = Buffer.from(uint256ToBytes(CURVE_N))

/** Checks a secret key (32 bytes, 1 ≤ k < n) and returns its bytes. */
export function parsePrivateKey(key: Hex | Uint8Array): Uint8Array {
  let bytes: Uint8Array
  try {
    bytes = typeof key === 'string' ? hexToBytes(key) : key
  } catch (cause) {
    throw new TicketError(
      'ERR_KEY_INVALID',
      'a private key must be 32 bytes as 0x-prefixed hex or a Uint8Array',
      {
        cause,
      },
    )
  }
  const b = asBuffer(bytes)
  if (bytes.length !== 32 || b.equals(Buffer.alloc(32)) || Buffer.compare(b, N_BYTES) >= 0) {
    throw new TicketError(
      'ERR_KEY_INVALID',
      'a private key must be 32 bytes, non-zero and below the secp256k1 group order; check the key file',
    )
  }
  return bytes
}

/** The Ethereum address of an uncompressed (65-byte) public key. */
export function addressOfPublicKey(publicKey: Uint8Array): Address {
  return bytesToHex(keccak_256(publicKey.subarray(1)).subarray(12))
}

export function addressOfPrivateKey(
  key: Hex | Uint8Array,
  backend: Secp256k1Backend = defaultBackend,
): Address {
  return addressOfPublicKey(backend.publicKey(parsePrivateKey(key)))
}

/** Signs a 32-byte message the personal_sign way; returns r‖s‖v, v ∈ {27, 28}. */
export function signMessage32(
  message32: Uint8Array,
  key: Hex | Uint8Array,
  backend: Secp256k1Backend = defaultBackend,
): Uint8Array {
  const { signature, recid } = backend.sign(personalMessageDigest(message32), parsePrivateKey(key))
  const out = new Uint8Array(SIGNATURE_LENGTH)
  out.set(signature, 0)
  out[64] = 27 + recid
  return out
}

export function signTicket(
  ticket: Ticket,
  key: Hex | Uint8Array,
  backend: Secp256k1Backend = defaultBackend,
): Hex {
  return bytesToHex(signMessage32(ticketHash(ticket), key, backend))
}

/**
 * Recovers the public key that signed a 32-byte message personal_sign style, strictly: exactly
 * 65 bytes, v 27 or 28, low S (high-S twins are refused so one ticket cannot be presented twice
 * under two signatures), r and s in range. Returns the uncompressed 65-byte key.
 */
export function recoverMessage32PublicKey(
  message32: Uint8Array,
  signature: string | Uint8Array,
  backend: Secp256k1Backend = defaultBackend,
): Uint8Array {
  const sig = decodeSignature(signature)
  if (sig.length !== SIGNATURE_LENGTH) {
    throw new TicketError(
      'ERR_SIGNATURE_LENGTH',
      `a ticket signature is ${SIGNATURE_LENGTH} bytes (r‖s‖v); got ${sig.length}; re-sign the ticket`,
      { details: { length: sig.length } },
    )
  }
  const v = sig[64]
  if (v !== 27 && v !== 28) {
    throw new TicketError(
      'ERR_SIGNATURE_V',
      `a ticket signature's v must be 27 or 28; got ${v}; re-sign the ticket`,
      {
        details: { v },
      },
    )
  }
  const buf = asBuffer(sig)
  const r = buf.subarray(0, 32)
  const s = buf.subarray(32, 64)
  if (Buffer.compare(s, HALF_N_BYTES) > 0) {
    throw new TicketError(
      'ERR_SIGNATURE_MALLEABLE',
      'the signature has a high S value (malleable); sign with a library that normalizes to low S',
    )
  }
  if (isZero(r) || isZero(s) || Buffer.compare(r, N_BYTES) >= 0) {
    throw new TicketError(
      'ERR_SIGNATURE_INVALID',
      'the signature has r or s out of range; re-sign the ticket',
    )
  }
  try {
    return backend.recover(personalMessageDigest(message32), sig.subarray(0, 64), v - 27)
  } catch (cause) {
    throw new TicketError(
      'ERR_SIGNATURE_INVALID',
      'no public key recovers from this signature; re-sign the ticket',
      {
        cause,
      },
    )
  }
}

/** The address that signed a 32-byte message personal_sign style (strict; see recoverMessage32PublicKey). */
export function recoverMessage32Signer(
  message32: Uint8Array,
  signature: string | Uint8Array,
  backend: Secp256k1Backend = defaultBackend,
): Address {
  return addressOfPublicKey(recoverMessage32PublicKey(message32, signature, backend))
}

export function recoverTicketSigner(
  ticket: Ticket,
  signature: string | Uint8Array,
  backend: Secp256k1Backend = defaultBackend,
): Address {
  return recoverMessage32Signer(ticketHash(ticket), signature, backend)
}

/** Throws a TicketError unless `signature` is a strict signature of `ticket` by `ticket.sender`. */
export function verifyTicketSignature(
  ticket: Ticket,
  signature: string | Uint8Array,
  backend: Secp256k1Backend = defaultBackend,
): void {
  const signer = recoverTicketSigner(ticket, signature, backend)
  if (signer !== ticket.sender.toLowerCase()) throw wrongSignerError(signer, ticket.sender)
}

export function wrongSignerError(signer: Address, sender: Address): TicketError {
  return new TicketError(
    'ERR_SIGNATURE_INVALID',
    `the ticket signature recovers to ${signer}, not the ticket's sender ${sender}; the sender must sign its own tickets`,
    { details: { signer, sender } },
  )
}

/** keccak256(uint256(rand)): what a recipient commits to before the sender signs. */
export function recipientRandHash(recipientRand: bigint): Hex {
  return bytesToHex(keccak_256(uint256ToBytes(assertUint256(recipientRand, 'recipientRand'))))
}

/** A ticket wins when uint256(keccak256(signature ‖ uint256(recipientRand))) < winProb. */
export function isWinningTicket(
  signature: string | Uint8Array,
  recipientRand: bigint,
  winProb: bigint,
): boolean {
  const sig = decodeSignature(signature)
  if (sig.length !== SIGNATURE_LENGTH) {
    throw new TicketError(
      'ERR_SIGNATURE_LENGTH',
      `a ticket signature is ${SIGNATURE_LENGTH} bytes; got ${sig.length}`,
    )
  }
  const pre = new Uint8Array(SIGNATURE_LENGTH + 32)
  pre.set(sig, 0)
  writeUint256(pre, SIGNATURE_LENGTH, assertUint256(recipientRand, 'recipientRand'))
  return bytesToBigInt(keccak_256(pre)) < winProb
}

/** The ticket's expected value in wei, rounded down: faceValue × winProb / (2^256 − 1). */
export function expectedValue(faceValue: bigint, winProb: bigint): bigint {
  return (faceValue * winProb) / MAX_WIN_PROB
}

/**
 * The winProb that makes a ticket of `faceValue` worth `ev`, rounded up so its expectedValue is
 * at least `ev` (when ev ≤ faceValue).
 */
export function winProbForExpectedValue(ev: bigint, faceValue: bigint): bigint {
  if (faceValue <= 0n)
    throw new TicketError('ERR_TICKET_FIELD', 'faceValue must be positive to derive a winProb')
  if (ev < 0n || ev > faceValue) {
    throw new TicketError(
      'ERR_TICKET_FIELD',
      `the expected value ${ev} must lie in [0, faceValue ${faceValue}]`,
    )
  }
  const p = (ev * MAX_WIN_PROB + faceValue - 1n) / faceValue
  return p > MAX_WIN_PROB ? MAX_WIN_PROB : p
}

/** A signature as bytes (hex is decoded; length is checked by the callers that need 65). */
export function decodeSignature(signature: string | Uint8Array): Uint8Array {
  if (typeof signature !== 'string') return signature
  try {
    return hexToBytes(signature)
  } catch (cause) {
    throw new TicketError('ERR_SIGNATURE_LENGTH', 'a ticket signature must be 0x-prefixed hex of 65 bytes', {
      cause,
    })
  }
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false
  return true
}
