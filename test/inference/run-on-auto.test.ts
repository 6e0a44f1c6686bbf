import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { openInferenceEngine } from '../../src/inference/engine.js'
import { dummyFeeds } from '../../src/inference/feeds.js'
import { createSessionFactory } from '../../src/inference/session.js'
import type { Frame } from '../../src/inference/types.js'

function frame(size: number, seed: number): Frame {
  const data = new Uint8Array(size * size * 3)
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed * 17) % 251
  return { width: size, height: size, channels: 3, data }
}

/** The built-in catalogue's model path and warm-up feeds for one model. */
async function builtin(id: string) {
  const dir = await mkdtemp(join(tmpdir(), 'fm-auto-'))
  const engine = await openInferenceEngine({}, { modelsDir: dir })
  const record = engine.registry.get(id)
  await engine.close()
  await rm(dir, { recursive: true, force: true })
  return { path: record.modelPath, feeds: dummyFeeds(record.manifest) }
}

// Serial: the choice times runs across an await, so another test's main-thread run landing in
// that window (this file's engines upscale on the main thread) would be counted as blend's.
test.serial(
  "runOn 'auto' keeps blend (a sub-millisecond model) on the main thread and moves esrgan-slim-x2 to a worker",
  async (t) => {
    // A threshold between the two with room on both sides (warm-up runs at 32²: blend 0.03-0.06 ms,
    // esrgan-slim-x2 ~2.3 ms): the default 0.2 ms once sent blend to a worker with the machine's
    // load at 7 on 2 cores, where every timed run can lose the CPU for a while.
    const factory = createSessionFactory({ intraOpNumThreads: 1, runOn: 'auto', autoMainMs: 1 })
    const blend = await builtin('blend')
    const esrgan = await builtin('esrgan-slim-x2')
    const cheap = await factory.open('blend', blend.path, blend.feeds)
    const heavy = await factory.open('esrgan-slim-x2', esrgan.path, esrgan.feeds)
    t.teardown(() => Promise.all([cheap.release(), heavy.release()]))
    t.is(cheap.runsOn, 'main')
    t.is(heavy.runsOn, 'worker')
    // Either way the session runs: the picked thread serves the model.
    t.truthy((await heavy.run(esrgan.feeds))[heavy.outputNames[0]])
  },
)

test("runOn 'auto' picks a worker when it has no warm-up feeds to time the model with, or when autoMainMs is 0", async (t) => {
  const blend = await builtin('blend')
  const noFeeds = await createSessionFactory({ intraOpNumThreads: 1, runOn: 'auto' }).open(
    'blend',
    blend.path,
  )
  const zero = await createSessionFactory({ intraOpNumThreads: 1, runOn: 'auto', autoMainMs: 0 }).open(
    'blend',
    blend.path,
    blend.feeds,
  )
  t.teardown(() => Promise.all([noFeeds.release(), zero.release()]))
  t.is(noFeeds.runsOn, 'worker')
  t.is(zero.runsOn, 'worker')
})

test("runOn 'auto' budgets a model as a worker would (memory known before the thread is picked)", (t) => {
  const auto = createSessionFactory({ runOn: 'auto', threadsPerModel: 2 })
  const worker = createSessionFactory({ runOn: 'worker', threadsPerModel: 2 })
  t.is(auto.sessionOverheadBytes, worker.sessionOverheadBytes)
  t.is(auto.sessionsPerModel, 2)
  t.is(auto.defaultConcurrency, worker.defaultConcurrency)
})

test("an engine on runOn 'auto' interpolates and upscales byte-for-byte like one on the main thread", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-auto-'))
  const auto = await openInferenceEngine(
    {},
    { modelsDir: dir, session: { intraOpNumThreads: 1, runOn: 'auto' } },
  )
  const main = await openInferenceEngine(
    {},
    { modelsDir: dir, session: { intraOpNumThreads: 1, runOn: 'main' } },
  )
  t.teardown(async () => {
    await Promise.all([auto.close(), main.close()])
    await rm(dir, { recursive: true, force: true })
  })
  const a = frame(64, 1)
  const b = frame(64, 2)
  t.deepEqual(
    (await auto.interpolate('blend', a, b, 0.25)).data,
    (await main.interpolate('blend', a, b, 0.25)).data,
  )
  t.deepEqual((await auto.upscale('esrgan-slim-x2', a)).data, (await main.upscale('esrgan-slim-x2', a)).data)
})
