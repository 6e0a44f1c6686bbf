import test from 'ava'
import {
  type AdvertError,
  createPaymentBinding,
  decodeAdvert,
  signAdvert,
  verifyAdvertSignature,
} from '../../src/market/advert.js'
import {
  ADVERT_MIN_INTERVAL_MS,
  AdvertValidator,
  checkAdvert,
  gossipVerdict,
} from '../../src/market/advert-validator.js'
import { SignedAdvert } from '../../src/market/pb/advert.js'
import { MAX_MESSAGE_BYTES } from '../../src/peer/protocols.js'
import { makeAdvert, makeSeller, model } from './fixtures.js'

const NOW = 1_800_000_000_000

test('an advert survives sign, encode and decode unchanged and its signature verifies', async (t) => {
  const seller = await makeSeller()
  const advert = await makeAdvert(seller, {
    models: [
      model(),
      model({ id: 'rife', pipeline: 'interpolate', warm: false, unit: 'frame', pricePerUnit: 10n ** 30n }),
    ],
  })
  const bytes = await signAdvert(advert, seller.privateKey)
  t.log(`encoded advert with 2 models: ${bytes.byteLength} bytes`)
  const decoded = decodeAdvert(bytes)
  t.deepEqual(decoded.advert, advert)
  t.true(await verifyAdvertSignature(decoded))
  const result = await checkAdvert(bytes, { now: advert.sequence, from: seller.peerId })
  t.true(result.ok)
})

test('an advert whose signature was altered is rejected with ERR_ADVERT_BAD_SIGNATURE', async (t) => {
  const seller = await makeSeller()
  const bytes = await signAdvert(await makeAdvert(seller, {}, NOW), seller.privateKey)
  const signed = SignedAdvert.decode(bytes)
  signed.signature[5] ^= 0xff
  const result = await checkAdvert(SignedAdvert.encode(signed), { now: NOW })
  t.like(result, { ok: false, code: 'ERR_ADVERT_BAD_SIGNATURE' })
})

test("an advert naming someone else's peer id but signed with another key is rejected with ERR_ADVERT_BAD_SIGNATURE", async (t) => {
  const victim = await makeSeller()
  const forger = await makeSeller()
  const advert = await makeAdvert(victim, {}, NOW)
  const bytes = await signAdvert(advert, forger.privateKey)
  t.like(await checkAdvert(bytes, { now: NOW }), { ok: false, code: 'ERR_ADVERT_BAD_SIGNATURE' })
})

test("an advert claiming another peer's payment address is rejected with ERR_ADVERT_BAD_PAYMENT_BINDING", async (t) => {
  const honest = await makeSeller()
  const thief = await makeSeller()
  // The thief copies the honest peer's whole binding (address and signature) into its own advert.
  const stolen = await createPaymentBinding(honest.wallet, honest.peerId)
  const advert = await makeAdvert(thief, stolen, NOW)
  const bytes = await signAdvert(advert, thief.privateKey)
  t.like(await checkAdvert(bytes, { now: NOW, from: thief.peerId }), {
    ok: false,
    code: 'ERR_ADVERT_BAD_PAYMENT_BINDING',
  })
})

test('a payment binding signed by a different key than the address is rejected with ERR_ADVERT_BAD_PAYMENT_BINDING', async (t) => {
  const seller = await makeSeller()
  const other = await makeSeller()
  const ownBinding = await createPaymentBinding(seller.wallet, seller.peerId)
  const advert = await makeAdvert(
    seller,
    { paymentAddress: other.wallet.address, paymentSignature: ownBinding.paymentSignature },
    NOW,
  )
  const bytes = await signAdvert(advert, seller.privateKey)
  t.like(await checkAdvert(bytes, { now: NOW }), { ok: false, code: 'ERR_ADVERT_BAD_PAYMENT_BINDING' })
})

test('an expired advert is rejected with ERR_ADVERT_EXPIRED', async (t) => {
  const seller = await makeSeller()
  const bytes = await signAdvert(
    await makeAdvert(seller, { expiresAt: NOW - 1 }, NOW - 60_000),
    seller.privateKey,
  )
  t.like(await checkAdvert(bytes, { now: NOW }), { ok: false, code: 'ERR_ADVERT_EXPIRED' })
})

test('an advert expiring more than the cap ahead is rejected with ERR_ADVERT_EXPIRY_TOO_FAR', async (t) => {
  const seller = await makeSeller()
  const bytes = await signAdvert(
    await makeAdvert(seller, { expiresAt: NOW + 11 * 60_000 }, NOW),
    seller.privateKey,
  )
  t.like(await checkAdvert(bytes, { now: NOW }), { ok: false, code: 'ERR_ADVERT_EXPIRY_TOO_FAR' })
  t.true((await checkAdvert(bytes, { now: NOW, maxExpiryMs: 12 * 60_000 })).ok)
})

test('an advert published by a different peer than it names is rejected with ERR_ADVERT_PUBLISHER_MISMATCH', async (t) => {
  const seller = await makeSeller()
  const relay = await makeSeller()
  const bytes = await signAdvert(await makeAdvert(seller, {}, NOW), seller.privateKey)
  t.like(await checkAdvert(bytes, { now: NOW, from: relay.peerId }), {
    ok: false,
    code: 'ERR_ADVERT_PUBLISHER_MISMATCH',
  })
})

test('a replayed or older sequence is rejected with ERR_ADVERT_REPLAYED once a newer one was accepted', async (t) => {
  const seller = await makeSeller()
  const validator = new AdvertValidator({ now: () => NOW })
  const older = await signAdvert(await makeAdvert(seller, { sequence: 10 }, NOW), seller.privateKey)
  const newer = await signAdvert(await makeAdvert(seller, { sequence: 11 }, NOW), seller.privateKey)
  t.true((await validator.validate(newer, seller.peerId)).ok)
  t.like(await validator.validate(newer, seller.peerId), { ok: false, code: 'ERR_ADVERT_REPLAYED' })
  t.like(await validator.validate(older, seller.peerId), { ok: false, code: 'ERR_ADVERT_REPLAYED' })
  t.deepEqual(validator.stats(), { accepted: 1, refused: { ERR_ADVERT_REPLAYED: 2 } })
})

test('of two copies checked at once with the same sequence only one is accepted', async (t) => {
  const seller = await makeSeller()
  const validator = new AdvertValidator({ now: () => NOW })
  const bytes = await signAdvert(await makeAdvert(seller, {}, NOW), seller.privateKey)
  const results = await Promise.all([validator.validate(bytes), validator.validate(bytes)])
  t.is(results.filter((r) => r.ok).length, 1)
})

test('the validator forgets a peer only after every older advert of it must have expired', async (t) => {
  const seller = await makeSeller()
  let now = NOW
  const validator = new AdvertValidator({ now: () => now }, { maxExpiryMs: 60_000 })
  t.true(
    (
      await validator.validate(
        await signAdvert(await makeAdvert(seller, { sequence: 5 }, NOW), seller.privateKey),
      )
    ).ok,
  )
  now += 59_999
  t.is(validator.lastSequence(seller.peerId), 5)
  now += 1
  t.is(validator.lastSequence(seller.peerId), undefined)
})

test('an advert over the size limit is rejected with ERR_ADVERT_TOO_LARGE before decoding', async (t) => {
  const bytes = new Uint8Array(MAX_MESSAGE_BYTES.advert + 1)
  t.like(await checkAdvert(bytes, { now: NOW }), { ok: false, code: 'ERR_ADVERT_TOO_LARGE' })
})

test('bytes that are not an advert are rejected with ERR_ADVERT_UNDECODABLE', async (t) => {
  const junk = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01])
  t.like(await checkAdvert(junk, { now: NOW }), { ok: false, code: 'ERR_ADVERT_UNDECODABLE' })
  const seller = await makeSeller()
  const signed = SignedAdvert.decode(await signAdvert(await makeAdvert(seller, {}, NOW), seller.privateKey))
  const truncated = SignedAdvert.encode({
    body: signed.body.subarray(0, signed.body.byteLength - 1),
    signature: signed.signature,
  })
  t.like(await checkAdvert(truncated, { now: NOW }), { ok: false, code: 'ERR_ADVERT_UNDECODABLE' })
})

test('a signed advert with a broken field is rejected with ERR_ADVERT_MALFORMED', async (t) => {
  const seller = await makeSeller()
  const cases = [
    { slotsFree: 5, slotsTotal: 4 },
    { models: [model(), model()] },
    { models: [model({ sha256: 'ab' })] },
    { models: [model({ pipeline: 'teleport' as never })] },
  ]
  for (const [i, overrides] of cases.entries()) {
    // signAdvert refuses to sign what receivers would refuse...
    const advert = await makeAdvert(seller, overrides, NOW)
    const err = await t.throwsAsync(signAdvert(advert, seller.privateKey))
    t.is((err as AdvertError).code, 'ERR_ADVERT_MALFORMED', `case ${i}`)
  }
})

test('a hand-built advert with a non-decimal price is rejected with ERR_ADVERT_MALFORMED', async (t) => {
  const seller = await makeSeller()
  const signed = SignedAdvert.decode(await signAdvert(await makeAdvert(seller, {}, NOW), seller.privateKey))
  // Rewrite the price field's bytes in place: "1000000000" -> "10000000x0" (same length).
  const body = signed.body
  // latin1 maps each byte to one character, so string indices are byte offsets.
  const at = Buffer.from(body).toString('latin1').indexOf('1000000000')
  t.true(at > 0)
  body[at + 8] = 'x'.charCodeAt(0)
  const result = await checkAdvert(SignedAdvert.encode({ body, signature: signed.signature }), { now: NOW })
  t.like(result, { ok: false, code: 'ERR_ADVERT_MALFORMED' })
})

test('a cached payment binding does not let a later forged advert signature through', async (t) => {
  const seller = await makeSeller()
  const validator = new AdvertValidator({ now: () => NOW })
  for (let seq = 1; seq <= 3; seq++) {
    t.true(
      (
        await validator.validate(
          await signAdvert(await makeAdvert(seller, { sequence: seq }, NOW), seller.privateKey),
        )
      ).ok,
    )
  }
  const forged = SignedAdvert.decode(
    await signAdvert(await makeAdvert(seller, { sequence: 4 }, NOW), seller.privateKey),
  )
  forged.signature[0] ^= 1
  t.like(await validator.validate(SignedAdvert.encode(forged)), {
    ok: false,
    code: 'ERR_ADVERT_BAD_SIGNATURE',
  })
})

test('a peer past its advert allowance (10 back to back, then one per 200 ms) is dropped with ERR_ADVERT_TOO_FREQUENT, not penalised', async (t) => {
  const seller = await makeSeller()
  let now = NOW
  const validator = new AdvertValidator({ now: () => now })
  const advert = async (sequence: number) =>
    signAdvert(await makeAdvert(seller, { sequence }, NOW), seller.privateKey)
  for (let s = 1; s <= 10; s++)
    t.true((await validator.validate(await advert(s), seller.peerId)).ok, `advert ${s}`)
  const eleventh = await validator.validate(await advert(11), seller.peerId)
  t.like(eleventh, { ok: false, code: 'ERR_ADVERT_TOO_FREQUENT' })
  t.is(gossipVerdict('ERR_ADVERT_TOO_FREQUENT'), 'ignore')
  t.is(gossipVerdict('ERR_ADVERT_BAD_SIGNATURE'), 'reject')
  // The dropped advert's sequence was not taken: once the allowance refills it is accepted.
  now += 199
  t.like(await validator.validate(await advert(11), seller.peerId), { code: 'ERR_ADVERT_TOO_FREQUENT' })
  now += 1
  t.true((await validator.validate(await advert(11), seller.peerId)).ok)
  t.like(await validator.validate(await advert(12), seller.peerId), { code: 'ERR_ADVERT_TOO_FREQUENT' })
  // One per ADVERT_MIN_INTERVAL_MS, the fastest an advertiser publishes, never meets the limit.
  for (let s = 13; s < 40; s++) {
    now += ADVERT_MIN_INTERVAL_MS
    t.true((await validator.validate(await advert(s), seller.peerId)).ok, `advert ${s}`)
  }
  // Other peers have their own allowance.
  const other = await makeSeller()
  t.true(
    (
      await validator.validate(
        await signAdvert(await makeAdvert(other, {}, NOW), other.privateKey),
        other.peerId,
      )
    ).ok,
  )
})
