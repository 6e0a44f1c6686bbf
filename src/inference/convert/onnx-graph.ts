/**
 * A small builder for ONNX graphs on top of onnx-proto's generated protobuf classes:
 * it names values, keeps initializers and nodes in order, and encodes a ModelProto.
 */
import onnxProto from 'onnx-proto'

const { onnx } = onnxProto

/** ONNX opset the converter targets; every op used here exists unchanged in 17. */
export const ONNX_OPSET = 17
/** IR version 8 is the one that pairs with opsets up to 17 and what onnx-proto encodes. */
export const ONNX_IR_VERSION = 8

export type AttributeValue = number | number[] | string | { float: number }

/** A dimension: a fixed size or a symbolic name (free at run time). */
export type Dim = number | string

export interface GraphValue {
  name: string
  shape: Dim[]
}

export class OnnxGraph {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = []
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = []
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = []
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = []
  private readonly used = new Set<string>()
  private parameterCount = 0

  constructor(private readonly name: string) {}

  /** A name not used yet in this graph, derived from `base`. */
  fresh(base: string): string {
    let name = base
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`
    this.used.add(name)
    return name
  }

  addInput(name: string, shape: Dim[], dtype: GraphDtype = 'float32'): string {
    this.used.add(name)
    this.inputs.push(valueInfo(name, shape, dtype))
    return name
  }

  addOutput(name: string, shape: Dim[], dtype: GraphDtype = 'float32'): void {
    this.outputs.push(valueInfo(name, shape, dtype))
  }

  /** Adds a float32 constant; data is copied into the protobuf as little-endian raw bytes. */
  addFloat(base: string, dims: number[], data: Float32Array | number[]): string {
    const values = data instanceof Float32Array ? data : Float32Array.from(data)
    const name = this.fresh(base)
    this.parameterCount += values.length
    this.initializers.push(
      onnx.TensorProto.create({
        name,
        dims,
        dataType: onnx.TensorProto.DataType.FLOAT,
        rawData: littleEndianBytes(values),
      }),
    )
    return name
  }

  /** Adds a node with one output and returns the output's name. */
  addNode(
    opType: string,
    inputs: string[],
    base: string,
    attributes: Record<string, AttributeValue> = {},
  ): string {
    const output = this.fresh(base)
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        input: inputs,
        output: [output],
        name: output,
        attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
      }),
    )
    return output
  }

  /** Renames a node's output in place (used to give the last node the graph output's name). */
  renameOutput(from: string, to: string): void {
    for (const node of this.nodes) {
      node.output = node.output.map((o) => (o === from ? to : o))
      if (node.name === from) node.name = to
      node.input = node.input.map((i) => (i === from ? to : i))
    }
    this.used.add(to)
  }

  get parameters(): number {
    return this.parameterCount
  }

  get nodeCount(): number {
    return this.nodes.length
  }

  encode(meta: { producer: string; docString?: string; metadata?: Record<string, string> }): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: ONNX_IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: meta.producer,
      producerVersion: '1',
      docString: meta.docString ?? '',
      metadataProps: Object.entries(meta.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: onnx.GraphProto.create({
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      }),
    })
    return onnx.ModelProto.encode(model).finish()
  }
}

/** The element types graph inputs and outputs may have. */
export type GraphDtype = 'float32' | 'uint8'

/** ONNX TensorProto element type numbers, for valueInfo and Cast's `to` attribute. */
export const ONNX_DTYPE: Record<GraphDtype, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  uint8: onnx.TensorProto.DataType.UINT8,
}

function valueInfo(name: string, shape: Dim[], dtype: GraphDtype): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: ONNX_DTYPE[dtype],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  })
}

function attribute(name: string, value: AttributeValue): InstanceType<typeof onnx.AttributeProto> {
  const T = onnx.AttributeProto.AttributeType
  if (typeof value === 'string') {
    return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(value) })
  }
  if (Array.isArray(value)) return onnx.AttributeProto.create({ name, type: T.INTS, ints: value })
  if (typeof value === 'number') return onnx.AttributeProto.create({ name, type: T.INT, i: value })
  return onnx.AttributeProto.create({ name, type: T.FLOAT, f: value.float })
}

/** ONNX raw_data is little-endian; copy through a DataView so big-endian hosts stay correct. */
function littleEndianBytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4)
  const view = new DataView(out.buffer)
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true)
  return out
}
