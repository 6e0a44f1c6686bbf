/**
 * The contract every `framemesh <command>` implements. Commands are listed in one table
 * (commands.ts); main.ts only dispatches, so adding a command is one file and one line.
 */
export interface CliContext {
  argv: string[]
  env: NodeJS.ProcessEnv
  cwd: string
  stdout: (line: string) => void
  stderr: (line: string) => void
  /** Fires on SIGINT/SIGTERM: long-running commands stop cleanly when it does. */
  signal: AbortSignal
}

export interface CliCommand {
  name: string
  /** One line for `framemesh --help`. */
  summary: string
  /** The full text for `framemesh <name> --help`. */
  help: string
  /** Returns the process exit code. */
  run(ctx: CliContext): Promise<number>
}
