/**
 * The quote: typed job specs and quotes, their wire codecs, the quote signature and the ticket
 * parameters' protobuf form. Decoding checks shapes once, at the edge; inner code trusts types.
 */
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { PIPELINES } from '../inference/manifest.js'
import type { PipelineId } from '../inference/types.js'
import { bytesToHex, hexToBytes } from '../tickets/bytes.js'
import type { Address, TicketParams } from '../tickets/ticket.js'
import type { PricingUnit } from './advert.js'
import { JOB_ERROR_CODES, QuoteRefusedError } from './market-errors.js'
import {
  type JobSpec as PbJobSpec,
  QuoteBody,
  SignedQuote,
  type TicketParamsMessage,
  TicketParamsMessage as TicketParamsPb,
} from './pb/quote.js'
import { signDomain, verifyDomain } from './signing.js'

/** The only frame encoding the job stream carries today: raw interleaved 8-bit RGB. */
export const FRAME_FORMAT_RGB24 = 'rgb24'

export interface JobSpec {
  pipeline: PipelineId
  modelId: string
  width: number
  height: number
  format: string
  /** 0 = open-ended stream. */
  frameCount: number
  maxPricePerUnit: bigint
  /** Lower-case 0x address that signs the tickets. */
  sender: Address
  /** Workflows: the previous stage's orchestrator, which sends the work items (a feed stream). */
  feeder?: string
}

export interface Quote {
  quoteId: string
  peerId: string
  spec: JobSpec
  pricePerUnit: bigint
  unit: PricingUnit
  ticketParams: TicketParams
  /** Unix ms. */
  expiresAt: number
  window: number
  /** Output frame size (absent for text results, or from an orchestrator that does not say). */
  outputWidth?: number
  outputHeight?: number
}

const UNITS: readonly PricingUnit[] = ['output-megapixel', 'frame', 'input-megapixel']
/** Domain tag of quote signatures (see signing.ts): an advert signature never passes as a quote's. */
const QUOTE_SIGNING_TAG = 'framemesh-quote:v1'
/** Ample for any real frame; stops absurd sizes before any multiplication. */
export const MAX_FRAME_SIDE = 16_384

function bad(message: string): never {
  throw new QuoteRefusedError(JOB_ERROR_CODES.badSpec, message)
}

function wei(text: string, what: string): bigint {
  if (!/^[0-9]{1,78}$/.test(text)) bad(`${what} must be a decimal wei amount, got "${text.slice(0, 40)}"`)
  return BigInt(text)
}

function address(bytes: Uint8Array, what: string): Address {
  if (bytes.byteLength !== 20) bad(`${what} must be a 20-byte address`)
  return bytesToHex(bytes) as Address
}

function bytes32(bytes: Uint8Array, what: string): `0x${string}` {
  if (bytes.byteLength !== 32) bad(`${what} must be 32 bytes`)
  return bytesToHex(bytes)
}

function ownBytes(hex: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(hexToBytes(hex))
}

export function jobSpecToPb(spec: JobSpec): PbJobSpec {
  return {
    pipeline: spec.pipeline,
    modelId: spec.modelId,
    width: spec.width,
    height: spec.height,
    format: spec.format,
    frameCount: spec.frameCount,
    maxPricePerUnitWei: spec.maxPricePerUnit.toString(10),
    sender: ownBytes(spec.sender),
    ...(spec.feeder === undefined ? {} : { feeder: spec.feeder }),
  }
}

/** Checks a spec from the wire. Throws QuoteRefusedError(ERR_BAD_SPEC / ERR_UNSUPPORTED_PIPELINE). */
export function jobSpecFromPb(pb: PbJobSpec | undefined): JobSpec {
  if (pb === undefined) bad('the request carries no job spec')
  if (!(PIPELINES as readonly string[]).includes(pb.pipeline)) {
    throw new QuoteRefusedError(
      JOB_ERROR_CODES.unsupportedPipeline,
      `pipeline "${pb.pipeline.slice(0, 40)}" is not one of ${PIPELINES.join(', ')}`,
    )
  }
  if (pb.modelId.length === 0 || pb.modelId.length > 128) bad('model id must be 1..128 characters')
  for (const [side, v] of [
    ['width', pb.width],
    ['height', pb.height],
  ] as const) {
    if (v < 1 || v > MAX_FRAME_SIDE) bad(`frame ${side} must be 1..${MAX_FRAME_SIDE}, got ${v}`)
  }
  if (pb.format.length === 0 || pb.format.length > 32) bad('frame format must be named')
  return {
    pipeline: pb.pipeline as PipelineId,
    modelId: pb.modelId,
    width: pb.width,
    height: pb.height,
    format: pb.format,
    frameCount: pb.frameCount,
    maxPricePerUnit: wei(pb.maxPricePerUnitWei, 'max price'),
    sender: address(pb.sender, 'sender'),
    ...(pb.feeder === undefined || pb.feeder === '' ? {} : { feeder: feederOf(pb.feeder) }),
  }
}

function feederOf(text: string): string {
  try {
    return peerIdFromString(text).toString()
  } catch {
    return bad(`feeder "${text.slice(0, 60)}" is not a peer id`)
  }
}

export function ticketParamsToPb(p: TicketParams): TicketParamsMessage {
  return {
    recipient: ownBytes(p.recipient),
    faceValue: p.faceValue.toString(10),
    winProb: p.winProb.toString(10),
    recipientRandHash: ownBytes(p.recipientRandHash),
    seed: ownBytes(p.seed),
    expirationBlock: p.expirationBlock.toString(10),
    creationRound: p.expirationParams.creationRound.toString(10),
    creationRoundBlockHash: ownBytes(p.expirationParams.creationRoundBlockHash),
    priceWei: p.price.wei.toString(10),
    priceUnits: p.price.units.toString(10),
  }
}

export function ticketParamsFromPb(pb: TicketParamsMessage | undefined): TicketParams {
  if (pb === undefined) bad('no ticket params')
  return {
    recipient: address(pb.recipient, 'ticket recipient'),
    faceValue: wei(pb.faceValue, 'face value'),
    winProb: wei(pb.winProb, 'win probability'),
    recipientRandHash: bytes32(pb.recipientRandHash, 'recipientRandHash'),
    seed: bytes32(pb.seed, 'seed'),
    expirationBlock: wei(pb.expirationBlock, 'expiration block'),
    expirationParams: {
      creationRound: wei(pb.creationRound, 'creation round'),
      creationRoundBlockHash: bytes32(pb.creationRoundBlockHash, 'creation round block hash'),
    },
    price: { wei: wei(pb.priceWei, 'price'), units: wei(pb.priceUnits, 'price units') },
  }
}

export function encodeTicketParams(p: TicketParams): Uint8Array<ArrayBuffer> {
  return TicketParamsPb.encode(ticketParamsToPb(p))
}

export function decodeTicketParams(bytes: Uint8Array): TicketParams {
  try {
    return ticketParamsFromPb(TicketParamsPb.decode(bytes))
  } catch (err) {
    if (err instanceof QuoteRefusedError) throw err
    bad(`ticket params do not decode (${(err as Error).message})`)
  }
}

/** Encodes and signs a quote with the orchestrator's libp2p key. */
export async function signQuote(quote: Quote, privateKey: PrivateKey): Promise<SignedQuote> {
  const body = QuoteBody.encode({
    quoteId: quote.quoteId,
    peerId: quote.peerId,
    spec: jobSpecToPb(quote.spec),
    pricePerUnitWei: quote.pricePerUnit.toString(10),
    unit: quote.unit,
    ticketParams: ticketParamsToPb(quote.ticketParams),
    expiresAt: quote.expiresAt,
    window: quote.window,
    ...(quote.outputWidth === undefined ? {} : { outputWidth: quote.outputWidth }),
    ...(quote.outputHeight === undefined ? {} : { outputHeight: quote.outputHeight }),
  })
  return { body, signature: await signDomain(privateKey, QUOTE_SIGNING_TAG, body) }
}

/**
 * Decodes a signed quote and checks it was signed by `expectedPeer` (the peer we asked) and names
 * it. Throws QuoteRefusedError(ERR_QUOTE_INVALID) otherwise.
 */
export async function verifyQuote(signed: SignedQuote, expectedPeer: string): Promise<Quote> {
  const invalid = (why: string, cause?: unknown): never => {
    throw new QuoteRefusedError(
      JOB_ERROR_CODES.quoteInvalid,
      `the quote from ${expectedPeer} is invalid (${why}); ask another orchestrator`,
      cause === undefined ? undefined : { cause: String(cause) },
    )
  }
  let body: QuoteBody
  try {
    body = QuoteBody.decode(signed.body)
  } catch (err) {
    return invalid('body does not decode', err)
  }
  if (body.peerId !== expectedPeer) invalid(`it names peer ${body.peerId.slice(0, 60)}`)
  let peer: PeerId
  try {
    peer = peerIdFromString(expectedPeer)
  } catch (err) {
    return invalid('peer id does not parse', err)
  }
  const ok =
    peer.publicKey !== undefined &&
    (await verifyDomain(peer.publicKey, QUOTE_SIGNING_TAG, signed.body, signed.signature))
  if (!ok) invalid('bad signature')
  if (!UNITS.includes(body.unit as PricingUnit)) invalid(`unknown unit ${body.unit.slice(0, 40)}`)
  try {
    return {
      quoteId: body.quoteId,
      peerId: body.peerId,
      spec: jobSpecFromPb(body.spec),
      pricePerUnit: wei(body.pricePerUnitWei, 'price'),
      unit: body.unit as PricingUnit,
      ticketParams: ticketParamsFromPb(body.ticketParams),
      expiresAt: body.expiresAt,
      window: body.window,
      ...(body.outputWidth ? { outputWidth: body.outputWidth } : {}),
      ...(body.outputHeight ? { outputHeight: body.outputHeight } : {}),
    }
  } catch (err) {
    return invalid((err as Error).message, err)
  }
}

export { SignedQuote }
