/**
 * Tiny real ONNX models built in-process with onnx-proto, so engine tests run real onnxruntime
 * sessions without depending on generated built-ins. Each writer returns the model folder with a
 * manifest.json beside the .onnx file, exactly as an operator would lay out a bring-your-own model.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import onnxProto from 'onnx-proto'
import type { ModelManifest, TensorSpec } from '../../../src/inference/types.js'
import { seededRng } from '../../../src/market/rng.js'

const { onnx } = onnxProto
const FLOAT = 1

type Dim = number | string

function valueInfo(name: string, dims: Dim[], elemType = FLOAT): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  }
}

function floatTensor(name: string, dims: number[], values: Float32Array): onnxProto.onnx.ITensorProto {
  return {
    name,
    dims,
    dataType: FLOAT,
    rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  }
}

function encodeModel(graph: onnxProto.onnx.IGraphProto): Uint8Array {
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'framemesh-tests',
      opsetImport: [{ domain: '', version: 13 }],
      graph,
    }),
  ).finish()
}

/** Deterministic pseudo-random numbers so fixtures are identical run to run (the market's mulberry32). */
export const seeded = seededRng

export interface UpscaleModelOptions {
  scale?: number
  seed?: number
  /** Number of stacked 3×3 convolutions; the receptive radius is this many pixels. */
  layers?: number
  /** Extra unused weight bytes, to give the file (and so the budget estimate) a chosen size. */
  padBytes?: number
  inputName?: string
  /** NCHW with values 0–1 instead of NHWC 0–255 (same weights, bias scaled: same picture out). */
  nchwUnit?: boolean
}

/**
 * NHWC float32 0–255 in, NHWC ×scale out: a few 3×3 convolutions near identity, then DepthToSpace.
 * Output ≈ nearest-neighbour upscale of a slightly blurred input, so values stay in 0–255.
 */
export function upscaleModelBytes(options: UpscaleModelOptions = {}): Uint8Array {
  const s = options.scale ?? 2
  const layers = options.layers ?? 2
  const rand = seeded(options.seed ?? 1)
  const inputName = options.inputName ?? 'input'
  const nchw = options.nchwUnit === true
  const nodes: onnxProto.onnx.INodeProto[] = nchw
    ? []
    : [{ opType: 'Transpose', input: [inputName], output: ['x0'], attribute: [perm([0, 3, 1, 2])] }]
  const inits: onnxProto.onnx.ITensorProto[] = []
  let prev = nchw ? inputName : 'x0'
  for (let l = 0; l < layers; l++) {
    const last = l === layers - 1
    const outC = last ? 3 * s * s : 3
    const w = new Float32Array(outC * 3 * 9)
    for (let o = 0; o < outC; o++) {
      const c = last ? Math.floor(o / (s * s)) : o // DepthToSpace (DCR) reads channel c*s*s + sub-pixel
      for (let i = 0; i < 3; i++) {
        for (let k = 0; k < 9; k++) {
          const centre = k === 4 && i === c ? 0.8 : 0
          w[(o * 3 + i) * 9 + k] = centre + (i === c ? 0.025 : 0.005) * rand()
        }
      }
    }
    inits.push(
      floatTensor(`w${l}`, [outC, 3, 3, 3], w),
      floatTensor(`b${l}`, [outC], new Float32Array(outC).fill(nchw ? 2 / 255 : 2)),
    )
    nodes.push({
      opType: 'Conv',
      input: [prev, `w${l}`, `b${l}`],
      output: [`c${l}`],
      attribute: [ints('pads', [1, 1, 1, 1]), ints('kernel_shape', [3, 3])],
    })
    prev = `c${l}`
  }
  nodes.push({
    opType: 'DepthToSpace',
    input: [prev],
    output: [nchw ? 'output' : 'd'],
    attribute: [{ name: 'blocksize', type: onnx.AttributeProto.AttributeType.INT, i: s }],
  })
  if (!nchw)
    nodes.push({ opType: 'Transpose', input: ['d'], output: ['output'], attribute: [perm([0, 2, 3, 1])] })
  if (options.padBytes !== undefined && options.padBytes > 0) {
    const n = Math.ceil(options.padBytes / 4)
    inits.push(floatTensor('unused_padding', [n], new Float32Array(n)))
  }
  return encodeModel({
    name: 'upscale',
    node: nodes,
    initializer: inits,
    input: [valueInfo(inputName, nchw ? [1, 3, 'height', 'width'] : [1, 'height', 'width', 3])],
    output: [
      valueInfo('output', nchw ? [1, 3, 'out_height', 'out_width'] : [1, 'out_height', 'out_width', 3]),
    ],
  })
}

export function upscaleManifest(id: string, scale = 2, patch: Partial<ModelManifest> = {}): ModelManifest {
  const image = (name: string): TensorSpec => ({
    name,
    layout: 'NHWC',
    dtype: 'float32',
    shape: [1, -1, -1, 3],
    range: [0, 255],
  })
  return {
    id,
    pipeline: 'upscale',
    file: 'model.onnx',
    inputs: [image('input')],
    outputs: [image('output')],
    scale,
    licence: 'MIT',
    ...patch,
  }
}

/** frame0, frame1 (NHWC float32 0–255) and t [1] → frame0 + (frame1 − frame0)·t. */
export function blendModelBytes(): Uint8Array {
  return encodeModel({
    name: 'blend',
    node: [
      { opType: 'Sub', input: ['frame1', 'frame0'], output: ['diff'] },
      { opType: 'Mul', input: ['diff', 't'], output: ['scaled'] },
      { opType: 'Add', input: ['frame0', 'scaled'], output: ['output'] },
    ],
    input: [
      valueInfo('frame0', [1, 'h', 'w', 3]),
      valueInfo('frame1', [1, 'h', 'w', 3]),
      valueInfo('t', [1]),
    ],
    output: [valueInfo('output', [1, 'h', 'w', 3])],
  })
}

export function blendManifest(id: string): ModelManifest {
  const image = (name: string): TensorSpec => ({
    name,
    layout: 'NHWC',
    dtype: 'float32',
    shape: [1, -1, -1, 3],
    range: [0, 255],
  })
  return {
    id,
    pipeline: 'interpolate',
    file: 'model.onnx',
    inputs: [image('frame0'), image('frame1'), { name: 't', dtype: 'float32', shape: [1] }],
    outputs: [image('output')],
    licence: 'MIT',
  }
}

/** x float32 [1, n] → y = 2x: the smallest model for raw `run` tests. */
export function doubleModelBytes(): Uint8Array {
  return encodeModel({
    name: 'double',
    node: [{ opType: 'Add', input: ['x', 'x'], output: ['y'] }],
    input: [valueInfo('x', [1, 'n'])],
    output: [valueInfo('y', [1, 'n'])],
  })
}

export function doubleManifest(id: string): ModelManifest {
  return {
    id,
    pipeline: 'ocr-detect',
    file: 'model.onnx',
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, -1] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, -1] }],
    licence: 'MIT',
  }
}

/** Write `<root>/<manifest.id>/{model.onnx, manifest.json}` and return the manifest path. */
export async function writeModelFolder(
  root: string,
  manifest: ModelManifest,
  bytes: Uint8Array,
): Promise<string> {
  const dir = join(root, manifest.id)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, manifest.file), bytes)
  const manifestPath = join(dir, 'manifest.json')
  await writeFile(manifestPath, JSON.stringify(manifest, null, 2))
  return manifestPath
}

function perm(p: number[]): onnxProto.onnx.IAttributeProto {
  return ints('perm', p)
}

function ints(name: string, values: number[]): onnxProto.onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: values }
}
