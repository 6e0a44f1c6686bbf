import type { CliCommand } from './command.js'
import { bootstrapCommand } from './commands/bootstrap.js'
import { demoCommand } from './commands/demo.js'
import { depositCommand } from './commands/deposit.js'
import { gatewayCommand } from './commands/gateway.js'
import { idCommand } from './commands/id.js'
import { jobsCommand } from './commands/jobs.js'
import { modelsCommand } from './commands/models.js'
import { orchestratorCommand } from './commands/orchestrator.js'
import { peerCommand } from './commands/peer.js'
import { runCommand } from './commands/run.js'
import { submitCommand } from './commands/submit.js'
import { ticketsCommand } from './commands/tickets.js'
import { unlockCommand } from './commands/unlock.js'
import { walletCommand } from './commands/wallet.js'
import { withdrawCommand } from './commands/withdraw.js'

// Every command of the framemesh CLI, in the order `--help` lists them.
export const commands: CliCommand[] = [
  demoCommand,
  bootstrapCommand,
  peerCommand,
  orchestratorCommand,
  gatewayCommand,
  idCommand,
  modelsCommand,
  runCommand,
  submitCommand,
  jobsCommand,
  walletCommand,
  depositCommand,
  unlockCommand,
  withdrawCommand,
  ticketsCommand,
]
