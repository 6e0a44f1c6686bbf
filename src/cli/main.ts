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

export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController()
  const stop = () => controller.abort()
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
