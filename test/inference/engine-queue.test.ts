import test from 'ava'
import * as ort from 'onnxruntime-node'
import { createRunQueue } from '../../src/inference/queue.js'
import { engineFixture } from './helpers/engine-fixture.js'

const x = (values: number[]) => ({
  x: new ort.Tensor('float32', Float32Array.from(values), [1, values.length]),
})

test('a run queue admits `concurrency` callers, lets the next wait in order and refuses past maxQueued with ERR_QUEUE_FULL', async (t) => {
  const q = createRunQueue('m', { concurrency: 2, maxQueued: 2 })
  const order: string[] = []
  const r1 = await q.acquire()
  const r2 = await q.acquire()
  t.is(q.running, 2)
  const w3 = q.acquire().then((r) => {
    order.push('3')
    return r
  })
  const w4 = q.acquire().then((r) => {
    order.push('4')
    return r
  })
  t.is(q.waiting, 2)
  await t.throwsAsync(q.acquire(), { code: 'ERR_QUEUE_FULL' })
  r1()
  r1() // releasing twice frees one slot only
  const r3 = await w3
  t.is(q.waiting, 1)
  r2()
  const r4 = await w4
  t.deepEqual(order, ['3', '4'])
  r3()
  r4()
  t.is(q.running, 0)
})

test('aborting a waiting caller removes it from the queue with ERR_ABORTED', async (t) => {
  const q = createRunQueue('m', { concurrency: 1, maxQueued: 1 })
  const release = await q.acquire()
  const ac = new AbortController()
  const waiting = q.acquire({ signal: ac.signal })
  t.is(q.waiting, 1)
  ac.abort()
  await t.throwsAsync(waiting, { code: 'ERR_ABORTED' })
  t.is(q.waiting, 0)
  const next = q.acquire() // the freed place can be taken again
  release()
  ;(await next)()
  t.is(q.running, 0)
})

test('a caller waiting longer than waitTimeoutMs gets ERR_TIMEOUT and leaves the queue', async (t) => {
  const q = createRunQueue('m', { concurrency: 1, maxQueued: 1, waitTimeoutMs: 20 })
  const release = await q.acquire()
  await t.throwsAsync(q.acquire(), { code: 'ERR_TIMEOUT' })
  t.is(q.waiting, 0)
  release()
})

test('engine runs on one model are limited with back-pressure: extra callers wait, one too many gets ERR_QUEUE_FULL', async (t) => {
  const f = await engineFixture({ queue: { concurrency: 1, maxQueued: 2 } })
  t.teardown(f.cleanup)
  const runs = [
    f.engine.run('double', x([1])),
    f.engine.run('double', x([2])),
    f.engine.run('double', x([3])),
  ]
  await t.throwsAsync(f.engine.run('double', x([4])), { code: 'ERR_QUEUE_FULL' })
  // Another model has its own queue and is not held up.
  const other = await f.engine.upscale('up-a', { width: 1, height: 1, channels: 3, data: new Uint8Array(3) })
  t.is(other.width, 2)
  const results = await Promise.all(runs)
  t.deepEqual(
    results.map((r) => Array.from(r.y.data as Float32Array)),
    [[2], [4], [6]],
  )
  // Once drained, the queue accepts again.
  t.deepEqual(Array.from((await f.engine.run('double', x([5]))).y.data as Float32Array), [10])
})

test('an engine caller aborted while queued is removed and the others still complete', async (t) => {
  const f = await engineFixture({ queue: { concurrency: 1, maxQueued: 1 } })
  t.teardown(f.cleanup)
  const ac = new AbortController()
  const first = f.engine.run('double', x([1]))
  const aborted = f.engine.run('double', x([2]), { signal: ac.signal })
  ac.abort()
  await t.throwsAsync(aborted, { code: 'ERR_ABORTED' })
  const third = f.engine.run('double', x([3])) // fits: the aborted caller left its place
  t.deepEqual(Array.from((await first).y.data as Float32Array), [2])
  t.deepEqual(Array.from((await third).y.data as Float32Array), [6])
})

test('raw feeds that do not fit the manifest are refused with ERR_INPUT_INVALID naming the input', async (t) => {
  const f = await engineFixture()
  t.teardown(f.cleanup)
  const bad: Array<[Record<string, ort.Tensor>, RegExp]> = [
    [{}, /input "x" is missing/],
    [{ ...x([1]), extra: new ort.Tensor('float32', new Float32Array(1), [1]) }, /unknown input "extra"/],
    [
      { x: new ort.Tensor('int32', new Int32Array(2), [1, 2]) },
      /input "x" is int32, the model wants float32/,
    ],
    [
      { x: new ort.Tensor('float32', new Float32Array(2), [2]) },
      /input "x" has dims \[2\], the model wants \[1,-1\]/,
    ],
    [{ x: new ort.Tensor('float32', new Float32Array(4), [2, 2]) }, /dims \[2,2\]/],
  ]
  for (const [feeds, message] of bad) {
    const err = await t.throwsAsync(f.engine.run('double', feeds), { code: 'ERR_INPUT_INVALID' })
    t.regex(err?.message ?? '', message)
  }
  await t.throwsAsync(f.engine.run('nope', x([1])), { code: 'ERR_MODEL_NOT_FOUND' })
  t.deepEqual(Array.from((await f.engine.run('double', x([1, 2]))).y.data as Float32Array), [2, 4])
})

test('an upscale aborted while its model loads ends with ERR_ABORTED and the next request is served', async (t) => {
  const f = await engineFixture()
  t.teardown(f.cleanup)
  const ac = new AbortController()
  f.engine.on('model:state', (e) => {
    if (e.id === 'up-a' && e.state === 'warm') ac.abort()
  })
  const frame = { width: 40, height: 40, channels: 3 as const, data: new Uint8Array(40 * 40 * 3) }
  await t.throwsAsync(f.engine.upscale('up-a', frame, { tileSize: 16, overlap: 2, signal: ac.signal }), {
    code: 'ERR_ABORTED',
  })
  await t.throwsAsync(f.engine.upscale('up-a', frame, { signal: ac.signal }), { code: 'ERR_ABORTED' })
  t.is((await f.engine.upscale('up-a', frame)).width, 80)
  t.is(f.opened.get('up-a'), 1, 'the load the aborted caller started was kept for the next one')
})
