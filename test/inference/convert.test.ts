import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import test from 'ava'
import * as ort from 'onnxruntime-node'
import { isFramemeshError } from '../../src/errors.js'
import { buildBlendModel } from '../../src/inference/convert/blend.js'
import { type KerasLayer, readTfjsLayersModel } from '../../src/inference/convert/tfjs-model.js'
import { convertTfjsLayersToOnnx } from '../../src/inference/convert/tfjs-to-onnx.js'
import {
  loadTfjsModel,
  maxAbsDiff,
  photoCrop,
  runTfjs,
  saveTfjsModel,
  upscalerModelJson,
} from './convert-fixtures.js'

/** On the 0–255 scale; float32 rounding differences between tfjs and ORT stay far below this. */
const TOLERANCE = 1e-3

const cases = [
  { pkg: 'esrgan-slim', scale: 2, sourceMax: 255, width: 32, height: 24 },
  { pkg: 'esrgan-slim', scale: 4, sourceMax: 255, width: 32, height: 24 },
  { pkg: 'esrgan-medium', scale: 2, sourceMax: 255, width: 32, height: 24 },
  { pkg: 'esrgan-medium', scale: 4, sourceMax: 255, width: 32, height: 24 },
  // The thick (RRDN) models are ten times larger; a smaller crop keeps the tfjs reference quick.
  { pkg: 'esrgan-thick', scale: 2, sourceMax: 1, width: 16, height: 12 },
  { pkg: 'esrgan-thick', scale: 4, sourceMax: 1, width: 16, height: 12 },
] as const

for (const c of cases) {
  test(`${c.pkg} x${c.scale} converted to ONNX gives the TF.js output within ${TOLERANCE} on a photo`, async (t) => {
    const modelJson = upscalerModelJson(c.pkg, c.scale)
    const image = await photoCrop(c.width, c.height)
    const converted = convertTfjsLayersToOnnx(await readTfjsLayersModel(modelJson), {
      name: `${c.pkg}-x${c.scale}`,
      sourceMax: c.sourceMax,
    })
    t.is(converted.scale, c.scale)

    const session = await ort.InferenceSession.create(converted.onnx)
    t.deepEqual(session.inputNames, ['input'])
    t.deepEqual(session.outputNames, ['output'])
    const result = await session.run({ input: new ort.Tensor('float32', image, [1, c.height, c.width, 3]) })
    const output = result.output as ort.Tensor
    t.deepEqual(output.dims, [1, c.height * c.scale, c.width * c.scale, 3])
    await session.release()

    const reference = runTfjs(await loadTfjsModel(modelJson), image, c.width, c.height, c.sourceMax)
    const diff = maxAbsDiff(reference, output.data as Float32Array)
    t.log(`max |onnx - tfjs| = ${diff.toExponential(2)}`)
    t.true(diff <= TOLERANCE, `max abs difference ${diff}`)
    // Guard against a trivially equal pair (e.g. both all zeros): the output must look like the photo.
    const mean = (output.data as Float32Array).reduce((a, b) => a + b, 0) / output.data.length
    const inputMean = image.reduce((a, b) => a + b, 0) / image.length
    t.true(Math.abs(mean - inputMean) < 20, `output mean ${mean} vs input mean ${inputMean}`)
  })
}

test('convolutions with stride 2, even kernels, dilation and valid padding convert to the TF.js result', async (t) => {
  // UpscalerJS models only use stride-1 odd kernels; this random model covers the other Conv2D paths.
  await tf.setBackend('cpu')
  const input = tf.input({ shape: [null, null, 3] as unknown as number[] })
  const init = () => ({
    kernelInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: 7 }),
    biasInitializer: 'ones' as const,
  })
  const down = tf.layers
    .conv2d({ filters: 8, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu', ...init() })
    .apply(input) as tf.SymbolicTensor
  const dilated = tf.layers
    .conv2d({ filters: 8, kernelSize: 3, dilationRate: 2, padding: 'same', ...init() })
    .apply(down) as tf.SymbolicTensor
  const pointwise = tf.layers
    .conv2d({ filters: 8, kernelSize: 1, padding: 'valid', ...init() })
    .apply(down) as tf.SymbolicTensor
  const wide = tf.layers
    .conv2d({ filters: 8, kernelSize: [2, 4], padding: 'same', ...init() })
    .apply(down) as tf.SymbolicTensor
  const sum = tf.layers.add().apply([dilated, pointwise, wide]) as tf.SymbolicTensor
  const relu = tf.layers.reLU().apply(sum) as tf.SymbolicTensor
  const joined = tf.layers.concatenate({ axis: -1 }).apply([relu, down]) as tf.SymbolicTensor
  const up = tf.layers.upSampling2d({ size: [4, 4] }).apply(joined) as tf.SymbolicTensor
  const out = tf.layers
    .conv2d({ filters: 3, kernelSize: 3, padding: 'same', ...init() })
    .apply(up) as tf.SymbolicTensor
  const model = tf.model({ inputs: input, outputs: out })

  const dir = await mkdtemp(join(tmpdir(), 'framemesh-convert-'))
  try {
    const modelJson = await saveTfjsModel(model, dir)
    const converted = convertTfjsLayersToOnnx(await readTfjsLayersModel(modelJson), {
      name: 'synthetic',
      sourceMax: 255,
    })
    t.is(converted.scale, 4) // the stride-2 step is not counted: scale only tracks up-sampling
    // Odd sizes make TF's SAME padding uneven, where before/after splits matter.
    for (const [width, height] of [
      [21, 13],
      [16, 10],
    ] as const) {
      const image = await photoCrop(width, height)
      const session = await ort.InferenceSession.create(converted.onnx)
      const result = await session.run({ input: new ort.Tensor('float32', image, [1, height, width, 3]) })
      const reference = runTfjs(model, image, width, height, 255)
      t.deepEqual((result.output as ort.Tensor).dims, [
        1,
        Math.ceil(height / 2) * 4,
        Math.ceil(width / 2) * 4,
        3,
      ])
      t.true(maxAbsDiff(reference, (result.output as ort.Tensor).data as Float32Array) <= TOLERANCE)
      await session.release()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

for (const c of [cases[0], cases[cases.length - 1]]) {
  test(`${c.pkg} x${c.scale} with frameBytes takes and returns bytes: its float core clamped and rounded half up`, async (t) => {
    const model = await readTfjsLayersModel(upscalerModelJson(c.pkg, c.scale))
    const floats = convertTfjsLayersToOnnx(model, { name: 'floats', sourceMax: c.sourceMax })
    const bytes = convertTfjsLayersToOnnx(model, { name: 'bytes', sourceMax: c.sourceMax, frameBytes: true })
    const image = await photoCrop(c.width, c.height)
    const dims = [1, c.height, c.width, 3]
    const floatSession = await ort.InferenceSession.create(floats.onnx)
    const byteSession = await ort.InferenceSession.create(bytes.onnx)
    t.teardown(async () => {
      await floatSession.release()
      await byteSession.release()
    })
    const core = (await floatSession.run({ input: new ort.Tensor('float32', image, dims) }))
      .output as ort.Tensor
    const out = (await byteSession.run({ input: new ort.Tensor('uint8', Uint8Array.from(image), dims) }))
      .output as ort.Tensor
    t.is(out.type, 'uint8')
    t.deepEqual(out.dims, core.dims)
    const expected = Uint8Array.from(core.data as Float32Array, (v) =>
      Math.min(255, Math.max(0, Math.round(v))),
    )
    t.deepEqual(out.data, expected)
    // The float core overshoots 0–255 on a real photo, so the clamp is exercised, not assumed.
    t.true((core.data as Float32Array).some((v) => v < 0 || v > 255))
  })
}

test('blend takes and returns frame bytes: round(frame0 + t·(frame1 − frame0)) for every pixel, t clamped to [0, 1]', async (t) => {
  const session = await ort.InferenceSession.create(buildBlendModel())
  t.deepEqual([...session.inputNames].sort(), ['frame0', 'frame1', 't'])
  const width = 7
  const height = 5
  const frame0 = Uint8Array.from(await photoCrop(width, height, 0, 0))
  const frame1 = Uint8Array.from(await photoCrop(width, height, 60, 70))
  for (const [tv, effective] of [
    [0, 0],
    [0.25, 0.25],
    [0.5, 0.5],
    [1, 1],
    [-3, 0],
    [7, 1],
  ]) {
    const result = await session.run({
      frame0: new ort.Tensor('uint8', frame0, [1, height, width, 3]),
      frame1: new ort.Tensor('uint8', frame1, [1, height, width, 3]),
      t: new ort.Tensor('float32', Float32Array.of(tv), [1]),
    })
    const output = result.output as ort.Tensor
    t.is(output.type, 'uint8')
    t.deepEqual(output.dims, [1, height, width, 3])
    const expected = frame0.map((a, i) => Math.round(a + effective * ((frame1[i] as number) - a)))
    t.deepEqual(output.data, expected, `t = ${tv}`)
  }
  await session.release()
})

/** esrgan-slim x2 with one layer edited, then converted: returns what the converter threw. */
async function convertEdited(layerName: string, edit: (layer: KerasLayer) => void): Promise<unknown> {
  const model = await readTfjsLayersModel(upscalerModelJson('esrgan-slim', 2))
  const layer = model.topology.layers.find((l) => l.name === layerName)
  if (layer === undefined) throw new Error(`fixture changed: no layer ${layerName}`)
  edit(layer)
  try {
    convertTfjsLayersToOnnx(model, { name: 'edited', sourceMax: 255 })
  } catch (err) {
    return err
  }
  return undefined
}

test('a layer class with no ONNX translation is rejected with ERR_UNSUPPORTED_LAYER naming the layer', async (t) => {
  const err = await convertEdited('UPN1_Relu', (l) => {
    l.class_name = 'LeakyReLU'
  })
  t.true(isFramemeshError(err, 'ERR_UNSUPPORTED_LAYER'))
  t.regex((err as Error).message, /UPN1_Relu.*LeakyReLU/)
  t.deepEqual((err as { details?: unknown }).details, { layer: 'UPN1_Relu', className: 'LeakyReLU' })
})

test('a supported layer with an unsupported setting is rejected with ERR_UNSUPPORTED_LAYER', async (t) => {
  const edits: [string, Record<string, unknown>, RegExp][] = [
    ['UPN2', { activation: 'sigmoid' }, /UPN2.*sigmoid/],
    ['UPsample', { interpolation: 'bilinear' }, /UPsample.*bilinear/],
    ['F_0', { padding: 'causal' }, /F_0.*causal/],
  ]
  for (const [name, patch, message] of edits) {
    const err = await convertEdited(name, (l) => Object.assign(l.config, patch))
    t.true(isFramemeshError(err, 'ERR_UNSUPPORTED_LAYER'), name)
    t.regex((err as Error).message, message)
  }
})

test('a TF.js model whose weight shard is missing is rejected with ERR_TFJS_MODEL_INVALID', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'framemesh-convert-'))
  try {
    await copyFile(upscalerModelJson('esrgan-slim', 2), join(dir, 'model.json'))
    const err = await t.throwsAsync(readTfjsLayersModel(join(dir, 'model.json')))
    t.true(isFramemeshError(err, 'ERR_TFJS_MODEL_INVALID'))
    t.regex(err?.message ?? '', /group1-shard1of1\.bin/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
