import { writeFile } from 'node:fs/promises'
import test from 'ava'
import type { FramemeshError } from '../../src/errors.js'
import { createSessionFactory } from '../../src/inference/session.js'
import { planTiles } from '../../src/inference/tiling.js'
import type { ModelStateEvent } from '../../src/inference/warm-pool.js'
import { engineFixture, PAD, testFrame } from './helpers/engine-fixture.js'
import { upscaleManifest, upscaleModelBytes, writeModelFolder } from './helpers/onnx-models.js'

/** Room for two padded models, not three. */
const TWO_MODELS = Math.floor(PAD * 2.5)

const warmIds = (f: { engine: { warmReport(): { warm: Array<{ id: string }> } } }) =>
  f.engine
    .warmReport()
    .warm.map((m) => m.id)
    .sort()

test('with a budget for two models, loading a third unloads the least recently used one', async (t) => {
  const f = await engineFixture({ budgetBytes: TWO_MODELS })
  t.teardown(f.cleanup)
  const events: ModelStateEvent[] = []
  f.engine.on('model:state', (e) => events.push(e))
  await f.engine.warm('up-a')
  await f.engine.warm('up-b')
  t.deepEqual(warmIds(f), ['up-a', 'up-b'])
  await f.engine.warm('up-c')
  t.deepEqual(warmIds(f), ['up-b', 'up-c'])
  t.is(f.engine.model('up-a').state, 'available')
  t.deepEqual(
    events.filter((e) => e.id === 'up-a').map((e) => e.state),
    ['loading', 'warm', 'available'],
  )
  // Using B makes C the least recently used: loading A again evicts C, not B.
  await f.engine.upscale('up-b', { width: 2, height: 2, channels: 3, data: new Uint8Array(12) })
  await f.engine.warm('up-a')
  t.deepEqual(warmIds(f), ['up-a', 'up-b'])
  t.true(f.engine.warmReport().usedBytes <= TWO_MODELS)
})

test('a pinned model is never unloaded to make room', async (t) => {
  const f = await engineFixture({ budgetBytes: TWO_MODELS })
  t.teardown(f.cleanup)
  await f.engine.pin('up-a')
  await f.engine.warm('up-b')
  await f.engine.warm('up-c')
  await f.engine.warm('up-b')
  t.deepEqual(warmIds(f), ['up-a', 'up-b'])
  t.true(f.engine.model('up-a').pinned)
  t.false(await f.engine.unload('up-c'), 'up-c was already evicted')
  f.engine.unpin('up-a')
  await f.engine.warm('up-c')
  t.deepEqual(warmIds(f), ['up-b', 'up-c'], 'once unpinned, A is the least recently used')
})

test('pinning more than the budget holds is refused with ERR_BUDGET_EXHAUSTED', async (t) => {
  const f = await engineFixture({ budgetBytes: TWO_MODELS })
  t.teardown(f.cleanup)
  await f.engine.pin('up-a')
  await f.engine.pin('up-b')
  const err = await t.throwsAsync<FramemeshError>(f.engine.pin('up-c'), { code: 'ERR_BUDGET_EXHAUSTED' })
  t.regex(err?.message ?? '', /unpin a model or raise the budget/)
  await f.engine.warm('up-deep') // small: fits beside the two pinned ones
  // With A and B pinned, C cannot be loaded even unpinned; the engine says so instead of waiting,
  // and evicts nothing for a load that cannot happen.
  await t.throwsAsync(f.engine.warm('up-c'), { code: 'ERR_BUDGET_EXHAUSTED' })
  t.deepEqual(warmIds(f), ['up-a', 'up-b', 'up-deep'])
})

test('concurrent requests for a cold model share one load', async (t) => {
  const f = await engineFixture({ budgetBytes: TWO_MODELS })
  t.teardown(f.cleanup)
  const states: string[] = []
  f.engine.on('model:state', (e) => {
    if (e.id === 'up-a') states.push(e.state)
  })
  const frame = { width: 4, height: 4, channels: 3 as const, data: new Uint8Array(48) }
  const [, , out] = await Promise.all([
    f.engine.warm('up-a'),
    f.engine.warm('up-a'),
    f.engine.upscale('up-a', frame),
  ])
  t.is(f.opened.get('up-a'), 1)
  t.deepEqual(states, ['loading', 'warm'])
  t.is(out.width, 8)
  for (let i = 0; i < 3; i++) await f.engine.upscale('up-a', frame)
  t.is(f.opened.get('up-a'), 1, 'the warm session is reused, not reopened')
})

test('a model larger than the whole budget is refused with ERR_BUDGET_TOO_SMALL and others keep working', async (t) => {
  const f = await engineFixture({ budgetBytes: PAD / 2 })
  t.teardown(f.cleanup)
  const err = await t.throwsAsync<FramemeshError>(f.engine.warm('up-a'), { code: 'ERR_BUDGET_TOO_SMALL' })
  t.regex(err?.message ?? '', /raise the budget or use a smaller model/)
  const frame = { width: 3, height: 2, channels: 3 as const, data: new Uint8Array(18) }
  const out = await f.engine.upscale('up-deep', frame)
  t.deepEqual([out.width, out.height], [6, 4])
})

test('checkFits tells without loading anything whether a model could ever load in the budget', async (t) => {
  const f = await engineFixture({ budgetBytes: PAD / 2 })
  t.teardown(f.cleanup)
  const err = t.throws<FramemeshError>(() => f.engine.checkFits('up-a'), { code: 'ERR_BUDGET_TOO_SMALL' })
  t.like(err?.details, { modelId: 'up-a', budgetBytes: PAD / 2 })
  t.notThrows(() => f.engine.checkFits('up-deep'))
  t.throws(() => f.engine.checkFits('nope'), { code: 'ERR_MODEL_NOT_FOUND' })
  t.is(f.opened.size, 0, 'no session was opened')
})

test('a model file swapped after registration is refused at load with ERR_MANIFEST_MISMATCH', async (t) => {
  const f = await engineFixture()
  t.teardown(f.cleanup)
  await writeFile(f.registry.get('up-a').modelPath, upscaleModelBytes({ seed: 1234 }))
  await t.throwsAsync(f.engine.warm('up-a'), { code: 'ERR_MANIFEST_MISMATCH' })
  t.is(f.engine.model('up-a').state, 'failed')
  t.is(f.opened.get('up-a'), undefined, 'onnxruntime never saw the swapped file')
  await f.engine.warm('up-b')
  t.is(f.engine.model('up-b').state, 'warm')
})

test('the warm report lists warm models with their bytes and the budget they use', async (t) => {
  const f = await engineFixture({ budgetBytes: TWO_MODELS })
  t.teardown(f.cleanup)
  await f.engine.pin('up-a')
  const report = f.engine.warmReport()
  t.is(report.budgetBytes, TWO_MODELS)
  t.is(report.warm.length, 1)
  t.like(report.warm[0], { id: 'up-a', pinned: true, inUse: 0 })
  t.is(report.usedBytes, f.registry.get('up-a').estimatedBytes)
  t.like(f.engine.model('up-a'), { state: 'warm', pinned: true, pipeline: 'upscale' })
})

test('close unloads warm models and later requests fail with ERR_ENGINE_CLOSED', async (t) => {
  const f = await engineFixture()
  t.teardown(f.cleanup)
  await f.engine.warm('up-a')
  const unloaded = new Promise<string>((resolve) => {
    f.engine.on('model:state', (e) => {
      if (e.state === 'available') resolve(e.id)
    })
  })
  await f.engine.close()
  t.is(await unloaded, 'up-a')
  t.deepEqual(f.engine.warmReport().warm, [])
  await t.throwsAsync(f.engine.warm('up-b'), { code: 'ERR_ENGINE_CLOSED' })
})

test('a model needed while the only evictable one is busy waits for it to finish, then takes its place', async (t) => {
  const f = await engineFixture({ budgetBytes: Math.floor(PAD * 1.5) })
  t.teardown(f.cleanup)
  const order: string[] = []
  let runsWhenEvicted = -1
  f.engine.on('model:state', (e) => {
    order.push(`${e.id}:${e.state}`)
    if (e.id === 'up-a' && e.state === 'available') runsWhenEvicted = f.runs.get('up-a') ?? 0
  })
  // A tiled frame keeps up-a leased across many awaits.
  const tiling = { tileSize: 16, overlap: 2 }
  const busy = f.engine.upscale('up-a', testFrame(64, 64), tiling)
  await new Promise<void>((resolve) => {
    const off = f.engine.on('model:state', (e) => {
      if (e.id === 'up-a' && e.state === 'warm') {
        off()
        resolve()
      }
    })
  })
  await f.engine.warm('up-b')
  t.is((await busy).width, 128)
  t.deepEqual(order, ['up-a:loading', 'up-a:warm', 'up-a:available', 'up-b:loading', 'up-b:warm'])
  // up-a was unloaded only after every tile had run.
  t.is(runsWhenEvicted, planTiles(64, 64, tiling).length)
})

test('a manifest memoryBytes replaces the file-size estimate in the budget', async (t) => {
  const f = await engineFixture()
  t.teardown(f.cleanup)
  await writeModelFolder(
    f.dir,
    upscaleManifest('declared', 2, { memoryBytes: 123_456_789 }),
    upscaleModelBytes(),
  )
  await f.registry.scan()
  t.is(f.registry.get('declared').estimatedBytes, 123_456_789)
  t.is(f.engine.model('declared').bytes, 123_456_789)
  t.is(
    f.registry.get('up-a').estimatedBytes,
    f.registry.get('up-a').fileBytes,
    'factor 1, overhead 0 in this fixture',
  )
})

test('two models taking turns in a budget for one both make progress (a fresh load is not evicted before use)', async (t) => {
  const f = await engineFixture({ budgetBytes: Math.floor(PAD * 1.5) })
  t.teardown(f.cleanup)
  const jobs = []
  for (let i = 0; i < 4; i++) {
    for (const id of ['up-a', 'up-b'])
      jobs.push(f.engine.upscale(id, testFrame(32, 32, i), { tileSize: 16, overlap: 2 }))
  }
  const outs = await Promise.all(jobs)
  t.true(outs.every((o) => o.width === 64 && o.height === 64))
  t.true(f.engine.warmReport().usedBytes <= PAD * 1.5)
})

test('an execution provider this onnxruntime build lacks is refused with ERR_EXECUTION_PROVIDER_UNAVAILABLE', (t) => {
  const err = t.throws<FramemeshError>(() => createSessionFactory({ executionProviders: ['quantum'] }), {
    code: 'ERR_EXECUTION_PROVIDER_UNAVAILABLE',
  })
  t.true(((err?.details?.available ?? []) as string[]).includes('cpu'))
  const factory = createSessionFactory({ executionProviders: ['cpu'], intraOpNumThreads: 1 })
  t.deepEqual(factory.sessionOptions.executionProviders, ['cpu'])
  t.is(factory.sessionOptions.intraOpNumThreads, 1)
})

test('pinning a model whose file fails its check leaves it unpinned and reports the error', async (t) => {
  const f = await engineFixture()
  t.teardown(f.cleanup)
  await writeFile(f.registry.get('up-c').modelPath, upscaleModelBytes({ seed: 4321 }))
  await t.throwsAsync(f.engine.pin('up-c'), { code: 'ERR_MANIFEST_MISMATCH' })
  t.like(f.engine.model('up-c'), { state: 'failed', pinned: false })
  await t.throwsAsync(f.engine.pin('up-c'), { code: 'ERR_MANIFEST_MISMATCH' })
})

test('with idleUnloadMs an unused unpinned model is unloaded on its own; a pinned one stays', async (t) => {
  const f = await engineFixture({ idleUnloadMs: 30 })
  t.teardown(f.cleanup)
  await f.engine.pin('up-b') // pinned first: had it a countdown, it would end before up-a's
  const unloaded = new Promise<string>((resolve) => {
    f.engine.on('model:state', (e) => {
      if (e.state === 'available') resolve(e.id)
    })
  })
  await f.engine.warm('up-a')
  t.is(await unloaded, 'up-a')
  t.deepEqual(warmIds(f), ['up-b'])
  t.like(f.engine.model('up-a'), { state: 'available' })
})
