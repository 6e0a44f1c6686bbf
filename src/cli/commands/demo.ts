/**
 * `framemesh demo` (what `npm start` runs): the whole system on loopback with no configuration —
 * a dev chain with the settlement contract and funded wallets, the bootstrap node, three
 * orchestrators selling the built-in models at different prices, a broadcaster with the HTTP
 * gateway and dashboard — then one sample job: a clip generated on the spot, upscaled ×2 across
 * the mesh with progress, paid with tickets. It stays up for the dashboard until Ctrl-C.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ANONYMOUS } from '../../gateway/auth.js'
import { meshForGateway } from '../../gateway/mesh-adapter.js'
import { createGateway, type Gateway } from '../../gateway/server.js'
import { generateTestClip } from '../../inference/media/test-clip.js'
import { probeVideo } from '../../inference/media/video.js'
import type { Logger } from '../../logger.js'
import type { Teardown } from '../../node/lifecycle.js'
import { type LocalMesh, startLocalMesh } from '../../node/local-mesh.js'
import type { CliCommand, CliContext } from '../command.js'
import { type Config, type ConfigSpec, configHelp, loadConfig, PEER_CONFIG } from '../config.js'
import { createProgress } from '../progress.js'
import { commandLogger, untilAborted, withTeardown } from '../runtime.js'

const spec = {
  port: {
    kind: 'int',
    help: 'gateway and dashboard port on 127.0.0.1 (0 = any free port)',
    default: 8080,
    min: 0,
    max: 65535,
  },
  once: { kind: 'bool', help: 'stop after the sample job instead of serving until Ctrl-C', default: false },
  seconds: { kind: 'int', help: 'length of the sample clip in seconds', default: 2, min: 1, max: 60 },
  logLevel: { ...PEER_CONFIG.logLevel, default: 'warn' },
  logFormat: PEER_CONFIG.logFormat,
} as const satisfies ConfigSpec

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'run a whole local mesh on loopback with the dashboard and one sample job (npm start)',
  help: [
    'usage: framemesh demo [--port 8080] [--once] [--seconds 2]',
    '',
    'Starts, on 127.0.0.1 and with no configuration: a dev chain with the TicketBroker and funded',
    'test wallets, the bootstrap node, three orchestrators selling the built-in models at different',
    'prices, and a broadcaster with the HTTP gateway and the dashboard. Then it generates a short',
    'clip, upscales it ×2 across the mesh with progress, and prints what it cost. The mesh stays up',
    'for the dashboard until Ctrl-C (or stops at once with --once).',
    '',
    configHelp(spec),
  ].join('\n'),
  async run(ctx) {
    const { config } = await loadConfig(spec, ctx)
    const logger = commandLogger(ctx, config, 'demo')
    const notice = { stopping: () => ctx.stdout('stopping …'), stopped: () => ctx.stdout('stopped cleanly') }
    return withTeardown(logger, (teardown) => runDemo(ctx, config, logger, teardown), notice)
  },
}

/** Starts the mesh and the gateway (each stop on `teardown`), runs the sample job, then serves. */
async function runDemo(
  ctx: CliContext,
  config: Config<typeof spec>,
  logger: Logger,
  teardown: Teardown,
): Promise<number> {
  const scratch = await mkdtemp(join(tmpdir(), 'framemesh-demo-'))
  teardown.add(() => rm(scratch, { recursive: true, force: true }))
  const started = performance.now()
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`
  ctx.stdout('framemesh demo: starting a local mesh on 127.0.0.1 …')
  const local = await startLocalMesh({ logger }, { signal: ctx.signal })
  teardown.add(() => local.stop())
  ctx.stdout(`  dev chain        ${local.chain.rpcUrl} (TicketBroker ${local.chain.contractAddress})`)
  ctx.stdout(`  bootstrap node   ${local.bootstrap.multiaddrs[0]}`)
  for (const [i, o] of local.orchestrators.entries()) {
    const offers = local.broadcaster.mesh.offers().filter((x) => x.peerId === o.peer.peerId.toString())
    const prices = offers.map((x) => `${x.modelId} ${x.pricePerUnit} wei/${x.unit}`).join(', ')
    ctx.stdout(`  orchestrator ${i + 1}   ${short(o.peer.peerId.toString())}  ${prices}`)
  }
  ctx.stdout(
    `  broadcaster      ${short(local.broadcaster.peer.peerId.toString())} paying from ${local.broadcaster.address}`,
  )
  const gateway = await openGateway(ctx, local, config.port, join(scratch, 'gateway'))
  teardown.add(() => gateway.close())
  ctx.stdout(`mesh up in ${elapsed()}; dashboard: ${gateway.url}/dashboard/`)

  await sampleJob(ctx, gateway, scratch, config.seconds)
  ctx.stdout(`from npm start to the sample job's last frame: ${elapsed()}`)
  if (!config.once) {
    printJoinCommands(ctx, local, scratch)
    ctx.stdout(`serving the dashboard at ${gateway.url}/dashboard/ — Ctrl-C to stop`)
    await untilAborted(ctx.signal)
  }
  return 0
}

/** The configured port, or any free one when it is taken (a second demo must still start), saying so. */
async function openGateway(
  ctx: CliContext,
  local: LocalMesh,
  port: number,
  dataDir: string,
): Promise<Gateway> {
  const mesh = meshForGateway(local.broadcaster.mesh)
  try {
    return await createGateway({ mesh }, { port, dataDir })
  } catch (err) {
    if ((err as { code?: string }).code !== 'EADDRINUSE') throw err
    const gateway = await createGateway({ mesh }, { port: 0, dataDir })
    ctx.stdout(
      `port ${port} is taken (another demo?); the dashboard is on port ${new URL(gateway.url).port} instead`,
    )
    return gateway
  }
}

async function sampleJob(ctx: CliContext, gateway: Gateway, scratch: string, seconds: number): Promise<void> {
  const clip = join(scratch, 'sample.mp4')
  await generateTestClip(clip, {
    width: 128,
    height: 96,
    fps: { num: 12, den: 1 },
    seconds,
    audio: true,
    signal: ctx.signal,
  })
  ctx.stdout(`sample job: upscale ×2 of a ${seconds} s 128×96 clip at 12 fps (made on the spot)`)
  // The demo's gateway is open (no tokens): its one caller owns the sample job and sees it.
  const view = gateway.jobs.start(
    [{ pipeline: 'upscale', modelId: 'esrgan-slim-x2' }],
    { path: clip, media: { kind: 'video', format: 'mp4' } },
    ANONYMOUS,
  )
  const record = gateway.jobs.find(view.id)
  const { frameCount } = await probeVideo(clip, { countFrames: true, signal: ctx.signal })
  const progress = createProgress(ctx.stderr, { label: 'upscale', total: frameCount, intervalMs: 250 })
  let firstResultMs: number | undefined
  record?.emitter.on('event', (ev) => {
    if (ev.event === 'progress') {
      firstResultMs ??= Date.now() - view.startedAt
      progress.tick()
    } else if (ev.event === 'peer') {
      const p = ev.data as { to: string; from?: string; reason?: string }
      ctx.stdout(
        `  ${p.from === undefined ? 'chose' : `switched from ${short(p.from)} to`} ${short(p.to)}${p.reason ? ` (${p.reason})` : ''}`,
      )
    }
  })
  const done = await gateway.jobs.settled(view.id)
  progress.done()
  if (done?.status !== 'done') {
    ctx.stderr(`sample job failed: ${done?.error ?? 'unknown error'}`)
    return
  }
  ctx.stdout(
    `sample job done in ${((done.finishedAt! - done.startedAt) / 1000).toFixed(2)} s (first result ${firstResultMs} ms after submitting):`,
  )
  ctx.stdout(
    `  frames ${done.framesDone} of ${done.framesTotal ?? '?'}, peers ${done.peers.map(short).join(', ')}`,
  )
  ctx.stdout(
    `  charged ${done.chargedWei} wei at the agreed price (≈ $${done.cost.meshUsd.toFixed(8)}); tickets sent with ${done.paidWei} wei expected value`,
  )
  ctx.stdout(`  same wall time on a cloud GPU: $${done.cost.cloudUsd.toFixed(8)} (${done.cost.cloudBasis})`)
  ctx.stdout(`  output: ${gateway.url}/v1/jobs/${done.id}/output (also on the dashboard)`)
}

/**
 * Ready-to-paste commands that add a node of your own, in another process, to this mesh: the
 * step from "the demo works" to running the daemons. The spare keys are dev-chain accounts.
 */
function printJoinCommands(ctx: CliContext, local: LocalMesh, scratch: string): void {
  const [sellerKey, buyerKey] = local.spareAccounts.map((a) => a.privateKey)
  if (sellerKey === undefined || buyerKey === undefined) return
  const chain = `--rpc ${local.chain.rpcUrl} --broker ${local.chain.contractAddress}`
  const mesh = `--bootstrap ${local.bootstrap.multiaddrs[0]} ${chain}`
  // Below the demo's cheapest blend (10000000 wei a frame), so interpolate jobs pick it.
  const price = '--price blend=5000000 --price esrgan-slim-x2=1500000000'
  ctx.stdout('join this mesh from another terminal (these keys hold test ETH on this dev chain only):')
  ctx.stdout(
    `  npm run framemesh -- orchestrator --data-dir ${join(scratch, 'my-orchestrator')} ${mesh} --wallet-key ${sellerKey} ${price}`,
  )
  ctx.stdout(`  npm run framemesh -- deposit --deposit 1 --reserve 1 ${chain} --wallet-key ${buyerKey}`)
  ctx.stdout(
    `  npm run framemesh -- gateway --data-dir ${join(scratch, 'my-gateway')} ${mesh} --wallet-key ${buyerKey} --port 0`,
  )
}

function short(id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id
}
