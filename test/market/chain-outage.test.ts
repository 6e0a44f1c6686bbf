// A broadcaster whose own chain connection goes away: it keeps paying on the funds it last read
// for a while, and after that fails its jobs at once, saying why, without blaming orchestrators.
import anyTest, { type TestFn } from 'ava'
import { createLogger } from '../../src/logger.js'
import type { Mesh, MeshJobEvent } from '../../src/market/mesh.js'
import type { Peer } from '../../src/peer/index.js'
import { TicketBrokerClient } from '../../src/tickets/broker.js'
import { ChainWatcher } from '../../src/tickets/broker-watcher.js'
import type { Hex } from '../../src/tickets/bytes.js'
import { TicketSender } from '../../src/tickets/sender.js'
import { eventually } from '../helpers/peer.js'
import { startTcpSwitch, type TcpSwitch } from '../helpers/tcp-switch.js'
import {
  clip,
  fundedSender,
  type Market,
  type OrchestratorNode,
  PRICE,
  startBootstrap,
  startMarket,
  startMesh,
  startOrchestrator,
  startPeer,
} from './mesh-fixtures.js'

interface Ctx {
  market: Market
  bootstrapAddrs: string[]
  /** The broadcaster's way to the chain (the orchestrators keep theirs). */
  chainLink: TcpSwitch
  orchs: OrchestratorNode[]
  buyer: Peer
  mesh: Mesh
}
const test = anyTest.serial as TestFn<Ctx>
/** How long the broadcaster pays on its last read of its own funds once the chain is away. */
const STALE_MS = 4_000
/** What the broadcaster's chain watcher logged. */
const watcherLog: Array<{ level: string; msg: string; failedPolls?: number }> = []

test.before(async (t) => {
  const market = await startMarket()
  await fundedSender(market, 1)
  await market.engine.warm('esrgan-slim-x2')
  const chainLink = await startTcpSwitch(Number(new URL(market.chain.rpcUrl).port))
  market.cleanup.push(() => chainLink.close())
  // The broadcaster reads its funds and the chain's clock through the switch.
  const broker = new TicketBrokerClient(
    {},
    {
      rpcUrl: chainLink.urlFor(market.chain.rpcUrl),
      contractAddress: market.chain.contractAddress,
      chainId: market.chain.chainId,
      requestTimeoutMs: 2_000,
    },
  )
  const logger = createLogger({ level: 'info', write: (line) => watcherLog.push(JSON.parse(line)) })
  const clock = new ChainWatcher({ broker, logger }, { pollIntervalMs: 200 })
  await clock.start()
  market.cleanup.push(() => {
    clock.stop()
    broker.close()
  })
  const sender = new TicketSender(
    { key: market.chain.accounts[1]!.privateKey as Hex, senderInfo: broker, clock },
    { maxTicketEV: 10n ** 15n, maxBatchEV: 10n ** 17n, senderInfoTtlMs: 0, senderInfoStaleMs: STALE_MS },
  )
  const bootstrap = await startBootstrap(market)
  const orchs: OrchestratorNode[] = []
  for (const i of [0, 1]) {
    orchs.push(await startOrchestrator(market, 2 + i, { bootstrap: bootstrap.multiaddrs }))
  }
  const buyer = await startPeer(market, { bootstrap: bootstrap.multiaddrs })
  const mesh = await startMesh(market, buyer, sender, { stallTimeoutMs: 10_000 })
  await eventually(
    () =>
      mesh.offers({ pipeline: 'upscale' }).length === 2 &&
      orchs.every((o) => buyer.connectedPeers().includes(o.peer.peerId)),
    { timeoutMs: 30_000 },
  )
  t.context = { market, bootstrapAddrs: bootstrap.multiaddrs, chainLink, orchs, buyer, mesh }
})

test.after.always(async (t) => {
  await t.context.market?.stop()
})

async function upscale(mesh: Mesh) {
  const job = mesh.submit({ pipeline: 'upscale', model: 'esrgan-slim-x2', maxPrice: PRICE, input: clip(4) })
  const events: MeshJobEvent[] = []
  const reading = (async () => {
    for await (const e of job.events) events.push(e)
  })()
  const outcome = await job.done.then(
    (done) => ({ done, error: undefined }),
    (error: Error & { code?: string }) => ({ done: undefined, error }),
  )
  await reading
  return { ...outcome, selected: events.filter((e) => e.type === 'peer:selected').length }
}

test('jobs paid while the chain answers, then on the last read of the funds once it is away', async (t) => {
  const { mesh, chainLink } = t.context
  t.is((await upscale(mesh)).done?.report.items, 4)
  chainLink.off()
  const during = await upscale(mesh)
  t.is(during.error, undefined, during.error?.message)
  t.is(during.done?.report.items, 4)
})

test('past the stale limit a job fails at once with ERR_SENDER_INFO, no orchestrator is blamed, and all is well once the chain is back', async (t) => {
  const { mesh, chainLink } = t.context
  chainLink.off()
  await new Promise((resolve) => setTimeout(resolve, STALE_MS + 500))
  const failed = await upscale(mesh)
  t.is(failed.error?.code, 'ERR_SENDER_INFO', failed.error?.message)
  t.regex(failed.error!.message, /own funds from the chain/)
  // Our funds are unreadable wherever we go: one orchestrator tried, not every one in turn.
  t.is(failed.selected, 1)
  for (const o of t.context.orchs) {
    const record = mesh.stats.get(o.peer.peerId)
    t.is(record?.consecutiveFailures ?? 0, 0)
    t.false(record?.suspended ?? false)
  }

  // Polled every 200 ms for seconds: one warning, not one a poll.
  const warnings = watcherLog.filter((l) => l.level === 'warn')
  t.deepEqual(
    warnings.map((l) => l.msg),
    ['chain poll failed; keeping the last snapshot and retrying'],
  )

  chainLink.on()
  await eventually(() => watcherLog.some((l) => l.msg === 'chain reachable again'), { timeoutMs: 5_000 })
  t.true(watcherLog.find((l) => l.msg === 'chain reachable again')!.failedPolls! > 10)
  // Neither orchestrator was suspended for our outage: the next job runs at once.
  const after = await upscale(mesh)
  t.is(after.error, undefined, after.error?.message)
  t.is(after.done?.report.items, 4)
})

test('a broadcaster whose deposit covers no orchestrator’s ticket fails saying so and how to fix it, and blames no orchestrator', async (t) => {
  const { market, orchs, bootstrapAddrs } = t.context
  const cases: Array<[account: number, wei: bigint, code: string]> = [
    // Less than one ticket's expected value: each orchestrator refuses to quote.
    [5, 1_000n, 'ERR_SENDER_FUNDS'],
    // Enough for the orchestrators, but a ticket's face value is more than the deposit covers: our
    // own sender refuses the params.
    [6, 1_000_000_000n, 'ERR_PARAMS_FACE_TOO_HIGH'],
  ]
  for (const [account, wei, code] of cases) {
    const poor = await fundedSender(market, account, wei)
    const buyer = await startPeer(market, { bootstrap: bootstrapAddrs })
    const mesh = await startMesh(market, buyer, poor)
    await eventually(() => mesh.offers({ pipeline: 'upscale' }).length === 2, { timeoutMs: 30_000 })
    const job = mesh.submit({ pipeline: 'upscale', model: 'esrgan-slim-x2', maxPrice: PRICE, input: clip(2) })
    const failed: string[] = []
    job.events.on('quote:refused', (e) => failed.push(e.code))
    job.events.on('peer:failed', (e) => failed.push(e.code))
    const err = await t.throwsAsync(job.done)
    t.is((err as { code?: string }).code, code, err!.message)
    t.regex(
      err!.message,
      /^every orchestrator tried for upscale with model 'esrgan-slim-x2' failed for the same reason \(last: .*\); add to the deposit and reserve \(`framemesh deposit`\)$/,
    )
    t.deepEqual(failed, [code, code], 'both were tried: their tickets may differ')
    for (const o of orchs) t.false(mesh.stats.health(o.peer.peerId).suspended)
  }
})
