import test from 'ava'
import sharp, { type Sharp } from 'sharp'
import { assertFrame, decodeImage, decodeRawFrame, encodeImage } from '../../src/inference/media/image.js'
import { detectImageFormat } from '../../src/inference/media/image-header.js'
import type { Frame } from '../../src/inference/types.js'

// A 40×30 picture: left half red, right half half-transparent blue.
async function halfAndHalf(): Promise<Sharp> {
  const left = await sharp({ create: { width: 20, height: 30, channels: 4, background: '#ff0000ff' } })
    .png()
    .toBuffer()
  return sharp({
    create: { width: 40, height: 30, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 0.5 } },
  }).composite([{ input: left, left: 0, top: 0 }])
}

function pixel(frame: Frame, x: number, y: number): number[] {
  const at = (y * frame.width + x) * 3
  return [...frame.data.subarray(at, at + 3)]
}

/** A copy of a PNG whose IHDR declares another size (the CRC is left stale on purpose). */
function withPngSize(png: Uint8Array, width: number, height: number): Uint8Array {
  const copy = Uint8Array.from(png)
  const view = new DataView(copy.buffer)
  view.setUint32(16, width)
  view.setUint32(20, height)
  return copy
}

test('a PNG with alpha decodes to a 3-channel RGB frame with the alpha dropped', async (t) => {
  const png = await (await halfAndHalf()).png().toBuffer()
  const frame = await decodeImage(png)
  t.is(frame.width, 40)
  t.is(frame.height, 30)
  t.is(frame.channels, 3)
  t.is(frame.data.length, 40 * 30 * 3)
  t.deepEqual(pixel(frame, 5, 5), [255, 0, 0])
  t.deepEqual(pixel(frame, 35, 5), [0, 0, 255])
})

test('JPEG and lossy and lossless WebP decode to RGB frames of the right size and colour', async (t) => {
  const image = await halfAndHalf()
  for (const bytes of [
    await image.clone().jpeg({ quality: 95 }).toBuffer(),
    await image.clone().webp({ quality: 95 }).toBuffer(),
    await image.clone().webp({ lossless: true }).toBuffer(),
  ]) {
    const frame = await decodeImage(bytes)
    t.is(frame.width, 40)
    t.is(frame.height, 30)
    const [r, g, b] = pixel(frame, 5, 15)
    t.true(r > 230 && g < 30 && b < 30, `left half should be red, got ${[r, g, b]}`)
  }
})

test('a 16-bit greyscale PNG decodes to 8-bit RGB', async (t) => {
  const grey = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#646464' } })
    .toColourspace('grey16')
    .png()
    .toBuffer()
  const frame = await decodeImage(grey)
  t.is(frame.data.length, 8 * 8 * 3)
  t.deepEqual(pixel(frame, 3, 3), [100, 100, 100])
})

test('the format is recognised from the content, not from a name', async (t) => {
  const image = await halfAndHalf()
  t.is(detectImageFormat(await image.clone().png().toBuffer()), 'png')
  t.is(detectImageFormat(await image.clone().jpeg().toBuffer()), 'jpeg')
  t.is(detectImageFormat(await image.clone().webp().toBuffer()), 'webp')
  t.is(detectImageFormat(new TextEncoder().encode('not an image at all')), undefined)
})

test('a frame encoded as PNG decodes back to the same pixels; raw encoding is the bytes themselves', async (t) => {
  const frame = await decodeImage(await (await halfAndHalf()).png().toBuffer())
  const back = await decodeImage(await encodeImage(frame, 'png'))
  t.deepEqual(back, { ...frame, data: back.data })
  t.deepEqual(back.data, frame.data)
  t.is(await encodeImage(frame, 'raw'), frame.data)
  const jpeg = await decodeImage(await encodeImage(frame, 'jpeg', { quality: 95 }))
  t.is(jpeg.width, 40)
  t.true(pixel(jpeg, 5, 5)[0] > 230)
})

test('bytes that are no image are refused with ERR_IMAGE_DECODE', async (t) => {
  const err = await t.throwsAsync(decodeImage(new TextEncoder().encode('hello, this is text')))
  t.is((err as { code?: string }).code, 'ERR_IMAGE_DECODE')
  t.regex(err.message, /not a PNG, JPEG or WebP/)
})

test('a corrupt PNG (damaged pixel data) is refused with ERR_IMAGE_DECODE', async (t) => {
  const png = Uint8Array.from(await (await halfAndHalf()).png().toBuffer())
  for (let i = 45; i < png.length - 20; i++) png[i] ^= 0x5a
  const err = await t.throwsAsync(decodeImage(png))
  t.is((err as { code?: string }).code, 'ERR_IMAGE_DECODE')
})

test('truncated PNG, JPEG and WebP files are refused with ERR_IMAGE_DECODE', async (t) => {
  const image = await halfAndHalf()
  const files = [
    await image.clone().png().toBuffer(),
    await image.clone().jpeg().toBuffer(),
    await image.clone().webp().toBuffer(),
  ]
  for (const bytes of files) {
    for (const keep of [20, Math.floor(bytes.length / 2), bytes.length - 4]) {
      const err = await t.throwsAsync(decodeImage(bytes.subarray(0, keep)), undefined, `kept ${keep} bytes`)
      t.is((err as { code?: string }).code, 'ERR_IMAGE_DECODE', `kept ${keep} of ${bytes.length} bytes`)
    }
  }
})

test('an empty input and an image of zero width are refused with ERR_IMAGE_EMPTY', async (t) => {
  const png = await (await halfAndHalf()).png().toBuffer()
  for (const bytes of [new Uint8Array(0), withPngSize(png, 0, 30), withPngSize(png, 40, 0)]) {
    const err = await t.throwsAsync(decodeImage(bytes))
    t.is((err as { code?: string }).code, 'ERR_IMAGE_EMPTY')
  }
  const raw = t.throws(() => decodeRawFrame(new Uint8Array(0), 0, 10))
  t.is((raw as { code?: string }).code, 'ERR_IMAGE_EMPTY')
})

test('an image declaring more pixels than the limit is refused with ERR_IMAGE_TOO_LARGE before decoding', async (t) => {
  const png = await (await halfAndHalf()).png().toBuffer()
  // 100000 × 100000 would need 30 GB decoded: the header alone must be enough to refuse it.
  const bomb = await t.throwsAsync(decodeImage(withPngSize(png, 100_000, 100_000)))
  t.is((bomb as { code?: string }).code, 'ERR_IMAGE_TOO_LARGE')
  const jpeg = await (await halfAndHalf()).jpeg().toBuffer()
  const limited = await t.throwsAsync(decodeImage(jpeg, { maxPixels: 1000 }))
  t.is((limited as { code?: string }).code, 'ERR_IMAGE_TOO_LARGE')
  t.regex(limited.message, /40×30/)
  const raw = t.throws(() => decodeRawFrame(new Uint8Array(40 * 30 * 3), 40, 30, { maxPixels: 1000 }))
  t.is((raw as { code?: string }).code, 'ERR_IMAGE_TOO_LARGE')
})

test('raw RGB of exactly width × height × 3 bytes becomes a frame; any other length is ERR_FRAME_INVALID', (t) => {
  const bytes = new Uint8Array(4 * 2 * 3).fill(7)
  const frame = decodeRawFrame(bytes, 4, 2)
  t.is(frame.data, bytes)
  for (const length of [4 * 2 * 3 - 1, 4 * 2 * 3 + 1, 4 * 2 * 4]) {
    const err = t.throws(() => decodeRawFrame(new Uint8Array(length), 4, 2))
    t.is((err as { code?: string }).code, 'ERR_FRAME_INVALID')
    t.regex(err.message, /width × height × 3/)
  }
})

test('encoding a malformed frame is refused with ERR_FRAME_INVALID', async (t) => {
  const bad: Frame = { width: 4, height: 4, channels: 3, data: new Uint8Array(10) }
  const err = await t.throwsAsync(encodeImage(bad, 'png'))
  t.is((err as { code?: string }).code, 'ERR_FRAME_INVALID')
  const fractional = t.throws(() =>
    assertFrame({ width: 1.5, height: 2, channels: 3, data: new Uint8Array(9) }),
  )
  t.is((fractional as { code?: string }).code, 'ERR_FRAME_INVALID')
})
