import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import type { FramemeshError } from '../../src/errors.js'
import { openInferenceEngine } from '../../src/inference/engine.js'
import { openError } from '../../src/inference/open-error.js'
import { startExecutionProviders } from '../../src/inference/providers.js'
import { createSessionFactory } from '../../src/inference/session.js'
import type { Frame } from '../../src/inference/types.js'
import { startOrchestratorNode } from '../../src/node/orchestrator-node.js'
import { cudaInstalled } from './helpers/providers.js'

const withCuda = { executionProviders: ['cuda', 'cpu'] }

test('an onnxruntime message about appending a provider names that provider; other open failures stay the model’s', (t) => {
  const cuda = openError(
    'm',
    'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library',
    withCuda,
  )
  t.like(cuda, { code: 'ERR_EXECUTION_PROVIDER_FAILED', details: { provider: 'cuda', modelId: 'm' } })
  t.regex(cuda.message, /execution provider "cuda" could not start for model "m".*leave it out to run on cpu/)
  const trt = openError(
    'm',
    'OrtSessionOptionsAppendExecutionProvider_TensorRT: Failed to load shared library',
    {
      executionProviders: ['tensorrt', 'cpu'],
    },
  )
  t.like(trt, { code: 'ERR_EXECUTION_PROVIDER_FAILED', details: { provider: 'tensorrt' } })
  const gpu = openError('m', '/src/core/providers/webgpu/webgpu_context.cc:136 RequestAdapter failed', {
    executionProviders: ['webgpu', 'cpu'],
  })
  t.like(gpu, { code: 'ERR_EXECUTION_PROVIDER_FAILED', details: { provider: 'webgpu' } })
  // A bad file is a bad file, whichever providers were asked for.
  const bad = openError('m', 'Protobuf parsing failed.', withCuda)
  t.like(bad, { code: 'ERR_MODEL_LOAD_FAILED' })
  t.regex(bad.message, /onnxruntime refused the file \(Protobuf parsing failed\.\)/)
})

test('a provider this build does not know is refused when the factory is made, naming those it has', (t) => {
  const err = t.throws<FramemeshError>(() =>
    createSessionFactory({ executionProviders: ['no-such-provider'] }),
  )
  t.like(err, { code: 'ERR_EXECUTION_PROVIDER_UNAVAILABLE', details: { provider: 'no-such-provider' } })
  t.regex(err!.message, /available: [^)]*cpu/)
})

const frame: Frame = { width: 16, height: 16, channels: 3, data: new Uint8Array(16 * 16 * 3).fill(90) }

for (const runOn of ['main', 'worker'] as const) {
  test(`a known provider that cannot start here (cuda without its library) fails the model's load with ERR_EXECUTION_PROVIDER_FAILED, on the ${runOn} thread, and says so again when asked again`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'fm-ep-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const engine = await openInferenceEngine(
      {},
      { modelsDir: dir, session: { executionProviders: ['cuda'], runOn, intraOpNumThreads: 1 } },
    )
    t.teardown(() => engine.close())
    if (cudaInstalled()) {
      // On a machine with CUDA the same request must simply work.
      const out = await engine.upscale('esrgan-slim-x2', frame)
      t.is(out.width, 32)
      return
    }
    const err = await t.throwsAsync<FramemeshError>(engine.upscale('esrgan-slim-x2', frame))
    t.like(err, {
      code: 'ERR_EXECUTION_PROVIDER_FAILED',
      details: { provider: 'cuda', modelId: 'esrgan-slim-x2' },
    })
    t.regex(err!.message, /install what it needs/)
    t.is(engine.model('esrgan-slim-x2').state, 'failed')
    // The failed load leaves the engine working: asked again, it answers the same way.
    await t.throwsAsync(engine.upscale('esrgan-slim-x2', frame), { code: 'ERR_EXECUTION_PROVIDER_FAILED' })
  })
}

test('an orchestrator node asked for a provider that cannot start here fails before it touches the chain or the network', async (t) => {
  const cuda = startExecutionProviders(['cuda'])
  if (cudaInstalled()) {
    await t.notThrowsAsync(cuda)
    return
  }
  const err = await t.throwsAsync<FramemeshError>(cuda, { code: 'ERR_EXECUTION_PROVIDER_FAILED' })
  // Started on a built-in model of ours: the error names the provider, not that model.
  t.deepEqual(err!.details, { provider: 'cuda' })
  t.notRegex(err!.message, /blend/)
  const node = startOrchestratorNode(
    {},
    {
      // No chain answers here: reaching it would fail with another code.
      chain: { rpcUrl: 'http://127.0.0.1:9', contractAddress: `0x${'11'.repeat(20)}` },
      walletKey: `0x${'22'.repeat(32)}`,
      prices: { blend: 1n },
      executionProviders: ['cuda'],
    },
  )
  await t.throwsAsync(node, { code: 'ERR_EXECUTION_PROVIDER_FAILED', message: /"cuda" could not start/ })
})
