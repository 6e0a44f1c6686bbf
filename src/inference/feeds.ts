/**
 * Raw tensor feeds checked against a manifest before onnxruntime sees them (so a bad request gets
 * ERR_INPUT_INVALID naming the tensor, not an opaque native error), and the small dummy feeds used
 * for the warm-up run after a model loads.
 */
import * as ort from 'onnxruntime-node'
import { InputInvalidError } from './errors.js'
import type { Feeds } from './session.js'
import type { ModelManifest, TensorSpec } from './types.js'

/** Free spatial dims of a warm-up input: 32 suits detectors that need multiples of 32. */
const WARM_UP_SPATIAL = 32

export function checkFeeds(manifest: ModelManifest, feeds: Feeds, maxElements: number): void {
  if (feeds === null || typeof feeds !== 'object') {
    throw new InputInvalidError(manifest.id, 'feeds must be an object of input name → tensor')
  }
  const declared = new Set(manifest.inputs.map((s) => s.name))
  for (const name of Object.keys(feeds)) {
    if (!declared.has(name)) {
      throw new InputInvalidError(
        manifest.id,
        `unknown input "${name}"; the model takes ${[...declared].join(', ')}`,
        {
          input: name,
        },
      )
    }
  }
  for (const spec of manifest.inputs) {
    const t = feeds[spec.name]
    if (!(t instanceof ort.Tensor)) {
      throw new InputInvalidError(manifest.id, `input "${spec.name}" is missing or not a tensor`, {
        input: spec.name,
      })
    }
    if (t.type !== spec.dtype) {
      throw new InputInvalidError(
        manifest.id,
        `input "${spec.name}" is ${t.type}, the model wants ${spec.dtype}`,
        {
          input: spec.name,
        },
      )
    }
    const bad =
      t.dims.length !== spec.shape.length ||
      t.dims.some((d, i) => !Number.isInteger(d) || d <= 0 || (spec.shape[i] !== -1 && d !== spec.shape[i]))
    if (bad) {
      throw new InputInvalidError(
        manifest.id,
        `input "${spec.name}" has dims [${t.dims}], the model wants [${spec.shape}] (-1 = any size)`,
        { input: spec.name, dims: [...t.dims], shape: spec.shape },
      )
    }
    if (t.size > maxElements) {
      throw new InputInvalidError(
        manifest.id,
        `input "${spec.name}" has ${t.size} elements, more than the limit of ${maxElements}; split the input`,
        { input: spec.name },
      )
    }
  }
}

/** Zero-filled feeds of small size matching the manifest (batch 1, free spatial dims 32). */
export function dummyFeeds(manifest: ModelManifest): Feeds {
  const feeds: Feeds = {}
  for (const spec of manifest.inputs) feeds[spec.name] = dummyTensor(spec)
  return feeds
}

function dummyTensor(spec: TensorSpec): ort.Tensor {
  // In a rank-4 tensor every free dim but the batch is taken as spatial, with or without a layout.
  const dims = spec.shape.map((d, i) =>
    d !== -1 ? d : spec.shape.length === 4 && i > 0 ? WARM_UP_SPATIAL : 1,
  )
  const n = dims.reduce((a, b) => a * b, 1)
  switch (spec.dtype) {
    case 'float32':
      return new ort.Tensor('float32', new Float32Array(n), dims)
    case 'uint8':
      return new ort.Tensor('uint8', new Uint8Array(n), dims)
    case 'int8':
      return new ort.Tensor('int8', new Int8Array(n), dims)
    case 'int32':
      return new ort.Tensor('int32', new Int32Array(n), dims)
    case 'int64':
      return new ort.Tensor('int64', new BigInt64Array(n), dims)
    case 'bool':
      return new ort.Tensor('bool', new Uint8Array(n), dims)
    case 'float16':
      return new ort.Tensor('float16', new Uint16Array(n), dims)
  }
}
