/**
 * The `blend` baseline for the interpolate pipeline: a linear cross-fade between two frames,
 * (1 − t)·frame0 + t·frame1, built directly as an ONNX graph. It learns nothing and estimates
 * no motion; it exists so the interpolate pipeline has a model that runs anywhere, and it has
 * exactly the interface a RIFE-style model must offer (see INTERPOLATE_CONTRACT).
 */
import { OnnxGraph } from './onnx-graph.js'

/** Input and output names every interpolate model uses (the contract for bring-your-own models). */
export const INTERPOLATE_CONTRACT = {
  frame0: 'frame0',
  frame1: 'frame1',
  t: 't',
  output: 'output',
} as const

export function buildBlendModel(): Uint8Array {
  const graph = new OnnxGraph('blend')
  const frame = [1, 'height', 'width', 3]
  const f0 = graph.addInput(INTERPOLATE_CONTRACT.frame0, frame)
  const f1 = graph.addInput(INTERPOLATE_CONTRACT.frame1, frame)
  const t = graph.addInput(INTERPOLATE_CONTRACT.t, [1])
  const oneMinusT = graph.addNode('Sub', [graph.addFloat('one', [1], [1]), t], 'one_minus_t')
  const a = graph.addNode('Mul', [f0, oneMinusT], 'frame0_weighted')
  const b = graph.addNode('Mul', [f1, t], 'frame1_weighted')
  const out = graph.addNode('Add', [a, b], 'blended')
  graph.renameOutput(out, INTERPOLATE_CONTRACT.output)
  graph.addOutput(INTERPOLATE_CONTRACT.output, frame)
  return graph.encode({
    producer: 'framemesh blend',
    docString: 'Linear cross-fade (1 - t) * frame0 + t * frame1; not a learned model.',
  })
}
