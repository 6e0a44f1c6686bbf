import test from 'ava'
import { frameToTensor, tensorToFrame } from '../../src/inference/frame-tensor.js'
import type { Frame, TensorSpec } from '../../src/inference/types.js'

const NHWC: TensorSpec = {
  name: 'x',
  layout: 'NHWC',
  dtype: 'float32',
  shape: [1, -1, -1, 3],
  range: [0, 255],
}

function frame(width: number, height: number): Frame {
  const data = new Uint8Array(width * height * 3)
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + 11) % 256
  return { width, height, channels: 3, data }
}

/** The region's bytes read pixel by pixel, as floats: what every conversion path must give. */
function expected(f: Frame, x: number, y: number, w: number, h: number): number[] {
  const out: number[] = []
  for (let row = y; row < y + h; row++) {
    for (let i = (row * f.width + x) * 3; i < (row * f.width + x + w) * 3; i++) out.push(f.data[i])
  }
  return out
}

test('a whole frame, a band of full rows and a narrower tile all convert to their own pixels as NHWC floats', (t) => {
  const f = frame(7, 5)
  const whole = frameToTensor(f, NHWC)
  t.deepEqual(whole.dims, [1, 5, 7, 3])
  t.deepEqual([...(whole.data as Float32Array)], expected(f, 0, 0, 7, 5))
  const band = frameToTensor(f, NHWC, { x: 0, y: 2, width: 7, height: 2 })
  t.deepEqual(band.dims, [1, 2, 7, 3])
  t.deepEqual([...(band.data as Float32Array)], expected(f, 0, 2, 7, 2))
  const tile = frameToTensor(f, NHWC, { x: 3, y: 1, width: 2, height: 3 })
  t.deepEqual([...(tile.data as Float32Array)], expected(f, 3, 1, 2, 3))
})

test('a converted frame owns its tensor buffer: changing the frame afterwards leaves the tensor as it was', (t) => {
  const f = frame(4, 4)
  const tensor = frameToTensor(f, NHWC)
  const before = [...(tensor.data as Float32Array)]
  f.data.fill(0)
  t.deepEqual([...(tensor.data as Float32Array)], before)
  t.deepEqual(tensorToFrame('m', tensor, NHWC).data, new Uint8Array(before))
})
