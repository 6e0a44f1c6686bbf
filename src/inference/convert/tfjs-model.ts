/**
 * Reads a TF.js *layers* model (model.json + binary weight shards) from disk into typed values:
 * the Keras functional topology and each weight as a Float32Array with its shape.
 */
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { TfjsModelInvalidError } from './errors.js'

/** One Keras layer as serialised in model.json (Keras 2 functional format). */
export interface KerasLayer {
  class_name: string
  name: string
  config: Record<string, unknown>
  /** inbound_nodes[node][input] = [layerName, nodeIndex, tensorIndex, kwargs] */
  inbound_nodes: [string, number, number, unknown?][][]
}

export interface KerasFunctionalConfig {
  name: string
  layers: KerasLayer[]
  input_layers: [string, number, number][]
  output_layers: [string, number, number][]
}

export interface WeightTensor {
  shape: number[]
  data: Float32Array
}

export interface TfjsLayersModel {
  /** Where the model was read from, for error messages. */
  source: string
  topology: KerasFunctionalConfig
  weights: Map<string, WeightTensor>
}

interface WeightSpec {
  name: string
  shape: number[]
  dtype: string
  quantization?: unknown
}

interface WeightGroup {
  paths: string[]
  weights: WeightSpec[]
}

/** Loads model.json and its shards; every byte of every shard must be claimed by a weight. */
export async function readTfjsLayersModel(modelJsonPath: string): Promise<TfjsLayersModel> {
  let json: unknown
  try {
    json = JSON.parse(await readFile(modelJsonPath, 'utf8'))
  } catch (err) {
    throw new TfjsModelInvalidError(modelJsonPath, 'model.json cannot be read or parsed', { cause: err })
  }
  const root = asRecord(json, modelJsonPath, 'model.json')
  if (root.format !== undefined && root.format !== 'layers-model') {
    throw new TfjsModelInvalidError(
      modelJsonPath,
      `format is "${String(root.format)}", expected "layers-model"`,
    )
  }
  const topology = parseTopology(root.modelTopology, modelJsonPath)
  const groups = root.weightsManifest
  if (!Array.isArray(groups)) throw new TfjsModelInvalidError(modelJsonPath, 'weightsManifest is missing')

  const weights = new Map<string, WeightTensor>()
  const dir = dirname(modelJsonPath)
  for (const group of groups as WeightGroup[]) {
    const shards = await Promise.all(
      group.paths.map(async (p) => {
        try {
          return await readFile(join(dir, p))
        } catch (err) {
          throw new TfjsModelInvalidError(modelJsonPath, `weight shard ${p} cannot be read`, { cause: err })
        }
      }),
    )
    const bytes = Buffer.concat(shards)
    let offset = 0
    for (const spec of group.weights) {
      if (spec.dtype !== 'float32' || spec.quantization !== undefined) {
        throw new TfjsModelInvalidError(
          modelJsonPath,
          `weight ${spec.name} is ${spec.quantization === undefined ? spec.dtype : 'quantized'}; only plain float32 weights are supported`,
        )
      }
      const count = spec.shape.reduce((a, b) => a * b, 1)
      const end = offset + count * 4
      if (end > bytes.length) {
        throw new TfjsModelInvalidError(modelJsonPath, `weight ${spec.name} runs past the end of its shards`)
      }
      const data = new Float32Array(count)
      const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 4)
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true)
      weights.set(spec.name, { shape: spec.shape, data })
      offset = end
    }
    if (offset !== bytes.length) {
      throw new TfjsModelInvalidError(
        modelJsonPath,
        `shards hold ${bytes.length} bytes but the manifest describes ${offset}`,
      )
    }
  }
  return { source: modelJsonPath, topology, weights }
}

function parseTopology(value: unknown, path: string): KerasFunctionalConfig {
  const topo = asRecord(value, path, 'modelTopology')
  // Keras saves either {model_config: {class_name, config}} or the {class_name, config} pair directly.
  const modelConfig =
    topo.model_config === undefined ? topo : asRecord(topo.model_config, path, 'model_config')
  const className = modelConfig.class_name
  if (className !== 'Model' && className !== 'Functional') {
    throw new TfjsModelInvalidError(
      path,
      `model class is "${String(className)}"; only functional models are supported`,
    )
  }
  const config = asRecord(modelConfig.config, path, 'model_config.config')
  if (
    !Array.isArray(config.layers) ||
    !Array.isArray(config.input_layers) ||
    !Array.isArray(config.output_layers)
  ) {
    throw new TfjsModelInvalidError(path, 'model_config lacks layers, input_layers or output_layers')
  }
  return config as unknown as KerasFunctionalConfig
}

function asRecord(value: unknown, path: string, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TfjsModelInvalidError(path, `${what} is not an object`)
  }
  return value as Record<string, unknown>
}
