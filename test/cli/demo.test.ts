/**
 * `npm start` as a newcomer runs it: no configuration, the whole local mesh, one sample job.
 * Spawned as a real child process (with --once so it stops by itself after the sample job).
 */
import { spawn } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import { createServer } from 'node:net'
import test from 'ava'

interface Demo {
  /** What it printed so far. */
  out(): string
  err(): string
  /** Calls `watch` with all of stdout so far, on each new output. */
  onOutput(watch: (out: string) => void): void
  kill(signal: NodeJS.Signals): void
  /** Its exit code (null if a signal ended it); killed after 100 s whatever happens. */
  exited: Promise<number | null>
}

function startDemo(command: string, args: string[]): Demo {
  const child = spawn(command, args, {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { ...process.env, FRAMEMESH_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  const watchers: Array<(out: string) => void> = []
  child.stdout.on('data', (d) => {
    out += d
    for (const watch of watchers) watch(out)
  })
  child.stderr.on('data', (d) => {
    err += d
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 100_000)
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve)).finally(() =>
    clearTimeout(timer),
  )
  return {
    out: () => out,
    err: () => err,
    onOutput: (watch) => watchers.push(watch),
    kill: (signal) => child.kill(signal),
    exited,
  }
}

/** The CLI's demo command run directly, as `npm start` runs it. */
const demoCommand = (...args: string[]) =>
  startDemo(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--port', '0', ...args])

test('`npm start -- --once` brings up the local mesh, upscales the sample clip across it and stops cleanly', async (t) => {
  const demo = startDemo('npm', ['start', '--silent', '--', '--once', '--port', '0'])
  const code = await demo.exited
  const out = demo.out()
  t.is(code, 0, `${out}\n${demo.err()}`)
  t.regex(out, /orchestrator 3 /)
  t.regex(out, /dashboard: http:\/\/127\.0\.0\.1:\d+\/dashboard\//)
  t.regex(out, /sample job done in [\d.]+ s/, `${out}\n${demo.err()}`)
  const [, done, total] = /frames (\d+) of (\d+), peers /.exec(out) ?? []
  t.true(Number(done) > 0)
  t.is(done, total)
  t.regex(out, /stopped cleanly\s*$/)
  // A newcomer reads any warning as something broken (ganache's server once leaked listeners here).
  t.notRegex(demo.err(), /Warning/, demo.err())
})

test('Ctrl-C while the mesh is still starting stops what had started and says so, without an error: exit 130', async (t) => {
  const demo = demoCommand()
  let interrupted = false
  demo.onOutput((out) => {
    // Once: a second Ctrl-C is the user insisting, and kills the process outright.
    if (!interrupted && out.includes('starting a local mesh')) {
      interrupted = true
      demo.kill('SIGINT')
    }
  })
  const code = await demo.exited
  t.is(code, 130, `${demo.out()}\n${demo.err()}`)
  t.notRegex(demo.out(), /mesh up in/, 'the interrupt landed after the mesh was up')
  // One line: what stopped, and possibly what was cut short; no error, no stack.
  t.regex(demo.err(), /^framemesh demo: stopped by SIGINT before it finished(; [^\n]*)?\s*$/, demo.err())
})

test('the demo keeps serving the dashboard until SIGINT, then stops everything and exits 0; a taken port is swapped for a free one, said so; the orchestrator command it prints joins its mesh from another process', async (t) => {
  // The asked-for port is taken, as by a demo already running.
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => taken.close())
  const port = (taken.address() as AddressInfo).port
  const demo = startDemo(process.execPath, [
    '--import',
    'tsx',
    'src/cli/main.ts',
    'demo',
    '--port',
    String(port),
    '--seconds',
    '1',
  ])
  const dashboard = await new Promise<string>((resolve) =>
    demo.onOutput((out) => {
      const url = /serving the dashboard at (\S+)/.exec(out)?.[1]
      if (url !== undefined) resolve(url)
    }),
  )
  const page = await fetch(dashboard)
  t.is(page.status, 200)
  t.regex(await page.text(), /framemesh dashboard/)
  t.regex(
    demo.out(),
    new RegExp(`^port ${port} is taken \\(another demo\\?\\); the dashboard is on port \\d+ instead$`, 'm'),
  )
  t.notRegex(dashboard, new RegExp(`:${port}/`))

  // The printed command, run as an operator would paste it, in a process of its own.
  const joinLine = /^ {2}npm run framemesh -- (orchestrator .*)$/m.exec(demo.out())?.[1]
  t.truthy(joinLine, demo.out())
  const seller = startDemo(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...joinLine!.split(' ')])
  t.teardown(() => seller.kill('SIGKILL'))
  const sellerId = await new Promise<string>((resolve) =>
    seller.onOutput((out) => {
      const id = /^orchestrator (12D3KooW\w+) ready/m.exec(out)?.[1]
      if (id !== undefined) resolve(id)
    }),
  )
  // Its advert reaches the demo's broadcaster: the demo's own gateway lists its offers.
  const offersUrl = new URL('/v1/offers', dashboard)
  let offers: Array<{ peerId: string; modelId: string; pricePerUnit: string }> = []
  for (const until = Date.now() + 30_000; Date.now() < until; ) {
    offers = ((await (await fetch(offersUrl)).json()) as { offers: typeof offers }).offers
    if (offers.some((o) => o.peerId === sellerId)) break
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  const blend = offers.find((o) => o.peerId === sellerId && o.modelId === 'blend')
  t.is(String(blend?.pricePerUnit), '5000000', JSON.stringify(offers))
  seller.kill('SIGINT')
  t.is(await seller.exited, 0, seller.err())

  demo.kill('SIGINT')
  const code = await demo.exited
  t.is(code, 0, demo.out())
  t.regex(demo.out(), /stopped cleanly\s*$/)
})
