/**
 * Orchestrators in processes of their own for the mesh benches (as on separate machines): each
 * runs bench/mesh-orchestrator.ts, joins the parent's dev chain and bootstrap node, and answers
 * the parent's requests over the fork IPC channel.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { BootstrapNode } from '../bootstrap/index.js'
import type { Mesh } from '../src/market/mesh.js'
import type { Peer } from '../src/peer/index.js'
import {
  fundedSender,
  type Market,
  startBootstrap,
  startMarket,
  startMesh,
  startPeer,
} from '../test/market/mesh-fixtures.js'

export interface Child {
  proc: ChildProcess
  killed?: boolean
  peerId: string
  call(message: Record<string, unknown>): Promise<{ ms?: number; cpuMs?: number }>
}

export async function spawnOrchestrator(config: Record<string, unknown>): Promise<Child> {
  const proc = fork(fileURLToPath(new URL('./mesh-orchestrator.ts', import.meta.url)), {
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.MESH_BENCH_PROF === undefined
        ? []
        : ['--cpu-prof', `--cpu-prof-dir=${process.env.MESH_BENCH_PROF}`]),
    ],
    env: { ...process.env, MESH_BENCH: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  // A killed child's IPC pipe is gone: sends fail with EPIPE, which is expected, not fatal.
  proc.on('error', () => {})
  let next = 0
  const waiting = new Map<number, (m: { ms?: number; cpuMs?: number }) => void>()
  const peerId = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('orchestrator process did not start within 60 s')),
      60_000,
    )
    proc.on('message', (m: { ready?: string; id?: number; ms?: number; cpuMs?: number }) => {
      if (m.ready !== undefined) {
        clearTimeout(timer)
        resolve(m.ready)
      } else if (m.id !== undefined) waiting.get(m.id)?.(m)
    })
    proc.on('exit', (code) => reject(new Error(`orchestrator process exited (${code})`)))
  })
  return {
    proc,
    peerId,
    call: (message) =>
      new Promise((resolve) => {
        const id = next++
        waiting.set(id, resolve)
        proc.send({ ...message, id })
      }),
  }
}

export async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * The config of an orchestrator process on `market`'s chain, dev account `account`, joining
 * through `bootstrap`. Its tickets are worth about one 128×128 frame: payment traffic at every size.
 */
export function orchestratorConfig(
  market: Market,
  account: number,
  bootstrap: string[],
): Record<string, unknown> {
  const chain = {
    rpcUrl: market.chain.rpcUrl,
    chainId: market.chain.chainId,
    contractAddress: market.chain.contractAddress,
    accounts: market.chain.accounts,
  }
  return { chain, account, bootstrap, ticketEV: '60000000' }
}

/** A mesh for a bench: dev chain, bootstrap node, orchestrator processes and a funded broadcaster. */
export interface BenchMesh {
  market: Market
  bootstrap: BootstrapNode
  buyer: Peer
  mesh: Mesh
  children: Child[]
  /** Another orchestrator process (dev account `account`), once its advert is in. */
  addOrchestrator(account: number): Promise<Child>
  stop(): Promise<void>
}

/** Starts a bench mesh with one orchestrator process per dev account in `accounts`. */
export async function startBenchMesh(accounts: number[]): Promise<BenchMesh> {
  // The in-process dev chain blocks this event loop while it answers; poll it rarely during the runs.
  const market = await startMarket(5_000)
  const children: Child[] = []
  const stop = async () => {
    for (const c of children)
      if (c.proc.exitCode === null && c.proc.signalCode === null) await c.call({ cmd: 'stop' })
    await market.stop()
  }
  try {
    const sender = await fundedSender(market, 1)
    const bootstrap = await startBootstrap(market)
    const buyer = await startPeer(market, { bootstrap: bootstrap.multiaddrs })
    const mesh = await startMesh(market, buyer, sender, { stallTimeoutMs: 10_000 })
    const addOrchestrator = async (account: number) => {
      const child = await spawnOrchestrator(orchestratorConfig(market, account, bootstrap.multiaddrs))
      children.push(child)
      await until(
        () =>
          mesh.offers({ pipeline: 'upscale' }).some((o) => o.peerId === child.peerId) &&
          buyer.connectedPeers().includes(child.peerId),
        `the advert of orchestrator ${account}`,
      )
      return child
    }
    for (const account of accounts) await addOrchestrator(account)
    return { market, bootstrap, buyer, mesh, children, addOrchestrator, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
