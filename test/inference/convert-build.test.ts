import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, isAbsolute, join, sep } from 'node:path'
import test from 'ava'
import * as ort from 'onnxruntime-node'
import { isFramemeshError } from '../../src/errors.js'
import { builtinModelsDir, listBuiltinManifests } from '../../src/inference/builtins.js'
import { buildModels } from '../../src/inference/convert/build.js'
import { BUILTIN_MODELS } from '../../src/inference/convert/catalogue.js'
import { loadManifestFile } from '../../src/inference/manifest.js'
import { validateModelFile } from '../../src/inference/onnx-inspect.js'
import { createLogger } from '../../src/logger.js'

const root = join(import.meta.dirname, '..', '..')
const logger = createLogger({ level: 'silent' })

async function withTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'framemesh-models-'))
  try {
    await run(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

test('every built-in model builds and its manifest matches the ONNX file: sha256, input and output names', async (t) => {
  await withTempDir(async (outDir) => {
    const reports = await buildModels({ logger }, { rootDir: root, outDir })
    t.deepEqual(
      reports.map((r) => r.id),
      BUILTIN_MODELS.map((d) => d.manifest.id),
    )
    t.true(reports.every((r) => r.status === 'built' && r.bytes > 0))

    const manifests = await listBuiltinManifests(outDir)
    t.deepEqual(manifests.map((m) => m.id).sort(), BUILTIN_MODELS.map((d) => d.manifest.id).sort())
    for (const m of manifests) {
      t.true(isAbsolute(m.file) && m.file.startsWith(outDir + sep), m.id)
      const bytes = await readFile(m.file)
      t.is(createHash('sha256').update(bytes).digest('hex'), m.sha256 ?? 'no sha256', `${m.id} sha256`)
      const session = await ort.InferenceSession.create(bytes)
      t.deepEqual([...session.inputNames].sort(), m.inputs.map((i) => i.name).sort(), `${m.id} inputs`)
      t.deepEqual([...session.outputNames].sort(), m.outputs.map((o) => o.name).sort(), `${m.id} outputs`)
      await session.release()
      // The engine's own manifest and model-file checks must accept every built-in.
      const loaded = await loadManifestFile(join(dirname(m.file), 'manifest.json'))
      await t.notThrowsAsync(
        validateModelFile(loaded.manifest, loaded.modelPath),
        `${m.id} engine validation`,
      )
    }
    const rec = manifests.find((m) => m.id === 'ppocr-v4-rec')
    const keys = rec?.assets?.keys
    t.truthy(keys)
    t.is((await readFile(keys as string, 'utf8')).split('\n').length, 6623)
    t.is(manifests.find((m) => m.id === 'esrgan-slim-x4')?.licence, 'MIT')
    t.is(manifests.find((m) => m.id === 'ppocr-v4-det')?.licence, 'Apache-2.0')
  })
})

test('a second build with unchanged inputs skips every model; --force rebuilds', async (t) => {
  await withTempDir(async (outDir) => {
    const only = ['esrgan-slim-x2', 'blend']
    await buildModels({ logger }, { rootDir: root, outDir, only })
    const again = await buildModels({ logger }, { rootDir: root, outDir, only })
    t.deepEqual(
      again.map((r) => r.status),
      ['up-to-date', 'up-to-date'],
    )
    const forced = await buildModels({ logger }, { rootDir: root, outDir, only, force: true })
    t.deepEqual(
      forced.map((r) => r.status),
      ['built', 'built'],
    )
  })
})

test('a model whose manifest is missing is rebuilt on the next run', async (t) => {
  await withTempDir(async (outDir) => {
    await buildModels({ logger }, { rootDir: root, outDir, only: ['blend'] })
    await rm(join(outDir, 'blend', 'manifest.json'))
    const [report] = await buildModels({ logger }, { rootDir: root, outDir, only: ['blend'] })
    t.is(report?.status, 'built')
  })
})

test('listing built-ins from a folder that was never built fails with ERR_MODELS_NOT_BUILT', async (t) => {
  await withTempDir(async (dir) => {
    for (const target of [join(dir, 'absent'), dir]) {
      const err = await t.throwsAsync(listBuiltinManifests(target))
      t.true(isFramemeshError(err, 'ERR_MODELS_NOT_BUILT'))
      t.regex(err?.message ?? '', /npm run build:models/)
    }
  })
})

test('a manifest naming a missing model file fails with ERR_MODELS_NOT_BUILT', async (t) => {
  await withTempDir(async (dir) => {
    await mkdir(join(dir, 'm'))
    const manifest = {
      id: 'm',
      pipeline: 'upscale',
      file: 'model.onnx',
      licence: 'MIT',
      inputs: [],
      outputs: [],
    }
    await writeFile(join(dir, 'm', 'manifest.json'), JSON.stringify(manifest))
    const err = await t.throwsAsync(listBuiltinManifests(dir))
    t.true(isFramemeshError(err, 'ERR_MODELS_NOT_BUILT'))
    t.regex(err?.message ?? '', /model\.onnx/)
  })
})

test('the built-in models folder is models/generated under the framemesh package root', (t) => {
  t.is(builtinModelsDir(), join(root, 'models', 'generated'))
})
