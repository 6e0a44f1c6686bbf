/**
 * One orchestrator in its own process, for `npm run bench:mesh`: it joins the parent's dev chain
 * and bootstrap node, serves the market with its own engine, and on request times the same
 * upscale called locally on that engine (the baseline, measured where the inference runs).
 * Config comes as JSON in MESH_BENCH; it talks to the parent over the fork IPC channel.
 */
import type { Frame } from '../src/inference/types.js'
import { attachMarket, type ChainInfo, clip, startOrchestrator } from '../test/market/mesh-fixtures.js'

interface Config {
  chain: ChainInfo
  account: number
  bootstrap: string[]
  ticketEV: string
}

type Request =
  | { id: number; cmd: 'local'; size: number; count: number; inFlight: number }
  | { id: number; cmd: 'cpu' }
  | { id: number; cmd: 'stop' }

const config = JSON.parse(process.env.MESH_BENCH ?? '{}') as Config
// The parent polls the chain; blocks only move on its transactions, so a slow poll is enough here.
const market = await attachMarket(config.chain, 5_000, runOn())
await market.engine.warm('esrgan-slim-x2')
const node = await startOrchestrator(market, config.account, {
  bootstrap: config.bootstrap,
  recipient: { ticketEV: BigInt(config.ticketEV) },
  ...(process.env.MESH_WINDOW === undefined ? {} : { window: Number(process.env.MESH_WINDOW) }),
})

/** MESH_RUN_ON=main|worker: where the orchestrator's engine runs inference (default: the engine's). */
function runOn(): 'main' | 'worker' | undefined {
  const v = process.env.MESH_RUN_ON
  if (v === undefined || v === '') return undefined
  if (v !== 'main' && v !== 'worker') throw new Error(`MESH_RUN_ON must be main or worker, not ${v}`)
  return v
}

/** CPU time this process has used (ms): unlike wall time, other load on the machine does not inflate it. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

async function local(size: number, count: number, inFlight: number): Promise<{ ms: number; cpuMs: number }> {
  const frames: Frame[] = clip(count, size, size)
  for (const f of frames.slice(0, 2)) await market.engine.upscale('esrgan-slim-x2', f)
  const start = performance.now()
  const cpu = cpuMs()
  // inFlight 2: the local caller keeps two frames in the engine at once, as the orchestrator's
  // job handler does (the session thread then never waits for the next frame).
  let next = 0
  const lane = async () => {
    while (next < frames.length) await market.engine.upscale('esrgan-slim-x2', frames[next++]!)
  }
  await Promise.all(Array.from({ length: inFlight }, lane))
  return { ms: performance.now() - start, cpuMs: cpuMs() - cpu }
}

process.on('message', (raw) => {
  const request = raw as Request
  if (request.cmd === 'stop') {
    void market.stop().then(() => process.send?.({ id: request.id }, () => process.exit(0)))
    return
  }
  if (request.cmd === 'cpu') {
    process.send?.({ id: request.id, cpuMs: cpuMs() })
    return
  }
  void local(request.size, request.count, request.inFlight).then((r) =>
    process.send?.({ id: request.id, ...r }),
  )
})
process.send?.({ ready: node.peer.peerId })
