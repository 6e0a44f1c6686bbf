/**
 * `npm run bench:mesh-parallel`: what spreading a job over several orchestrators buys
 * (SubmitOptions.parallel, src/market/lanes.ts). A real mesh on loopback: three orchestrators,
 * each in a process of its own with one inference thread (as three machines would each bring
 * their own), the broadcaster in this process. The same clip is upscaled with parallel 1, 2 and 3
 * in rotating order each round; printed: frames/s (median of the rounds) and the ratio to
 * parallel 1, and how the frames were shared out.
 *
 * The machine's cores bound what it can show: three orchestrator processes and the broadcaster
 * share them, so on two cores parallel 3 cannot beat parallel 2 by much. Separate machines would
 * not share anything but the network.
 *
 * PARALLEL_FRAMES (default 60) and PARALLEL_SIZE (default 64) set the clip; PARALLEL_ROUNDS (5).
 * PARALLEL_VERIFY=0.1 checks that share of the outputs on a second orchestrator (each lane has
 * its own checker, another of the three), so the ratios include what checks cost.
 */
import { availableParallelism, loadavg } from 'node:os'
import type { MeshJob } from '../src/market/mesh.js'
import { clip, PRICE } from '../test/market/mesh-fixtures.js'
import { startBenchMesh } from './orchestrator-process.js'

const MODEL = 'esrgan-slim-x2'
const FRAMES = Number(process.env.PARALLEL_FRAMES ?? 60)
const SIZE = Number(process.env.PARALLEL_SIZE ?? 64)
const ROUNDS = Number(process.env.PARALLEL_ROUNDS ?? 5)
const SPREADS = [1, 2, 3]
const VERIFY = process.env.PARALLEL_VERIFY === undefined ? undefined : Number(process.env.PARALLEL_VERIFY)

async function main(): Promise<void> {
  const bench = await startBenchMesh([2, 3, 4])
  const { mesh } = bench
  try {
    const frames = clip(FRAMES, SIZE, SIZE)
    /** One job at `parallel`: frames/s by the clock and frames per orchestrator. */
    const run = async (parallel: number) => {
      const start = performance.now()
      const job: MeshJob = mesh.submit({
        pipeline: 'upscale',
        model: MODEL,
        maxPrice: PRICE,
        input: frames,
        parallel,
        ...(VERIFY === undefined ? {} : { verify: { share: VERIFY } }),
      })
      const { report } = await job.done
      const fps = (FRAMES * 1000) / (performance.now() - start)
      return { fps, shares: report.peers.filter((p) => p.items > 0).map((p) => p.items) }
    }
    // Untimed: code paths run the first time, and each spread's first quotes.
    for (const p of SPREADS) await run(p)
    const fps = new Map<number, number[]>(SPREADS.map((p) => [p, []]))
    const shares = new Map<number, number[][]>(SPREADS.map((p) => [p, []]))
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < SPREADS.length; i++) {
        const p = SPREADS[(round + i) % SPREADS.length]!
        const r = await run(p)
        fps.get(p)!.push(r.fps)
        shares.get(p)!.push(r.shares)
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
    const base = median(fps.get(1)!)
    console.log(
      `${FRAMES} frames of ${SIZE}×${SIZE} upscaled ×2 through the mesh${VERIFY === undefined ? '' : `, ${VERIFY * 100}% checked on a second orchestrator`}, three orchestrators (own processes, one inference thread each); ${availableParallelism()} cores; median of ${ROUNDS} rounds`,
    )
    console.log(
      `${'parallel'.padEnd(10)}${'frames/s'.padStart(10)}${'÷ parallel 1'.padStart(14)}  frames per orchestrator (last round)`,
    )
    for (const p of SPREADS) {
      const f = median(fps.get(p)!)
      console.log(
        `${String(p).padEnd(10)}${f.toFixed(1).padStart(10)}${(f / base).toFixed(2).padStart(14)}  ${shares.get(p)!.at(-1)!.join(' / ')}`,
      )
    }
    console.log(`load average at the end ${loadavg()[0]!.toFixed(1)}`)
  } finally {
    await bench.stop()
  }
}

await main()
