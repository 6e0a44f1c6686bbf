/**
 * An app's own worker thread that embeds the inference engine, whose models then run in session
 * threads of their own. It reports the upscaled frame's size and first bytes, or the error.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { openInferenceEngine } from '../../../src/inference/engine.js'

const { modelsDir, data } = workerData as { modelsDir: string; data: Uint8Array }
try {
  const engine = await openInferenceEngine({}, { modelsDir, session: { runOn: 'worker' } })
  try {
    const out = await engine.upscale('esrgan-slim-x2', { width: 8, height: 8, channels: 3, data })
    parentPort?.postMessage({ width: out.width, height: out.height, data: out.data })
  } finally {
    await engine.close()
  }
} catch (err) {
  parentPort?.postMessage({ error: (err as Error).message })
}
