import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

/** Whether onnxruntime-node's CUDA provider library is installed beside its binding. */
export function cudaInstalled(): boolean {
  const binding = join(
    dirname(createRequire(import.meta.url).resolve('onnxruntime-node')),
    '..',
    'bin',
    'napi-v6',
    process.platform,
    process.arch,
  )
  return existsSync(join(binding, 'libonnxruntime_providers_cuda.so'))
}
