// The whole operator story through the CLI alone, on loopback: `framemesh orchestrator` sells,
// `framemesh gateway` buys for HTTP callers, `framemesh submit` sends an image through both.
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import anyTest, { type TestFn } from 'ava'
import { Wallet } from 'ethers'
import sharp from 'sharp'
import { type BootstrapNode, createBootstrapNode } from '../../bootstrap/index.js'
import { gatewayCommand } from '../../src/cli/commands/gateway.js'
import { orchestratorCommand } from '../../src/cli/commands/orchestrator.js'
import { submitCommand } from '../../src/cli/commands/submit.js'
import { LOCK_FILE_NAME, lockDataDir } from '../../src/cli/data-dir-lock.js'
import { TicketBrokerClient } from '../../src/tickets/broker.js'
import { type DevChain, startDevChain } from '../../src/tickets/devchain.js'
import { startCommand } from './node-harness.js'

interface Ctx {
  chain: DevChain
  bootstrap: BootstrapNode
  dir: string
}

const test = anyTest as TestFn<Ctx>
const ETH = 10n ** 18n

test.before(async (t) => {
  const chain = await startDevChain({ accounts: 3, roundLength: 1_000 })
  // Account 1 pays for the gateway's tickets: fund its deposit and reserve first.
  const client = new TicketBrokerClient(
    { wallet: new Wallet(chain.accounts[1]!.privateKey) },
    chain.clientOptions,
  )
  await client.fundDepositAndReserve(ETH, ETH)
  client.close()
  t.context = {
    chain,
    bootstrap: await createBootstrapNode({}),
    dir: await mkdtemp(join(tmpdir(), 'framemesh-cli-gw-')),
  }
})

test.after.always(async (t) => {
  await t.context.bootstrap?.stop()
  await t.context.chain?.stop()
  if (t.context.dir !== undefined) await rm(t.context.dir, { recursive: true, force: true })
})

function nodeFlags(t: { context: Ctx }, account: number, name: string): string[] {
  const { chain, bootstrap } = t.context
  return [
    '--data-dir',
    join(t.context.dir, name),
    '--bootstrap',
    bootstrap.multiaddrs[0]!,
    '--rpc',
    chain.rpcUrl,
    '--broker',
    chain.contractAddress,
    '--chain-poll-ms',
    '200',
    '--wallet-key',
    chain.accounts[account]!.privateKey,
  ]
}

// 320×240 → 640×480: big enough that tickets sized per pixel would pass the sender's cap per params.
test.serial(
  'orchestrator, gateway and submit commands together upscale a 320×240 image sent over HTTP',
  async (t) => {
    const seller = startCommand(orchestratorCommand, [
      ...nodeFlags(t, 2, 'seller'),
      '--price',
      'esrgan-slim-x2=2000000000000',
      '--metrics-port',
      '0',
      '--log-level',
      'info',
    ])
    t.teardown(() => seller.close())
    const sellerId = (await seller.line(/^orchestrator \w+ ready/)).split(' ')[1]!

    const started = performance.now()
    const gateway = startCommand(gatewayCommand, [
      ...nodeFlags(t, 1, 'buyer'),
      '--port',
      '0',
      '--token',
      'secret-1',
      '--metrics-port',
      '0',
      '--log-level',
      'info',
    ])
    t.teardown(() => gateway.close())
    const url = (await gateway.line(/^gateway http:\/\/127\.0\.0\.1:\d+ ready/)).split(' ')[1]!
    await gateway.line(/^deposit: 1\.0 ETH, reserve: 1\.0 ETH$/)
    t.log(`gateway start-up (flags to ready): ${Math.round(performance.now() - started)} ms`)
    t.true(gateway.out.includes('access: 1 bearer token(s)'))
    t.true(gateway.out.includes(`payment address: ${t.context.chain.accounts[1]!.address.toLowerCase()}`))
    // The seller's advert reaches the gateway's order book (logged as it arrives).
    await gateway.errLine(new RegExp(`offer .*${sellerId}`), 20_000)

    const image = join(t.context.dir, 'photo.png')
    await writeFile(
      image,
      await sharp({ create: { width: 320, height: 240, channels: 3, background: '#c84' } })
        .png()
        .toBuffer(),
    )
    const submitted = performance.now()
    const submit = startCommand(
      submitCommand,
      ['upscale', 'photo.png', '-o', 'big.png', '--gateway', url, '--token', 'secret-1'],
      {
        cwd: t.context.dir,
      },
    )
    t.is(await submit.done, 0, submit.err.join('\n'))
    t.log(`submit round trip through the CLI gateway: ${Math.round(performance.now() - submitted)} ms`)
    t.like(await sharp(join(t.context.dir, 'big.png')).metadata(), { width: 640, height: 480, format: 'png' })
    t.regex(submit.err.join('\n'), new RegExp(`running on ${sellerId.slice(0, 12)}`))

    // Both daemons count the job on their Prometheus endpoints.
    await seller.errLine(/job ended/)
    const sellerMetrics = await scrape(seller.err)
    t.regex(sellerMetrics, /^framemesh_orchestrator_jobs_total\{outcome="ok"\} 1$/m)
    t.regex(sellerMetrics, /^framemesh_orchestrator_slots\{state="total"\} 4$/m)
    t.regex(sellerMetrics, /^framemesh_orchestrator_earned_wei_total [1-9]/m)
    const gatewayMetrics = await scrape(gateway.err)
    t.regex(gatewayMetrics, /^framemesh_gateway_jobs\{status="done"\} 1$/m)
    t.regex(gatewayMetrics, /^framemesh_gateway_offers 1$/m)

    gateway.stop()
    seller.stop()
    t.is(await gateway.done, 0)
    t.is(await seller.done, 0)
  },
)

test('a gateway on a public host without a token is refused, naming the token key', async (t) => {
  const cmd = startCommand(gatewayCommand, [...nodeFlags(t, 1, 'open'), '--host', '0.0.0.0'])
  const err = await t.throwsAsync(cmd.done)
  t.like(err, { code: 'ERR_CONFIG_INVALID', details: { key: 'token' } })
  t.regex(err!.message, /--token <secret>/)
})

test('a gateway port already in use is reported with the key to change', async (t) => {
  const { createServer } = await import('node:net')
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const port = (server.address() as { port: number }).port
  const cmd = startCommand(gatewayCommand, [
    ...nodeFlags(t, 1, 'busy'),
    '--port',
    String(port),
    '--log-level',
    'silent',
  ])
  const err = await t.throwsAsync(cmd.done)
  t.like(err, { code: 'ERR_CONFIG_INVALID', details: { key: 'port' } })
  t.regex(err!.message, /EADDRINUSE.*--port/)
  // It failed after taking the data dir and starting the node: both are undone, so the next run starts.
  const dataDir = join(t.context.dir, 'busy')
  t.false(existsSync(join(dataDir, LOCK_FILE_NAME)), 'the data dir lock is released')
  await (await lockDataDir(dataDir, 'gateway')).release()
})

/** GET the metrics endpoint a command logged ("serving metrics {url}"). */
async function scrape(stderr: string[]): Promise<string> {
  const line = stderr.find((l) => l.includes('serving metrics'))
  const url = /"url":"([^"]+)"/.exec(line ?? '')?.[1]
  if (url === undefined) throw new Error(`no metrics url logged:\n${stderr.join('\n')}`)
  return (await fetch(url)).text()
}
