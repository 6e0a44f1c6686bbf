// `framemesh orchestrator` against a real dev chain, bootstrap node and broadcaster on loopback.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import anyTest, { type TestFn } from 'ava'
import { Wallet } from 'ethers'
import { type BootstrapNode, createBootstrapNode } from '../../bootstrap/index.js'
import { idCommand } from '../../src/cli/commands/id.js'
import { orchestratorCommand } from '../../src/cli/commands/orchestrator.js'
import { LOCK_FILE_NAME, lockDataDir } from '../../src/cli/data-dir-lock.js'
import { type BroadcasterNode, startBroadcasterNode } from '../../src/node/broadcaster-node.js'
import { type DevChain, startDevChain } from '../../src/tickets/devchain.js'
import { createWalletFile, walletFilePath } from '../../src/tickets/wallet.js'
import { cudaInstalled } from '../inference/helpers/providers.js'
import { startCommand } from './node-harness.js'

interface Ctx {
  chain: DevChain
  bootstrap: BootstrapNode
  broadcaster: BroadcasterNode
  dir: string
}

const test = anyTest as TestFn<Ctx>
const PASSWORD = 'orchestrator test password'

test.before(async (t) => {
  const chain = await startDevChain({ accounts: 3, roundLength: 1_000 })
  const bootstrap = await createBootstrapNode({})
  const broadcaster = await startBroadcasterNode(
    {},
    {
      peer: { bootstrap: bootstrap.multiaddrs },
      chain: { rpcUrl: chain.rpcUrl, contractAddress: chain.contractAddress, chainId: chain.chainId },
      walletKey: chain.accounts[1]!.privateKey,
    },
  )
  t.context = { chain, bootstrap, broadcaster, dir: await mkdtemp(join(tmpdir(), 'framemesh-cli-orch-')) }
})

test.after.always(async (t) => {
  await t.context.broadcaster?.stop()
  await t.context.bootstrap?.stop()
  await t.context.chain?.stop()
  if (t.context.dir !== undefined) await rm(t.context.dir, { recursive: true, force: true })
})

function chainFlags(chain: DevChain): string[] {
  return ['--rpc', chain.rpcUrl, '--broker', chain.contractAddress, '--chain-id', String(chain.chainId)]
}

/** Flags that get past every check but the one a test breaks. */
function baseFlags(t: { context: Ctx }, dataDir: string): string[] {
  return [
    '--data-dir',
    dataDir,
    '--bootstrap',
    t.context.bootstrap.multiaddrs[0]!,
    ...chainFlags(t.context.chain),
    '--wallet-key',
    t.context.chain.accounts[2]!.privateKey,
    '--log-level',
    'silent',
  ]
}

test.serial(
  'framemesh orchestrator joins via the bootstrap node, its priced models reach a broadcaster’s order book, and it stops cleanly on SIGINT',
  async (t) => {
    const { chain, bootstrap, broadcaster } = t.context
    const dataDir = join(t.context.dir, 'operator')
    const account = chain.accounts[2]!
    await createWalletFile(walletFilePath(dataDir), PASSWORD, {
      privateKey: account.privateKey,
      scryptN: 1024,
    })

    const started = performance.now()
    const argv = [
      '--data-dir',
      dataDir,
      '--bootstrap',
      bootstrap.multiaddrs[0]!,
      ...chainFlags(chain),
      '--chain-poll-ms',
      '200',
      '--price',
      'esrgan-slim-x2=2000000000000',
      '--price',
      'blend=10gwei',
      '--log-level',
      'warn',
    ]
    const cmd = startCommand(orchestratorCommand, argv, {
      env: { FRAMEMESH_WALLET_PASSWORD: PASSWORD },
    })
    t.teardown(() => cmd.close())
    const ready = await cmd.line(/^orchestrator 12D3KooW\w+ ready/)
    const peerId = ready.split(' ')[1]!
    await cmd.line(/^ {2}blend/)
    t.log(`orchestrator start-up (flags to ready): ${Math.round(performance.now() - started)} ms`)
    t.true(cmd.out.includes(`payment address: ${account.address.toLowerCase()}`), cmd.out.join('\n'))
    t.true(
      cmd.out.some((l) => /^ {2}\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/.test(l)),
      cmd.out.join('\n'),
    )
    t.true(cmd.out.some((l) => /esrgan-slim-x2 +upscale +2000000000000 wei per output-megapixel/.test(l)))
    t.true(
      cmd.out.some((l) => /^balance: [1-9][\d.]* ETH/.test(l)),
      cmd.out.join('\n'),
    )
    t.false(cmd.err.some((l) => /holds no ETH/.test(l)))
    t.true(
      cmd.out.includes('inference: cpu, 1 thread per run, models on worker threads (all but the quickest)'),
      cmd.out.join('\n'),
    )

    // The advert travels orchestrator → bootstrap → broadcaster over gossip.
    const offers = () => broadcaster.mesh.offers().filter((o) => o.peerId === peerId)
    if (offers().length < 2) {
      await broadcaster.mesh.orderBook.events.waitFor('offer:added', {
        filter: () => offers().length >= 2,
        timeoutMs: 20_000,
      })
    }
    const byModel = Object.fromEntries(offers().map((o) => [o.modelId, o]))
    t.is(byModel['esrgan-slim-x2']?.pricePerUnit, 2_000_000_000_000n)
    t.is(byModel.blend?.pricePerUnit, 10_000_000_000n)
    t.is(byModel.blend?.paymentAddress.toLowerCase(), account.address.toLowerCase())
    t.is(byModel.blend?.slotsTotal, 4)

    // A second node on the same data dir would share the peer id: refused while this one runs.
    const twin = startCommand(orchestratorCommand, argv, {
      env: { FRAMEMESH_WALLET_PASSWORD: PASSWORD },
    })
    await t.throwsAsync(twin.done, {
      code: 'ERR_DATA_DIR_IN_USE',
      message: /another framemesh node \(orchestrator/,
    })

    const left = bootstrap.peer.events.waitFor('peer:disconnect', {
      filter: (e) => e.peerId === peerId,
      timeoutMs: 20_000,
    })
    cmd.stop()
    t.is(await cmd.done, 0)
    await left
    t.false(existsSync(join(dataDir, LOCK_FILE_NAME)), 'the data dir lock is released')

    // The data dir keeps the identity; `framemesh id` shows it with the wallet's payment address.
    const id = startCommand(idCommand, ['--data-dir', dataDir, '--json'])
    t.is(await id.done, 0)
    t.like(JSON.parse(id.out[0]!), { peerId, paymentAddress: account.address.toLowerCase(), created: false })
  },
)

test('an orchestrator whose wallet holds no ETH starts, and warns that it cannot redeem winning tickets until funded', async (t) => {
  const key = Wallet.createRandom()
  const flags = baseFlags(t, join(t.context.dir, 'unfunded'))
  flags[flags.indexOf('--wallet-key') + 1] = key.privateKey
  flags[flags.indexOf('--log-level') + 1] = 'warn'
  const cmd = startCommand(orchestratorCommand, [...flags, '--price', 'blend=10gwei'])
  t.teardown(() => cmd.close())
  await cmd.line(/^balance: 0\.0 ETH/)
  const warning = await cmd.errLine(/holds no ETH/)
  t.true(warning.includes(key.address.toLowerCase()), warning)
  t.regex(warning, /wait in the queue until you send it some/)
  cmd.stop()
  t.is(await cmd.done, 0)
})

test('the inference flags are taken: threads, execution provider and where models run are printed at start', async (t) => {
  const flags = baseFlags(t, join(t.context.dir, 'inference'))
  const cmd = startCommand(orchestratorCommand, [
    ...flags,
    '--price',
    'blend=10gwei',
    '--threads',
    '2',
    '--execution-provider',
    'cpu',
    '--inference-thread',
    'main',
  ])
  t.teardown(() => cmd.close())
  await cmd.line(/^orchestrator 12D3KooW\w+ ready/)
  t.true(cmd.out.includes('inference: cpu, 2 threads per run, models on the main thread'), cmd.out.join('\n'))
  cmd.stop()
  t.is(await cmd.done, 0)
})

/** The orchestrator on the base flags in its own data dir, selling blend, with `flags` added. */
function startSellingBlend(t: { context: Ctx }, dataDir: string, ...flags: string[]) {
  return startCommand(orchestratorCommand, [
    ...baseFlags(t, join(t.context.dir, dataDir)),
    '--price',
    'blend=1',
    ...flags,
  ])
}

test('an execution provider this onnxruntime build lacks, or cannot start here, is refused before the node reaches the chain or the mesh', async (t) => {
  const cmd = startSellingBlend(t, 'no-provider', '--execution-provider', 'no-such-provider')
  const err = await t.throwsAsync(cmd.done)
  t.like(err, { code: 'ERR_EXECUTION_PROVIDER_UNAVAILABLE', details: { provider: 'no-such-provider' } })
  t.regex(err!.message, /available: [^)]*cpu/)
  t.deepEqual(cmd.out, [], 'nothing started, nothing printed')
  if (cudaInstalled()) return
  // One it knows but cannot start here: also said before the node starts, not by every job later.
  const cuda = startSellingBlend(t, 'no-cuda', '--execution-provider', 'cuda')
  await t.throwsAsync(cuda.done, { code: 'ERR_EXECUTION_PROVIDER_FAILED', message: /"cuda" could not start/ })
  t.deepEqual(cuda.out, [])
})

test('without any --price the orchestrator refuses to start and names the price key', async (t) => {
  const cmd = startCommand(orchestratorCommand, baseFlags(t, join(t.context.dir, 'a')))
  const err = await t.throwsAsync(cmd.done)
  t.like(err, { code: 'ERR_CONFIG_INVALID', details: { key: 'price' } })
  t.regex(err!.message, /--price <model-id>=<wei per unit>/)
})

test('a --price for an unknown model id is refused with the known ids', async (t) => {
  const cmd = startCommand(orchestratorCommand, [
    ...baseFlags(t, join(t.context.dir, 'b')),
    '--price',
    'esrgan-slim-x3=5',
  ])
  const err = await t.throwsAsync(cmd.done)
  t.like(err, { code: 'ERR_CONFIG_INVALID', details: { key: 'price', model: 'esrgan-slim-x3' } })
  t.regex(err!.message, /unknown model 'esrgan-slim-x3'.*esrgan-slim-x2/)
})

test('a malformed or zero --price is refused, naming the entry', async (t) => {
  for (const bad of ['esrgan-slim-x2:5', 'esrgan-slim-x2=cheap', 'esrgan-slim-x2=0', 'blend=1.5wei']) {
    const cmd = startCommand(orchestratorCommand, [...baseFlags(t, join(t.context.dir, 'c')), '--price', bad])
    const err = await t.throwsAsync(cmd.done)
    t.like(err, { code: 'ERR_CONFIG_INVALID', details: { key: 'price' } }, bad)
    t.true(err!.message.includes(JSON.stringify(bad)), err!.message)
  }
})

test('a model for sale that could never load in the memory budget is refused at start, not by every job', async (t) => {
  // In the smallest budget allowed (64 MiB) blend fits with its session thread (~56 MiB), the
  // largest upscaler (~112 MiB) never could.
  const cmd = startSellingBlend(t, 'small-budget', '--budget-mb', '64', '--price', 'esrgan-thick-x4=1')
  const err = await t.throwsAsync(cmd.done, { code: 'ERR_BUDGET_TOO_SMALL' })
  t.like(err, { details: { key: 'budgetMb', modelId: 'esrgan-thick-x4', budgetBytes: 64 * 1024 * 1024 } })
  t.regex(
    err!.message,
    /raise the budget.*\(here: --budget-mb 1\d\d or more, or stop selling "esrgan-thick-x4"\)/,
  )
  t.false(
    cmd.out.some((l) => /^ {2}blend/.test(l)),
    'nothing was offered for sale',
  )
})

test('a --pin of an unknown model is refused, naming the pin key', async (t) => {
  const cmd = startSellingBlend(t, 'd', '--pin', 'nope')
  await t.throwsAsync(cmd.done, { code: 'ERR_CONFIG_INVALID', message: /'pin' names unknown model 'nope'/ })
})

test('a keystore without its password is reported as locked with the way to unlock it', async (t) => {
  const dataDir = join(t.context.dir, 'locked')
  await createWalletFile(walletFilePath(dataDir), PASSWORD, { scryptN: 1024 })
  const flags = baseFlags(t, dataDir).filter(
    (f, i, all) => f !== '--wallet-key' && all[i - 1] !== '--wallet-key',
  )
  const cmd = startCommand(orchestratorCommand, [...flags, '--price', 'blend=1'])
  await t.throwsAsync(cmd.done, { code: 'ERR_WALLET_PASSWORD', message: /locked.*FRAMEMESH_WALLET_PASSWORD/ })
  const wrong = startCommand(orchestratorCommand, [...flags, '--price', 'blend=1'], {
    env: { FRAMEMESH_WALLET_PASSWORD: 'not it' },
  })
  await t.throwsAsync(wrong.done, { code: 'ERR_WALLET_PASSWORD', message: /wrong password/ })
})

test('no wallet at all is reported with how to create one', async (t) => {
  const flags = baseFlags(t, join(t.context.dir, 'empty')).filter(
    (f, i, all) => f !== '--wallet-key' && all[i - 1] !== '--wallet-key',
  )
  const cmd = startCommand(orchestratorCommand, [...flags, '--price', 'blend=1'], {
    env: { FRAMEMESH_WALLET_PASSWORD: PASSWORD },
  })
  await t.throwsAsync(cmd.done, { code: 'ERR_WALLET_NOT_FOUND', message: /framemesh wallet new/ })
})

test('an RPC URL where no chain answers is reported with the flag to fix', async (t) => {
  const port = await closedPort()
  const cmd = startCommand(orchestratorCommand, [
    ...baseFlags(t, join(t.context.dir, 'e')),
    '--price',
    'blend=1',
    '--rpc',
    `http://127.0.0.1:${port}`,
  ])
  await t.throwsAsync(cmd.done, { code: 'ERR_CHAIN_UNREACHABLE', message: /no chain answers at --rpc/ })
})

test('a chain id or broker address that does not match the chain is refused before the node reaches the chain or the mesh', async (t) => {
  const flags = [...baseFlags(t, join(t.context.dir, 'f')), '--price', 'blend=1']
  const chainId = startCommand(orchestratorCommand, [...flags, '--chain-id', '1'])
  await t.throwsAsync(chainId.done, { code: 'ERR_CONFIG_INVALID', message: /'chainId' is 1 but/ })
  const broker = startCommand(orchestratorCommand, [
    ...flags,
    '--broker',
    t.context.chain.accounts[0]!.address,
  ])
  await t.throwsAsync(broker.done, { code: 'ERR_BROKER_NOT_FOUND', message: /check --broker/ })
  const missing = startCommand(orchestratorCommand, ['--bootstrap', 'x', '--price', 'blend=1'])
  await t.throwsAsync(missing.done, { code: 'ERR_CONFIG_INVALID', message: /'rpc' is not set/ })
})

test('without --bootstrap or mDNS the orchestrator explains it would find nobody', async (t) => {
  const cmd = startCommand(orchestratorCommand, ['--price', 'blend=1'])
  const err = await t.throwsAsync(cmd.done)
  t.like(err, { code: 'ERR_CONFIG_INVALID', details: { key: 'bootstrap' } })
})

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

test('a data dir lock left by a process that died is taken over', async (t) => {
  const dir = join(t.context.dir, 'stale-lock')
  await mkdir(dir, { recursive: true })
  const dead = spawnSync(process.execPath, ['-e', '0']).pid
  await writeFile(join(dir, LOCK_FILE_NAME), JSON.stringify({ pid: dead, command: 'gateway' }))
  const lock = await lockDataDir(dir, 'orchestrator')
  await t.throwsAsync(lockDataDir(dir, 'gateway'), {
    code: 'ERR_DATA_DIR_IN_USE',
    message: /\(orchestrator, pid/,
  })
  await lock.release()
  await (await lockDataDir(dir, 'gateway')).release()
})
