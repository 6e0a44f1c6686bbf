import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import test from 'ava'
import * as ort from 'onnxruntime-node'
import { openInferenceEngine } from '../../src/inference/engine.js'
import { createSessionFactory, type Feeds } from '../../src/inference/session.js'
import type { Frame } from '../../src/inference/types.js'
import { loaderArgv, openWorkerSession } from '../../src/inference/worker-session.js'

const MODEL = 'esrgan-slim-x2'

function frame(size: number, seed: number): Frame {
  const data = new Uint8Array(size * size * 3)
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed * 17) % 251
  return { width: size, height: size, channels: 3, data }
}

async function modelBytes(): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'fm-ws-'))
  const engine = await openInferenceEngine({}, { modelsDir: dir })
  const path = engine.registry.get(MODEL).modelPath
  await engine.close()
  await rm(dir, { recursive: true, force: true })
  return readFile(path)
}

function input(size: number): Feeds {
  const data = new Uint8Array(size * size * 3).map((_, i) => i % 255)
  return { input: new ort.Tensor('uint8', data, [1, size, size, 3]) }
}

/** A src/inference module's URL, quoted, for a child script's import(). */
const inferenceModule = (file: string) =>
  JSON.stringify(new URL(`../../src/inference/${file}`, import.meta.url).href)

/** Runs an ES module script in a child process under tsx; its stdout and exit code (killed after `limitMs`). */
/** Run `script` in a child Node; `exit` reads "code 0", or "signal SIGABRT" for a crash or a kill at `limitMs`. */
async function runScript(script: string, limitMs: number): Promise<{ out: string; exit: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs)
  const exit = await new Promise<string>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal === null ? `code ${code}` : `signal ${signal}`)),
  )
  clearTimeout(timer)
  return { out, exit }
}

/** True when a setImmediate queued right after starting the run fires before the run settles. */
async function loopTurnsDuringRun(run: () => Promise<unknown>): Promise<boolean> {
  let settled = false
  const p = run().finally(() => {
    settled = true
  })
  const turned = await new Promise<boolean>((resolve) => setImmediate(() => resolve(!settled)))
  await p
  return turned
}

test('a worker session leaves the event loop turning while a run is in flight; a main-thread one holds it', async (t) => {
  const bytes = await modelBytes()
  const worker = await createSessionFactory({ intraOpNumThreads: 1 }).open(MODEL, bytes)
  const main = await createSessionFactory({ intraOpNumThreads: 1, runOn: 'main' }).open(MODEL, bytes)
  t.teardown(() => Promise.all([worker.release(), main.release()]))
  // A 256² run takes tens of milliseconds: long enough that only a held loop misses the immediate.
  t.true(await loopTurnsDuringRun(() => worker.run(input(256))))
  t.false(await loopTurnsDuringRun(() => main.run(input(256))))
})

test('worker and main-thread sessions give the same output bytes for the same frame', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-ws-'))
  const inWorker = await openInferenceEngine({}, { modelsDir: dir, session: { intraOpNumThreads: 1 } })
  const inMain = await openInferenceEngine(
    {},
    { modelsDir: dir, session: { intraOpNumThreads: 1, runOn: 'main' } },
  )
  t.teardown(async () => {
    await Promise.all([inWorker.close(), inMain.close()])
    await rm(dir, { recursive: true, force: true })
  })
  for (const size of [16, 48]) {
    const f = frame(size, size)
    const [a, b] = await Promise.all([inWorker.upscale(MODEL, f), inMain.upscale(MODEL, f)])
    t.is(a.width, size * 2)
    t.deepEqual(a.data, b.data)
  }
})

test('feeds passed to engine.run stay usable afterwards unless the caller passes transferInputs, which moves them (detached) for the same answer', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-ws-'))
  const engine = await openInferenceEngine({}, { modelsDir: dir, session: { intraOpNumThreads: 1 } })
  t.teardown(async () => {
    await engine.close()
    await rm(dir, { recursive: true, force: true })
  })
  const feeds = input(8)
  const first = await engine.run(MODEL, feeds)
  t.is((feeds.input!.data as Uint8Array).length, 8 * 8 * 3)
  const second = await engine.run(MODEL, feeds)
  t.deepEqual(first.output!.data, second.output!.data)
  const moved = await engine.run(MODEL, feeds, { transferInputs: true })
  t.deepEqual(moved.output!.data, first.output!.data)
  t.is((feeds.input!.data as Uint8Array).byteLength, 0)
})

test('a session with transferInputs takes the input buffer (detached for the caller) and still answers', async (t) => {
  const session = await createSessionFactory({ intraOpNumThreads: 1 }).open(MODEL, await modelBytes())
  t.teardown(() => session.release())
  const feeds = input(8)
  const out = await session.run(feeds, { transferInputs: true })
  t.deepEqual(out.output!.dims, [1, 16, 16, 3])
  t.is((feeds.input!.data as Uint8Array).byteLength, 0)
})

test('with two threads per model the model counts twice in the budget and concurrent runs all succeed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-ws-'))
  const one = await openInferenceEngine({}, { modelsDir: dir, session: { intraOpNumThreads: 1 } })
  const two = await openInferenceEngine(
    {},
    { modelsDir: dir, queue: { concurrency: 2 }, session: { intraOpNumThreads: 1, threadsPerModel: 2 } },
  )
  t.teardown(async () => {
    await Promise.all([one.close(), two.close()])
    await rm(dir, { recursive: true, force: true })
  })
  await Promise.all([one.warm(MODEL), two.warm(MODEL)])
  t.is(two.warmReport().usedBytes, 2 * one.warmReport().usedBytes)
  const outs = await Promise.all([0, 1, 2, 3].map((n) => two.upscale(MODEL, frame(24, n))))
  const alone = await one.upscale(MODEL, frame(24, 3))
  t.deepEqual(outs[3]!.data, alone.data)
})

test('a released worker session refuses further runs with an error', async (t) => {
  const session = await createSessionFactory({ intraOpNumThreads: 1 }).open(MODEL, await modelBytes())
  await session.release()
  await t.throwsAsync(session.run(input(8)), { message: /released/ })
})

test('bytes onnxruntime cannot read are refused in the thread with ERR_MODEL_LOAD_FAILED', async (t) => {
  const factory = createSessionFactory({ intraOpNumThreads: 1 })
  await t.throwsAsync(factory.open('junk', new Uint8Array([1, 2, 3, 4])), {
    code: 'ERR_MODEL_LOAD_FAILED',
    message: /onnxruntime refused the file/,
  })
})

test('in a session thread, bytes onnxruntime cannot read fail as the file and inputs the model refuses fail as the warm-up run, both ERR_MODEL_LOAD_FAILED', async (t) => {
  const factory = createSessionFactory({ intraOpNumThreads: 1, runOn: 'worker' })
  await t.throwsAsync(factory.open('junk', new Uint8Array([1, 2, 3, 4]), input(8)), {
    code: 'ERR_MODEL_LOAD_FAILED',
    message: /onnxruntime refused the file/,
  })
  const wrongName = { nope: input(8).input! }
  await t.throwsAsync(factory.open(MODEL, await modelBytes(), wrongName), {
    code: 'ERR_MODEL_LOAD_FAILED',
    message: /the warm-up run failed/,
  })
})

test('a session thread that misses its open deadline fails the load with ERR_MODEL_LOAD_FAILED and is not stopped mid-open: the process lives on and exits by itself', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-ws-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // Deadlines from "still starting" to "opened": some land inside onnxruntime's open or warm-up
  // run, where stopping the thread would abort the whole process. The script ends right after a
  // late open, so the process reaches its exit with that thread still inside onnxruntime.
  const script = `
    const { openInferenceEngine } = await import(${inferenceModule('engine.ts')})
    const { createSessionFactory } = await import(${inferenceModule('session.ts')})
    const { dummyFeeds } = await import(${inferenceModule('feeds.js')})
    const engine = await openInferenceEngine({}, { modelsDir: ${JSON.stringify(dir)} })
    const record = engine.registry.get('esrgan-thick-x4')
    await engine.close()
    const outcomes = []
    for (const openTimeoutMs of [20, 100, 200, 300, 400, 60000, 100]) {
      const factory = createSessionFactory({ intraOpNumThreads: 1, runOn: 'worker', openTimeoutMs })
      try {
        const session = await factory.open(record.manifest.id, record.modelPath, dummyFeeds(record.manifest))
        await session.release()
        outcomes.push('open')
      } catch (err) {
        outcomes.push(err.code === 'ERR_MODEL_LOAD_FAILED' && /did not open within/.test(err.message) ? 'late' : err.message)
      }
    }
    console.log(outcomes.join(' '))
  `
  const { out, exit } = await runScript(script, 120_000)
  const outcomes = out.trim().split(' ')
  t.is(outcomes.length, 7, out)
  t.true(
    outcomes.every((o) => o === 'open' || o === 'late'),
    out,
  )
  t.is(outcomes[0], 'late') // 20 ms: no thread opens a model that fast
  t.is(outcomes[5], 'open')
  t.is(outcomes[6], 'late')
  t.is(exit, 'code 0')
})

test('a process with a warm worker session that never closes its engine still exits on its own', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-ws-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const script = `
    const { openInferenceEngine } = await import(${inferenceModule('engine.ts')})
    const engine = await openInferenceEngine({}, { modelsDir: ${JSON.stringify(dir)} })
    const out = await engine.upscale('${MODEL}', { width: 4, height: 4, channels: 3, data: new Uint8Array(48) })
    console.log('done', out.width)
  `
  const { out, exit } = await runScript(script, 60_000)
  t.is(out.trim(), 'done 8')
  t.is(exit, 'code 0')
})

test('a run given up on just as its thread started it still holds the process until it has computed: no abort at exit', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-ws-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const script = `
    const ort = await import('onnxruntime-node')
    const { openInferenceEngine } = await import(${inferenceModule('engine.ts')})
    const { createSessionFactory } = await import(${inferenceModule('session.ts')})
    const engine = await openInferenceEngine({}, { modelsDir: ${JSON.stringify(dir)} })
    const path = engine.registry.get('${MODEL}').modelPath
    await engine.close()
    const input = (size) => ({ input: new ort.Tensor('uint8', new Uint8Array(size * size * 3), [1, size, size, 3]) })
    const session = await createSessionFactory({ intraOpNumThreads: 1, runOn: 'worker' }).open('${MODEL}', path)
    const controller = new AbortController()
    const first = session.run(input(8))
    const second = session.run(input(512), { signal: controller.signal }).then(() => 'answered', (e) => e.code)
    // This thread is held while the session thread answers the first run and starts the second:
    // the abort then finds the first still pending here, so it takes the second for a waiting one.
    const until = performance.now() + 300
    while (performance.now() < until) {}
    controller.abort()
    await first
    console.log(await second)
    // No release: the process ends when nothing holds it.
  `
  const { out, exit } = await runScript(script, 60_000)
  t.is(out.trim(), 'ERR_ABORTED')
  t.is(exit, 'code 0')
})

test('session threads get only the parent module-loader flags, in both spellings', (t) => {
  t.deepEqual(
    loaderArgv([
      '--require',
      '/x/preflight.cjs',
      '--input-type=module',
      '--import',
      'file:///x/loader.mjs',
      '--cpu-prof',
      '--import=tsx',
      '--max-old-space-size=512',
    ]),
    ['--require', '/x/preflight.cjs', '--import', 'file:///x/loader.mjs', '--import=tsx'],
  )
})

test('with worker sessions an engine admits threads + 1 runs per model by default; on the main thread one', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-ws-'))
  const inWorker = await openInferenceEngine(
    {},
    { modelsDir: dir, queue: { maxQueued: 0 }, session: { intraOpNumThreads: 1 } },
  )
  const inMain = await openInferenceEngine(
    {},
    { modelsDir: dir, queue: { maxQueued: 0 }, session: { intraOpNumThreads: 1, runOn: 'main' } },
  )
  t.teardown(async () => {
    await Promise.all([inWorker.close(), inMain.close()])
    await rm(dir, { recursive: true, force: true })
  })
  await Promise.all([inWorker.warm(MODEL), inMain.warm(MODEL)])
  const three = (engine: typeof inWorker) =>
    Promise.allSettled([0, 1, 2].map((n) => engine.upscale(MODEL, frame(16, n))))
  const codes = (settled: PromiseSettledResult<unknown>[]) =>
    settled.map((s) => (s.status === 'fulfilled' ? 'ok' : (s.reason as { code: string }).code))
  t.deepEqual(codes(await three(inWorker)), ['ok', 'ok', 'ERR_QUEUE_FULL'])
  t.deepEqual(codes(await three(inMain)), ['ok', 'ERR_QUEUE_FULL', 'ERR_QUEUE_FULL'])
})

test('aborting a run that waits behind another in its thread ends it at once with ERR_ABORTED; the computing one finishes', async (t) => {
  const session = await createSessionFactory({ intraOpNumThreads: 1 }).open(MODEL, await modelBytes())
  t.teardown(() => session.release())
  const order: string[] = []
  const firstOwn = new AbortController()
  const first = session.run(input(256), { signal: firstOwn.signal }).then((out) => {
    order.push('first')
    return out
  })
  const controller = new AbortController()
  const second = session.run(input(256), { signal: controller.signal }).catch((err) => {
    order.push('second')
    throw err
  })
  // The computing run ignores an abort (onnxruntime cannot stop a run): only the waiting one leaves.
  controller.abort()
  firstOwn.abort()
  await t.throwsAsync(second, { code: 'ERR_ABORTED' })
  t.deepEqual((await first).output!.dims, [1, 512, 512, 3])
  t.deepEqual(order, ['second', 'first'])
  // The thread skipped the cancelled run and still serves the next one.
  t.deepEqual((await session.run(input(8))).output!.dims, [1, 16, 16, 3])
})

test('blend in a worker gets copies of the caller’s frames: both stay intact and the answer matches the main thread', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-ws-'))
  const inWorker = await openInferenceEngine(
    {},
    { modelsDir: dir, session: { intraOpNumThreads: 1, runOn: 'worker' } },
  )
  const inMain = await openInferenceEngine(
    {},
    { modelsDir: dir, session: { intraOpNumThreads: 1, runOn: 'main' } },
  )
  t.teardown(async () => {
    await Promise.all([inWorker.close(), inMain.close()])
    await rm(dir, { recursive: true, force: true })
  })
  const a = frame(16, 1)
  const b = frame(16, 2)
  const before = [a.data.slice(), b.data.slice()]
  const out = await inWorker.interpolate('blend', a, b, 0.5)
  // Handing the frames' own buffers to the thread would have detached them (byteLength 0).
  t.deepEqual([a.data, b.data], before)
  t.deepEqual(out.data, (await inMain.interpolate('blend', a, b, 0.5)).data)
  t.deepEqual(
    out.data,
    a.data.map((v, i) => Math.round((v + b.data[i]!) / 2)),
  )
})

/** A uint8 NHWC input of `size`² whose bytes depend on `seed`, so runs cannot pass for each other. */
function seeded(size: number, seed: number): Feeds {
  const data = new Uint8Array(size * size * 3).map((_, i) => (i * 7 + seed * 13) % 251)
  return { input: new ort.Tensor('uint8', data, [1, size, size, 3]) }
}

async function workerAndMain(maxSlotBytes?: number) {
  const bytes = await modelBytes()
  const options = { intraOpNumThreads: 1, extra: {} }
  const worker = await openWorkerSession(MODEL, bytes, options, {
    threads: 1,
    openTimeoutMs: 60_000,
    ...(maxSlotBytes === undefined ? {} : { maxSlotBytes }),
  })
  const main = await createSessionFactory({ intraOpNumThreads: 1, runOn: 'main' }).open(MODEL, bytes)
  return { worker, main, release: () => Promise.all([worker.release(), main.release()]) }
}

test('runs queued at once on one thread each get the output of their own input, and the inputs stay intact', async (t) => {
  const { worker, main, release } = await workerAndMain()
  t.teardown(release)
  // Sizes that grow and shrink: later runs need more staging room than earlier ones had.
  const inputs = [8, 64, 8, 32, 96].map((size, seed) => seeded(size, seed))
  const copies = inputs.map((f) => (f.input!.data as Uint8Array).slice())
  const outs = await Promise.all(inputs.map((f) => worker.run(f)))
  for (const [i, f] of inputs.entries()) {
    t.deepEqual(f.input!.data, copies[i], `input ${i} changed`)
    t.deepEqual(outs[i]!.output!.data, (await main.run(f)).output!.data, `output ${i}`)
  }
})

test('an input over the staging cap still runs (copied in the message) and matches the main thread', async (t) => {
  const { worker, main, release } = await workerAndMain(1024)
  t.teardown(release)
  const small = seeded(8, 1) // 192 bytes: staged
  const big = seeded(40, 2) // 4800 bytes: over the 1 KiB cap
  const [a, b] = await Promise.all([worker.run(big), worker.run(small)])
  t.deepEqual(a.output!.data, (await main.run(big)).output!.data)
  t.deepEqual(b.output!.data, (await main.run(small)).output!.data)
  t.is((big.input!.data as Uint8Array).byteLength, 40 * 40 * 3)
})

test('after a run is aborted while waiting in its thread, the runs queued behind it get the outputs of their own inputs', async (t) => {
  const { worker, main, release } = await workerAndMain()
  t.teardown(release)
  const first = worker.run(seeded(192, 1))
  const controller = new AbortController()
  const aborted = worker.run(seeded(48, 2), { signal: controller.signal })
  controller.abort()
  await t.throwsAsync(aborted, { code: 'ERR_ABORTED' })
  const later = [seeded(48, 3), seeded(48, 4)]
  const outs = await Promise.all(later.map((f) => worker.run(f)))
  await first
  for (const [i, f] of later.entries()) t.deepEqual(outs[i]!.output!.data, (await main.run(f)).output!.data)
})

test('a worker session takes SharedArrayBuffer-backed inputs, leaves them intact and answers like the main thread', async (t) => {
  const { worker, main, release } = await workerAndMain()
  t.teardown(release)
  const plain = seeded(16, 5).input!.data as Uint8Array
  const shared = new Uint8Array(new SharedArrayBuffer(plain.byteLength))
  shared.set(plain)
  const feeds = { input: new ort.Tensor('uint8', shared, [1, 16, 16, 3]) }
  t.deepEqual((await worker.run(feeds)).output!.data, (await main.run(feeds)).output!.data)
  t.deepEqual(shared, plain)
})

test('a later input larger than any before gets a bigger staging slot and its own output', async (t) => {
  const { worker, main, release } = await workerAndMain()
  t.teardown(release)
  // 150²·3 bytes is over the smallest slot (64 KiB) the first run left behind.
  for (const f of [seeded(8, 1), seeded(150, 2), seeded(8, 3)]) {
    t.deepEqual((await worker.run(f)).output!.data, (await main.run(f)).output!.data)
  }
})

test('a session thread that dies fails every later run with an error saying so', async (t) => {
  const workers: import('node:worker_threads').Worker[] = []
  const session = await openWorkerSession(
    MODEL,
    await modelBytes(),
    { intraOpNumThreads: 1 },
    { threads: 1, openTimeoutMs: 60_000, onThread: (w) => workers.push(w) },
  )
  t.teardown(() => session.release())
  await session.run(seeded(8, 1))
  // Killed between runs: a thread stopped from outside while onnxruntime computes in it takes the
  // whole process down (onnxruntime's binding throws where nothing catches it), which no session
  // can answer for; release() therefore lets handed-over runs finish before it stops a thread.
  await workers[0]!.terminate()
  await t.throwsAsync(session.run(seeded(64, 2)), { message: /session thread exited/ })
  await t.throwsAsync(session.run(seeded(8, 3)), { message: /session thread exited/ })
})

test('releasing a session with runs still in its thread lets them finish before its stop timer starts', async (t) => {
  // A 1 ms timer started at once would stop the thread mid-run (and take the process down).
  const session = await openWorkerSession(
    MODEL,
    await modelBytes(),
    { intraOpNumThreads: 1 },
    {
      threads: 1,
      openTimeoutMs: 60_000,
      releaseTimeoutMs: 1,
    },
  )
  const runs = [session.run(seeded(256, 1)), session.run(seeded(64, 2))]
  await session.release()
  const settled = await Promise.allSettled(runs)
  t.deepEqual(
    settled.map((r) => r.status),
    ['fulfilled', 'fulfilled'],
  )
  await t.throwsAsync(session.run(seeded(8, 3)), { message: /released/ })
})

test('a session thread still checking for work after a run serves the next runs, then takes the release from its port', async (t) => {
  // A poll far longer than the test: the thread's event loop never turns during it, so every
  // message below reaches the thread only if the poll reads it. If the poll missed the release,
  // release() would wait out its 60 s stop timer and the test would time out.
  const session = await openWorkerSession(
    MODEL,
    await modelBytes(),
    { intraOpNumThreads: 1 },
    { threads: 1, openTimeoutMs: 60_000, releaseTimeoutMs: 60_000, pollAfterRunMs: 60_000 },
  )
  const main = await createSessionFactory({ intraOpNumThreads: 1, runOn: 'main' }).open(
    MODEL,
    await modelBytes(),
  )
  t.teardown(() => main.release())
  const first = seeded(16, 1)
  t.deepEqual((await session.run(first)).output!.data, (await main.run(first)).output!.data)
  // One after another (each arrives while the thread polls), then two at once.
  for (const f of [seeded(8, 2), seeded(24, 3)]) {
    t.deepEqual((await session.run(f)).output!.data, (await main.run(f)).output!.data)
  }
  const pair = [seeded(8, 4), seeded(8, 5)]
  const outs = await Promise.all(pair.map((f) => session.run(f)))
  for (const [i, f] of pair.entries()) t.deepEqual(outs[i]!.output!.data, (await main.run(f)).output!.data)
  await session.release()
  await t.throwsAsync(session.run(seeded(8, 6)), { message: /released/ })
})

test('an app that embeds the engine in a worker thread of its own runs models in session threads like the main thread does', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-ws-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const data = frame(8, 3).data
  const expected = await openInferenceEngine({}, { modelsDir: dir, session: { runOn: 'main' } })
  const reference = await expected.upscale(MODEL, { width: 8, height: 8, channels: 3, data })
  await expected.close()

  // The session thread's module must not take the app's thread for a session thread of its own.
  const app = new Worker(new URL('./helpers/app-worker.ts', import.meta.url), {
    workerData: { modelsDir: dir, data },
    execArgv: loaderArgv(process.execArgv),
  })
  const reply = await new Promise<{ width?: number; height?: number; data?: Uint8Array; error?: string }>(
    (resolve, reject) => {
      app.once('message', resolve)
      app.once('error', reject)
    },
  )
  await app.terminate()
  t.is(reply.error, undefined)
  t.is(reply.width, 16)
  t.is(reply.height, 16)
  t.deepEqual(reply.data, reference.data)
})
