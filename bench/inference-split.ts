/**
 * Where a `blend` call's time outside onnxruntime goes: the engine's interpolate against the
 * direct call an app holding frames makes (tensors over the frames, output read back as a frame).
 * Each side's onnxruntime call is marked from outside (the engine's through a session factory
 * that wraps the real one), splitting its time into before the run starts, onnxruntime's own
 * synchronous start, and after the run's result arrives. Calls alternate; medians of 30,000 each.
 *
 *   npm run bench:inference-split   (SIZE=n, default 128; CALLS=n, default 30000)
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { builtinModelsDir } from '../src/inference/builtins.js'
import { createInferenceEngine } from '../src/inference/engine.js'
import { createModelRegistry } from '../src/inference/registry.js'
import { createSessionFactory, type SessionFactory } from '../src/inference/session.js'
import type { Frame } from '../src/inference/types.js'
import { benchFrame, frameTensor, outputFrame } from './frames.js'

const SIZE = Number(process.env.SIZE ?? 128)
const CALLS = Number(process.env.CALLS ?? 30_000)

/** Time marks around one onnxruntime call: entered, returned (sync part done), settled. */
interface Marks {
  entered: number
  returned: number
  settled: number
}

/** `run` with marks set around it; the marks' own reaction is attached before the caller's. */
function marked<T>(marks: Marks, run: () => Promise<T>): Promise<T> {
  marks.entered = performance.now()
  const pending = run()
  marks.returned = performance.now()
  pending.then(
    () => {
      marks.settled = performance.now()
    },
    () => {},
  )
  return pending
}

function medianUs(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b)
  return (s[s.length >> 1]! * 1000).toFixed(2)
}

async function main(): Promise<void> {
  const modelsDir = await mkdtemp(join(tmpdir(), 'fm-split-'))
  const registry = createModelRegistry({}, { modelsDir, builtinDirs: [builtinModelsDir()] })
  await registry.scan()
  const real = createSessionFactory({ intraOpNumThreads: 2, runOn: 'main' })
  const engineMarks: Marks = { entered: 0, returned: 0, settled: 0 }
  const factory: SessionFactory = {
    ...real,
    async open(id, model, warmUpFeeds) {
      const s = await real.open(id, model, warmUpFeeds)
      return { ...s, run: (feeds, options) => marked(engineMarks, () => s.run(feeds, options)) }
    },
  }
  const engine = createInferenceEngine({ registry, sessions: factory }, {})
  const session = await ort.InferenceSession.create(registry.get('blend').modelPath, real.sessionOptions)
  try {
    await engine.warm('blend')
    const a = benchFrame(SIZE, 1)
    const b = benchFrame(SIZE, 2)
    const [in0, in1, inT] = session.inputNames as [string, string, string]
    const half = new ort.Tensor('float32', new Float32Array([0.5]), [1])
    const directMarks: Marks = { entered: 0, returned: 0, settled: 0 }
    const direct = async (): Promise<Frame> => {
      const feeds = { [in0]: frameTensor(a), [in1]: frameTensor(b), [inT]: half }
      return outputFrame(session, await marked(directMarks, () => session.run(feeds)))
    }
    const split = {
      engine: { before: [] as number[], start: [] as number[], after: [] as number[] },
      direct: { before: [] as number[], start: [] as number[], after: [] as number[] },
    }
    const timed = async (into: typeof split.engine, marks: Marks, call: () => Promise<unknown>) => {
      const t0 = performance.now()
      await call()
      const t1 = performance.now()
      into.before.push(marks.entered - t0)
      into.start.push(marks.returned - marks.entered)
      into.after.push(t1 - marks.settled)
    }
    for (let i = 0; i < 3000; i++) {
      await engine.interpolate('blend', a, b, 0.5)
      await direct()
    }
    for (let i = 0; i < CALLS; i++) {
      // Alternate which goes first: the second finds caches warmed by the first.
      const engineCall = () => timed(split.engine, engineMarks, () => engine.interpolate('blend', a, b, 0.5))
      const directCall = () => timed(split.direct, directMarks, direct)
      if (i % 2 === 0) await engineCall().then(directCall)
      else await directCall().then(engineCall)
    }
    console.log(`blend ${SIZE}², ${CALLS} calls each, medians in µs`)
    console.table(
      Object.entries(split).map(([side, s]) => ({
        side: side === 'engine' ? 'engine.interpolate' : 'direct from frames',
        'before the run': medianUs(s.before),
        "onnxruntime's synchronous start": medianUs(s.start),
        'after the result': medianUs(s.after),
      })),
    )
  } finally {
    await session.release()
    await engine.close()
    await rm(modelsDir, { recursive: true, force: true })
  }
}

await main()
