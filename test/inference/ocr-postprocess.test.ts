import test from 'ava'
import {
  boxesFromProbabilityMap,
  DEFAULT_DETECT_OPTIONS,
  detectInputSize,
} from '../../src/inference/pipelines/ocr-detect.js'
import {
  convexHull,
  minAreaRect,
  orderCorners,
  type Point,
  rectCorners,
} from '../../src/inference/pipelines/ocr-geometry.js'
import { alphabetFor, parseOcrKeys } from '../../src/inference/pipelines/ocr-keys.js'
import {
  batchWidth,
  cropAspect,
  ctcGreedyDecode,
  withMargin,
} from '../../src/inference/pipelines/ocr-recognize.js'

test('the detector input keeps both sides multiples of 32 and the longer side within the limit', (t) => {
  t.deepEqual(detectInputSize(480, 120, 960), [480, 128])
  t.deepEqual(detectInputSize(1920, 1080, 960), [960, 544])
  t.deepEqual(detectInputSize(1, 1, 960), [32, 32])
  t.deepEqual(detectInputSize(100, 3000, 960), [32, 960])
})

test('greedy CTC decoding merges repeats, drops blanks and keeps a repeat split by a blank', (t) => {
  const alphabet = ['', 'a', 'b', ' ']
  // Steps: a a _ a b b ' ' → "aab "
  const best = [1, 1, 0, 1, 2, 2, 3]
  const probs = new Float32Array(best.length * 4)
  best.forEach((k, step) => {
    probs.fill(0.1 / 3, step * 4, step * 4 + 4)
    probs[step * 4 + k] = 0.9
  })
  const decoded = ctcGreedyDecode(probs, 0, best.length, 4, alphabet)
  t.is(decoded.text, 'aab ')
  t.true(Math.abs(decoded.confidence - 0.9) < 1e-6)
  t.deepEqual(ctcGreedyDecode(new Float32Array([1, 0, 0, 0]), 0, 1, 4, alphabet), { text: '', confidence: 0 })
})

test('the key file gives blank first and a space last when the model has two extra classes', (t) => {
  const keys = parseOcrKeys('a\r\nb\nc\n')
  t.deepEqual(keys, ['a', 'b', 'c'])
  t.deepEqual(alphabetFor('m', keys, 5), ['', 'a', 'b', 'c', ' '])
  t.deepEqual(alphabetFor('m', keys, 4), ['', 'a', 'b', 'c'])
  const err = t.throws(() => alphabetFor('m', keys, 9))
  t.is((err as { code?: string }).code, 'ERR_OCR_KEYS_MISMATCH')
  const empty = t.throws(() => parseOcrKeys(''))
  t.is((empty as { code?: string }).code, 'ERR_OCR_KEYS_INVALID')
})

test('the smallest rectangle around a tilted square is the square itself', (t) => {
  const angle = Math.PI / 6
  const square: Point[] = [
    [0, 0],
    [10, 0],
    [10, 10],
    [0, 10],
  ].map(
    ([x, y]): Point => [x * Math.cos(angle) - y * Math.sin(angle), x * Math.sin(angle) + y * Math.cos(angle)],
  )
  const rect = minAreaRect(convexHull([...square, [5 * Math.cos(angle), 5 * Math.sin(angle)]]))
  t.true(Math.abs(rect.width * rect.height - 100) < 1e-6)
  const corners = rectCorners(rect)
  for (const p of square) t.true(corners.some((c) => Math.hypot(c[0] - p[0], c[1] - p[1]) < 1e-6))
})

test('corners are ordered clockwise on screen from the top-left', (t) => {
  t.deepEqual(
    orderCorners([
      [10, 10],
      [0, 0],
      [0, 10],
      [10, 0],
    ]),
    [
      [0, 0],
      [10, 0],
      [10, 10],
      [0, 10],
    ],
  )
})

test('a confident blob on the map becomes one grown box in frame pixels; a faint one is dropped', (t) => {
  const w = 64
  const h = 32
  const map = new Float32Array(w * h)
  const fill = (x0: number, y0: number, x1: number, y1: number, p: number) => {
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) map[y * w + x] = p
  }
  fill(10, 10, 40, 15, 0.9) // a line of text, 31 × 6 map pixels
  fill(50, 20, 60, 28, 0.4) // above the pixel threshold but below the box threshold
  const boxes = boxesFromProbabilityMap(map, w, h, 128, 64, DEFAULT_DETECT_OPTIONS)
  t.is(boxes.length, 1)
  t.true(Math.abs(boxes[0].score - 0.9) < 1e-6)
  // The blob spans x 10–40, y 10–15 (centres); grown by 30×5×1.5 / 70 ≈ 3.2 each side, then ×2.
  const xs = boxes[0].box.map((p) => p[0])
  const ys = boxes[0].box.map((p) => p[1])
  t.deepEqual([Math.min(...xs), Math.max(...xs)], [14, 86])
  t.deepEqual([Math.min(...ys), Math.max(...ys)], [14, 36])
})

test('boxes on one line come left to right, lines top to bottom', (t) => {
  const w = 100
  const map = new Float32Array(w * 60)
  const fill = (x0: number, y0: number, x1: number, y1: number) => {
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) map[y * w + x] = 0.95
  }
  fill(60, 12, 90, 18) // right word, slightly higher
  fill(5, 14, 40, 20) // left word
  fill(5, 40, 50, 46) // next line
  const boxes = boxesFromProbabilityMap(map, w, 60, w, 60)
  t.deepEqual(
    boxes.map((b) => b.box[0][0] < 30),
    [true, false, true],
  )
  t.true(boxes[2].box[0][1] > boxes[0].box[0][1])
})

test('tall boxes are read turned, and batches are at least 320 pixels wide', (t) => {
  const wide = cropAspect([
    [0, 0],
    [100, 0],
    [100, 20],
    [0, 20],
  ])
  t.deepEqual(wide, { aspect: 5, turned: false })
  const tall = cropAspect([
    [0, 0],
    [20, 0],
    [20, 100],
    [0, 100],
  ])
  t.deepEqual(tall, { aspect: 5, turned: true })
  t.is(batchWidth([2]), 320)
  t.is(batchWidth([10]), 480)
  const grown = withMargin(
    [
      [10, 10],
      [110, 10],
      [110, 30],
      [10, 30],
    ],
    0.5,
  )
  t.deepEqual(grown, [
    [0, 0],
    [120, 0],
    [120, 40],
    [0, 40],
  ])
})
