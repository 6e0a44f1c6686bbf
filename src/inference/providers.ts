/**
 * Starting the execution providers an operator asked for, once, before anything depends on them:
 * one onnxruntime knows but cannot start on this machine (CUDA missing, say) otherwise shows up
 * only when a model first loads, as the failure of every job that needs it.
 */
import { join } from 'node:path'
import { builtinModelsDir } from './builtins.js'
import { ExecutionProviderFailedError } from './errors.js'
import { loadManifestFile } from './manifest.js'
import { createSessionFactory, type ModelSession } from './session.js'

/**
 * Opens a session with `providers` on the smallest built-in model (blend) and closes it. Throws
 * ERR_EXECUTION_PROVIDER_UNAVAILABLE for a provider this onnxruntime build does not know, and
 * ERR_EXECUTION_PROVIDER_FAILED for one it knows but cannot start here.
 */
export async function startExecutionProviders(providers: string[]): Promise<void> {
  const sessions = createSessionFactory({ executionProviders: providers, runOn: 'main' })
  const { modelPath } = await loadManifestFile(join(builtinModelsDir(), 'blend', 'manifest.json'))
  let session: ModelSession
  try {
    session = await sessions.open('blend', modelPath)
  } catch (err) {
    // The model is only the means of starting the providers: the error names the provider alone.
    if (!(err instanceof ExecutionProviderFailedError)) throw err
    const provider = String(err.details?.provider)
    const reason = err.cause instanceof Error ? err.cause.message : err.message
    throw new ExecutionProviderFailedError(provider, reason, { cause: err.cause })
  }
  await session.release()
}
