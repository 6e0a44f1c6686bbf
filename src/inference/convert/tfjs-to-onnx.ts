/**
 * Translates a TF.js layers model (Keras functional, channels_last) into an ONNX graph.
 * The ONNX model keeps the TF.js interface — NHWC float32 in, NHWC float32 out, both on
 * the 0–255 scale — and runs NCHW inside, because ONNX Conv is NCHW: one Transpose at
 * each end, none in between.
 */
import { UnsupportedLayerError } from './errors.js'
import { type AttributeValue, type Dim, ONNX_DTYPE, OnnxGraph } from './onnx-graph.js'
import type { KerasLayer, TfjsLayersModel, WeightTensor } from './tfjs-model.js'

export interface ConvertOptions {
  /** Graph name written into the ONNX file. */
  name: string
  /**
   * Largest pixel value the TF.js model expects (1 for models trained on 0–1, 255 for 0–255).
   * The ONNX model always takes and returns 0–255; for 1 a scale is folded in at each end.
   */
  sourceMax: 1 | 255
  /**
   * Take and return frame bytes (uint8 NHWC) instead of float32 0–255: the graph casts its input
   * and clamps, rounds half up and casts its output itself, so a caller holding frames converts
   * nothing and a worker thread moves a quarter of the bytes. The float core is unchanged.
   */
  frameBytes?: boolean
  docString?: string
  metadata?: Record<string, string>
}

export interface ConvertResult {
  onnx: Uint8Array
  /** Output size ÷ input size, the product of every upsampling step. */
  scale: number
  parameters: number
  nodes: number
}

export const INPUT_NAME = 'input'
export const OUTPUT_NAME = 'output'

/** A value in the NCHW graph and its channel count (tracked to check concats and shuffles). */
interface Value {
  name: string
  channels: number
}

interface LayerContext {
  graph: OnnxGraph
  layer: KerasLayer
  inputs: Value[]
  weight: (suffix: string) => WeightTensor
}

interface LayerResult {
  value: Value
  /** Spatial enlargement this layer applies (1 for most). */
  scale?: number
}

type LayerConverter = (ctx: LayerContext) => LayerResult

export function convertTfjsLayersToOnnx(model: TfjsLayersModel, options: ConvertOptions): ConvertResult {
  const { topology } = model
  if (topology.input_layers.length !== 1 || topology.output_layers.length !== 1) {
    throw new UnsupportedLayerError(
      topology.name,
      'Model',
      `the model has ${topology.input_layers.length} inputs and ${topology.output_layers.length} outputs; exactly one of each is supported`,
    )
  }
  const graph = new OnnxGraph(options.name)
  const values = new Map<string, Value>()
  let scale = 1

  for (const layer of topology.layers) {
    if (layer.class_name === 'InputLayer') {
      values.set(layer.name, inputLayer(graph, layer, options.sourceMax, options.frameBytes === true))
      continue
    }
    const convert = converterFor(layer)
    if (layer.inbound_nodes.length !== 1) {
      throw new UnsupportedLayerError(
        layer.name,
        layer.class_name,
        'the layer is shared between several call sites',
      )
    }
    const inputs = (layer.inbound_nodes[0] ?? []).map(([from, node, tensor]) => {
      const value = values.get(from)
      if (value === undefined || node !== 0 || tensor !== 0) {
        throw new UnsupportedLayerError(
          layer.name,
          layer.class_name,
          `its input "${from}" is not a converted layer output`,
        )
      }
      return value
    })
    const weight = (suffix: string): WeightTensor => {
      const found = model.weights.get(`${layer.name}/${suffix}`)
      if (found === undefined) {
        throw new UnsupportedLayerError(
          layer.name,
          layer.class_name,
          `weight "${layer.name}/${suffix}" is missing`,
        )
      }
      return found
    }
    const result = convert({ graph, layer, inputs, weight })
    scale *= result.scale ?? 1
    values.set(layer.name, result.value)
  }

  const [outputLayer] = topology.output_layers[0] ?? []
  const last = outputLayer === undefined ? undefined : values.get(outputLayer)
  if (last === undefined) {
    throw new UnsupportedLayerError(String(outputLayer), 'Model', 'the output layer was never produced')
  }
  const scaled =
    options.sourceMax === 255
      ? last.name
      : graph.addNode('Mul', [last.name, graph.addFloat('to_255', [], [255])], 'output_0_255')
  // Bytes are rounded before the transpose, so it moves a quarter of the data.
  const image = options.frameBytes === true ? toBytes(graph, scaled) : scaled
  const out = graph.addNode('Transpose', [image], 'output_nhwc', { perm: [0, 2, 3, 1] })
  graph.renameOutput(out, OUTPUT_NAME)
  graph.addOutput(
    OUTPUT_NAME,
    [1, 'out_height', 'out_width', last.channels],
    options.frameBytes === true ? 'uint8' : 'float32',
  )

  const onnx = graph.encode({
    producer: 'framemesh tfjs-to-onnx',
    docString: options.docString,
    metadata: { ...options.metadata, scale: String(scale) },
  })
  return { onnx, scale, parameters: graph.parameters, nodes: graph.nodeCount }
}

/** float32 on the 0–255 scale → uint8: clamp, round half up (as Math.round does), cast. */
function toBytes(graph: OnnxGraph, value: string): string {
  const clamped = graph.addNode(
    'Clip',
    [value, graph.addFloat('byte_min', [], [0]), graph.addFloat('byte_max', [], [255])],
    'output_clamped',
  )
  const lifted = graph.addNode('Add', [clamped, graph.addFloat('half', [], [0.5])], 'output_plus_half')
  const rounded = graph.addNode('Floor', [lifted], 'output_rounded')
  return graph.addNode('Cast', [rounded], 'output_bytes', { to: ONNX_DTYPE.uint8 })
}

function inputLayer(graph: OnnxGraph, layer: KerasLayer, sourceMax: 1 | 255, frameBytes: boolean): Value {
  const shape = layer.config.batch_input_shape
  const channels = Array.isArray(shape) ? shape[3] : undefined
  if (!Array.isArray(shape) || shape.length !== 4 || typeof channels !== 'number') {
    throw new UnsupportedLayerError(
      layer.name,
      layer.class_name,
      'the input must be a rank-4 NHWC image with a fixed channel count',
    )
  }
  const dims: Dim[] = [1, 'height', 'width', channels]
  graph.addInput(INPUT_NAME, dims, frameBytes ? 'uint8' : 'float32')
  // Bytes are transposed before the cast, so the transpose moves a quarter of the data.
  const transposed = graph.addNode('Transpose', [INPUT_NAME], `${layer.name}_nchw`, { perm: [0, 3, 1, 2] })
  const nchw = frameBytes
    ? graph.addNode('Cast', [transposed], `${layer.name}_float`, { to: ONNX_DTYPE.float32 })
    : transposed
  const name =
    sourceMax === 255
      ? nchw
      : graph.addNode('Mul', [nchw, graph.addFloat('to_0_1', [], [1 / 255])], `${layer.name}_0_1`)
  return { name, channels }
}

const converters: Record<string, LayerConverter> = {
  Conv2D: conv2d,
  Activation: (ctx) => ({ value: activation(ctx, ctx.layer.config.activation, only(ctx)) }),
  ReLU: (ctx) => {
    const { max_value, negative_slope, threshold } = ctx.layer.config
    if ((max_value ?? null) !== null || (negative_slope ?? 0) !== 0 || (threshold ?? 0) !== 0) {
      unsupported(ctx, 'only a plain ReLU (no max_value, negative_slope or threshold) is supported')
    }
    return { value: activation(ctx, 'relu', only(ctx)) }
  },
  Concatenate: concatenate,
  Add: add,
  UpSampling2D: upSampling2d,
  MultiplyBeta: multiplyBeta,
}

function converterFor(layer: KerasLayer): LayerConverter {
  const direct = converters[layer.class_name]
  if (direct !== undefined) return direct
  // UpscalerJS's RRDN models register one PixelShuffle class per scale: PixelShuffle2x, PixelShuffle4x, ...
  const shuffle = /^PixelShuffle(\d+)x$/.exec(layer.class_name)
  if (shuffle !== null) return (ctx) => pixelShuffle(ctx, Number(shuffle[1]))
  throw new UnsupportedLayerError(
    layer.name,
    layer.class_name,
    'there is no ONNX translation for this layer class',
  )
}

function conv2d(ctx: LayerContext): LayerResult {
  const { graph, layer } = ctx
  const c = layer.config
  const input = only(ctx)
  channelsLast(ctx)
  const kernel = ctx.weight('kernel')
  const [kh, kw, inChannels, filters] = kernel.shape as [number, number, number, number]
  if ((c.groups ?? 1) !== 1)
    unsupported(ctx, `grouped convolution (groups ${String(c.groups)}) is not supported`)
  if (kernel.shape.length !== 4 || filters !== c.filters || inChannels !== input.channels) {
    unsupported(
      ctx,
      `kernel shape [${kernel.shape.join(', ')}] does not fit ${input.channels} input channels`,
    )
  }
  const strides = pair(c.strides, [1, 1])
  const dilations = pair(c.dilation_rate, [1, 1])
  const attrs: Record<string, AttributeValue> = { kernel_shape: [kh, kw], strides, dilations }
  if (c.padding === 'same') {
    if (strides[0] === 1 && strides[1] === 1) {
      // Stride 1: TF's SAME padding is a fixed split, extra row/column at the end.
      const th = (kh - 1) * dilations[0]
      const tw = (kw - 1) * dilations[1]
      attrs.pads = [th >> 1, tw >> 1, th - (th >> 1), tw - (tw >> 1)]
    } else {
      attrs.auto_pad = 'SAME_UPPER'
    }
  } else if (c.padding === 'valid') {
    attrs.pads = [0, 0, 0, 0]
  } else {
    unsupported(ctx, `padding "${String(c.padding)}" is not supported`)
  }
  const inputs = [
    input.name,
    graph.addFloat(`${layer.name}_W`, [filters, inChannels, kh, kw], hwioToOihw(kernel)),
  ]
  if (c.use_bias !== false) {
    const bias = ctx.weight('bias')
    inputs.push(graph.addFloat(`${layer.name}_B`, [filters], bias.data))
  }
  const conv = graph.addNode('Conv', inputs, layer.name, attrs)
  return { value: activation(ctx, c.activation, { name: conv, channels: filters }) }
}

function activation(ctx: LayerContext, kind: unknown, input: Value): Value {
  if (kind === undefined || kind === null || kind === 'linear') return input
  if (kind === 'relu')
    return { ...input, name: ctx.graph.addNode('Relu', [input.name], `${ctx.layer.name}_relu`) }
  return unsupported(ctx, `activation "${String(kind)}" is not supported`)
}

function concatenate(ctx: LayerContext): LayerResult {
  if (ctx.inputs.length < 2) unsupported(ctx, 'a concatenation needs at least two inputs')
  const axis = nchwAxis(ctx, ctx.layer.config.axis ?? -1)
  if (axis !== 1) unsupported(ctx, 'only concatenation along the channel axis is supported')
  const name = ctx.graph.addNode(
    'Concat',
    ctx.inputs.map((v) => v.name),
    ctx.layer.name,
    { axis },
  )
  return { value: { name, channels: ctx.inputs.reduce((n, v) => n + v.channels, 0) } }
}

function add(ctx: LayerContext): LayerResult {
  const [first] = ctx.inputs
  if (first === undefined || ctx.inputs.length < 2) unsupported(ctx, 'an addition needs at least two inputs')
  if (ctx.inputs.some((v) => v.channels !== first?.channels))
    unsupported(ctx, 'its inputs have different channel counts')
  const op = ctx.inputs.length === 2 ? 'Add' : 'Sum'
  const name = ctx.graph.addNode(
    op,
    ctx.inputs.map((v) => v.name),
    ctx.layer.name,
  )
  return { value: { name, channels: (first as Value).channels } }
}

function upSampling2d(ctx: LayerContext): LayerResult {
  const input = only(ctx)
  channelsLast(ctx)
  const interpolation = ctx.layer.config.interpolation ?? 'nearest'
  if (interpolation !== 'nearest')
    unsupported(ctx, `interpolation "${String(interpolation)}" is not supported`)
  const [sh, sw] = pair(ctx.layer.config.size, [2, 2])
  if (sh !== sw) unsupported(ctx, `unequal up-sampling factors ${sh}×${sw} are not supported`)
  const scales = ctx.graph.addFloat(`${ctx.layer.name}_scales`, [4], [1, 1, sh, sw])
  // Nearest with asymmetric coordinates and floor repeats each pixel s×s times, as Keras does.
  const name = ctx.graph.addNode('Resize', [input.name, '', scales], ctx.layer.name, {
    mode: 'nearest',
    coordinate_transformation_mode: 'asymmetric',
    nearest_mode: 'floor',
  })
  return { value: { name, channels: input.channels }, scale: sh }
}

/** UpscalerJS's residual scaling: x · beta (0.2 in every released RRDN model). */
function multiplyBeta(ctx: LayerContext): LayerResult {
  const input = only(ctx)
  const beta = typeof ctx.layer.config.beta === 'number' ? ctx.layer.config.beta : 0.2
  const name = ctx.graph.addNode(
    'Mul',
    [input.name, ctx.graph.addFloat(`${ctx.layer.name}_beta`, [], [beta])],
    ctx.layer.name,
  )
  return { value: { name, channels: input.channels } }
}

/** tf.depthToSpace (NHWC) orders channels as (row, column, channel): ONNX DepthToSpace mode DCR. */
function pixelShuffle(ctx: LayerContext, classScale: number): LayerResult {
  const input = only(ctx)
  const scale = typeof ctx.layer.config.scale === 'number' ? ctx.layer.config.scale : classScale
  if (scale !== classScale || input.channels % (scale * scale) !== 0) {
    unsupported(ctx, `scale ${scale} does not fit ${input.channels} channels`)
  }
  const name = ctx.graph.addNode('DepthToSpace', [input.name], ctx.layer.name, {
    blocksize: scale,
    mode: 'DCR',
  })
  return { value: { name, channels: input.channels / (scale * scale) }, scale }
}

function only(ctx: LayerContext): Value {
  const [input] = ctx.inputs
  if (input === undefined || ctx.inputs.length !== 1)
    unsupported(ctx, `expected one input, got ${ctx.inputs.length}`)
  return input as Value
}

function channelsLast(ctx: LayerContext): void {
  const format = ctx.layer.config.data_format
  if (format !== undefined && format !== null && format !== 'channels_last') {
    unsupported(ctx, `data_format "${String(format)}" is not supported`)
  }
}

/** Maps a Keras NHWC axis (possibly negative) to the NCHW axis used inside the graph. */
function nchwAxis(ctx: LayerContext, axis: unknown): number {
  if (typeof axis !== 'number' || axis < -4 || axis > 3)
    return unsupported(ctx, `axis ${String(axis)} is not valid for an image`)
  return ([0, 2, 3, 1] as const)[(axis + 4) % 4] as number
}

function pair(value: unknown, fallback: [number, number]): [number, number] {
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number')) {
    return [value[0], value[1]]
  }
  if (typeof value === 'number') return [value, value]
  return fallback
}

/** Keras kernels are [kh, kw, in, out]; ONNX Conv wants [out, in, kh, kw]. */
function hwioToOihw(kernel: WeightTensor): Float32Array {
  const [kh, kw, ci, co] = kernel.shape as [number, number, number, number]
  const src = kernel.data
  const dst = new Float32Array(src.length)
  for (let h = 0; h < kh; h++) {
    for (let w = 0; w < kw; w++) {
      for (let i = 0; i < ci; i++) {
        const from = ((h * kw + w) * ci + i) * co
        for (let o = 0; o < co; o++) dst[((o * ci + i) * kh + h) * kw + w] = src[from + o] as number
      }
    }
  }
  return dst
}

function unsupported(ctx: LayerContext, reason: string): never {
  throw new UnsupportedLayerError(ctx.layer.name, ctx.layer.class_name, reason)
}
