/**
 * Inference engine benchmark: for each built-in pipeline on fixed 128×128 and 256×256 inputs,
 * the engine against calling onnxruntime-node directly on the same model file and input, in the
 * same process. Engine and direct runs are interleaved in pairs, the order flipping every pair, so
 * drift in CPU frequency or load hits both alike and neither side always runs on warmed caches.
 * The direct baseline gets ready tensors (built once) and keeps the raw output, so its ratio
 * charges the engine for everything it adds: frame → tensor, queue, warm pool, the hand-off to a
 * session thread, tensor → frame. Goal: ratio < 1.03 at ≥ 128×128. For the pipelines that take
 * frames, a second direct call starts from the frames as an app holding them must (tensors made
 * over each call's frames, the output read back as a frame; plain onnxruntime code, none of ours),
 * timed in the same rounds: `engine / direct from frames` is the engine's bookkeeping alone.
 *
 * Each model gets a row with the engine's session on the main thread, where the direct call runs
 * (what the engine itself adds), and, when the engine's default (runOn 'auto') puts the model in
 * a worker thread, a row for that placement too (adding the hand-off to the thread, which the
 * engine makes so that a node's network keeps turning while a model runs). A worker row is also
 * timed against onnxruntime called directly in a thread of its own (direct-thread.ts): that
 * separates what the engine adds from what any hand-off to a thread costs on this machine.
 *
 * On a shared machine two separate timings drift apart, so two more columns measure the overhead
 * in a way load cannot skew: `engine / its ORT run` times onnxruntime's run inside the engine's own
 * call (engine total ÷ that).
 *
 * Beside the per-call ratio (the goal's), measures in blocks of many frames (order rotating each
 * round): frames/s of the engine called with its default runs in flight per model (threads + 1
 * for worker sessions: the next input already waits in the thread while one runs) against
 * frames/s of direct calls one after another (`engine pipelined / direct (fps)`: what a node
 * streaming frames gets), and the same direct frames/s over the engine's one call at a time
 * (`engine / direct (blocks, 1 in flight)`: the per-call ratio from blocks of calls rather than
 * alternate calls, i.e. without switching between the engine's session and the direct one on
 * every call; noisier, since each block meets the machine's load alone).
 *
 * The paired calls run on BENCH_SESSION_SETS sets of sessions in turn (default 3), each set an
 * engine and direct sessions opened afresh, so that no ratio rests on the luck of one pair of
 * sessions (see SESSION_SETS); the table gives each set's ratio beside the pooled one.
 *
 *   npm run bench:inference   (BENCH_SECONDS=n per row and set, default 3; BENCH_MIN_RUNS=n, default 9;
 *                              BENCH_ONLY=<model id part>, e.g. blend;
 *                              BENCH_RUN_ON=main|worker|auto: one placement only)
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { builtinModelsDir } from '../src/inference/builtins.js'
import { createInferenceEngine, type InferenceEngine } from '../src/inference/engine.js'
import { frameToTensor } from '../src/inference/frame-tensor.js'
import { createModelRegistry, type ModelRegistry } from '../src/inference/registry.js'
import { createSessionFactory, type SessionFactory } from '../src/inference/session.js'
import type { Frame } from '../src/inference/types.js'
import { DEFAULT_POLL_AFTER_RUN_MS } from '../src/inference/worker-session.js'
import { type DirectThread, openDirectThread } from './direct-thread.js'
import { benchFrame, frameTensor, outputFrame } from './frames.js'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3)
const SIZES = [128, 256]
const MIN_RUNS = Number(process.env.BENCH_MIN_RUNS ?? 9)
// BENCH_ONLY=blend: only the cases whose model id contains it.
const ONLY = process.env.BENCH_ONLY
// Each model is measured with the engine's session on the main thread, like the direct call (the
// engine's own overhead), and then where the engine's default (runOn 'auto') places it, when that
// is a worker thread (adding the hand-off to the thread). BENCH_RUN_ON=main|worker|auto: only that.
type Placement = 'main' | 'worker' | 'auto'
const PLACEMENTS: Placement[] = (['main', 'worker', 'auto'] as const).includes(
  process.env.BENCH_RUN_ON as Placement,
)
  ? [process.env.BENCH_RUN_ON as Placement]
  : ['main', 'auto']
const INTRA_OP_THREADS = 2
/**
 * Sets of sessions each row's paired calls run on, one after another, each set with an engine and
 * direct sessions opened afresh: two sessions opened alike run apart by up to ~2 % for blend at
 * 128² (five in one process: 0.983–1.009 of the first), the luck of one pair of sessions that a
 * single set leaves in the ratio. The row's ratios are over the pairs of all sets, beside the
 * spread of the sets' own. BENCH_SESSION_SETS=n, default 3.
 */
/** Untimed paired rounds before each set's timed ones (see pairedTimes). BENCH_WARM_UP_MS, default 500. */
const WARM_UP_MS = Number(process.env.BENCH_WARM_UP_MS ?? 500)
const SESSION_SETS = Math.max(1, Number(process.env.BENCH_SESSION_SETS ?? 3))

interface Case {
  modelId: string
  label: string
  /** One engine call on the given inputs (`feeds` are the direct call's, for raw `run`). */
  engine: (e: InferenceEngine, a: Frame, b: Frame, feeds: Record<string, ort.Tensor>) => Promise<unknown>
  /** Direct onnxruntime feeds for the same inputs (built once, outside the timed loop). */
  feeds: (registry: ModelRegistry, a: Frame, b: Frame) => Record<string, ort.Tensor>
  /**
   * For a pipeline that takes frames: the same direct call as an app holding frames writes it,
   * with plain onnxruntime code: tensors made over each call's frames, the output read back as a
   * frame. `feeds` leaves that work out of the direct call (its tensors are made once); a stream
   * cannot, since each frame is new.
   */
  fromFrames?: (session: ort.InferenceSession, a: Frame, b: Frame) => Promise<Frame>
}

/** A case's call from frames with the onnxruntime session it runs on (its own: see measureRow). */
interface FromFrames {
  call: NonNullable<Case['fromFrames']>
  session: ort.InferenceSession
}

/** `share` as the engine's interpolate does: a model that takes frame bytes gets them uncopied. */
const imageFeed = (registry: ModelRegistry, id: string, index: number, frame: Frame, share = false) =>
  frameToTensor(frame, registry.get(id).manifest.inputs[index], undefined, { share })

const CASES: Case[] = [
  ...['esrgan-slim-x2', 'esrgan-slim-x4'].map(
    (id): Case => ({
      modelId: id,
      label: `upscale ${id}`,
      engine: (e, a) => e.upscale(id, a),
      feeds: (r, a) => ({ [r.get(id).manifest.inputs[0].name]: imageFeed(r, id, 0, a) }),
      // Both sizes fit one of the engine's tiles (512), so the engine runs the frame whole too.
      fromFrames: (s, a) => s.run({ [s.inputNames[0]!]: frameTensor(a) }).then((out) => outputFrame(s, out)),
    }),
  ),
  {
    modelId: 'blend',
    label: 'interpolate blend',
    engine: (e, a, b) => e.interpolate('blend', a, b, 0.5),
    feeds: (r, a, b) => {
      const [i0, i1, it] = r.get('blend').manifest.inputs
      return {
        [i0.name]: imageFeed(r, 'blend', 0, a, true),
        [i1.name]: imageFeed(r, 'blend', 1, b, true),
        [it.name]: new ort.Tensor(
          'float32',
          new Float32Array([0.5]),
          it.shape.map(() => 1),
        ),
      }
    },
    fromFrames: (s, a, b) => {
      // t is the same every call, so its tensor is made once (the engine caches it too).
      const [in0, in1, inT] = s.inputNames as [string, string, string]
      return s
        .run({ [in0]: frameTensor(a), [in1]: frameTensor(b), [inT]: HALF })
        .then((out) => outputFrame(s, out))
    },
  },
  {
    modelId: 'ppocr-v4-det',
    label: 'ocr-detect run (raw)',
    // Raw tensors in and out: the engine gets the very tensor the direct call gets.
    engine: (e, _a, _b, feeds) => e.run('ppocr-v4-det', feeds),
    feeds: (r, a) => ({ [r.get('ppocr-v4-det').manifest.inputs[0].name]: detTensor(a) }),
  },
]

/** blend's t = 0.5, shape [1]. */
const HALF = new ort.Tensor('float32', new Float32Array([0.5]), [1])

/** PaddleOCR's detector takes NCHW float32; the engine's raw `run` gets the same tensor as direct. */
function detTensor(frame: Frame): ort.Tensor {
  return frameToTensor(frame, {
    name: 'x',
    layout: 'NCHW',
    dtype: 'float32',
    shape: [1, 3, -1, -1],
    range: [0, 1],
  })
}

/** Frames per second over `frames` calls of `call`, `inFlight` of them outstanding at once. */
async function framesPerSecond(
  frames: number,
  inFlight: number,
  call: () => Promise<unknown>,
): Promise<number> {
  let started = 0
  const t0 = performance.now()
  const lane = async () => {
    while (started < frames) {
      started++
      await call()
    }
  }
  await Promise.all(Array.from({ length: inFlight }, lane))
  return (frames * 1000) / (performance.now() - t0)
}

/** Rounds of the block measures (each: engine pipelined, engine sequential, direct sequential). */
const FPS_ROUNDS = 4

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[s.length >> 1]
}

/** A session factory on `runOn` that notes where each session runs and, if asked, times onnxruntime's runs. */
function benchSessions(
  runOn: Placement,
  inside?: { ms: number },
): { factory: SessionFactory; runsOn: () => string } {
  const real = createSessionFactory({ intraOpNumThreads: INTRA_OP_THREADS, runOn })
  let runsOn = '?'
  const factory: SessionFactory = {
    sessionOptions: real.sessionOptions,
    sessionsPerModel: real.sessionsPerModel,
    defaultConcurrency: real.defaultConcurrency,
    sessionOverheadBytes: real.sessionOverheadBytes,
    async open(id, model, warmUpFeeds) {
      const s = await real.open(id, model, warmUpFeeds)
      runsOn = s.runsOn ?? '?'
      if (inside === undefined) return s
      return {
        ...s,
        run: (feeds, options) => {
          const t0 = performance.now()
          const run = s.run(feeds, options)
          const add = () => {
            inside.ms += performance.now() - t0
          }
          run.then(add, add)
          return run
        },
      }
    },
  }
  return { factory, runsOn: () => runsOn }
}

interface Inputs {
  a: Frame
  b: Frame
  feeds: Record<string, ort.Tensor>
}

async function measureRow(
  c: Case,
  size: number,
  runOn: Placement,
  modelsDir: string,
): Promise<Record<string, string | number> | undefined> {
  const makeEngine = async (factory: SessionFactory) => {
    const registry = createModelRegistry({}, { modelsDir, builtinDirs: [builtinModelsDir()] })
    await registry.scan()
    return createInferenceEngine({ registry, sessions: factory }, {})
  }
  const a = benchFrame(size, 1)
  const b = benchFrame(size, 2)
  // The timed engine's sessions are the real factory's, unwrapped: nothing of the bench's own
  // sits in the engine's path.
  const placed = benchSessions(runOn)
  // Cold: a fresh engine with nothing warm, from the call to the first result (load + warm-up + run).
  const engine = await makeEngine(placed.factory)
  const input: Inputs = { a, b, feeds: c.feeds(engine.registry, a, b) }
  const stall = watchStalls()
  let t0 = performance.now()
  await c.engine(engine, a, b, input.feeds)
  const engineCold = performance.now() - t0
  const coldStallMs = stall.stop()
  if (runOn === 'auto' && placed.runsOn() === 'main') {
    // The default keeps this model on the main thread: its 'main' row is the default's.
    await engine.close()
    return undefined
  }
  const modelPath = engine.registry.get(c.modelId).modelPath
  // The same session options the engine uses, so only the engine's own work differs.
  const openDirect = () => ort.InferenceSession.create(modelPath, placed.factory.sessionOptions)
  t0 = performance.now()
  const session = await openDirect()
  await session.run(input.feeds)
  const directCold = performance.now() - t0
  // The call from frames gets a session of its own: a session called twice a round (once per
  // direct call) stays warmer in the caches than the engine's, called once, and that alone read
  // as 1 % more overhead for blend at 128² (1.019–1.024 against 1.005–1.014, 3 runs each).
  const fromFrames: FromFrames | undefined =
    c.fromFrames === undefined ? undefined : { call: c.fromFrames, session: await openDirect() }
  if (fromFrames !== undefined) {
    // The frames baseline must do the engine's job: same frame out, byte for byte.
    const mine = await fromFrames.call(fromFrames.session, a, b)
    const engines = (await c.engine(engine, a, b, input.feeds)) as Frame
    if (mine.width !== engines.width || !Buffer.from(mine.data).equals(Buffer.from(engines.data)))
      throw new Error(`${c.label} ${size}²: the direct call from frames and the engine disagree`)
  }
  // For a model in a worker: onnxruntime called directly in a thread too, the hand-off's floor.
  const inThread =
    placed.runsOn() === 'worker'
      ? await openDirectThread(modelPath, placed.factory.sessionOptions)
      : undefined
  const closeFirstSet = async () => {
    await inThread?.close()
    await fromFrames?.session.release()
    await session.release()
    await engine.close()
  }
  let firstSetOpen = true
  try {
    const first = await pairedTimes(c, engine, session, input, placed.runsOn(), inThread, fromFrames)
    const concurrency = placed.factory.defaultConcurrency ?? 1
    const fps = await blockFps(c, engine, session, input, concurrency, median(first.direct))
    // One set of sessions open at a time, so that peak RSS is not three sets' worth.
    firstSetOpen = false
    await closeFirstSet()
    const inside = await insideRatio(c, runOn, input, makeEngine)
    const sets = [first]
    // Later sets are placed where the first one's engine ran ('auto' decides by timing, which
    // could go the other way on a busy machine).
    const placement = placed.runsOn() as 'main' | 'worker'
    for (let k = 1; k < SESSION_SETS; k++) sets.push(await freshSessionSet(c, placement, input, makeEngine))
    const paired = {
      engine: sets.flatMap((x) => x.engine),
      direct: sets.flatMap((x) => x.direct),
      inThread: sets.flatMap((x) => x.inThread),
      fromFrames: sets.flatMap((x) => x.fromFrames),
    }
    const d = median(paired.direct)
    const e = median(paired.engine)
    return {
      pipeline: c.label,
      size: `${size}x${size}`,
      'runs on': placed.runsOn(),
      runs: paired.engine.length,
      'engine ms/frame': e.toFixed(3),
      'direct ms/frame': d.toFixed(3),
      'engine frames/s': (1000 / e).toFixed(1),
      // Each engine run is paired with the direct run right after it; the median of the pair
      // ratios is robust to slow drift and to other processes sharing the CPU.
      'engine / direct': ratioOrDash(paired.engine, paired.direct),
      // Each set's own median: how far the luck of one set of sessions moves the ratio.
      'engine / direct, per session set': spread(sets.map((x) => ratioOrDash(x.engine, x.direct))),
      // Against the same call made directly in a thread of its own: what the engine adds to any
      // hand-off to a thread (and the hand-off's own cost: direct in a thread / direct).
      'engine / direct in a thread (paired)': ratioOrDash(paired.engine, paired.inThread),
      'direct in a thread / direct (paired)': ratioOrDash(paired.inThread, paired.direct),
      'engine / its ORT run': inside.toFixed(3),
      'in flight': fps.inFlight,
      'engine pipelined / direct (fps)': median(fps.pipelined.map((x, i) => x / fps.direct[i]!)).toFixed(3),
      'engine / direct (blocks, 1 in flight)': median(
        fps.direct.map((x, i) => x / fps.sequential[i]!),
      ).toFixed(3),
      // A caller holding frames, not tensors, makes tensors of each call's frames and reads the
      // output back as a frame: the engine against that direct call, and that call's own cost.
      'engine / direct from frames (paired)': ratioOrDash(paired.engine, paired.fromFrames),
      'engine / direct from frames, per session set': spread(
        sets.map((x) => ratioOrDash(x.engine, x.fromFrames)),
      ),
      'direct from frames / direct (paired)': ratioOrDash(paired.fromFrames, paired.direct),
      'cold→first ms (engine)': engineCold.toFixed(0),
      'cold→first ms (direct)': directCold.toFixed(0),
      'cold: longest loop stall ms': coldStallMs.toFixed(0),
      'peak RSS MiB': (process.resourceUsage().maxRSS / 1024).toFixed(0),
      load: loadavg()[0]!.toFixed(1),
    }
  } finally {
    if (firstSetOpen) await closeFirstSet()
  }
}

/** Paired times on an engine and direct sessions all opened for them, released afterwards. */
async function freshSessionSet(
  c: Case,
  runOn: 'main' | 'worker',
  input: Inputs,
  makeEngine: (factory: SessionFactory) => Promise<InferenceEngine>,
): Promise<Awaited<ReturnType<typeof pairedTimes>>> {
  const placed = benchSessions(runOn)
  const engine = await makeEngine(placed.factory)
  await c.engine(engine, input.a, input.b, input.feeds)
  const modelPath = engine.registry.get(c.modelId).modelPath
  const open = () => ort.InferenceSession.create(modelPath, placed.factory.sessionOptions)
  const session = await open()
  const fromFrames = c.fromFrames === undefined ? undefined : { call: c.fromFrames, session: await open() }
  const inThread =
    runOn === 'worker' ? await openDirectThread(modelPath, placed.factory.sessionOptions) : undefined
  try {
    await session.run(input.feeds)
    return await pairedTimes(c, engine, session, input, runOn, inThread, fromFrames)
  } finally {
    await inThread?.close()
    await fromFrames?.session.release()
    await session.release()
    await engine.close()
  }
}

/** "low–high" of ratios printed by ratioOrDash; '-' when there are none. */
function spread(ratios: string[]): string {
  const xs = ratios.filter((r) => r !== '-').map(Number)
  if (xs.length === 0) return '-'
  const lo = Math.min(...xs).toFixed(3)
  const hi = Math.max(...xs).toFixed(3)
  return lo === hi ? lo : `${lo}–${hi}`
}

/** Median of the paired ratios xs[i] / ys[i]; '-' when there is no pair (no thread on a main row, no call from frames for OCR). */
function ratioOrDash(xs: number[], ys: number[]): string {
  const n = Math.min(xs.length, ys.length)
  return n === 0 ? '-' : median(xs.slice(0, n).map((x, i) => x / ys[i]!)).toFixed(3)
}

/**
 * The longest gap between the turns of a 1 ms timer until `stop()`: how long this thread's event
 * loop was held (a node's network waits that long), e.g. while a model loads.
 */
function watchStalls(): { stop: () => number } {
  let last = performance.now()
  let longest = 0
  const timer = setInterval(() => {
    const now = performance.now()
    longest = Math.max(longest, now - last)
    last = now
  }, 1)
  return {
    stop() {
      clearInterval(timer)
      return Math.max(longest, performance.now() - last)
    },
  }
}

/** Holds this thread for `ms`. */
function spinFor(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {}
}

/**
 * Engine and direct calls alternately for SECONDS, and for a model the engine runs in a worker
 * thread, direct calls in a thread of their own too (`inThread`). The order changes every round:
 * whichever runs after another finds caches and clocks warmed by it, and that must not favour one
 * side.
 */
async function pairedTimes(
  c: Case,
  engine: InferenceEngine,
  session: ort.InferenceSession,
  { a, b, feeds }: Inputs,
  placement: string,
  inThread?: DirectThread,
  fromFrames?: FromFrames,
): Promise<{ engine: number[]; direct: number[]; inThread: number[]; fromFrames: number[] }> {
  const times = {
    engine: [] as number[],
    direct: [] as number[],
    inThread: [] as number[],
    fromFrames: [] as number[],
  }
  const timed = async (into: number[], call: () => Promise<unknown>) => {
    const start = performance.now()
    await call()
    into.push(performance.now() - start)
  }
  // A session thread keeps checking for work for a moment after each run (pollAfterRunMs), busy
  // on a core the direct call right after would want; so the direct call waits until that ends.
  // Busy, not asleep: a machine left idle wakes slower and runs its next call slower (measured:
  // OCR 128² direct 2.0 → 2.6 ms after 2 ms asleep). Each engine call then finds its thread asleep:
  // these are isolated calls, the hand-off's worst case. Frames sent back to back are what the
  // blocks below measure.
  const settle = placement === 'worker' ? () => spinFor(DEFAULT_POLL_AFTER_RUN_MS + 0.05) : undefined
  const calls: Array<() => Promise<void>> = [
    async () => {
      await timed(times.engine, () => c.engine(engine, a, b, feeds))
      settle?.()
    },
    () => timed(times.direct, () => session.run(feeds)),
  ]
  if (inThread !== undefined) calls.push(() => timed(times.inThread, () => inThread.run(feeds)))
  if (fromFrames !== undefined)
    calls.push(() => timed(times.fromFrames, () => fromFrames.call(fromFrames.session, a, b)))
  // Every order in turn, so each kind of call follows each other kind equally often.
  const orders = permutations(calls)
  // Untimed rounds first (WARM_UP_MS), so that neither side is timed while V8 still compiles its
  // code or onnxruntime settles its session; their times are dropped.
  const warmUpEnd = performance.now() + WARM_UP_MS
  for (let round = 0; performance.now() < warmUpEnd || round < 2; round++) {
    for (const call of orders[round % orders.length]!) await call()
  }
  for (const list of Object.values(times)) list.length = 0
  const end = performance.now() + SECONDS * 1000
  for (let round = 0; performance.now() < end || times.engine.length < MIN_RUNS; round++) {
    for (const call of orders[round % orders.length]!) await call()
  }
  return times
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]]
  return items.flatMap((first, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [first, ...rest]),
  )
}

/**
 * Blocks: the engine with its default runs in flight, the engine one call at a time, and direct
 * calls one at a time; sized to take ~SECONDS in all, their order rotating each round.
 */
async function blockFps(
  c: Case,
  engine: InferenceEngine,
  session: ort.InferenceSession,
  { a, b, feeds }: Inputs,
  inFlight: number,
  directMs: number,
) {
  const blockFrames = Math.max(4, Math.round((SECONDS * 1000) / (3 * FPS_ROUNDS) / directMs))
  const fps = { inFlight, pipelined: [] as number[], sequential: [] as number[], direct: [] as number[] }
  const blocks: Array<[number[], number, () => Promise<unknown>]> = [
    [fps.pipelined, inFlight, () => c.engine(engine, a, b, feeds)],
    [fps.sequential, 1, () => c.engine(engine, a, b, feeds)],
    [fps.direct, 1, () => session.run(feeds)],
  ]
  for (let k = 0; k < FPS_ROUNDS; k++) {
    for (let j = 0; j < blocks.length; j++) {
      const [out, n, call] = blocks[(k + j) % blocks.length]!
      out.push(await framesPerSecond(blockFrames, n, call))
    }
  }
  return fps
}

/**
 * The engine's total time per call over the time onnxruntime's run took inside it (for worker
 * sessions, the run as seen from this thread, hand-off included), on an engine of its own whose
 * sessions are timed: a ratio that other processes' load cannot skew the way it skews two
 * separate timings.
 */
async function insideRatio(
  c: Case,
  runOn: Placement,
  { a, b, feeds }: Inputs,
  makeEngine: (factory: SessionFactory) => Promise<InferenceEngine>,
): Promise<number> {
  const inside = { ms: 0 }
  const engine = await makeEngine(benchSessions(runOn, inside).factory)
  try {
    await c.engine(engine, a, b, feeds)
    const ratios: number[] = []
    const end = performance.now() + (SECONDS * 1000) / 3
    while (performance.now() < end || ratios.length < MIN_RUNS) {
      inside.ms = 0
      const start = performance.now()
      await c.engine(engine, a, b, feeds)
      ratios.push((performance.now() - start) / inside.ms)
    }
    return median(ratios)
  } finally {
    await engine.close()
  }
}

async function main(): Promise<void> {
  const modelsDir = await mkdtemp(join(tmpdir(), 'fm-bench-'))
  const rows: Array<Record<string, string | number>> = []
  try {
    for (const c of CASES.filter((k) => ONLY === undefined || k.modelId.includes(ONLY))) {
      for (const size of SIZES) {
        for (const runOn of PLACEMENTS) {
          const row = await measureRow(c, size, runOn, modelsDir)
          if (row !== undefined) rows.push(row)
          process.stderr.write(
            `done: ${c.label} ${size} runOn ${runOn}${row === undefined ? ' (kept on the main thread: see its main row)' : ''}\n`,
          )
        }
      }
    }
  } finally {
    await rm(modelsDir, { recursive: true, force: true })
  }
  console.log(
    `\nframemesh inference bench (onnxruntime-node ${ort.env.versions.node}, ${INTRA_OP_THREADS} intra-op threads, ` +
      `engine sessions: runOn ${PLACEMENTS.join(' and ')}, ${SECONDS}s per row, medians; ` +
      'engine / direct = median of paired ratios)',
  )
  console.table(rows)
  console.log(
    'peak RSS is the process maximum so far (cumulative down the table). cold: longest loop stall is the\n' +
      "longest the event loop was held during the engine's cold call (load, warm-up, first run).",
  )
  console.log(
    "runs on 'main': the engine's session on this thread, like the direct call (the engine's own overhead);\n" +
      "'worker': where the engine's default places the model, so the ratio adds the hand-off to the session thread;\n" +
      'its engine / direct is of isolated calls (the thread asleep each time: both wake-ups paid), and the\n' +
      'blocks column of calls back to back (the thread, still polling, takes the next at once).\n' +
      'engine / direct in a thread: against onnxruntime called directly in a thread of its own (inputs\n' +
      'posted, outputs transferred back), i.e. what the engine adds to a hand-off; direct in a thread / direct:\n' +
      'what the hand-off itself costs here (two thread wake-ups), engine or not.',
  )
  console.log(
    "engine pipelined / direct (fps): frames/s with the engine's default runs in flight ('in flight') over\n" +
      'frames/s of direct calls one after another (median over rounds of blocks); > 1 means faster.\n' +
      'engine / direct (blocks, 1 in flight): the per-call ratio (ms/frame) from blocks instead of alternate calls.',
  )
  console.log(
    "direct from frames: the direct call as an app holding frames makes it (tensors over each call's\n" +
      'frames, the output read back as a frame), in the same rounds; direct makes its tensors once.',
  )
  printGoal(rows)
}

/** The goal's ratios alone, a row each, narrow enough for a terminal; the table above has the rest. */
function printGoal(rows: Array<Record<string, string | number>>): void {
  const GOAL = 1.03
  const mark = (v: string | number | undefined) => {
    const n = Number(v)
    return v === undefined || v === '-' || !Number.isFinite(n)
      ? '-'
      : `${n.toFixed(3)}${n < GOAL ? '' : ' !'}`
  }
  console.log(
    `\ngoal: the engine's overhead under ${Math.round((GOAL - 1) * 100)} % at ≥ 128² (ratios below; "!" marks one at or over ${GOAL}).` +
      '\nmain rows: the engine itself, against the direct call with tensors made once and against the one from frames;' +
      '\nworker rows: against onnxruntime called in a thread of its own (the hand-off any app offloading a model pays).',
  )
  console.table(
    rows.map((r) => ({
      pipeline: r.pipeline,
      size: r.size,
      'runs on': r['runs on'],
      'engine ms': r['engine ms/frame'],
      'direct ms': r['direct ms/frame'],
      'engine / direct': mark(r['engine / direct']),
      'per session set': r['engine / direct, per session set'],
      'engine / from frames': mark(r['engine / direct from frames (paired)']),
      'per set ': r['engine / direct from frames, per session set'],
      'engine / in a thread': mark(r['engine / direct in a thread (paired)']),
      'engine / its ORT run': mark(r['engine / its ORT run']),
    })),
  )
}

await main()
