import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { openInferenceEngine } from '../../src/inference/engine.js'
import { openOcrPipeline } from '../../src/inference/pipelines/ocr-models.js'
import { renderFrame, textLine } from './ocr-fixtures.js'

// OCR through the engine (registry, queue, warm pool) on the built-in PaddleOCR models.
const modelsDir = await mkdtemp(join(tmpdir(), 'framemesh-ocr-models-'))
const engine = await openInferenceEngine({}, { modelsDir })
test.after.always(async () => {
  await engine.close()
  await rm(modelsDir, { recursive: true, force: true })
})

test('the built-in OCR models read text through the engine, and both end up warm', async (t) => {
  const ocr = await openOcrPipeline(engine)
  const frame = await renderFrame(textLine('FRAMEMESH 2026', 30, 70, 40), 480, 120)
  const lines = await ocr.recognize(frame)
  t.deepEqual(
    lines.map((l) => l.text),
    ['FRAMEMESH 2026'],
  )
  t.is(engine.model('ppocr-v4-det').state, 'warm')
  t.is(engine.model('ppocr-v4-rec').state, 'warm')
})

test('models of the wrong pipeline are refused with ERR_WRONG_PIPELINE', async (t) => {
  const det = await t.throwsAsync(openOcrPipeline(engine, { detectorId: 'esrgan-slim-x2' }))
  t.is((det as { code?: string }).code, 'ERR_WRONG_PIPELINE')
  const rec = await t.throwsAsync(openOcrPipeline(engine, { recognizerId: 'ppocr-v4-det' }))
  t.is((rec as { code?: string }).code, 'ERR_WRONG_PIPELINE')
})

test('a recogniser without a keys asset is refused with ERR_OCR_KEYS_INVALID', async (t) => {
  const real = engine.registry.get('ppocr-v4-rec')
  const withoutKeys = {
    run: engine.run,
    registry: {
      get: (id: string) =>
        id === 'ppocr-v4-rec'
          ? { ...real, manifest: { ...real.manifest, assets: undefined } }
          : engine.registry.get(id),
    },
  }
  const err = await t.throwsAsync(openOcrPipeline(withoutKeys))
  t.is((err as { code?: string }).code, 'ERR_OCR_KEYS_INVALID')
  t.regex(err.message, /assets\.keys/)
})

test('an unknown model id is refused with ERR_MODEL_NOT_FOUND', async (t) => {
  const err = await t.throwsAsync(openOcrPipeline(engine, { detectorId: 'no-such-detector' }))
  t.is((err as { code?: string }).code, 'ERR_MODEL_NOT_FOUND')
})
