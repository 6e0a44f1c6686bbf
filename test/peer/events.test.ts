import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import test from 'ava'
import { type ListenerErrorInfo, TypedEmitter } from '../../src/peer/events.js'

interface Events {
  tick: { n: number }
}

test('a listener that throws is reported to onListenerError and the other listeners still run', async (t) => {
  const reports: Array<{ error: unknown; info: ListenerErrorInfo }> = []
  const emitter = new TypedEmitter<Events>({
    onListenerError: (error, info) => reports.push({ error, info }),
  })
  const seen: string[] = []
  emitter.on('tick', ({ n }) => seen.push(`first ${n}`))
  const faulty = () => {
    throw new Error('listener bug')
  }
  emitter.on('tick', faulty)
  emitter.on('tick', ({ n }) => seen.push(`last ${n}`))

  t.notThrows(() => emitter.emit('tick', { n: 1 }))
  t.notThrows(() => emitter.emit('tick', { n: 2 }))
  // Errors used to be re-thrown in a microtask; let any such microtask run before judging.
  await new Promise((resolve) => setImmediate(resolve))

  t.deepEqual(seen, ['first 1', 'last 1', 'first 2', 'last 2'])
  t.is(reports.length, 2, 'the hook hears every failure')
  t.is((reports[0]!.error as Error).message, 'listener bug')
  t.is(reports[0]!.info.event, 'tick')
  t.is(reports[0]!.info.listener, faulty as never)
})

test('a hook that throws does not make emit throw', (t) => {
  const emitter = new TypedEmitter<Events>({
    onListenerError: () => {
      throw new Error('hook bug')
    },
  })
  let after = 0
  emitter.on('tick', () => {
    throw new Error('listener bug')
  })
  emitter.on('tick', () => after++)
  // The hook's own failure goes to stderr; emit returns normally.
  t.notThrows(() => emitter.emit('tick', { n: 1 }))
  t.is(after, 1)
})

const emitterModule = fileURLToPath(new URL('../../src/peer/events.ts', import.meta.url))

test('by default a throwing listener is written to stderr once and the process lives on', async (t) => {
  // A separate process: an uncaught exception there would exit it non-zero instead of failing ava.
  const script = `
    const { TypedEmitter } = await import(${JSON.stringify(emitterModule)})
    const emitter = new TypedEmitter()
    let calls = 0
    emitter.on('tick', () => { throw new Error('listener bug') })
    emitter.on('tick', () => calls++)
    for (let i = 0; i < 3; i++) emitter.emit('tick', {})
    await new Promise((resolve) => setImmediate(resolve))
    console.log('alive after', calls, 'calls')
  `
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    { timeout: 30_000 },
  )
  t.is(stdout.trim(), 'alive after 3 calls')
  const lines = stderr.split('\n').filter((line) => line.includes("a listener for 'tick' threw"))
  t.is(lines.length, 1, stderr)
  t.regex(stderr, /listener bug/)
})
