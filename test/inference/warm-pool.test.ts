// The warm pool's idle countdown, on a clock the test moves (the pool's timers stay real).
import { setTimeout as sleep } from 'node:timers/promises'
import test, { type ExecutionContext } from 'ava'
import { createWarmPool, type WarmPool } from '../../src/inference/warm-pool.js'

const IDLE_MS = 20

/** The pool's idle timers do not keep a process alive; this keeps the test's alive while it waits on them. */
function keepAlive(t: ExecutionContext): void {
  const timer = setInterval(() => {}, 1000)
  t.teardown(() => clearInterval(timer))
}

function idlePool(): { pool: WarmPool<string>; clock: { now: number }; unloaded: Promise<string> } {
  const clock = { now: 0 }
  let onUnload!: (id: string) => void
  const unloaded = new Promise<string>((resolve) => {
    onUnload = resolve
  })
  const pool = createWarmPool<string>(
    {
      load: async (id) => `session of ${id}`,
      unload: async (id) => onUnload(id),
      sizeOf: () => 1,
      now: () => clock.now,
    },
    { budgetBytes: 10, idleUnloadMs: IDLE_MS },
  )
  return { pool, clock, unloaded }
}

test('a model used again while its idle countdown runs stays warm; it unloads once idleUnloadMs have passed since its last use', async (t) => {
  const { pool, clock, unloaded } = idlePool()
  t.teardown(() => pool.close())
  keepAlive(t)
  await pool.warm('a') // used at 0: the countdown starts
  clock.now = IDLE_MS - 5
  pool.tryAcquire('a')?.release() // used again before it ran out
  // The countdown's first timer has fired by now (three times its length, real time), and found
  // the model used only 5 ms ago on the pool's clock.
  await sleep(3 * IDLE_MS)
  t.is(pool.status('a').state, 'warm')
  clock.now = 2 * IDLE_MS // past the last use + idleUnloadMs
  t.is(await unloaded, 'a')
  t.is(pool.status('a').state, 'available')
})

test('a model in use when its idle countdown runs out stays warm, and counts down again from when it is given back', async (t) => {
  const { pool, clock, unloaded } = idlePool()
  t.teardown(() => pool.close())
  keepAlive(t)
  await pool.warm('a')
  const lease = pool.tryAcquire('a')
  t.truthy(lease)
  clock.now = 10 * IDLE_MS
  await sleep(3 * IDLE_MS)
  t.is(pool.status('a').state, 'warm')
  lease!.release() // last used now, at 10 × IDLE_MS
  await sleep(3 * IDLE_MS)
  t.is(pool.status('a').state, 'warm')
  clock.now = 11 * IDLE_MS
  t.is(await unloaded, 'a')
})

test('a model pinned during its idle countdown stays warm; unpinned, it counts down again', async (t) => {
  const { pool, clock, unloaded } = idlePool()
  t.teardown(() => pool.close())
  keepAlive(t)
  await pool.warm('a')
  pool.pin('a')
  clock.now = 10 * IDLE_MS
  await sleep(3 * IDLE_MS)
  t.is(pool.status('a').state, 'warm')
  pool.unpin('a')
  t.is(await unloaded, 'a')
})
