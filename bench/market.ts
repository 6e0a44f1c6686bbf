/**
 * `npm run bench:market`: how fast adverts are checked and offers selected, each as a ratio to a
 * baseline measured in the same run (protobuf decode alone; the order-book query alone).
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Wallet } from 'ethers'
import { type Advert, createPaymentBinding, decodeAdvert, signAdvert } from '../src/market/advert.js'
import { AdvertValidator, checkAdvert } from '../src/market/advert-validator.js'
import { OrderBook } from '../src/market/order-book.js'
import { seededRng } from '../src/market/rng.js'
import { selectOffer } from '../src/market/selection.js'

const NOW = Date.now()

async function measure(name: string, budgetMs: number, op: (i: number) => unknown): Promise<number> {
  let n = 0
  const start = performance.now()
  while (performance.now() - start < budgetMs) {
    await op(n)
    n++
  }
  const perSecond = (n * 1000) / (performance.now() - start)
  console.log(`${name.padEnd(48)} ${perSecond.toFixed(0).padStart(9)} /s`)
  return perSecond
}

async function main(): Promise<void> {
  const sellers = await Promise.all(
    Array.from({ length: 20 }, async () => {
      const privateKey = await generateKeyPair('Ed25519')
      const peerId = peerIdFromPrivateKey(privateKey).toString()
      const binding = await createPaymentBinding(Wallet.createRandom(), peerId)
      return { privateKey, peerId, binding }
    }),
  )
  const rounds = 200
  const signed: Uint8Array[] = []
  const adverts: Advert[] = []
  for (let round = 0; round < rounds; round++) {
    for (const s of sellers) {
      const advert: Advert = {
        peerId: s.peerId,
        sequence: round + 1,
        expiresAt: NOW + 5 * 60_000,
        ...s.binding,
        models: ['esrgan-slim-x4', 'esrgan-medium-x4', 'esrgan-thick-x4'].map((id, k) => ({
          id,
          pipeline: 'upscale' as const,
          sha256: String(k).repeat(64),
          warm: k === 0,
          pricePerUnit: 10n ** 12n * BigInt(k + 1 + (round % 7)),
          unit: 'output-megapixel' as const,
        })),
        slotsFree: round % 5,
        slotsTotal: 4,
        frameFormats: ['rgb24', 'png', 'jpeg'],
        maxFrameWidth: 3840,
        maxFrameHeight: 2160,
      }
      adverts.push(advert)
      signed.push(await signAdvert(advert, s.privateKey))
    }
  }
  console.log(`advert with 3 models, 3 frame formats: ${signed[0]!.byteLength} bytes encoded`)
  const total = signed.length

  console.log('\nadvert checks (each advert once; a validator sees every sequence fresh)')
  const base = await measure('baseline: decode + field checks only', 1_000, (i) =>
    decodeAdvert(signed[i % total]!),
  )
  const full = await measure('checkAdvert: + Ed25519 + payment binding recovery', 1_000, (i) =>
    checkAdvert(signed[i % total]!, { now: NOW }),
  )
  let validator = new AdvertValidator({ now: () => NOW })
  const cached = await measure('AdvertValidator: + replay state, binding cache', 1_000, async (i) => {
    // Each pass over the set needs a fresh validator, or every advert would be a replay.
    if (i % total === 0) validator = new AdvertValidator({ now: () => NOW })
    const r = await validator.validate(signed[i % total]!)
    if (!r.ok) throw new Error(r.message)
  })
  console.log(
    `ratios to baseline: full ${(full / base).toFixed(3)}x, validator ${(cached / base).toFixed(3)}x`,
  )
  console.log(`binding cache speed-up over uncached full check: ${(cached / full).toFixed(1)}x`)

  console.log('\nselection over 1000 peers x 3 models')
  const book = new OrderBook({ now: () => NOW }, { sweepIntervalMs: 0 })
  let peer = 0
  for (const a of adverts.slice(0, 1000)) book.apply({ ...a, peerId: `peer-${peer++}` })
  const offers = book.query()
  console.log(`order book holds ${offers.length} offers`)
  const health = () => ({ latencyMs: 80, successRate: 0.95, suspended: false })
  const rng = seededRng(1)
  const q = await measure('baseline: order-book query for one model', 1_000, () =>
    book.query({ modelId: 'esrgan-medium-x4', minFreeSlots: 1 }),
  )
  const s = await measure('query + rank + weighted pick', 1_000, () =>
    selectOffer(book.query({ modelId: 'esrgan-medium-x4' }), {}, health, { rng }),
  )
  console.log(`ratio to baseline: ${(s / q).toFixed(3)}x`)
}

await main()
