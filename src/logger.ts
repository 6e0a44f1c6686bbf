/**
 * Structured logging with levels. Components take a Logger in, never reach for a global one;
 * `createLogger` writes one JSON object per line (or a readable line when `pretty`).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
  child(name: string): Logger
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

export interface LoggerOptions {
  level?: LogLevel
  name?: string
  pretty?: boolean
  write?: (line: string) => void
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info'
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'))
  const pretty = options.pretty ?? false
  const make = (name: string | undefined): Logger => {
    const emit = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => {
      if (rank[lvl] < rank[level]) return
      if (pretty) {
        const extra = fields === undefined ? '' : ' ' + JSON.stringify(fields, jsonSafe)
        write(`${lvl.padEnd(5)} ${name === undefined ? '' : `[${name}] `}${msg}${extra}`)
      } else {
        write(JSON.stringify({ t: new Date().toISOString(), level: lvl, name, msg, ...fields }, jsonSafe))
      }
    }
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (child) => make(name === undefined ? child : `${name}:${child}`),
    }
  }
  return make(options.name)
}

/** A logger that drops everything: the default where a caller gives none. */
export const silentLogger: Logger = createLogger({ level: 'silent' })

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Error) return { message: value.message, code: (value as { code?: string }).code }
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`
  return value
}
