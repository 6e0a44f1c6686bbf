/**
 * `npm run bench:mesh`: what going through the mesh costs. A real mesh on loopback (bootstrap
 * node, quotes, ticket payments on a dev chain): the broadcaster in this process, each
 * orchestrator in a process of its own (as on separate machines), both on one shared engine
 * build and model. Measured in the same run:
 *  - frames/s through the mesh with one orchestrator vs the same upscale called locally on the
 *    orchestrator's own engine, before and after (averaged); ratio = mesh / local, goal ≥ 0.95;
 *  - the same once results flow ("steady": frames after the first ÷ the time from the first
 *    result to the last, against local), which leaves out the job's start;
 *  - time to the first result of a job (and of the case's first job, run untimed before the rounds
 *    as a warm-up, the way the local runs warm up on their first frames);
 *  - recovery when the job's orchestrator process is killed (SIGKILL) mid-job: from the last
 *    result before the kill to the first result from the next orchestrator.
 *
 * MESH_CASES=120x32,24x128 runs only those cases; MESH_VERBOSE=1 prints every round;
 * MESH_RUN_ON=main|worker picks the orchestrator's inference thread; MESH_BENCH_PROF=<dir>
 * CPU-profiles the orchestrator process (and skips the recovery part).
 */
import { type ChildProcess, fork } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import {
  clip,
  fundedSender,
  PRICE,
  startBootstrap,
  startMarket,
  startMesh,
  startPeer,
} from '../test/market/mesh-fixtures.js'

const MODEL = 'esrgan-slim-x2'
const ROUNDS = 5
const cases = [
  { size: 32, frames: 120 },
  // A longer job of the same frames: the job's start (quote, stream set-up: ~15 ms) is 5 % of a
  // 120-frame job at 32² but ~1.5 % of this one, closer to a clip or a stream.
  { size: 32, frames: 480 },
  { size: 64, frames: 60 },
  { size: 128, frames: 24 },
] as const

interface Child {
  proc: ChildProcess
  killed?: boolean
  peerId: string
  call(message: Record<string, unknown>): Promise<{ ms?: number; cpuMs?: number }>
}

async function spawnOrchestrator(config: Record<string, unknown>): Promise<Child> {
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

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function main(): Promise<void> {
  // The in-process dev chain blocks this event loop while it answers; poll it rarely during the runs.
  const market = await startMarket(5_000)
  const children: Child[] = []
  try {
    const sender = await fundedSender(market, 1)
    const bootstrap = await startBootstrap(market)
    const chain = {
      rpcUrl: market.chain.rpcUrl,
      chainId: market.chain.chainId,
      contractAddress: market.chain.contractAddress,
      accounts: market.chain.accounts,
    }
    // Tickets worth about one 128x128 frame: payment traffic at every size.
    const config = (account: number) => ({
      chain,
      account,
      bootstrap: bootstrap.multiaddrs,
      ticketEV: '60000000',
    })
    children.push(await spawnOrchestrator(config(2)))
    const buyer = await startPeer(market, { bootstrap: bootstrap.multiaddrs })
    const mesh = await startMesh(market, buyer, sender, { stallTimeoutMs: 10_000 })
    await until(() => mesh.offers({ pipeline: 'upscale' }).length >= 1, 'the first advert')

    console.log('mesh vs local inference, one orchestrator (own process); ratio = mesh / local')
    console.log(
      `median of ${ROUNDS} rounds, each round local / mesh / local; inference on the ${process.env.MESH_RUN_ON || "engine's default ('auto': a worker for esrgan)"} thread; load average now ${loadavg()[0]!.toFixed(1)}`,
    )
    console.log(
      '  local:   frames/s of engine.upscale called locally one frame at a time; local×2: two frames in flight',
    )
    console.log(
      '  wall:    mesh frames/s by the clock ÷ local (what a user sees; other load on a shared machine disturbs it)',
    )
    console.log('  steady:  the same once results flow (first result to last; leaves out the job start)')
    console.log('  ×2:      wall and steady against local×2, the stronger local baseline')
    console.log(
      '  cpu:     local ÷ mesh frames per CPU-second of the orchestrator process (what the mesh costs it)',
    )
    const columns = ['local', 'local×2', 'mesh', 'wall', 'steady', 'wall×2', 'steady×2', 'cpu']
    console.log(`${'frames'.padEnd(10)}${columns.map((h) => h.padStart(9)).join('')}  first result`)
    const child = children[0]!
    // MESH_CASES=120x32,24x128: only those cases (frames x size).
    const only = process.env.MESH_CASES?.split(',')
    for (const c of cases.filter((k) => only === undefined || only.includes(`${k.frames}x${k.size}`))) {
      const frames = clip(c.frames, c.size, c.size)
      const rounds: Array<{
        localFps: number
        pipelinedFps: number
        meshFps: number
        steadyFps: number
        cpuRatio: number
        firstMs: number
      }> = []
      // The case's first job runs untimed, as the local runs warm up on their first frames: it
      // alone pays for code paths run the first time in both processes and for asking its quote
      // (later jobs of the kind start from a spare). Its time to first result is shown apart.
      /** One mesh job over the case's frames: its total time and when its first and last results came (ms). */
      const meshJob = async () => {
        const start = performance.now()
        let firstMs = 0
        let lastMs = 0
        const job = mesh.submit({ pipeline: 'upscale', model: MODEL, maxPrice: PRICE, input: frames })
        job.events.on('result', () => {
          lastMs = performance.now() - start
          if (firstMs === 0) firstMs = lastMs
        })
        await job.done
        return { meshMs: performance.now() - start, firstMs, lastMs }
      }
      const coldFirstMs = (await meshJob()).firstMs
      for (let round = 0; round < ROUNDS; round++) {
        const local = async () => {
          const one = await child.call({ cmd: 'local', size: c.size, count: c.frames, inFlight: 1 })
          const two = await child.call({ cmd: 'local', size: c.size, count: c.frames, inFlight: 2 })
          return { one, two }
        }
        const before = await local()
        const cpuBefore = (await child.call({ cmd: 'cpu' })).cpuMs!
        const { meshMs, firstMs, lastMs } = await meshJob()
        const meshCpu = (await child.call({ cmd: 'cpu' })).cpuMs! - cpuBefore
        const after = await local()
        if (process.env.MESH_VERBOSE !== undefined) {
          console.log(
            `  round ${round}: local ${before.one.ms!.toFixed(0)} / ${after.one.ms!.toFixed(0)} ms, mesh ${meshMs.toFixed(0)} ms (first result ${firstMs.toFixed(1)} ms, last ${lastMs.toFixed(0)} ms)`,
          )
        }
        rounds.push({
          localFps: (c.frames * 1000) / ((before.one.ms! + after.one.ms!) / 2),
          pipelinedFps: (c.frames * 1000) / ((before.two.ms! + after.two.ms!) / 2),
          meshFps: (c.frames * 1000) / meshMs,
          steadyFps: ((c.frames - 1) * 1000) / (lastMs - firstMs),
          cpuRatio: (before.one.cpuMs! + after.one.cpuMs!) / 2 / meshCpu,
          firstMs,
        })
      }
      // Medians, so one disturbed round on a shared machine does not decide.
      const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!
      const ratio = (f: (r: (typeof rounds)[number]) => number) => median(rounds.map(f))
      const wall = ratio((r) => r.meshFps / r.localFps)
      const mid = rounds.find((r) => r.meshFps / r.localFps === wall)!
      const cells = [
        mid.localFps.toFixed(1),
        mid.pipelinedFps.toFixed(1),
        mid.meshFps.toFixed(1),
        wall.toFixed(2),
        ratio((r) => r.steadyFps / r.localFps).toFixed(2),
        ratio((r) => r.meshFps / r.pipelinedFps).toFixed(2),
        ratio((r) => r.steadyFps / r.pipelinedFps).toFixed(2),
        ratio((r) => r.cpuRatio).toFixed(2),
      ]
      console.log(
        `${`${c.frames}x${c.size}²`.padEnd(10)}${cells.map((v) => v.padStart(9)).join('')}  ${ratio((r) => r.firstMs).toFixed(0)} ms (untimed first job: ${coldFirstMs.toFixed(0)} ms)`,
      )
    }

    console.log(`load average at the end ${loadavg()[0]!.toFixed(1)}`)
    // A profiled run keeps its one orchestrator alive: a killed process writes no profile.
    if (process.env.MESH_BENCH_PROF !== undefined) return
    // Recovery: a second orchestrator joins; the job's orchestrator process is killed at its 10th result.
    children.push(await spawnOrchestrator(config(3)))
    await until(() => mesh.offers({ pipeline: 'upscale' }).length >= 2, 'the second advert')
    const job = mesh.submit({ pipeline: 'upscale', model: MODEL, maxPrice: PRICE, input: clip(60, 64, 64) })
    let victim: string | undefined
    let count = 0
    let killedAt = 0
    let firstAfter = 0
    job.events.on('result', (r) => {
      const now = performance.now()
      // The victim is whoever delivers first (a refused quote may move the job on before any result).
      victim ??= r.peerId
      if (r.peerId === victim && ++count === 10) {
        killedAt = now
        const child = children.find((c) => c.peerId === victim)!
        child.killed = true
        child.proc.kill('SIGKILL')
      } else if (killedAt > 0 && r.peerId !== victim && firstAfter === 0) {
        firstAfter = now
      }
    })
    const { report } = await job.done.catch((err: { code?: string; message?: string }) => {
      throw new Error(`the recovery job failed: ${err.code} ${err.message}`)
    })
    console.log(
      `recovery after SIGKILL of the job's orchestrator: ${(firstAfter - killedAt).toFixed(0)} ms from the last result before the kill to the first from the next peer (${report.resent} frames re-sent, ${report.items}/60 delivered once each, in order)`,
    )
  } finally {
    for (const c of children)
      if (c.proc.exitCode === null && c.proc.signalCode === null) await c.call({ cmd: 'stop' })
    await market.stop()
  }
}

await main()
