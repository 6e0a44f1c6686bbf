import sharp, { type OutputInfo } from 'sharp'
import { FrameInvalidError } from '../errors.js'
import { validateFrame } from '../frame.js'
import type { Frame } from '../types.js'
import { ImageDecodeError, ImageEmptyError, ImageTooLargeError } from './errors.js'
import { type ImageFormat, readImageHeader } from './image-header.js'

/**
 * Still images in and out of the engine's one pixel format, `Frame` (RGB, HWC, uint8).
 * Decoding refuses bad input with typed errors before the decoder allocates for it.
 */

/** 8K UHD (7680 × 4320 ≈ 33 MP) with head room; an operator may lower it to bound memory per frame. */
export const DEFAULT_MAX_PIXELS = 40_000_000

export interface DecodeImageOptions {
  /** Largest width × height accepted; larger images throw ERR_IMAGE_TOO_LARGE. */
  maxPixels?: number
}

export type EncodeFormat = 'png' | 'jpeg' | 'raw'

export interface EncodeImageOptions {
  /** JPEG quality 1–100 (default 90). */
  quality?: number
}

/**
 * What the image's own header says, checked without decoding it: empty, not an image we take,
 * truncated, no pixels or more than `maxPixels`. Throws the error decoding would; cheap enough to
 * run where an image arrives (a gateway refusing an upload at once instead of failing its job).
 * Returns the image's format.
 */
export function checkImageBytes(bytes: Uint8Array, options: DecodeImageOptions = {}): ImageFormat {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS
  if (bytes.length === 0) {
    throw new ImageEmptyError('the image is empty (0 bytes); send the bytes of a PNG, JPEG or WebP file')
  }
  const header = readImageHeader(bytes)
  if (header === undefined) {
    throw new ImageDecodeError(
      'the input is not a PNG, JPEG or WebP image (its first bytes match none of them); convert it to one of these',
    )
  }
  if (header.width === undefined || header.height === undefined) {
    throw new ImageDecodeError(
      `the ${header.format} image is truncated before its size is declared (${bytes.length} bytes); send the whole file`,
    )
  }
  checkSize(header.width, header.height, maxPixels, header.format)
  if (header.truncated) {
    throw new ImageDecodeError(
      `the ${header.format} image is truncated (its end is missing); send the whole file`,
    )
  }
  return header.format
}

/** Decodes PNG, JPEG or WebP bytes (detected by content) into an RGB frame; alpha is dropped. */
export async function decodeImage(bytes: Uint8Array, options: DecodeImageOptions = {}): Promise<Frame> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS
  const format = checkImageBytes(bytes, { maxPixels })
  let out: { data: Buffer; info: OutputInfo }
  try {
    out = await sharp(asBuffer(bytes), { limitInputPixels: maxPixels, failOn: 'truncated' })
      .autoOrient()
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true })
  } catch (err) {
    throw new ImageDecodeError(
      `the ${format} image could not be decoded (${(err as Error).message.trim()}); it is corrupt or truncated, send an intact file`,
      { cause: err, details: { format } },
    )
  }
  const { width, height, channels } = out.info
  if (channels !== 3) {
    // toColourspace('srgb') after removeAlpha always yields 3 bands; anything else is a decoder surprise.
    throw new ImageDecodeError(`the ${format} image decoded to ${channels} channels instead of 3`)
  }
  return {
    width,
    height,
    channels: 3,
    data: new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length),
  }
}

/** Wraps raw interleaved RGB bytes as a frame after checking them against the declared size. */
export function decodeRawFrame(
  bytes: Uint8Array,
  width: number,
  height: number,
  options: DecodeImageOptions = {},
): Frame {
  checkSize(width, height, options.maxPixels ?? DEFAULT_MAX_PIXELS, 'raw')
  const frame: Frame = { width, height, channels: 3, data: bytes }
  assertFrame(frame)
  return frame
}

/** Throws ERR_FRAME_INVALID unless the frame is a well-formed RGB frame (what every pipeline assumes). */
export function assertFrame(frame: Frame): void {
  // Any size: decoding and encoding have their own pixel limits.
  validateFrame(frame, Number.POSITIVE_INFINITY)
}

/** Encodes a frame as PNG, JPEG or raw RGB bytes. */
export async function encodeImage(
  frame: Frame,
  format: EncodeFormat,
  options: EncodeImageOptions = {},
): Promise<Uint8Array> {
  assertFrame(frame)
  if (format === 'raw') return frame.data
  const image = sharp(asBuffer(frame.data), {
    raw: { width: frame.width, height: frame.height, channels: 3 },
    limitInputPixels: false,
  })
  const encoded =
    format === 'png'
      ? await image.png().toBuffer()
      : await image.jpeg({ quality: options.quality ?? 90 }).toBuffer()
  return new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.length)
}

/** The encoding a file name asks for ('.png', '.jpg'/'.jpeg', '.rgb'/'.raw'), or undefined. */
export function encodeFormatForPath(path: string): EncodeFormat | undefined {
  const ext = path.toLowerCase().split('.').pop()
  if (ext === 'png') return 'png'
  if (ext === 'jpg' || ext === 'jpeg') return 'jpeg'
  if (ext === 'rgb' || ext === 'raw') return 'raw'
  return undefined
}

function checkSize(width: number, height: number, maxPixels: number, format: ImageFormat | 'raw'): void {
  if (width === 0 || height === 0) {
    throw new ImageEmptyError(
      `the ${format} image is ${width}×${height}: it has no pixels; send a non-empty image`,
      {
        details: { width, height },
      },
    )
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new FrameInvalidError(`the image size ${width}×${height} is not a positive whole number of pixels`)
  }
  if (width * height > maxPixels) {
    throw new ImageTooLargeError(
      `the ${format} image is ${width}×${height} (${width * height} pixels), over the limit of ${maxPixels}; scale it down first`,
      { details: { width, height, maxPixels } },
    )
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
