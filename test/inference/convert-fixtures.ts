/**
 * Test-side helpers for the conversion proofs: the original TF.js models loaded from disk
 * (no network) with tfjs's pure-JS CPU backend, and a real photo crop as input.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import { installedPackageDir } from '../../src/inference/convert/package-dir.js'

const here = dirname(fileURLToPath(import.meta.url))

/** Absolute path of a packaged UpscalerJS model.json, e.g. ('esrgan-slim', 2). */
export function upscalerModelJson(pkg: string, scale: number): string {
  return join(installedPackageDir(`@upscalerjs/${pkg}`, here), 'models', `x${scale}`, 'model.json')
}

/** The 128×128 photo UpscalerJS ships as its fixture, cropped to width×height RGB at (left, top). */
export async function photoCrop(width: number, height: number, left = 40, top = 32): Promise<Float32Array> {
  const png = join(installedPackageDir('@upscalerjs/esrgan-slim', here), 'assets', 'fixture.png')
  const { data, info } = await sharp(png)
    .removeAlpha()
    .extract({ left, top, width, height })
    .raw()
    .toBuffer({ resolveWithObject: true })
  if (info.channels !== 3 || data.length !== width * height * 3)
    throw new Error('unexpected decode of fixture.png')
  return Float32Array.from(data)
}

interface BetaArgs {
  name?: string
  beta?: number
}

/** Our own implementation of UpscalerJS's residual-scaling layer, so tfjs can deserialise the RRDN models. */
class MultiplyBeta extends tf.layers.Layer {
  static readonly className = 'MultiplyBeta'
  private readonly beta: number
  constructor(args: BetaArgs) {
    super({ name: args.name })
    this.beta = args.beta ?? 0.2
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.mul(Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs, this.beta)
  }
}

function pixelShuffleClass(scale: number) {
  return class PixelShuffle extends tf.layers.Layer {
    static readonly className = `PixelShuffle${scale}x`
    constructor(args: { name?: string }) {
      super({ name: args.name })
    }
    override computeOutputShape(shape: tf.Shape | tf.Shape[]): tf.Shape {
      const s = (Array.isArray(shape[0]) ? shape[0] : shape) as tf.Shape
      const grow = (d: number | null | undefined) => (d == null ? null : d * scale)
      return [s[0] ?? null, grow(s[1]), grow(s[2]), (s[3] as number) / (scale * scale)]
    }
    override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D
      return tf.depthToSpace(x, scale, 'NHWC')
    }
  }
}

/** Loads a TF.js layers model straight from its files through a custom IOHandler. */
export async function loadTfjsModel(modelJsonPath: string): Promise<tf.LayersModel> {
  await tf.setBackend('cpu')
  tf.serialization.registerClass(MultiplyBeta)
  for (const s of [2, 3, 4, 8]) tf.serialization.registerClass(pixelShuffleClass(s))
  const json = JSON.parse(await readFile(modelJsonPath, 'utf8'))
  const handler: tf.io.IOHandler = {
    load: async () => {
      const specs: tf.io.WeightsManifestEntry[] = []
      const buffers: Buffer[] = []
      for (const group of json.weightsManifest as tf.io.WeightsManifestConfig) {
        specs.push(...group.weights)
        for (const p of group.paths) buffers.push(await readFile(join(dirname(modelJsonPath), p)))
      }
      const all = Buffer.concat(buffers)
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      }
    },
  }
  return tf.loadLayersModel(handler)
}

/** Runs the TF.js model on one NHWC image; `sourceMax` 1 means the model works on 0–1 pixels. */
export function runTfjs(
  model: tf.LayersModel,
  image: Float32Array,
  width: number,
  height: number,
  sourceMax: 1 | 255,
): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(image, [1, height, width, 3]).div(255 / sourceMax)
    const y = (model.predict(x) as tf.Tensor).mul(255 / sourceMax)
    return y.dataSync() as Float32Array
  })
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`)
  let max = 0
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)))
  return max
}

/** Saves a tfjs model as model.json + one shard in `dir` (what tfjs's own file writer produces). */
export async function saveTfjsModel(model: tf.LayersModel, dir: string): Promise<string> {
  const modelJson = join(dir, 'model.json')
  await model.save({
    save: async (artifacts) => {
      const data = artifacts.weightData
      const buffers = data === undefined ? [] : Array.isArray(data) ? data : [data]
      await writeFile(join(dir, 'weights.bin'), Buffer.concat(buffers.map((b) => Buffer.from(b))))
      const manifest = [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }]
      await writeFile(
        modelJson,
        JSON.stringify({
          format: 'layers-model',
          modelTopology: artifacts.modelTopology,
          weightsManifest: manifest,
        }),
      )
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
    },
  })
  return modelJson
}
