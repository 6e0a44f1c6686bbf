/**
 * What an upload really is, judged by its first bytes rather than its name or claimed type:
 * a PNG that is really a text file must be refused before any decoder sees it.
 */
import { detectImageFormat } from '../inference/media/image-header.js'

export type MediaKind = { kind: 'image'; format: 'png' | 'jpeg' | 'webp' } | { kind: 'video'; format: string }

/** How many leading bytes `sniffMedia` needs to decide. */
export const SNIFF_BYTES = 16

export function sniffMedia(head: Uint8Array): MediaKind | undefined {
  const image = detectImageFormat(head)
  if (image !== undefined) return { kind: 'image', format: image }
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to))
  if (head.length >= 12 && ascii(4, 8) === 'ftyp') return { kind: 'video', format: 'mp4' }
  if (head.length >= 4 && head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3)
    return { kind: 'video', format: 'webm' }
  if (head.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'AVI ')
    return { kind: 'video', format: 'avi' }
  return undefined
}
