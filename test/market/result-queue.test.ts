import test from 'ava'
import { CollectedResults, ResultQueue } from '../../src/market/result-queue.js'

test('room() holds the producer while the buffer is full and lets it go once the reader takes one', async (t) => {
  const queue = new ResultQueue<number>(2)
  queue.push(1)
  await queue.room()
  queue.push(2)
  let released = false
  const waiting = queue.room().then(() => {
    released = true
  })
  await Promise.resolve()
  t.false(released, 'a full buffer holds the producer')
  const reader = queue[Symbol.asyncIterator]()
  t.deepEqual(await reader.next(), { value: 1, done: false })
  await waiting
  t.true(released)
  queue.close()
  t.deepEqual(await reader.next(), { value: 2, done: false })
  t.true((await reader.next()).done)
})

test('a failed queue hands out what it holds, then throws the failure', async (t) => {
  const queue = new ResultQueue<number>(4)
  queue.push(7)
  queue.fail(Object.assign(new Error('boom'), { code: 'ERR_PEER_STALLED' }))
  const seen: number[] = []
  const err = await t.throwsAsync(async () => {
    for await (const n of queue) seen.push(n)
  })
  t.deepEqual(seen, [7])
  t.is((err as { code?: string }).code, 'ERR_PEER_STALLED')
  await t.notThrowsAsync(queue.room(), 'a failed queue never holds the producer')
})

test('a second reader of a results stream is refused with ERR_RESULTS_TAKEN', async (t) => {
  const queue = new ResultQueue<number>(1)
  void queue[Symbol.asyncIterator]().next()
  const err = await t.throwsAsync(queue[Symbol.asyncIterator]().next())
  t.is((err as { code?: string }).code, 'ERR_RESULTS_TAKEN')
})

test('collected results can be read by several readers, each from the start, while they still come', async (t) => {
  const results = new CollectedResults<number>()
  results.push(1)
  const early = (async () => {
    const seen: number[] = []
    for await (const n of results) seen.push(n)
    return seen
  })()
  results.push(2)
  results.close()
  const late: number[] = []
  for await (const n of results) late.push(n)
  t.deepEqual(await early, [1, 2])
  t.deepEqual(late, [1, 2])
})
