// A real crash (SIGKILL of the redeeming process) at the riskiest moments, then a restart.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import anyTest, { type TestFn } from 'ava'
import { TicketBrokerClient } from '../../src/tickets/broker.js'
import { type DevChain, startDevChain } from '../../src/tickets/devchain.js'
import { RedemptionService } from '../../src/tickets/redemption.js'
import { RedemptionStore } from '../../src/tickets/redemption-store.js'
import { ticketHashHex } from '../../src/tickets/ticket.js'
import { addressOf, currentTicket, ETH, walletOf } from './chain-fixtures.js'

interface Ctx {
  chain: DevChain
  dir: string
  reader: TicketBrokerClient
}

const test = anyTest as TestFn<Ctx>
const SENDER = 1
const FACE = ETH / 100n
const child = fileURLToPath(new URL('./redemption-crash-child.ts', import.meta.url))

test.before(async (t) => {
  const chain = await startDevChain({ accounts: 4 })
  const sender = new TicketBrokerClient({ wallet: walletOf(chain, SENDER) }, chain.clientOptions)
  await sender.fundDeposit(ETH)
  sender.close()
  const reader = new TicketBrokerClient({}, chain.clientOptions)
  t.context = { chain, reader, dir: mkdtempSync(join(tmpdir(), 'framemesh-crash-')) }
})

test.after.always(async (t) => {
  t.context.reader?.close()
  await t.context.chain?.stop()
  if (t.context.dir !== undefined) rmSync(t.context.dir, { recursive: true, force: true })
})

/** Runs the child until it kills itself; resolves with the signal it died of. */
function runChild(env: Record<string, string>): Promise<NodeJS.Signals | null> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', '--no-warnings', child], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
      signal: AbortSignal.timeout(60_000),
    })
    let stderr = ''
    proc.stderr.on('data', (d) => {
      stderr += String(d)
    })
    proc.on('error', reject)
    proc.on('exit', (code, signal) =>
      signal === null ? reject(new Error(`child exited ${code}: ${stderr}`)) : resolve(signal),
    )
  })
}

for (const crashAt of ['before-broadcast', 'after-broadcast'] as const) {
  test.serial(
    `a redeemer killed ${crashAt.replace('-', ' ')} loses no ticket and pays it exactly once after restart`,
    async (t) => {
      const { chain, reader, dir } = t.context
      const recipient = crashAt === 'before-broadcast' ? 2 : 3
      const db = join(dir, `${crashAt}.db`)
      const wt = await currentTicket(reader, {
        senderKey: walletOf(chain, SENDER).privateKey,
        recipient: addressOf(chain, recipient),
        faceValue: FACE,
      })
      const hash = ticketHashHex(wt.ticket)
      const before = await reader.getBalance(addressOf(chain, recipient))

      const signal = await runChild({
        CRASH_AT: crashAt,
        TICKET: JSON.stringify(wt, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)),
        RECIPIENT_KEY: chain.accounts[recipient].privateKey,
        RPC: chain.rpcUrl,
        BROKER: chain.contractAddress,
        CHAIN_ID: String(chain.chainId),
        DB: db,
      })
      t.is(signal, 'SIGKILL')

      // What the crash left on disk: the ticket mid-redemption with its transaction recorded.
      const store = new RedemptionStore(db)
      t.is(store.get(hash)?.status, 'redeeming')
      const [recorded] = store.txsOf(hash)
      t.truthy(recorded)
      store.close()
      t.is(await reader.isTicketUsed(hash), crashAt === 'after-broadcast')

      const client = new TicketBrokerClient({ wallet: walletOf(chain, recipient) }, chain.clientOptions)
      const service = new RedemptionService({ broker: client }, { dbPath: db })
      const redeemed =
        crashAt === 'before-broadcast' ? service.waitFor((e) => e.type === 'redeemed') : undefined
      await service.start()
      await redeemed
      const record = service.get(hash)!
      t.is(record.status, 'redeemed')
      t.is(record.paid, FACE)
      if (crashAt === 'after-broadcast') t.is(record.txHash, recorded.txHash) // settled from the receipt, not resent
      t.is((await reader.getBalance(addressOf(chain, recipient))) - before + record.fee!, FACE)
      await service.close()
      client.close()
    },
  )
}
