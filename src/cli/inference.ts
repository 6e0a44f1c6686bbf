/**
 * What the commands that run models share: the config keys for the model folders and memory
 * budget, and opening the inference engine over them.
 */
import { join } from 'node:path'
import { type InferenceEngine, openInferenceEngine } from '../inference/engine.js'
import { startExecutionProviders } from '../inference/providers.js'
import { createLogger, type LogLevel } from '../logger.js'
import type { CliContext } from './command.js'
import { type ConfigSpec, PEER_CONFIG } from './config.js'

export const INFERENCE_CONFIG = {
  dataDir: PEER_CONFIG.dataDir,
  modelsDir: {
    kind: 'string',
    help: 'folder of bring-your-own models (default <data-dir>/models)',
    path: true,
  },
  budgetMb: {
    kind: 'int',
    help: 'memory the loaded models may hold together, in MiB',
    default: 2048,
    min: 64,
    max: 1_048_576,
  },
  threads: {
    kind: 'int',
    help: 'onnxruntime threads one run may use (default: onnxruntime picks, one per core)',
    min: 1,
    max: 1024,
  },
  executionProvider: {
    kind: 'strings',
    help: 'onnxruntime execution provider, in order of preference (repeatable, e.g. cuda where its provider is installed); cpu is always the fallback',
  },
  logLevel: { ...PEER_CONFIG.logLevel, default: 'warn' },
  logFormat: PEER_CONFIG.logFormat,
} as const satisfies ConfigSpec

export function modelsDirOf(config: { dataDir: string; modelsDir?: string | undefined }): string {
  return config.modelsDir ?? join(config.dataDir, 'models')
}

/** The execution providers asked for, or undefined for onnxruntime's default (cpu). */
export function executionProvidersOf(config: {
  executionProvider?: string[] | undefined
}): string[] | undefined {
  const wanted = config.executionProvider
  return wanted === undefined || wanted.length === 0 ? undefined : wanted
}

/** The engine over the built-in models and the configured models folder, logging to stderr. */
export async function openEngine(
  ctx: Pick<CliContext, 'stderr'>,
  config: {
    dataDir: string
    modelsDir?: string | undefined
    budgetMb: number
    threads?: number | undefined
    executionProvider?: string[] | undefined
    logLevel: string
    logFormat: string
  },
): Promise<InferenceEngine> {
  const executionProviders = executionProvidersOf(config)
  // Started once before any model: a provider this onnxruntime build does not know fails with
  // ERR_EXECUTION_PROVIDER_UNAVAILABLE, one it cannot start here (no CUDA, say) with
  // ERR_EXECUTION_PROVIDER_FAILED, before a video is read.
  if (executionProviders !== undefined) await startExecutionProviders(executionProviders)
  const logger = createLogger({
    level: config.logLevel as LogLevel,
    pretty: config.logFormat === 'pretty',
    write: ctx.stderr,
  })
  return openInferenceEngine(
    { logger },
    {
      modelsDir: modelsDirOf(config),
      budgetBytes: config.budgetMb * 1024 * 1024,
      session: {
        ...(executionProviders === undefined ? {} : { executionProviders }),
        ...(config.threads === undefined ? {} : { intraOpNumThreads: config.threads }),
      },
    },
  )
}
