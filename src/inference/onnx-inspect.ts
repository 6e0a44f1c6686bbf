/**
 * Reads an .onnx file's graph interface (input/output names, element types, dims) without creating
 * an onnxruntime session, and checks it against a manifest. Decoding the protobuf is cheap and runs
 * no model code, so a bring-your-own file is vetted before onnxruntime ever sees it.
 */
import onnxProto from 'onnx-proto'
import { ManifestMismatchError, ModelCorruptError } from './errors.js'
import { readModelFile } from './model-file.js'
import type { ModelManifest, TensorSpec } from './types.js'

const { onnx } = onnxProto

/** ONNX TensorProto.DataType numbers → our names; others are reported as `type#N`. */
const ELEM_TYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
}

export interface GraphTensor {
  name: string
  dtype: string
  /** Dims with -1 for a symbolic or unknown dim; null when the file declares no shape at all. */
  shape: number[] | null
}

export interface GraphInterface {
  inputs: GraphTensor[]
  outputs: GraphTensor[]
}

export interface ValidatedModelFile {
  sha256: string
  fileBytes: number
  graph: GraphInterface
}

/** Decode the graph interface of ONNX model bytes; throws ModelCorruptError when they are not a model. */
export function inspectOnnx(bytes: Uint8Array, file = '(buffer)'): GraphInterface {
  let model: InstanceType<typeof onnx.ModelProto>
  try {
    model = onnx.ModelProto.decode(bytes)
  } catch (err) {
    throw new ModelCorruptError(file, `protobuf decoding failed: ${(err as Error).message}`, { cause: err })
  }
  const graph = model.graph
  if (graph === null || graph === undefined || (graph.output ?? []).length === 0) {
    throw new ModelCorruptError(file, 'it has no graph or the graph has no outputs')
  }
  // Older IR versions list weights among graph inputs too; those are not inputs a caller feeds.
  const weights = new Set((graph.initializer ?? []).map((t) => t.name ?? ''))
  const toTensor = (v: onnxProto.onnx.IValueInfoProto): GraphTensor => {
    const tt = v.type?.tensorType
    const elem = tt?.elemType ?? 0
    const dims = tt?.shape?.dim
    return {
      name: v.name ?? '',
      dtype: ELEM_TYPES[elem] ?? `type#${elem}`,
      shape:
        dims === undefined || dims === null || tt?.shape === null || tt?.shape === undefined
          ? null
          : // `value` names which member of the dim's oneof is set; a symbolic or unset dim is free.
            dims.map((d) => ((d as { value?: string }).value === 'dimValue' ? Number(d.dimValue) : -1)),
    }
  }
  return {
    inputs: (graph.input ?? []).filter((v) => !weights.has(v.name ?? '')).map(toTensor),
    outputs: (graph.output ?? []).map(toTensor),
  }
}

/**
 * Check a model file against its manifest: sha256 (when the manifest records one), then each
 * declared input/output's name, dtype, rank and fixed dims. All differences are reported at once.
 */
export async function validateModelFile(manifest: ModelManifest, file: string): Promise<ValidatedModelFile> {
  const { bytes, sha256 } = await readModelFile(file)
  if (manifest.sha256 !== undefined && manifest.sha256 !== sha256) {
    throw new ManifestMismatchError(
      manifest.id,
      [`sha256 of ${file} is ${sha256}, the manifest records ${manifest.sha256} (the file was changed)`],
      { field: 'sha256', expected: manifest.sha256, actual: sha256 },
    )
  }
  const graph = inspectOnnx(bytes, file)
  const differences = [
    ...compareTensors('input', manifest.inputs, graph.inputs),
    ...compareTensors('output', manifest.outputs, graph.outputs),
  ]
  if (differences.length > 0) throw new ManifestMismatchError(manifest.id, differences)
  return { sha256, fileBytes: bytes.byteLength, graph }
}

/** Human-readable differences between what a manifest declares and what the graph has. */
export function compareTensors(
  kind: 'input' | 'output',
  declared: TensorSpec[],
  actual: GraphTensor[],
): string[] {
  const out: string[] = []
  const byName = new Map(actual.map((t) => [t.name, t]))
  for (const spec of declared) {
    const t = byName.get(spec.name)
    if (t === undefined) {
      out.push(`${kind} "${spec.name}" is not in the model (its ${kind}s: ${names(actual)})`)
      continue
    }
    if (t.dtype !== spec.dtype)
      out.push(`${kind} "${spec.name}" is ${t.dtype} in the model, ${spec.dtype} in the manifest`)
    if (t.shape === null) continue // the file declares no shape: nothing to contradict
    if (t.shape.length !== spec.shape.length) {
      out.push(
        `${kind} "${spec.name}" has rank ${t.shape.length} [${t.shape}] in the model, ` +
          `rank ${spec.shape.length} [${spec.shape}] in the manifest`,
      )
      continue
    }
    spec.shape.forEach((d, i) => {
      const m = t.shape![i]
      // A manifest may narrow a free dim to a fixed one, never widen a fixed one or change it.
      if (m !== -1 && d !== m) {
        out.push(
          `${kind} "${spec.name}" dim ${i} is ${m} in the model, ${d === -1 ? 'free' : d} in the manifest`,
        )
      }
    })
  }
  const declaredNames = new Set(declared.map((s) => s.name))
  for (const t of actual) {
    if (!declaredNames.has(t.name))
      out.push(`the model has ${kind} "${t.name}" that the manifest does not declare`)
  }
  return out
}

function names(ts: GraphTensor[]): string {
  return ts.length === 0 ? '(none)' : ts.map((t) => `"${t.name}"`).join(', ')
}
