import './quiet-warnings.js'
import type { CliContext } from './command.js'
import { commands } from './commands.js'

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 4)
  return [
    'usage: framemesh <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `framemesh <command> --help` for the options of one command.',
  ].join('\n')
}

/** Exit codes for a command cut short by a signal (128 + its number, as shells report them). */
const INTERRUPTED_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 }

/** An abort anywhere in the error's cause chain: our own AbortedError or a platform AbortError. */
function isAbort(err: unknown): boolean {
  let e = err
  for (let depth = 0; depth < 8 && typeof e === 'object' && e !== null; depth++) {
    const { code, name, cause } = e as { code?: unknown; name?: unknown; cause?: unknown }
    if (code === 'ERR_ABORTED' || name === 'AbortError') return true
    e = cause
  }
  return false
}

export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController()
  let stoppedBy: string | undefined
  const stop = (signal: NodeJS.Signals) => {
    stoppedBy ??= signal
    controller.abort()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const [name, ...rest] = argv
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      console.log(usage())
      return name === undefined ? 1 : 0
    }
    const command = commands.find((c) => c.name === name)
    if (command === undefined) {
      console.error(`framemesh: unknown command '${name}'.\n\n${usage()}`)
      return 2
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(command.help)
      return 0
    }
    const ctx: CliContext = {
      argv: rest,
      env: process.env,
      cwd: process.cwd(),
      stdout: (line) => process.stdout.write(line + '\n'),
      stderr: (line) => process.stderr.write(line + '\n'),
      signal: controller.signal,
    }
    return await command.run(ctx)
  } catch (err) {
    if (stoppedBy !== undefined && isAbort(err)) {
      // Ctrl-C while starting up or mid-job: what stopped is what was asked for, not an error.
      // Our own aborts may say what was cut short and what to do (submit: where the job goes on).
      const said = (err as { code?: unknown }).code === 'ERR_ABORTED' ? `; ${(err as Error).message}` : ''
      console.error(`framemesh ${name}: stopped by ${stoppedBy} before it finished${said}`)
      return INTERRUPTED_EXIT[stoppedBy] ?? 1
    }
    const e = err as { code?: string; message?: string }
    console.error(
      `framemesh ${name}: ${e.code === undefined ? '' : `[${e.code}] `}${e.message ?? String(err)}`,
    )
    return 1
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}

const isEntry = import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/cli/main.ts')
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (err) => {
      console.error(err)
      process.exitCode = 1
    },
  )
}
