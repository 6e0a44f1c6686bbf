import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import * as ort from 'onnxruntime-node'
import { builtinModelsDir } from '../../src/inference/builtins.js'
import { openInferenceEngine } from '../../src/inference/engine.js'
import { frameToTensor, tensorToFrame } from '../../src/inference/frame-tensor.js'
import { PositionTensors } from '../../src/inference/pipelines/interpolate.js'
import { planTiles } from '../../src/inference/tiling.js'
import type { Frame, TensorSpec } from '../../src/inference/types.js'
import { engineFixture, testFrame } from './helpers/engine-fixture.js'
import { upscaleManifest, upscaleModelBytes, writeModelFolder } from './helpers/onnx-models.js'

function maxDiff(a: Frame, b: Frame): number {
  let max = 0
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i] - b.data[i]))
  return max
}

/**
 * The reference: build the NHWC tensor by hand (float32, or the frame's bytes for a model that
 * takes them), call onnxruntime directly, clamp and round a float output by hand.
 */
async function directUpscale(
  modelPath: string,
  frame: Frame,
  dtype: 'float32' | 'uint8' = 'float32',
): Promise<Frame> {
  const session = await ort.InferenceSession.create(modelPath, { logSeverityLevel: 3 })
  try {
    const dims = [1, frame.height, frame.width, 3]
    const input =
      dtype === 'uint8'
        ? new ort.Tensor('uint8', Uint8Array.from(frame.data), dims)
        : new ort.Tensor('float32', Float32Array.from(frame.data), dims)
    const result = await session.run({ [session.inputNames[0]]: input })
    const out = result[session.outputNames[0]]
    const data =
      out.type === 'uint8'
        ? (out.data as Uint8Array)
        : Uint8Array.from(out.data as Float32Array, (v) => Math.min(255, Math.max(0, Math.round(v))))
    return { width: out.dims[2], height: out.dims[1], channels: 3, data }
  } finally {
    await session.release()
  }
}

test('upscale returns a frame twice the size that equals a direct onnxruntime call byte for byte', async (t) => {
  const f = await engineFixture()
  t.teardown(f.cleanup)
  const frame = testFrame(33, 17)
  const out = await f.engine.upscale('up-deep', frame)
  t.deepEqual([out.width, out.height, out.channels], [66, 34, 3])
  const direct = await directUpscale(f.registry.get('up-deep').modelPath, frame)
  t.deepEqual(out.data, direct.data)
})

test('tiles with overlap ≥ the receptive radius give the whole-frame result exactly; no overlap shows seams', async (t) => {
  const f = await engineFixture()
  t.teardown(f.cleanup)
  const frame = testFrame(70, 45, 2)
  t.true(planTiles(70, 45, { tileSize: 24, overlap: 3 }).length > 4, 'the frame really is cut into tiles')
  const whole = await f.engine.upscale('up-deep', frame, { tileSize: 128, overlap: 0 })
  // up-deep stacks three 3×3 convolutions: receptive radius 3 pixels.
  const tiled = await f.engine.upscale('up-deep', frame, { tileSize: 24, overlap: 3 })
  t.is(maxDiff(whole, tiled), 0)
  const seamy = await f.engine.upscale('up-deep', frame, { tileSize: 24, overlap: 0 })
  t.true(maxDiff(whole, seamy) > 0, 'without context the tile borders differ (so the check above can fail)')
})

test('tiling covers every pixel exactly once with cores no larger than tileSize − 2·overlap', (t) => {
  for (const [w, h, tileSize, overlap] of [
    [70, 45, 24, 3],
    [1, 300, 64, 16],
    [129, 128, 64, 0],
  ]) {
    const seen = new Uint8Array(w * h)
    for (const { core, padded } of planTiles(w, h, { tileSize, overlap })) {
      t.true(padded.width <= tileSize && padded.height <= tileSize)
      t.true(padded.x <= core.x && padded.x + padded.width >= core.x + core.width)
      for (let y = core.y; y < core.y + core.height; y++) {
        for (let x = core.x; x < core.x + core.width; x++) seen[y * w + x]++
      }
    }
    t.true(
      seen.every((c) => c === 1),
      `${w}x${h} tiled ${tileSize}/${overlap}`,
    )
  }
  t.throws(() => planTiles(10, 10, { tileSize: 8, overlap: 4 }), { code: 'ERR_TILING_INVALID' })
})

test('frames convert to NCHW 0–1 tensors and back without loss', (t) => {
  const frame = testFrame(5, 4)
  const spec: TensorSpec = {
    name: 'x',
    layout: 'NCHW',
    dtype: 'float32',
    shape: [1, 3, -1, -1],
    range: [0, 1],
  }
  const tensor = frameToTensor(frame, spec)
  t.deepEqual(tensor.dims, [1, 3, 4, 5])
  t.is(
    (tensor.data as Float32Array)[20],
    Math.fround(frame.data[1] / 255),
    'plane 1 starts with the first pixel’s green',
  )
  t.deepEqual(tensorToFrame('m', tensor, spec).data, frame.data)
  const region = frameToTensor(
    frame,
    { ...spec, layout: 'NHWC', shape: [1, -1, -1, 3] },
    {
      x: 1,
      y: 2,
      width: 2,
      height: 1,
    },
  )
  t.deepEqual(
    Array.from(region.data as Float32Array, (v) => Math.round(v * 255)),
    Array.from(frame.data.subarray((2 * 5 + 1) * 3, (2 * 5 + 3) * 3)),
  )
})

test('interpolate blends two frames at t through the model', async (t) => {
  const f = await engineFixture()
  t.teardown(f.cleanup)
  const a = testFrame(8, 6, 1)
  const b = testFrame(8, 6, 9)
  t.deepEqual((await f.engine.interpolate('blend', a, b, 0)).data, a.data)
  t.deepEqual((await f.engine.interpolate('blend', a, b, 1)).data, b.data)
  const mid = await f.engine.interpolate('blend', a, b, 0.5)
  t.deepEqual(
    mid.data,
    a.data.map((v, i) => Math.round((v + b.data[i]) / 2)),
  )
})

test('interpolations at different positions in flight at once each get their own position, also when a position repeats', async (t) => {
  const f = await engineFixture()
  t.teardown(f.cleanup)
  const a = testFrame(8, 6, 1)
  const b = testFrame(8, 6, 9)
  const at = (k: number) => a.data.map((v, i) => Math.round(v + (b.data[i] - v) * k))
  const positions = [0.25, 0.75, 0.25, 1, 0.75, 0]
  const frames = await Promise.all(positions.map((k) => f.engine.interpolate('blend', a, b, k)))
  for (const [i, frame] of frames.entries()) t.deepEqual(frame.data, at(positions[i]), `t = ${positions[i]}`)
})

test('position tensors are made once per value and rank, hold their value, and past the limit are made afresh', (t) => {
  const positions = new PositionTensors(2)
  const half = positions.get(0.5, 1)
  t.is(positions.get(0.5, 1), half)
  t.deepEqual(Array.from(half.data as Float32Array), [0.5])
  t.deepEqual(half.dims, [1])
  t.deepEqual(positions.get(0.5, 4).dims, [1, 1, 1, 1])
  t.is(positions.get(0.5, 1), half) // known values do not count against the limit
  positions.get(0.25, 1) // a third value: the cache starts afresh
  t.not(positions.get(0.5, 1), half)
})

test('bad inputs each get their own typed error and the engine keeps serving', async (t) => {
  const f = await engineFixture({ maxPixels: 64 * 64 })
  t.teardown(f.cleanup)
  // A corrupt bring-your-own file sits among the good models.
  await writeModelFolder(f.dir, upscaleManifest('broken', 2), new TextEncoder().encode('not a model at all'))
  await f.registry.scan()
  const rgb = (w: number, h: number, data = new Uint8Array(w * h * 3)): Frame => ({
    width: w,
    height: h,
    channels: 3,
    data,
  })
  const cases: Array<[Promise<unknown>, string]> = [
    [f.engine.upscale('up-a', rgb(0, 4)), 'ERR_FRAME_INVALID'],
    [f.engine.upscale('up-a', rgb(4, -1, new Uint8Array(0))), 'ERR_FRAME_INVALID'],
    [f.engine.upscale('up-a', rgb(65, 64)), 'ERR_FRAME_TOO_LARGE'],
    [
      f.engine.upscale('up-a', { ...rgb(2, 2), channels: 4 as 3, data: new Uint8Array(16) }),
      'ERR_FRAME_INVALID',
    ],
    [f.engine.upscale('up-a', rgb(4, 4, new Uint8Array(47))), 'ERR_FRAME_INVALID'],
    [
      f.engine.upscale('up-a', { ...rgb(1, 1), data: [1, 2, 3] as unknown as Uint8Array }),
      'ERR_FRAME_INVALID',
    ],
    [f.engine.upscale('nope', rgb(4, 4)), 'ERR_MODEL_NOT_FOUND'],
    [f.engine.upscale('blend', rgb(4, 4)), 'ERR_WRONG_PIPELINE'],
    [f.engine.upscale('broken', rgb(4, 4)), 'ERR_MODEL_CORRUPT'],
    [f.engine.upscale('up-a', rgb(4, 4), { tileSize: 4, overlap: 2 }), 'ERR_TILING_INVALID'],
    [f.engine.interpolate('blend', rgb(4, 4), rgb(4, 5), 0.5), 'ERR_FRAME_INVALID'],
    [f.engine.interpolate('blend', rgb(4, 4), rgb(4, 4), 1.5), 'ERR_INPUT_INVALID'],
    [f.engine.interpolate('blend', rgb(4, 4), rgb(4, 4), Number.NaN), 'ERR_INPUT_INVALID'],
  ]
  for (const [promise, code] of cases) await t.throwsAsync(promise, { code })
  t.is(f.engine.models().find((m) => m.id === 'broken')?.state, 'failed')
  const out = await f.engine.upscale('up-a', rgb(64, 64))
  t.deepEqual([out.width, out.height], [128, 128])
})

const builtins = builtinModelsDir()
const haveEsrgan = existsSync(join(builtins, 'esrgan-slim-x2', 'manifest.json'))

test('the built-in esrgan-slim-x2 upscales ×2, equals a direct onnxruntime call, and tiles without seams', async (t) => {
  if (!haveEsrgan) return t.fail(`built-in models missing in ${builtins}: run \`npm run build:models\``)
  const modelsDir = await mkdtemp(join(tmpdir(), 'fm-byo-'))
  const engine = await openInferenceEngine({}, { modelsDir })
  t.teardown(async () => {
    await engine.close()
    await rm(modelsDir, { recursive: true, force: true })
  })
  const frame = testFrame(96, 80, 3)
  const whole = await engine.upscale('esrgan-slim-x2', frame, { tileSize: 128 })
  t.deepEqual([whole.width, whole.height], [192, 160])
  const direct = await directUpscale(engine.registry.get('esrgan-slim-x2').modelPath, frame, 'uint8')
  t.deepEqual(whole.data, direct.data)
  // Measured: with overlap 16 the tiled output equals the whole-frame one (max difference 0);
  // with overlap 4 it differs by up to ~6 levels, with none by ~120.
  const tiled = await engine.upscale('esrgan-slim-x2', frame, { tileSize: 64, overlap: 16 })
  t.true(maxDiff(whole, tiled) <= 1, `tiled vs whole max difference ${maxDiff(whole, tiled)}`)
  const seamy = await engine.upscale('esrgan-slim-x2', frame, { tileSize: 48, overlap: 0 })
  t.true(maxDiff(whole, seamy) > 16)
})

test('a model file with one flipped byte is refused with ERR_MANIFEST_MISMATCH before onnxruntime runs it', async (t) => {
  const f = await engineFixture()
  t.teardown(f.cleanup)
  const record = f.registry.get('up-b')
  // Same bytes length, one flipped byte: sha256 catches it even if protobuf would still decode.
  const bytes = await readFile(record.modelPath)
  bytes[bytes.length - 10] ^= 0xff
  await writeFile(record.modelPath, bytes)
  await t.throwsAsync(f.engine.upscale('up-b', testFrame(4, 4)), { code: 'ERR_MANIFEST_MISMATCH' })
  t.is((await f.engine.upscale('up-c', testFrame(4, 4))).width, 8)
})

test('an NCHW model working in 0–1 gives the same picture as its NHWC 0–255 twin (layout and range come from the manifest)', async (t) => {
  const f = await engineFixture()
  t.teardown(f.cleanup)
  const image = (name: string): TensorSpec => ({
    name,
    layout: 'NCHW',
    dtype: 'float32',
    shape: [1, 3, -1, -1],
    range: [0, 1],
  })
  const manifest = upscaleManifest('nchw-unit', 2, { inputs: [image('input')], outputs: [image('output')] })
  await writeModelFolder(f.dir, manifest, upscaleModelBytes({ nchwUnit: true, layers: 3, seed: 7 }))
  await f.registry.scan()
  const frame = testFrame(40, 30, 5)
  const twin = await f.engine.upscale('up-deep', frame) // NHWC 0–255, same seed and layers
  const out = await f.engine.upscale('nchw-unit', frame, { tileSize: 24, overlap: 4 })
  t.deepEqual([out.width, out.height], [80, 60])
  t.true(maxDiff(out, twin) <= 1, `max difference ${maxDiff(out, twin)}`)
})

test('every built-in model loads and passes its warm-up run in the engine', async (t) => {
  if (!haveEsrgan) return t.fail(`built-in models missing in ${builtins}: run \`npm run build:models\``)
  const modelsDir = await mkdtemp(join(tmpdir(), 'fm-byo-'))
  const engine = await openInferenceEngine({}, { modelsDir, session: { intraOpNumThreads: 1 } })
  t.teardown(async () => {
    await engine.close()
    await rm(modelsDir, { recursive: true, force: true })
  })
  const ids = engine.models().map((m) => m.id)
  for (const id of ['esrgan-slim-x2', 'esrgan-slim-x4', 'blend', 'ppocr-v4-det', 'ppocr-v4-rec']) {
    t.true(ids.includes(id), `${id} is built in`)
  }
  for (const id of ids) {
    await engine.warm(id)
    t.is(engine.model(id).state, 'warm', id)
    await engine.unload(id) // one at a time keeps the test's memory small
  }
})
