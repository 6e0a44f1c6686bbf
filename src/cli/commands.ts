import type { CliCommand } from './command.js'

// Every command of the framemesh CLI, in the order `--help` lists them.
export const commands: CliCommand[] = []
