import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { type ConfigSpec, configHelp, loadConfig, PEER_CONFIG } from '../../src/cli/config.js'

async function tempDir(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'framemesh-config-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function configFile(t: import('ava').ExecutionContext, content: unknown): Promise<string> {
  const dir = await tempDir(t)
  const path = join(dir, 'framemesh.json')
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

test('flags override env vars, which override the config file, which overrides defaults', async (t) => {
  const cwd = await tempDir(t)
  const file = await configFile(t, {
    maxConnections: 10,
    logLevel: 'debug',
    dataDir: 'from-file',
    mdns: true,
  })
  const env = { FRAMEMESH_CONFIG: file, FRAMEMESH_MAX_CONNECTIONS: '20', FRAMEMESH_LOG_LEVEL: 'warn' }
  const { config } = await loadConfig(PEER_CONFIG, { argv: ['--max-connections', '30'], env, cwd })
  t.is(config.maxConnections, 30, 'flag beats env and file')
  t.is(config.logLevel, 'warn', 'env beats file')
  t.is(config.dataDir, join(cwd, 'from-file'), 'file beats default; relative paths resolve against cwd')
  t.true(config.mdns)
  t.is(config.metricsHost, '127.0.0.1', 'default when no source sets it')
  t.is(config.bootstrap, undefined)
})

test('--config on the command line names the file; --flag=value, repeats and commas all work', async (t) => {
  const file = await configFile(t, { bootstrap: ['/ip4/1.2.3.4/tcp/1/p2p/a'] })
  const { config, positionals } = await loadConfig(PEER_CONFIG, {
    argv: [
      'pos',
      `--config=${file}`,
      '--listen',
      '/ip4/0.0.0.0/tcp/1',
      '--listen=/ip4/0.0.0.0/tcp/2,/ip4/0.0.0.0/tcp/3/ws',
      '--no-mdns',
    ],
    env: { FRAMEMESH_MDNS: 'true' },
    cwd: '/',
  })
  t.deepEqual(config.listen, ['/ip4/0.0.0.0/tcp/1', '/ip4/0.0.0.0/tcp/2', '/ip4/0.0.0.0/tcp/3/ws'])
  t.deepEqual(config.bootstrap, ['/ip4/1.2.3.4/tcp/1/p2p/a'])
  t.false(config.mdns)
  t.deepEqual(positionals, ['pos'])
})

test('an unknown key in the config file is named in ERR_CONFIG_UNKNOWN_KEY', async (t) => {
  const file = await configFile(t, { maxConnectoins: 5 })
  const err = await t.throwsAsync(loadConfig(PEER_CONFIG, { argv: ['--config', file], env: {}, cwd: '/' }))
  t.is((err as { code?: string }).code, 'ERR_CONFIG_UNKNOWN_KEY')
  t.regex(err!.message, /maxConnectoins/)
})

test('a bad value is rejected with ERR_CONFIG_INVALID naming the key and its source', async (t) => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [[], { FRAMEMESH_MAX_CONNECTIONS: 'lots' }, /FRAMEMESH_MAX_CONNECTIONS.*maxConnections/],
    [['--metrics-port', '70000'], {}, /--metrics-port.*metricsPort/],
    [['--log-level', 'loud'], {}, /--log-level.*logLevel.*one of/],
    [[], { FRAMEMESH_MDNS: 'maybe' }, /FRAMEMESH_MDNS.*mdns/],
  ]
  for (const [argv, env, message] of cases) {
    const err = await t.throwsAsync(loadConfig(PEER_CONFIG, { argv, env, cwd: '/' }))
    t.is((err as { code?: string }).code, 'ERR_CONFIG_INVALID', err?.message)
    t.regex(err!.message, message)
  }
  const file = await configFile(t, { listen: 5 })
  const err = await t.throwsAsync(loadConfig(PEER_CONFIG, { argv: ['--config', file], env: {}, cwd: '/' }))
  t.regex(err!.message, /config file .*'listen' must be an array of strings/)
})

test('an unknown flag fails with ERR_UNKNOWN_FLAG listing the flags the command takes', async (t) => {
  const err = await t.throwsAsync(loadConfig(PEER_CONFIG, { argv: ['--bootstarp', 'x'], env: {}, cwd: '/' }))
  t.is((err as { code?: string }).code, 'ERR_UNKNOWN_FLAG')
  t.regex(err!.message, /--bootstarp.*--bootstrap/)
})

test('a config file that is not JSON fails with ERR_CONFIG_FILE', async (t) => {
  const file = await configFile(t, '{ not json')
  const err = await t.throwsAsync(
    loadConfig(PEER_CONFIG, { argv: [], env: { FRAMEMESH_CONFIG: file }, cwd: '/' }),
  )
  t.is((err as { code?: string }).code, 'ERR_CONFIG_FILE')
})

test('the help text lists every flag with its env var and default', (t) => {
  const spec = { port: { kind: 'int', help: 'a port', default: 4001 } } as const satisfies ConfigSpec
  const help = configHelp(spec)
  t.regex(help, /--port <n> +a port \(default 4001\); env FRAMEMESH_PORT/)
  t.regex(help, /--config <file>/)
})

test('a key with a short form takes -x as its flag, also for a value that is itself "-", and help shows both', async (t) => {
  const spec = {
    output: { kind: 'string', short: 'o', help: 'where to write' },
  } as const satisfies ConfigSpec
  const cwd = await tempDir(t)
  const dash = await loadConfig(spec, { argv: ['in.png', '-o', '-'], env: {}, cwd })
  t.is(dash.config.output, '-')
  t.deepEqual(dash.positionals, ['in.png'])
  const file = await loadConfig(spec, { argv: ['-o', 'out.png', 'in.png'], env: {}, cwd })
  t.is(file.config.output, 'out.png')
  t.regex(configHelp(spec), /^ {2}-o, --output <value> {2}where to write; env FRAMEMESH_OUTPUT$/m)
})
