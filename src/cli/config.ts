/**
 * CLI configuration from three sources, later ones winning: a JSON file (`--config <file>` or
 * FRAMEMESH_CONFIG), FRAMEMESH_* environment variables, then flags. Each command declares the keys
 * it reads as a spec (name, kind, flag, env var, default, help); errors name the bad key and where
 * it came from. Other areas add their own keys by spreading `PEER_CONFIG` into a bigger spec.
 */
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { FramemeshError } from '../errors.js'

export type ConfigKind = 'string' | 'strings' | 'int' | 'bool'

type ValueOf<K extends ConfigKind> = K extends 'string'
  ? string
  : K extends 'strings'
    ? string[]
    : K extends 'int'
      ? number
      : boolean

export interface ConfigKey<K extends ConfigKind = ConfigKind> {
  kind: K
  help: string
  /** Flag without dashes, e.g. 'data-dir'; defaults to the key name in kebab case. */
  flag?: string
  /** A one-letter form too, e.g. 'o' for -o. */
  short?: string
  /** Environment variable; defaults to FRAMEMESH_<KEY_IN_SNAKE_CASE>. */
  env?: string
  default?: ValueOf<K>
  /** For 'int': inclusive bounds. */
  min?: number
  max?: number
  /** For 'string': allowed values. */
  choices?: readonly string[]
  /** Resolve a relative path against the working directory (for paths). */
  path?: boolean
}

export type ConfigSpec = Record<string, ConfigKey>

export type Config<S extends ConfigSpec> = {
  [N in keyof S]: S[N] extends { default: unknown }
    ? ValueOf<S[N]['kind']>
    : ValueOf<S[N]['kind']> | undefined
}

export class ConfigError extends FramemeshError {}

/** The keys every networked command understands. */
export const PEER_CONFIG = {
  dataDir: {
    kind: 'string',
    help: 'directory for the identity key and other state',
    default: join(homedir(), '.framemesh'),
    path: true,
  },
  listen: {
    kind: 'strings',
    help: 'multiaddr to listen on (repeat for several)',
    default: ['/ip4/127.0.0.1/tcp/0'],
  },
  announce: {
    kind: 'strings',
    help: 'public multiaddr to advertise instead of the listen ones (repeatable)',
  },
  bootstrap: { kind: 'strings', help: 'bootstrap node multiaddr with /p2p/<id> (repeatable)' },
  mdns: { kind: 'bool', help: 'find peers on the local network by multicast DNS', default: false },
  maxConnections: { kind: 'int', help: 'most open connections', default: 100, min: 1, max: 100_000 },
  metricsPort: {
    kind: 'int',
    help: 'serve Prometheus metrics on this port (off when unset)',
    min: 0,
    max: 65535,
  },
  metricsHost: { kind: 'string', help: 'address the metrics endpoint binds to', default: '127.0.0.1' },
  logLevel: {
    kind: 'string',
    help: 'debug, info, warn, error or silent',
    default: 'info',
    choices: ['debug', 'info', 'warn', 'error', 'silent'],
  },
  logFormat: { kind: 'string', help: 'pretty or json', default: 'pretty', choices: ['pretty', 'json'] },
} as const satisfies ConfigSpec

export interface ConfigSources {
  argv: string[]
  env: NodeJS.ProcessEnv
  cwd: string
}

export interface LoadedConfig<S extends ConfigSpec> {
  config: Config<S>
  /** Arguments that are not flags, in order. */
  positionals: string[]
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()
export const flagOf = (name: string, key: ConfigKey) => key.flag ?? kebab(name)
export const envOf = (name: string, key: ConfigKey) => key.env ?? `FRAMEMESH_${snake(name)}`

/** Reads the config for `spec`; throws ConfigError naming the key and source of any bad value. */
export async function loadConfig<S extends ConfigSpec>(
  spec: S,
  sources: ConfigSources,
): Promise<LoadedConfig<S>> {
  const { flags, positionals, configFile } = parseArgv(spec, sources.argv)
  const values: Record<string, unknown> = {}
  for (const [name, key] of Object.entries(spec)) {
    if (key.default !== undefined) values[name] = key.default
  }

  const file = configFile ?? sources.env.FRAMEMESH_CONFIG
  if (file !== undefined && file !== '') {
    const path = isAbsolute(file) ? file : resolve(sources.cwd, file)
    for (const [name, raw] of Object.entries(await readConfigFile(path))) {
      const key = spec[name]
      if (key === undefined) {
        throw new ConfigError(
          'ERR_CONFIG_UNKNOWN_KEY',
          `config file ${path}: unknown key '${name}'; known keys: ${Object.keys(spec).join(', ')}`,
        )
      }
      values[name] = fromJson(name, key, raw, `config file ${path}`)
    }
  }

  for (const [name, key] of Object.entries(spec)) {
    const envName = envOf(name, key)
    const raw = sources.env[envName]
    if (raw !== undefined && raw !== '')
      values[name] = fromText(name, key, raw, `environment variable ${envName}`)
  }

  for (const [name, raws] of flags) {
    const key = spec[name]!
    const where = `flag --${flagOf(name, key)}`
    values[name] =
      key.kind === 'strings'
        ? raws.flatMap((r) => fromText(name, key, r, where) as string[])
        : fromText(name, key, raws[raws.length - 1]!, where)
  }

  for (const [name, key] of Object.entries(spec)) {
    if (key.path === true && typeof values[name] === 'string')
      values[name] = resolve(sources.cwd, values[name])
  }
  return { config: values as Config<S>, positionals }
}

function parseArgv(spec: ConfigSpec, argv: string[]) {
  const byFlag = new Map<string, string>()
  const byShort = new Map<string, string>()
  for (const [name, key] of Object.entries(spec)) {
    byFlag.set(flagOf(name, key), name)
    if (key.short !== undefined) byShort.set(`-${key.short}`, `--${flagOf(name, key)}`)
  }
  const flags = new Map<string, string[]>()
  const positionals: string[] = []
  let configFile: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = byShort.get(argv[i]!) ?? argv[i]!
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg)
      continue
    }
    const eq = arg.indexOf('=')
    let flag = eq === -1 ? arg.slice(2) : arg.slice(2, eq)
    let inline = eq === -1 ? undefined : arg.slice(eq + 1)
    if (flag === 'config') {
      configFile = inline ?? argv[++i]
      if (configFile === undefined)
        throw new ConfigError('ERR_CONFIG_INVALID', 'flag --config needs a file path')
      continue
    }
    let negated = false
    if (
      !byFlag.has(flag) &&
      flag.startsWith('no-') &&
      spec[byFlag.get(flag.slice(3)) ?? '']?.kind === 'bool'
    ) {
      flag = flag.slice(3)
      negated = true
    }
    const name = byFlag.get(flag)
    if (name === undefined) {
      throw new ConfigError(
        'ERR_UNKNOWN_FLAG',
        `unknown flag --${flag}; this command takes: ${[...byFlag.keys()].map((f) => `--${f}`).join(', ')}, --config`,
      )
    }
    const key = spec[name]!
    if (key.kind === 'bool') {
      if (negated) inline = 'false'
      // A bare boolean flag means true; `--mdns=false` works too.
      inline ??= argv[i + 1] === 'true' || argv[i + 1] === 'false' ? argv[++i] : 'true'
    } else if (inline === undefined) {
      inline = argv[++i]
      if (inline === undefined || inline.startsWith('--')) {
        throw new ConfigError('ERR_CONFIG_INVALID', `flag --${flag} needs a value (${key.help})`)
      }
    }
    const list = flags.get(name) ?? []
    list.push(inline)
    flags.set(name, list)
  }
  return { flags, positionals, configFile }
}

async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError('ERR_CONFIG_FILE', `cannot read config file ${path}: ${(err as Error).message}`, {
      cause: err,
    })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(
      'ERR_CONFIG_FILE',
      `config file ${path} is not valid JSON: ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError('ERR_CONFIG_FILE', `config file ${path} must hold a JSON object of settings`)
  }
  return parsed as Record<string, unknown>
}

function invalid(name: string, where: string, expected: string, got: unknown): ConfigError {
  return new ConfigError(
    'ERR_CONFIG_INVALID',
    `${where}: '${name}' must be ${expected}, got ${JSON.stringify(got)}`,
    { details: { key: name, source: where } },
  )
}

function fromJson(name: string, key: ConfigKey, raw: unknown, where: string): unknown {
  switch (key.kind) {
    case 'strings':
      if (typeof raw === 'string') return checkString(name, key, raw, where) && [raw]
      if (!Array.isArray(raw) || raw.some((v) => typeof v !== 'string')) {
        throw invalid(name, where, 'an array of strings', raw)
      }
      return raw
    case 'int':
      return checkInt(name, key, raw, where)
    case 'bool':
      if (typeof raw !== 'boolean') throw invalid(name, where, 'true or false', raw)
      return raw
    default:
      if (typeof raw !== 'string') throw invalid(name, where, 'a string', raw)
      checkString(name, key, raw, where)
      return raw
  }
}

function fromText(name: string, key: ConfigKey, raw: string, where: string): unknown {
  switch (key.kind) {
    case 'strings':
      // Env vars and flags may list several values separated by commas.
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
    case 'int':
      return checkInt(name, key, /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw, where)
    case 'bool': {
      const v = raw.trim().toLowerCase()
      if (['1', 'true', 'yes', 'on'].includes(v)) return true
      if (['0', 'false', 'no', 'off'].includes(v)) return false
      throw invalid(name, where, 'true or false', raw)
    }
    default:
      checkString(name, key, raw, where)
      return raw
  }
}

function checkInt(name: string, key: ConfigKey, raw: unknown, where: string): number {
  if (typeof raw !== 'number' || !Number.isSafeInteger(raw)) throw invalid(name, where, 'an integer', raw)
  if ((key.min !== undefined && raw < key.min) || (key.max !== undefined && raw > key.max)) {
    throw invalid(name, where, `an integer from ${key.min ?? '-∞'} to ${key.max ?? '∞'}`, raw)
  }
  return raw
}

function checkString(name: string, key: ConfigKey, raw: string, where: string): true {
  if (key.choices !== undefined && !key.choices.includes(raw)) {
    throw invalid(name, where, `one of ${key.choices.join(', ')}`, raw)
  }
  return true
}

/** The options section of a command's --help, generated from its spec. */
export function configHelp(spec: ConfigSpec): string {
  const rows = Object.entries(spec).map(([name, key]) => {
    const value = key.kind === 'bool' ? '' : key.kind === 'int' ? ' <n>' : ' <value>'
    const def =
      key.default === undefined
        ? ''
        : ` (default ${Array.isArray(key.default) ? key.default.join(',') : String(key.default)})`
    const short = key.short === undefined ? '' : `-${key.short}, `
    return [`  ${short}--${flagOf(name, key)}${value}`, `${key.help}${def}; env ${envOf(name, key)}`]
  })
  rows.push([
    '  --config <file>',
    'JSON file of settings (keys as in this list, camelCase); env FRAMEMESH_CONFIG',
  ])
  const width = Math.max(...rows.map((r) => r[0]!.length))
  return [
    'options (flags override FRAMEMESH_* env vars, which override the config file):',
    ...rows.map(([a, b]) => `${a!.padEnd(width)}  ${b}`),
  ].join('\n')
}
