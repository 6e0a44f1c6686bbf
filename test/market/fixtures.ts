/** Real keys and adverts for market tests: an Ed25519 libp2p key and an Ethereum wallet per seller. */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Wallet } from 'ethers'
import type { ModelStatus } from '../../src/inference/types.js'
import { type Advert, createPaymentBinding, type ModelOffer } from '../../src/market/advert.js'

/** What a seller's engine reports for the adverts of gossip tests: one warm upscaler. */
export const SERVED_MODELS: ModelStatus[] = [
  {
    id: 'esrgan-slim-x4',
    pipeline: 'upscale',
    state: 'warm',
    pinned: false,
    sha256: 'ab'.repeat(32),
    bytes: 1,
  },
]

export interface Seller {
  privateKey: PrivateKey
  peerId: string
  wallet: Wallet
}

export async function makeSeller(): Promise<Seller> {
  const privateKey = await generateKeyPair('Ed25519')
  return {
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey).toString(),
    wallet: Wallet.createRandom() as unknown as Wallet,
  }
}

export const SHA = 'ab'.repeat(32)

export function model(overrides: Partial<ModelOffer> = {}): ModelOffer {
  return {
    id: 'esrgan-slim-x4',
    pipeline: 'upscale',
    sha256: SHA,
    warm: true,
    pricePerUnit: 1_000_000_000n,
    unit: 'output-megapixel',
    ...overrides,
  }
}

export async function makeAdvert(
  seller: Seller,
  overrides: Partial<Advert> = {},
  now = Date.now(),
): Promise<Advert> {
  const binding = await createPaymentBinding(seller.wallet, seller.peerId)
  return {
    peerId: seller.peerId,
    sequence: now,
    expiresAt: now + 60_000,
    ...binding,
    models: [model()],
    slotsFree: 2,
    slotsTotal: 4,
    frameFormats: ['rgb24', 'png'],
    maxFrameWidth: 3840,
    maxFrameHeight: 2160,
    ...overrides,
  }
}

export const T0 = 1_800_000_000_000

/** An advert as the order book receives it (already validated): no keys needed. */
export function plainAdvert(peerId: string, overrides: Partial<Advert> = {}): Advert {
  return {
    peerId,
    sequence: 1,
    expiresAt: T0 + 60_000,
    paymentAddress: '0x000000000000000000000000000000000000dead',
    paymentSignature: '0x' + '00'.repeat(65),
    models: [model()],
    slotsFree: 2,
    slotsTotal: 4,
    frameFormats: ['rgb24'],
    maxFrameWidth: 1920,
    maxFrameHeight: 1080,
    ...overrides,
  }
}
