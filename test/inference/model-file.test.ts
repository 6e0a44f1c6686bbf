import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { ortModelBytes, readModelFile } from '../../src/inference/model-file.js'

test('a model file is read whole into shared memory, a chunk at a time, with the sha256 of its bytes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-mf-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // Over two 1 MiB chunks and not a multiple of one.
  const content = randomBytes(2 * 1024 * 1024 + 12345)
  const path = join(dir, 'model.onnx')
  await writeFile(path, content)
  const { bytes, sha256 } = await readModelFile(path)
  t.true(bytes.buffer instanceof SharedArrayBuffer)
  t.deepEqual(Buffer.from(bytes), content)
  t.is(sha256, createHash('sha256').update(content).digest('hex'))
})

test('an empty model file reads as no bytes; a missing one fails with ERR_MODEL_CORRUPT naming it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fm-mf-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'empty.onnx'), '')
  const empty = await readModelFile(join(dir, 'empty.onnx'))
  t.is(empty.bytes.byteLength, 0)
  t.is(empty.sha256, createHash('sha256').digest('hex'))
  const missing = join(dir, 'missing.onnx')
  await t.throwsAsync(readModelFile(missing), {
    code: 'ERR_MODEL_CORRUPT',
    message: /missing\.onnx.*cannot be read/,
  })
})

test('onnxruntime gets shared model bytes as a copy of its own, other bytes and paths as they are', (t) => {
  const shared = new Uint8Array(new SharedArrayBuffer(4))
  shared.set([1, 2, 3, 4])
  const own = ortModelBytes(shared)
  t.false(own.buffer instanceof SharedArrayBuffer)
  t.deepEqual([...own], [1, 2, 3, 4])
  const plain = new Uint8Array([5, 6])
  t.is(ortModelBytes(plain), plain)
  t.is(ortModelBytes('/models/x.onnx'), '/models/x.onnx')
})
