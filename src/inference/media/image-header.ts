/**
 * Reads an image's format and declared size from its first bytes, without decoding pixels,
 * so oversize or empty images are refused before any decoder allocates memory for them.
 * The format comes from the content (magic bytes), never from a file name.
 */
export type ImageFormat = 'png' | 'jpeg' | 'webp'

export interface ImageHeader {
  format: ImageFormat
  /** Declared size; undefined when the header is cut short before the size fields. */
  width?: number
  height?: number
  /** True when the structure shows the file was cut short (checked for PNG, whose chunks are cheap to walk). */
  truncated: boolean
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/** The format of the bytes, or undefined when they are not PNG, JPEG or WebP. */
export function detectImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png'
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg'
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return 'webp'
  return undefined
}

export function readImageHeader(bytes: Uint8Array): ImageHeader | undefined {
  const format = detectImageFormat(bytes)
  if (format === undefined) return undefined
  const size = format === 'png' ? pngSize(bytes) : format === 'jpeg' ? jpegSize(bytes) : webpSize(bytes)
  return { format, ...size, truncated: format === 'png' && !pngHasEnd(bytes) }
}

/**
 * Walks the PNG chunk list to the IEND chunk. libpng decodes a file that lost only its tail
 * without complaint, so a missing end is caught here.
 */
function pngHasEnd(b: Uint8Array): boolean {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  let at = 8
  while (at + 8 <= b.length) {
    const length = view.getUint32(at)
    if (ascii(b, at + 4, 4) === 'IEND') return at + 12 <= b.length
    at += 12 + length // length(4) + type(4) + data + crc(4)
  }
  return false
}

type Size = { width: number; height: number } | undefined

function pngSize(b: Uint8Array): Size {
  // The IHDR chunk always comes first: length(4) 'IHDR'(4) width(4) height(4), big-endian.
  if (b.length < 24 || ascii(b, 12, 4) !== 'IHDR') return undefined
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  return { width: view.getUint32(16), height: view.getUint32(20) }
}

function jpegSize(b: Uint8Array): Size {
  // Walk the marker segments up to the first start-of-frame, which holds the size.
  let i = 2
  while (i + 1 < b.length) {
    if (b[i] !== 0xff) return undefined
    const marker = b[i + 1]
    if (marker === 0xff) {
      i++ // fill byte
      continue
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2 // markers without a length field
      continue
    }
    if (i + 3 >= b.length) return undefined
    const length = (b[i + 2] << 8) | b[i + 3]
    const isStartOfFrame =
      marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc
    if (isStartOfFrame) {
      if (i + 8 >= b.length) return undefined
      return { height: (b[i + 5] << 8) | b[i + 6], width: (b[i + 7] << 8) | b[i + 8] }
    }
    i += 2 + length
  }
  return undefined
}

function webpSize(b: Uint8Array): Size {
  const chunk = b.length >= 16 ? ascii(b, 12, 4) : ''
  if (chunk === 'VP8X' && b.length >= 30) {
    // Canvas size minus one, 24-bit little-endian.
    return { width: 1 + le24(b, 24), height: 1 + le24(b, 27) }
  }
  if (chunk === 'VP8 ' && b.length >= 30 && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
    return { width: ((b[27] << 8) | b[26]) & 0x3fff, height: ((b[29] << 8) | b[28]) & 0x3fff }
  }
  if (chunk === 'VP8L' && b.length >= 25 && b[20] === 0x2f) {
    const bits = b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24)
    return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) }
  }
  return undefined
}

function le24(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16)
}

function ascii(b: Uint8Array, at: number, length: number): string {
  return String.fromCharCode(...b.subarray(at, at + length))
}
