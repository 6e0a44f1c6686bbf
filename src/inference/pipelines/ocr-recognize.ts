import type { Frame } from '../types.js'
import { distance, type Point, type Quad } from './ocr-geometry.js'

/**
 * PaddleOCR text recognition around the model: each detected box is cut out of the frame
 * (following its rotation), scaled to the recogniser's 48-pixel height, normalised to [-1, 1]
 * and padded on the right; the output is read with greedy CTC decoding.
 */

export const REC_HEIGHT = 48
/** PaddleOCR's default recogniser width (3 × 48 × 320): the narrowest batch width. */
export const REC_MIN_WIDTH = 320
/** Widest line accepted (≈ 100 characters); longer ones are squeezed to fit. */
export const REC_MAX_WIDTH = 3200

export interface LineCrop {
  box: Quad
  /** Width ÷ height of the upright line. */
  aspect: number
}

/**
 * The box grown on every side by `margin` × its short side. The detector's boxes hug the glyphs;
 * the recogniser reads word gaps (spaces) much more reliably with a little background around.
 */
export function withMargin(box: Quad, margin: number): Quad {
  if (margin === 0) return box
  const [tl, tr, br, bl] = box
  const w = Math.max(distance(tl, tr), 1e-6)
  const h = Math.max(distance(tl, bl), 1e-6)
  const d = margin * Math.min(w, h)
  const ux = ((tr[0] - tl[0]) / w) * d
  const uy = ((tr[1] - tl[1]) / w) * d
  const vx = ((bl[0] - tl[0]) / h) * d
  const vy = ((bl[1] - tl[1]) / h) * d
  return [
    [tl[0] - ux - vx, tl[1] - uy - vy],
    [tr[0] + ux - vx, tr[1] + uy - vy],
    [br[0] + ux + vx, br[1] + uy + vy],
    [bl[0] - ux + vx, bl[1] - uy + vy],
  ]
}

/** Width ÷ height of the line in the box; tall boxes (ratio ≥ 1.5 upright) are read turned 90°. */
export function cropAspect(box: Quad): { aspect: number; turned: boolean } {
  const w = Math.max(distance(box[0], box[1]), distance(box[3], box[2]))
  const h = Math.max(distance(box[0], box[3]), distance(box[1], box[2]))
  if (w <= 0 || h <= 0) return { aspect: 1, turned: false }
  return h / w >= 1.5 ? { aspect: h / w, turned: true } : { aspect: w / h, turned: false }
}

/** The input width a batch with these aspects needs: room for the widest line, at least 320. */
export function batchWidth(aspects: number[]): number {
  const widest = Math.max(REC_MIN_WIDTH / REC_HEIGHT, ...aspects)
  return Math.min(Math.ceil(REC_HEIGHT * widest), REC_MAX_WIDTH)
}

/**
 * Fills one batch slot (3 × 48 × width, B-G-R planes) with the line in `box`, sampled straight
 * from the frame (crop, rotation and scaling in one pass). Several bilinear samples per output
 * pixel when shrinking keep large text from aliasing.
 */
export function fillLineTensor(
  frame: Frame,
  box: Quad,
  out: Float32Array,
  offset: number,
  width: number,
): void {
  const { aspect, turned } = cropAspect(box)
  const lineWidth = Math.max(1, Math.min(width, Math.ceil(REC_HEIGHT * aspect)))
  // Upright line: u runs along the top edge (tl → tr), v down the left edge (tl → bl).
  // A turned line is read with its right edge as the top (numpy's rot90 of the upright crop).
  const [tl, tr, br, bl] = box
  const origin: Point = turned ? tr : tl
  const uEdge: Point = turned ? [br[0] - tr[0], br[1] - tr[1]] : [tr[0] - tl[0], tr[1] - tl[1]]
  const vEdge: Point = turned ? [tl[0] - tr[0], tl[1] - tr[1]] : [bl[0] - tl[0], bl[1] - tl[1]]
  const shrink = Math.max(Math.hypot(...uEdge) / lineWidth, Math.hypot(...vEdge) / REC_HEIGHT)
  const taps = Math.min(4, Math.max(1, Math.ceil(shrink)))
  const plane = REC_HEIGHT * width
  const pixel = new Float32Array(3)
  for (let y = 0; y < REC_HEIGHT; y++) {
    for (let x = 0; x < width; x++) {
      const at = offset + y * width + x
      if (x >= lineWidth) {
        // Padding is 0 after normalisation, as in PaddleOCR.
        out[at] = 0
        out[at + plane] = 0
        out[at + 2 * plane] = 0
        continue
      }
      pixel.fill(0)
      for (let ty = 0; ty < taps; ty++) {
        const v = (y + (ty + 0.5) / taps) / REC_HEIGHT
        for (let tx = 0; tx < taps; tx++) {
          const u = (x + (tx + 0.5) / taps) / lineWidth
          sampleBilinear(
            frame,
            origin[0] + u * uEdge[0] + v * vEdge[0],
            origin[1] + u * uEdge[1] + v * vEdge[1],
            pixel,
          )
        }
      }
      const k = 1 / (taps * taps * 127.5)
      out[at] = pixel[2] * k - 1 // blue plane first (BGR training order)
      out[at + plane] = pixel[1] * k - 1
      out[at + 2 * plane] = pixel[0] * k - 1
    }
  }
}

/** Adds the bilinear RGB sample at (x, y) (pixel-centre coordinates, edges replicated) to `acc`. */
function sampleBilinear(frame: Frame, x: number, y: number, acc: Float32Array): void {
  const fx = Math.min(Math.max(x - 0.5, 0), frame.width - 1)
  const fy = Math.min(Math.max(y - 0.5, 0), frame.height - 1)
  const x0 = Math.floor(fx)
  const y0 = Math.floor(fy)
  const x1 = Math.min(x0 + 1, frame.width - 1)
  const y1 = Math.min(y0 + 1, frame.height - 1)
  const wx = fx - x0
  const wy = fy - y0
  const d = frame.data
  const a = (y0 * frame.width + x0) * 3
  const b = (y0 * frame.width + x1) * 3
  const c = (y1 * frame.width + x0) * 3
  const e = (y1 * frame.width + x1) * 3
  for (let ch = 0; ch < 3; ch++) {
    const top = d[a + ch] + (d[b + ch] - d[a + ch]) * wx
    const bottom = d[c + ch] + (d[e + ch] - d[c + ch]) * wx
    acc[ch] += top + (bottom - top) * wy
  }
}

export interface DecodedLine {
  text: string
  confidence: number
}

/**
 * Greedy CTC decoding of one line: the most likely class at each time step, repeats merged,
 * blanks (class 0) dropped. Confidence is the mean probability of the kept characters.
 */
export function ctcGreedyDecode(
  probs: Float32Array,
  offset: number,
  steps: number,
  classes: number,
  alphabet: readonly string[],
): DecodedLine {
  let text = ''
  let sum = 0
  let kept = 0
  let previous = -1
  for (let t = 0; t < steps; t++) {
    const row = offset + t * classes
    let best = 0
    let bestP = probs[row]
    for (let k = 1; k < classes; k++) {
      if (probs[row + k] > bestP) {
        bestP = probs[row + k]
        best = k
      }
    }
    if (best !== 0 && best !== previous) {
      text += alphabet[best] ?? ''
      sum += bestP
      kept++
    }
    previous = best
  }
  return { text, confidence: kept === 0 ? 0 : sum / kept }
}
