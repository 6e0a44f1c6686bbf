import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import type { CliContext } from '../../src/cli/command.js'
import { modelsCommand } from '../../src/cli/commands/models.js'
import { byoModel } from './byo-model.js'

// `framemesh models` over the built-in models and a bring-your-own copy of the blend model.
const dir = await mkdtemp(join(tmpdir(), 'framemesh-cli-models-'))
test.after.always(() => rm(dir, { recursive: true, force: true }))

function models(dataDir: string, ...argv: string[]) {
  const out: string[] = []
  const ctx: CliContext = {
    argv: [...argv, '--data-dir', dataDir],
    env: {},
    cwd: dir,
    stdout: (l) => out.push(l),
    stderr: () => {},
    signal: new AbortController().signal,
  }
  return { result: modelsCommand.run(ctx), out }
}

test('list shows the built-in models, OCR included, as available', async (t) => {
  const { result, out } = models(join(dir, 'list'), 'list')
  t.is(await result, 0)
  t.regex(out[0], /^ID\s+PIPELINE\s+STATE/)
  t.true(out.some((l) => /^ppocr-v4-det\s+ocr-detect\s+available\s+built-in/.test(l)))
  t.true(out.some((l) => /^ppocr-v4-rec\s+ocr-recognize\s+available\s+built-in/.test(l)))
  const json = models(join(dir, 'list'), 'list', '--json')
  t.is(await json.result, 0)
  const listed = JSON.parse(json.out[0]) as { id: string; builtin: boolean }[]
  t.true(listed.some((m) => m.id === 'esrgan-slim-x2' && m.builtin))
})

test('verify loads and runs a model once and reports its sha256', async (t) => {
  const { result, out } = models(join(dir, 'verify'), 'verify', 'ppocr-v4-det', '--json')
  t.is(await result, 0)
  const report = JSON.parse(out[0])
  t.is(report.verified, 'ppocr-v4-det')
  t.regex(report.sha256, /^[0-9a-f]{64}$/)
})

test('add copies a model in, list shows it as added, remove takes it out', async (t) => {
  const dataDir = join(dir, 'byo')
  const added = models(dataDir, 'add', await byoModel(dir, 'my-blend'))
  t.is(await added.result, 0)
  t.regex(added.out.join('\n'), /added my-blend \(interpolate\)/)
  const listed = models(dataDir, 'list')
  await listed.result
  t.true(listed.out.some((l) => /^my-blend\s+interpolate\s+available\s+added/.test(l)))
  t.is(await models(dataDir, 'verify', 'my-blend').result, 0)
  t.is(await models(dataDir, 'remove', 'my-blend').result, 0)
  const after = models(dataDir, 'list')
  await after.result
  t.false(after.out.some((l) => l.startsWith('my-blend')))
})

test('a corrupt model file is refused with ERR_MODEL_CORRUPT and nothing is added', async (t) => {
  const dataDir = join(dir, 'corrupt')
  const err = await t.throwsAsync(models(dataDir, 'add', await byoModel(dir, 'broken', true)).result)
  t.is((err as { code?: string }).code, 'ERR_MODEL_CORRUPT')
  const listed = models(dataDir, 'list')
  await listed.result
  t.false(listed.out.some((l) => l.startsWith('broken')))
})

test('unknown actions and unknown models are refused with typed errors', async (t) => {
  const dataDir = join(dir, 'errors')
  const usage = await t.throwsAsync(models(dataDir, 'frobnicate').result)
  t.is((usage as { code?: string }).code, 'ERR_USAGE')
  const missing = await t.throwsAsync(models(dataDir, 'verify').result)
  t.is((missing as { code?: string }).code, 'ERR_USAGE')
  const unknown = await t.throwsAsync(models(dataDir, 'verify', 'no-such-model').result)
  t.is((unknown as { code?: string }).code, 'ERR_MODEL_NOT_FOUND')
  const builtin = await t.throwsAsync(models(dataDir, 'remove', 'blend').result)
  t.is((builtin as { code?: string }).code, 'ERR_MODEL_BUILTIN')
})
