/**
 * The advert: what an orchestrator offers (models, prices, capacity) and where it wants to be paid.
 * Here live the typed shape, its wire codec and both signatures; `advert-validator.ts` decides
 * what to trust. Everything that can be checked without keys or clocks is checked in `decodeAdvert`.
 */

import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { getAddress, getBytes, hashMessage, hexlify } from 'ethers'
import { FramemeshError } from '../errors.js'
import { PIPELINES } from '../inference/manifest.js'
import type { PipelineId } from '../inference/types.js'
import { MAX_MESSAGE_BYTES } from '../peer/protocols.js'
import { defaultBackend } from '../tickets/secp256k1.js'
import { addressOfPublicKey } from '../tickets/ticket.js'
import { AdvertBody, PricingUnit as PbPricingUnit, SignedAdvert } from './pb/advert.js'
import { signDomain, verifyDomain } from './signing.js'

/** What one unit of work is, for pricing. */
export type PricingUnit = 'output-megapixel' | 'frame' | 'input-megapixel'

/** The unit each pipeline is priced in: what grows the work (and the cost) for that kind of job. */
export function defaultUnitFor(pipeline: PipelineId): PricingUnit {
  switch (pipeline) {
    case 'upscale':
      return 'output-megapixel'
    case 'interpolate':
      return 'frame'
    default:
      return 'input-megapixel'
  }
}

export interface ModelOffer {
  id: string
  pipeline: PipelineId
  /** Lower-case hex sha256 of the weights. */
  sha256: string
  /** Loaded and ready now; a cold model pays a load before the first frame. */
  warm: boolean
  /** Wei per unit. */
  pricePerUnit: bigint
  unit: PricingUnit
}

export interface Advert {
  peerId: string
  /** Strictly increasing per peer (the advertiser follows the clock in µs, so restarts keep it rising). */
  sequence: number
  /** Unix ms. */
  expiresAt: number
  /** Lower-case 0x address that receives tickets (as the tickets area writes addresses). */
  paymentAddress: string
  /** 0x hex, 65 bytes: EIP-191 signature by paymentAddress over paymentBindingStatement(peerId, address). */
  paymentSignature: string
  models: ModelOffer[]
  slotsFree: number
  slotsTotal: number
  frameFormats: string[]
  maxFrameWidth: number
  maxFrameHeight: number
}

/** Why an advert was refused. Each code maps to a gossip verdict in advert-validator.ts. */
export type AdvertRejectCode =
  | 'ERR_ADVERT_TOO_LARGE'
  | 'ERR_ADVERT_UNDECODABLE'
  | 'ERR_ADVERT_MALFORMED'
  | 'ERR_ADVERT_EXPIRED'
  | 'ERR_ADVERT_EXPIRY_TOO_FAR'
  | 'ERR_ADVERT_REPLAYED'
  | 'ERR_ADVERT_BAD_SIGNATURE'
  | 'ERR_ADVERT_PUBLISHER_MISMATCH'
  | 'ERR_ADVERT_BAD_PAYMENT_BINDING'
  | 'ERR_ADVERT_UNSIGNED_GOSSIP'
  | 'ERR_ADVERT_TOO_FREQUENT'

export class AdvertError extends FramemeshError {
  declare readonly code: AdvertRejectCode
  constructor(code: AdvertRejectCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/** Bounds that keep a hostile advert from costing us memory or CPU; generous for honest ones. */
export const ADVERT_LIMITS = {
  maxModels: 256,
  maxFrameFormats: 16,
  maxStringLength: 128,
  /** 10^78 > 2^256: any uint256 wei amount fits. */
  maxPriceDigits: 78,
  maxSlots: 1_000_000,
} as const

/** Domain tag so an advert signature can never be replayed as another framemesh signature. */
export const ADVERT_SIGNING_TAG = 'framemesh-advert:v1'

/**
 * The text an orchestrator's Ethereum key signs (EIP-191 personal_sign) to bind its payment
 * address to its peer id. Naming the peer id is what stops a peer from advertising someone
 * else's address: it cannot make that address's key sign its own peer id.
 */
export function paymentBindingStatement(peerId: string, address: string): string {
  return `framemesh payment binding v1\npeer: ${peerId}\naddress: ${getAddress(address)}`
}

/** Anything that can personal_sign, e.g. an ethers Wallet. */
export interface PaymentSigner {
  getAddress(): Promise<string>
  signMessage(message: string): Promise<string>
}

export async function createPaymentBinding(
  signer: PaymentSigner,
  peerId: string,
): Promise<{ paymentAddress: string; paymentSignature: string }> {
  const paymentAddress = (await signer.getAddress()).toLowerCase()
  const paymentSignature = await signer.signMessage(paymentBindingStatement(peerId, paymentAddress))
  return { paymentAddress, paymentSignature }
}

/**
 * True when `signature` was made by `address` over the binding statement for `peerId`. Recovery
 * goes through the tickets area's secp256k1 backend (libsecp256k1 where it loads), ~20x faster
 * than ethers' pure-JS path: every new seller id costs one, so it bounds what a flood of fresh
 * identities with bad bindings can cost us.
 */
export function verifyPaymentBinding(peerId: string, address: string, signature: string): boolean {
  try {
    const sig = getBytes(signature)
    if (sig.byteLength !== 65) return false
    const v = sig[64]!
    const recid = v >= 27 ? v - 27 : v
    if (recid !== 0 && recid !== 1) return false
    const digest = getBytes(hashMessage(paymentBindingStatement(peerId, address)))
    const publicKey = defaultBackend.recover(digest, sig.subarray(0, 64), recid)
    return addressOfPublicKey(publicKey).toLowerCase() === address.toLowerCase()
  } catch {
    return false
  }
}

const unitToPb: Record<PricingUnit, PbPricingUnit> = {
  'output-megapixel': PbPricingUnit.OUTPUT_MEGAPIXEL,
  frame: PbPricingUnit.FRAME,
  'input-megapixel': PbPricingUnit.INPUT_MEGAPIXEL,
}
const unitFromPb = new Map<PbPricingUnit, PricingUnit>(
  Object.entries(unitToPb).map(([k, v]) => [v, k as PricingUnit]),
)

/** Hex to bytes in a buffer of its own (the protobuf types want an ArrayBuffer-backed array). */
function bytesOf(hex: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(getBytes(hex))
}

export function encodeAdvertBody(advert: Advert): Uint8Array<ArrayBuffer> {
  return AdvertBody.encode({
    peerId: advert.peerId,
    sequence: advert.sequence,
    expiresAt: advert.expiresAt,
    payment: { address: bytesOf(advert.paymentAddress), signature: bytesOf(advert.paymentSignature) },
    models: advert.models.map((m) => ({
      id: m.id,
      pipeline: m.pipeline,
      sha256: bytesOf('0x' + m.sha256),
      warm: m.warm,
      pricePerUnitWei: m.pricePerUnit.toString(10),
      unit: unitToPb[m.unit],
    })),
    slotsFree: advert.slotsFree,
    slotsTotal: advert.slotsTotal,
    frameFormats: advert.frameFormats,
    maxFrameWidth: advert.maxFrameWidth,
    maxFrameHeight: advert.maxFrameHeight,
  })
}

/**
 * Encodes and signs an advert with the peer's libp2p key; the result is what goes on the wire.
 * Throws ERR_ADVERT_MALFORMED if the advert would not pass a receiver's checks, so a bad
 * configuration fails loudly here instead of silently in everyone else's validator.
 */
export async function signAdvert(advert: Advert, privateKey: PrivateKey): Promise<Uint8Array> {
  const body = encodeAdvertBody(advert)
  const signature = await signDomain(privateKey, ADVERT_SIGNING_TAG, body)
  const bytes = SignedAdvert.encode({ body, signature })
  decodeAdvert(bytes)
  return bytes
}

export interface DecodedAdvert {
  advert: Advert
  /** The peer id parsed from the advert, carrying the public key that must have signed it. */
  peer: PeerId
  body: Uint8Array
  signature: Uint8Array
}

function malformed(what: string): never {
  throw new AdvertError('ERR_ADVERT_MALFORMED', `advert ${what}; fix the advertiser's configuration`)
}

function checkString(value: string, what: string): void {
  if (value.length === 0 || value.length > ADVERT_LIMITS.maxStringLength) {
    malformed(`${what} must be 1..${ADVERT_LIMITS.maxStringLength} characters`)
  }
}

/**
 * Decodes wire bytes into a typed advert and checks everything that needs no key and no clock:
 * size, protobuf shape, field ranges, model list sanity, peer id form. Throws AdvertError.
 */
export function decodeAdvert(bytes: Uint8Array, maxBytes: number = MAX_MESSAGE_BYTES.advert): DecodedAdvert {
  if (bytes.byteLength > maxBytes) {
    throw new AdvertError(
      'ERR_ADVERT_TOO_LARGE',
      `advert is ${bytes.byteLength} bytes, over the ${maxBytes} byte limit; advertise fewer models`,
    )
  }
  let signed: SignedAdvert
  let pb: AdvertBody
  try {
    signed = SignedAdvert.decode(bytes)
    pb = AdvertBody.decode(signed.body, {
      limits: { models: ADVERT_LIMITS.maxModels, frameFormats: ADVERT_LIMITS.maxFrameFormats },
    })
  } catch (err) {
    throw new AdvertError(
      'ERR_ADVERT_UNDECODABLE',
      `advert is not a valid protobuf SignedAdvert/AdvertBody (${(err as Error).message}); check the sender's framemesh version`,
      { cause: err },
    )
  }
  if (signed.signature.byteLength === 0) malformed('has no signature')

  let peer: PeerId
  try {
    peer = peerIdFromString(pb.peerId)
  } catch (err) {
    throw new AdvertError(
      'ERR_ADVERT_MALFORMED',
      `advert peer id "${pb.peerId.slice(0, 80)}" does not parse`,
      {
        cause: err,
      },
    )
  }
  // Only key types that embed their public key let us verify without a lookup.
  if (peer.publicKey === undefined) malformed('peer id does not embed a public key (use an Ed25519 key)')
  if (!Number.isSafeInteger(pb.sequence) || pb.sequence <= 0) malformed('sequence must be a positive integer')
  if (!Number.isSafeInteger(pb.expiresAt) || pb.expiresAt <= 0) malformed('expiry must be a unix ms time')
  if (pb.payment === undefined) malformed('has no payment binding')
  if (pb.payment.address.byteLength !== 20) malformed('payment address must be 20 bytes')
  if (pb.payment.signature.byteLength !== 65) malformed('payment signature must be 65 bytes')
  if (pb.slotsTotal > ADVERT_LIMITS.maxSlots || pb.slotsFree > pb.slotsTotal) {
    malformed('free slots must not exceed total slots')
  }
  const seen = new Set<string>()
  const models: ModelOffer[] = pb.models.map((m) => {
    checkString(m.id, 'model id')
    if (seen.has(m.id)) malformed(`lists model ${m.id} twice`)
    seen.add(m.id)
    if (!(PIPELINES as readonly string[]).includes(m.pipeline))
      malformed(`model ${m.id} has unknown pipeline`)
    if (m.sha256.byteLength !== 32) malformed(`model ${m.id} sha256 must be 32 bytes`)
    const digits = m.pricePerUnitWei
    if (!/^[0-9]+$/.test(digits) || digits.length > ADVERT_LIMITS.maxPriceDigits) {
      malformed(`model ${m.id} price must be a decimal wei amount`)
    }
    const unit = unitFromPb.get(m.unit)
    if (unit === undefined) malformed(`model ${m.id} has no pricing unit`)
    return {
      id: m.id,
      pipeline: m.pipeline as PipelineId,
      sha256: hexlify(m.sha256).slice(2),
      warm: m.warm,
      pricePerUnit: BigInt(digits),
      unit,
    }
  })
  for (const f of pb.frameFormats) checkString(f, 'frame format')

  return {
    advert: {
      peerId: peer.toString(),
      sequence: pb.sequence,
      expiresAt: pb.expiresAt,
      paymentAddress: hexlify(pb.payment.address),
      paymentSignature: hexlify(pb.payment.signature),
      models,
      slotsFree: pb.slotsFree,
      slotsTotal: pb.slotsTotal,
      frameFormats: pb.frameFormats,
      maxFrameWidth: pb.maxFrameWidth,
      maxFrameHeight: pb.maxFrameHeight,
    },
    peer,
    body: signed.body,
    signature: signed.signature,
  }
}

/** True when the advert body was signed by the private key of the peer id it names. */
export function verifyAdvertSignature(decoded: DecodedAdvert): Promise<boolean> {
  return verifyDomain(decoded.peer.publicKey!, ADVERT_SIGNING_TAG, decoded.body, decoded.signature)
}
