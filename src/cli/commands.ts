import type { CliCommand } from './command.js'
import { bootstrapCommand } from './commands/bootstrap.js'
import { demoCommand } from './commands/demo.js'
import { idCommand } from './commands/id.js'
import { modelsCommand } from './commands/models.js'
import { peerCommand } from './commands/peer.js'
import { runCommand } from './commands/run.js'

// Every command of the framemesh CLI, in the order `--help` lists them.
export const commands: CliCommand[] = [
  demoCommand,
  bootstrapCommand,
  peerCommand,
  idCommand,
  modelsCommand,
  runCommand,
]
