/**
 * `npm start` as a newcomer runs it: no configuration, the whole local mesh, one sample job.
 * Spawned as a real child process (with --once so it stops by itself after the sample job).
 */
import { spawn } from 'node:child_process'
import test from 'ava'

test('`npm start -- --once` brings up the local mesh, upscales the sample clip across it and stops cleanly', async (t) => {
  const child = spawn('npm', ['start', '--silent', '--', '--once', '--port', '0'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { ...process.env, FRAMEMESH_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => {
    out += d
  })
  child.stderr.on('data', (d) => {
    err += d
  })
  const timer = setTimeout(() => child.kill('SIGTERM'), 100_000)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  t.is(code, 0, `${out}\n${err}`)
  t.regex(out, /orchestrator 3 /)
  t.regex(out, /dashboard: http:\/\/127\.0\.0\.1:\d+\/dashboard\//)
  t.regex(out, /sample job done in [\d.]+ s/, `${out}\n${err}`)
  const [, done, total] = /frames (\d+) of (\d+), peers /.exec(out) ?? []
  t.true(Number(done) > 0)
  t.is(done, total)
  t.regex(out, /stopped cleanly\s*$/)
  // A newcomer reads any warning as something broken (ganache's server once leaked listeners here).
  t.notRegex(err, /Warning/, err)
})

test('Ctrl-C while the mesh is still starting stops what had started and says so, without an error: exit 130', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--port', '0'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { ...process.env, FRAMEMESH_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  let interrupted = false
  child.stdout.on('data', (d) => {
    out += d
    // Once: a second Ctrl-C is the user insisting, and kills the process outright.
    if (!interrupted && out.includes('starting a local mesh')) {
      interrupted = true
      child.kill('SIGINT')
    }
  })
  child.stderr.on('data', (d) => {
    err += d
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 100_000)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  t.is(code, 130, `${out}\n${err}`)
  t.notRegex(out, /mesh up in/, 'the interrupt landed after the mesh was up')
  t.regex(err, /^framemesh demo: stopped by SIGINT before it finished\s*$/, err)
})

test('the demo keeps serving the dashboard until SIGINT, then stops everything and exits 0', async (t) => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--port', '0', '--seconds', '1'],
    {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, FRAMEMESH_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  const serving = new Promise<string>((resolve) => {
    child.stdout.on('data', (d) => {
      out += d
      const url = /serving the dashboard at (\S+)/.exec(out)?.[1]
      if (url !== undefined) resolve(url)
    })
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 100_000)
  const dashboard = await serving
  const page = await fetch(dashboard)
  t.is(page.status, 200)
  t.regex(await page.text(), /framemesh dashboard/)
  child.kill('SIGINT')
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  t.is(code, 0, out)
  t.regex(out, /stopped cleanly\s*$/)
})
