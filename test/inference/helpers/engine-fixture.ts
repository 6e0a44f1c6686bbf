/**
 * A temporary models directory filled with tiny real models, and an engine over it whose session
 * factory counts the sessions it opens (a real onnxruntime factory, only observed).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createInferenceEngine,
  type InferenceEngine,
  type InferenceEngineOptions,
} from '../../../src/inference/engine.js'
import { createModelRegistry, type ModelRegistry } from '../../../src/inference/registry.js'
import { createSessionFactory, type SessionFactory } from '../../../src/inference/session.js'
import {
  blendManifest,
  blendModelBytes,
  doubleManifest,
  doubleModelBytes,
  upscaleManifest,
  upscaleModelBytes,
  writeModelFolder,
} from './onnx-models.js'

/** Each padded upscale model's file is ~PAD bytes, and the registry counts file bytes 1:1 here. */
export const PAD = 100_000

export interface EngineFixture {
  dir: string
  registry: ModelRegistry
  engine: InferenceEngine
  /** Sessions opened per model id. */
  opened: Map<string, number>
  /** Runs that finished per model id (warm-up runs included). */
  runs: Map<string, number>
  cleanup(): Promise<void>
}

export async function engineFixture(options: InferenceEngineOptions = {}): Promise<EngineFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'fm-engine-'))
  for (const id of ['up-a', 'up-b', 'up-c']) {
    await writeModelFolder(
      dir,
      upscaleManifest(id, 2),
      upscaleModelBytes({ padBytes: PAD, seed: id.charCodeAt(3) }),
    )
  }
  await writeModelFolder(dir, upscaleManifest('up-deep', 2), upscaleModelBytes({ layers: 3, seed: 7 }))
  await writeModelFolder(dir, blendManifest('blend'), blendModelBytes())
  await writeModelFolder(dir, doubleManifest('double'), doubleModelBytes())
  const registry = createModelRegistry({}, { modelsDir: dir, bytesPerFileByte: 1, bytesOverhead: 0 })
  await registry.scan()
  const real = createSessionFactory({ intraOpNumThreads: 1 })
  const opened = new Map<string, number>()
  const runs = new Map<string, number>()
  const sessions: SessionFactory = {
    sessionOptions: real.sessionOptions,
    open: async (id, model, warmUpFeeds) => {
      opened.set(id, (opened.get(id) ?? 0) + 1)
      // The warm-up runs on the factory's own probe session, so `runs` counts served runs only.
      const session = await real.open(id, model, warmUpFeeds)
      return {
        ...session,
        run: async (feeds) => {
          const out = await session.run(feeds)
          runs.set(id, (runs.get(id) ?? 0) + 1)
          return out
        },
      }
    },
  }
  const engine = createInferenceEngine({ registry, sessions }, options)
  return {
    dir,
    registry,
    engine,
    opened,
    runs,
    async cleanup() {
      await engine.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** A deterministic test frame: smooth gradients plus texture, so every pixel differs from its neighbours. */
export function testFrame(
  width: number,
  height: number,
  seed = 1,
): {
  width: number
  height: number
  channels: 3
  data: Uint8Array
} {
  const data = new Uint8Array(width * height * 3)
  let i = 0
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data[i++] = (x * 7 + y * 3 + seed * 11) & 255
      data[i++] = (x * y + seed * 5) & 255
      data[i++] = ((x ^ y) * 13 + seed) & 255
    }
  }
  return { width, height, channels: 3, data }
}
