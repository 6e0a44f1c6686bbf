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
import { loadavg } from 'node:os'
import { clip, PRICE } from '../test/market/mesh-fixtures.js'
import { startBenchMesh } from './orchestrator-process.js'

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

async function main(): Promise<void> {
  const bench = await startBenchMesh([2])
  const { mesh, children } = bench
  try {
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
    await bench.addOrchestrator(3)
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
    await bench.stop()
  }
}

await main()
