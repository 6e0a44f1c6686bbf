// The payment commands (wallet, deposit, unlock, withdraw, tickets status) against a real dev chain.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import anyTest, { type TestFn } from 'ava'
import { JsonRpcProvider, Wallet } from 'ethers'
import type { CliCommand, CliContext } from '../../src/cli/command.js'
import { depositCommand } from '../../src/cli/commands/deposit.js'
import { ticketsCommand } from '../../src/cli/commands/tickets.js'
import { unlockCommand } from '../../src/cli/commands/unlock.js'
import { walletCommand } from '../../src/cli/commands/wallet.js'
import { withdrawCommand } from '../../src/cli/commands/withdraw.js'
import { type DevChain, startDevChain } from '../../src/tickets/devchain.js'
import { RedemptionStore, redemptionDbPath } from '../../src/tickets/redemption-store.js'
import { ETH, makeTicket, walletOf } from './chain-fixtures.js'

interface Ctx {
  chain: DevChain
  dir: string
}

const test = anyTest as TestFn<Ctx>
const PASSWORD = 'correct horse battery staple'

test.before(async (t) => {
  const chain = await startDevChain({ accounts: 3, roundLength: 10, unlockPeriod: 1 })
  t.context = { chain, dir: mkdtempSync(join(tmpdir(), 'framemesh-cli-')) }
})

test.after.always(async (t) => {
  await t.context.chain?.stop()
  if (t.context.dir !== undefined) rmSync(t.context.dir, { recursive: true, force: true })
})

/** Runs a command in-process; returns its exit code and stdout lines (JSON-parsed when --json). */
async function run(ctx: Ctx, command: CliCommand, argv: string[], env: Record<string, string> = {}) {
  const out: string[] = []
  const cli: CliContext = {
    argv: [...argv, '--data-dir', ctx.dir],
    env: { FRAMEMESH_WALLET_PASSWORD: PASSWORD, ...env },
    cwd: ctx.dir,
    stdout: (line) => out.push(line),
    stderr: () => {},
    signal: AbortSignal.timeout(60_000),
  }
  const code = await command.run(cli)
  return { code, out, json: () => JSON.parse(out.join('\n')) as Record<string, string> }
}

function chainFlags(chain: DevChain): string[] {
  return ['--rpc', chain.rpcUrl, '--broker', chain.contractAddress, '--json']
}

test.serial(
  'wallet new writes a 0600 keystore; show reads its address without a password; a second new refuses',
  async (t) => {
    const created = await run(t.context, walletCommand, ['new', '--json', '--scrypt-n', '1024'])
    t.is(created.code, 0)
    const { address, path } = created.json()
    t.regex(address, /^0x[0-9a-f]{40}$/)
    t.is(statSync(path).mode & 0o777, 0o600)
    const shown = await run(t.context, walletCommand, ['show', '--json'], { FRAMEMESH_WALLET_PASSWORD: '' })
    t.is(shown.json().address, address)
    await t.throwsAsync(run(t.context, walletCommand, ['new', '--scrypt-n', '1024']), {
      code: 'ERR_WALLET_EXISTS',
    } as never)
  },
)

test.serial('deposit, unlock and withdraw move funds through the broker', async (t) => {
  const { chain } = t.context
  const { address } = (await run(t.context, walletCommand, ['show', '--json'])).json()
  // Give the new wallet ETH for value and gas.
  const provider = new JsonRpcProvider(chain.rpcUrl, chain.chainId, { staticNetwork: true })
  const funder = walletOf(chain, 1).connect(provider)
  await (await funder.sendTransaction({ to: address, value: 5n * ETH })).wait()
  provider.destroy()

  const funded = await run(t.context, depositCommand, [
    '--deposit',
    '1',
    '--reserve',
    '500000000gwei',
    ...chainFlags(chain),
  ])
  t.like(funded.json(), { deposit: String(ETH), reserve: String(ETH / 2n) })
  const shown = (await run(t.context, walletCommand, ['show', ...chainFlags(chain)])).json()
  t.like(shown, { deposit: String(ETH), reserve: String(ETH / 2n), withdrawRound: '0' })

  await t.throwsAsync(run(t.context, withdrawCommand, chainFlags(chain)), {
    code: 'ERR_NO_UNLOCK_IN_PROGRESS',
  } as never)
  const unlocked = (await run(t.context, unlockCommand, chainFlags(chain))).json()
  t.is(BigInt(unlocked.withdrawRound), BigInt(unlocked.round) + 1n)
  await t.throwsAsync(run(t.context, withdrawCommand, chainFlags(chain)), {
    code: 'ERR_SENDER_LOCKED',
  } as never)

  await chain.mine(chain.roundLength)
  const withdrawn = (await run(t.context, withdrawCommand, chainFlags(chain))).json()
  t.like(withdrawn, { deposit: String(ETH), reserve: String(ETH / 2n) })
  t.like((await run(t.context, walletCommand, ['show', ...chainFlags(chain)])).json(), {
    deposit: '0',
    reserve: '0',
  })
})

test.serial(
  'with --wallet-key (dev chains) deposit and wallet show use that key; a key with too little ETH gets ERR_INSUFFICIENT_FUNDS naming the wallet',
  async (t) => {
    const { chain } = t.context
    const funded = chain.accounts[2]!
    const keyFlags = ['--wallet-key', funded.privateKey, ...chainFlags(chain)]
    // No password anywhere: the raw key replaces the keystore.
    const noPassword = { FRAMEMESH_WALLET_PASSWORD: '' }
    const deposited = await run(t.context, depositCommand, ['--deposit', '0.25', ...keyFlags], noPassword)
    t.like(deposited.json(), { deposit: String(ETH / 4n) })
    const shown = (await run(t.context, walletCommand, ['show', ...keyFlags], noPassword)).json()
    t.like(shown, { address: funded.address.toLowerCase(), deposit: String(ETH / 4n) })
    t.false('path' in shown)

    const empty = Wallet.createRandom()
    const refused = await t.throwsAsync(
      run(t.context, depositCommand, [
        '--deposit',
        '1',
        '--wallet-key',
        empty.privateKey,
        ...chainFlags(chain),
      ]),
      { code: 'ERR_INSUFFICIENT_FUNDS' } as never,
    )
    t.regex(
      refused!.message,
      new RegExp(`${empty.address.toLowerCase()} holds 0\\.0 ETH but this sends 1\\.0 ETH`),
    )

    await t.throwsAsync(run(t.context, walletCommand, ['new', '--wallet-key', funded.privateKey]), {
      code: 'ERR_USAGE',
      message: /--import-key-file/,
    } as never)
    await t.throwsAsync(
      run(t.context, depositCommand, ['--deposit', '1', '--wallet-key', '0x1234', ...chainFlags(chain)]),
      {
        code: 'ERR_CONFIG_INVALID',
      } as never,
    )
  },
)

test.serial('a wrong wallet password fails with ERR_WALLET_PASSWORD', async (t) => {
  await t.throwsAsync(
    run(t.context, depositCommand, ['--deposit', '1', ...chainFlags(t.context.chain)], {
      FRAMEMESH_WALLET_PASSWORD: 'nope',
    }),
    { code: 'ERR_WALLET_PASSWORD' } as never,
  )
})

test.serial('bad amounts and a missing --rpc are usage errors', async (t) => {
  await t.throwsAsync(run(t.context, depositCommand, ['--deposit', 'lots', ...chainFlags(t.context.chain)]), {
    code: 'ERR_USAGE',
  } as never)
  await t.throwsAsync(run(t.context, depositCommand, ['--deposit', '1']), { code: 'ERR_USAGE' } as never)
  await t.throwsAsync(
    run(t.context, depositCommand, [
      '--deposit',
      '1',
      '--rpc',
      t.context.chain.rpcUrl,
      '--broker',
      Wallet.createRandom().address,
    ]),
    {
      code: 'ERR_BROKER_NOT_FOUND',
    } as never,
  )
})

test.serial('tickets status totals the redemption database', async (t) => {
  const store = new RedemptionStore(redemptionDbPath(t.context.dir))
  const spec = {
    senderKey: walletOf(t.context.chain, 1).privateKey,
    recipient: `0x${'11'.repeat(20)}` as const,
    faceValue: ETH / 10n,
    creationRound: 1n,
    creationRoundBlockHash: `0x${'22'.repeat(32)}` as const,
  }
  const redeemed = store.insert(makeTicket(spec), 1)!
  store.insert(makeTicket(spec), 2)
  const failed = store.insert(makeTicket(spec), 3)!
  store.markRedeemed(
    redeemed,
    { txHash: `0x${'33'.repeat(32)}`, paid: ETH / 10n, gasUsed: 80_000n, fee: 1000n },
    4,
  )
  store.markFailed(failed, { code: 'ERR_TICKET_EXPIRED', message: 'too old' }, 5)
  store.close()
  const status = (
    await run(t.context, ticketsCommand, ['status', '--json', '--list', '5'])
  ).json() as unknown as {
    queued: { count: number; faceValue: string }
    redeemed: { count: number; paid: string; fees: string }
    failed: { count: number; byCode: Record<string, number> }
    recent: unknown[]
  }
  t.like(status.queued, { count: 1, faceValue: String(ETH / 10n) })
  t.like(status.redeemed, { count: 1, paid: String(ETH / 10n), fees: '1000' })
  t.deepEqual(status.failed.byCode, { ERR_TICKET_EXPIRED: 1 })
  t.is(status.recent.length, 3)
  const text = await run(t.context, ticketsCommand, ['status'])
  t.true(text.out.some((l) => l.startsWith('queued:    1 tickets')))
})

test.serial('tickets status on a node without a redemption database says so and creates none', async (t) => {
  const missing = redemptionDbPath(join(t.context.dir, 'none'))
  const result = await run(t.context, ticketsCommand, ['status', '--db', missing])
  t.is(result.code, 0)
  t.regex(result.out[0], /no redemption database/)
  t.false(existsSync(missing))
})
