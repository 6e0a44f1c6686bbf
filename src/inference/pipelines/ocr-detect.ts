import type { Frame } from '../types.js'
import { convexHull, growRect, minAreaRect, type Point, type Quad, rectCorners } from './ocr-geometry.js'

/**
 * PaddleOCR text detection around the model: the input tensor (resized so each side is a
 * multiple of 32, normalised like PaddleOCR's training) and the DB (differentiable
 * binarisation) post-processing that turns the probability map into boxes.
 */

export interface DetectInput {
  /** NCHW float32, 1 × 3 × height × width. */
  data: Float32Array
  width: number
  height: number
}

export interface DetectOptions {
  /** The longer side is scaled down to at most this many pixels (PaddleOCR's default 960). */
  limitSideLen: number
  /** Probability above which a map pixel counts as text. */
  threshold: number
  /** Boxes whose mean probability is below this are dropped. */
  boxThreshold: number
  /** How far a box is grown to cover the whole glyphs (the DB maps shrink text regions). */
  unclipRatio: number
  /** At most this many boxes per frame (the largest blobs win when there are more). */
  maxCandidates: number
}

export const DEFAULT_DETECT_OPTIONS: DetectOptions = {
  limitSideLen: 960,
  threshold: 0.3,
  boxThreshold: 0.6,
  unclipRatio: 1.5,
  maxCandidates: 1000,
}

export interface DetectedBox {
  /** Corners in frame pixels, clockwise from the top-left. */
  box: Quad
  score: number
}

// PaddleOCR feeds OpenCV's B, G, R planes and normalises them with the ImageNet statistics
// listed in R, G, B order, index by index; the models were trained that way, so we do the same.
const DET_MEAN = [0.485, 0.456, 0.406]
const DET_STD = [0.229, 0.224, 0.225]

/** Size of the detector input for a frame: both sides multiples of 32, longer side ≤ limit. */
export function detectInputSize(width: number, height: number, limitSideLen: number): [number, number] {
  const ratio = Math.max(width, height) > limitSideLen ? limitSideLen / Math.max(width, height) : 1
  const w = Math.max(Math.round((width * ratio) / 32) * 32, 32)
  const h = Math.max(Math.round((height * ratio) / 32) * 32, 32)
  return [w, h]
}

/** Resizes (bilinear) and normalises the frame into the detector's NCHW input in one pass. */
export function prepareDetectInput(frame: Frame, limitSideLen: number): DetectInput {
  const [width, height] = detectInputSize(frame.width, frame.height, limitSideLen)
  const plane = width * height
  const data = new Float32Array(3 * plane)
  const sx = frame.width / width
  const sy = frame.height / height
  const src = frame.data
  const scale = [0, 1, 2].map((c) => 1 / (255 * DET_STD[c]))
  const offset = [0, 1, 2].map((c) => DET_MEAN[c] / DET_STD[c])
  // Source columns and weights are the same on every row: work them out once.
  const x0s = new Int32Array(width)
  const x1s = new Int32Array(width)
  const wxs = new Float32Array(width)
  for (let x = 0; x < width; x++) {
    const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), frame.width - 1)
    x0s[x] = Math.floor(fx)
    x1s[x] = Math.min(x0s[x] + 1, frame.width - 1)
    wxs[x] = fx - x0s[x]
  }
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), frame.height - 1)
    const y0 = Math.floor(fy)
    const y1 = Math.min(y0 + 1, frame.height - 1)
    const wy = fy - y0
    const row0 = y0 * frame.width
    const row1 = y1 * frame.width
    for (let x = 0; x < width; x++) {
      const wx = wxs[x]
      const i00 = (row0 + x0s[x]) * 3
      const i01 = (row0 + x1s[x]) * 3
      const i10 = (row1 + x0s[x]) * 3
      const i11 = (row1 + x1s[x]) * 3
      const out = y * width + x
      for (let c = 0; c < 3; c++) {
        const rgb = 2 - c // output channel 0 is blue
        const top = src[i00 + rgb] + (src[i01 + rgb] - src[i00 + rgb]) * wx
        const bottom = src[i10 + rgb] + (src[i11 + rgb] - src[i10 + rgb]) * wx
        data[c * plane + out] = (top + (bottom - top) * wy) * scale[c] - offset[c]
      }
    }
  }
  return { data, width, height }
}

/**
 * DB post-processing: threshold the map, label 8-connected blobs, fit each blob's smallest
 * rotated rectangle, keep confident ones, grow them by area × ratio ÷ perimeter, and scale
 * them to frame pixels. Boxes come out in reading order (top to bottom, left to right).
 */
export function boxesFromProbabilityMap(
  map: Float32Array,
  mapWidth: number,
  mapHeight: number,
  frameWidth: number,
  frameHeight: number,
  options: DetectOptions = DEFAULT_DETECT_OPTIONS,
): DetectedBox[] {
  const blobs = labelBlobs(map, mapWidth, mapHeight, options.threshold)
  blobs.sort((a, b) => b.pixels - a.pixels)
  const scaleX = frameWidth / mapWidth
  const scaleY = frameHeight / mapHeight
  const boxes: DetectedBox[] = []
  for (const blob of blobs.slice(0, options.maxCandidates)) {
    const rect = minAreaRect(convexHull(blob.extremes))
    if (Math.min(rect.width, rect.height) < 3) continue
    const score = blob.probabilitySum / blob.pixels
    if (score < options.boxThreshold) continue
    const grow = (rect.width * rect.height * options.unclipRatio) / (2 * (rect.width + rect.height))
    const grown = growRect(rect, grow)
    if (Math.min(grown.width, grown.height) < 5) continue
    const box = rectCorners(grown).map(
      ([x, y]): Point => [
        clamp(Math.round(x * scaleX), 0, frameWidth),
        clamp(Math.round(y * scaleY), 0, frameHeight),
      ],
    ) as Quad
    boxes.push({ box, score })
  }
  return readingOrder(boxes)
}

interface Blob {
  pixels: number
  probabilitySum: number
  /** Leftmost and rightmost pixel centre of each row: enough for the convex hull. */
  extremes: Point[]
}

function labelBlobs(map: Float32Array, width: number, height: number, threshold: number): Blob[] {
  const seen = new Uint8Array(width * height)
  const stack = new Int32Array(width * height)
  const blobs: Blob[] = []
  for (let start = 0; start < map.length; start++) {
    if (seen[start] === 1 || !(map[start] > threshold)) continue
    const rowMin = new Map<number, number>()
    const rowMax = new Map<number, number>()
    let top = 0
    stack[top++] = start
    seen[start] = 1
    let pixels = 0
    let probabilitySum = 0
    while (top > 0) {
      const i = stack[--top]
      const x = i % width
      const y = (i - x) / width
      pixels++
      probabilitySum += map[i]
      if (!(rowMin.get(y)! <= x)) rowMin.set(y, x)
      if (!(rowMax.get(y)! >= x)) rowMax.set(y, x)
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy
        if (ny < 0 || ny >= height) continue
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx
          if (nx < 0 || nx >= width) continue
          const j = ny * width + nx
          if (seen[j] === 0 && map[j] > threshold) {
            seen[j] = 1
            stack[top++] = j
          }
        }
      }
    }
    const extremes: Point[] = []
    for (const [y, x] of rowMin) extremes.push([x, y], [rowMax.get(y)!, y])
    blobs.push({ pixels, probabilitySum, extremes })
  }
  return blobs
}

/** Top to bottom; boxes whose tops are within 10 px count as one line and go left to right. */
function readingOrder(boxes: DetectedBox[]): DetectedBox[] {
  const sorted = [...boxes].sort((a, b) => a.box[0][1] - b.box[0][1] || a.box[0][0] - b.box[0][0])
  for (let i = 0; i < sorted.length - 1; i++) {
    for (let j = i; j >= 0; j--) {
      const a = sorted[j]
      const b = sorted[j + 1]
      if (Math.abs(b.box[0][1] - a.box[0][1]) < 10 && b.box[0][0] < a.box[0][0]) {
        sorted[j] = b
        sorted[j + 1] = a
      } else break
    }
  }
  return sorted
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi)
}
