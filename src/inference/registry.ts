/**
 * The models a node can serve: built-in model folders (read-only, shipped with framemesh) plus
 * bring-your-own models in the operator's models directory. Each model is a folder holding a
 * manifest.json and its .onnx file. The registry knows files and manifests; whether a model is warm
 * is the warm pool's business (the engine merges both into ModelStatus).
 */
import { copyFile, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { FramemeshError } from '../errors.js'
import { type Logger, silentLogger } from '../logger.js'
import { ModelExistsError, ModelNotFoundError } from './errors.js'
import { type LoadedManifest, loadManifestFile } from './manifest.js'
import { validateModelFile } from './onnx-inspect.js'
import type { ModelManifest, ModelStatus } from './types.js'

export interface ModelRecord {
  manifest: ModelManifest
  /** Absolute folder of the manifest. */
  dir: string
  modelPath: string
  /** Hex sha256 of the .onnx file as verified at registration/scan. */
  sha256: string
  fileBytes: number
  /** What the memory budget counts for this model when warm. */
  estimatedBytes: number
  builtin: boolean
  /** Set when the file failed verification: the model is listed as failed and cannot be loaded. */
  error?: FramemeshError
}

export interface ModelRegistryComponents {
  logger?: Logger
}

export interface ModelRegistryOptions {
  /** Where bring-your-own models live; `add` copies models here. Created when missing. */
  modelsDir: string
  /** Read-only folders whose sub-folders are built-in models (e.g. models/generated). */
  builtinDirs?: string[]
  /**
   * Estimate of resident bytes per byte of .onnx file when a manifest gives no memoryBytes.
   * onnxruntime keeps the weights (≈1× the file), may hold pre-packed copies for fast kernels,
   * and needs working memory for activations: 2× the file plus a fixed overhead is a cautious middle.
   */
  bytesPerFileByte?: number
  /** Fixed bytes added to every file-size estimate: session bookkeeping and a frame's activations. */
  bytesOverhead?: number
}

export interface ModelRegistry {
  /** Scan built-in folders and the models directory (again). Models that fail checks are listed as failed. */
  scan(): Promise<void>
  /** Validate a bring-your-own manifest + model, record its sha256 and copy it into the models directory. */
  add(manifestPath: string): Promise<ModelRecord>
  /** Remove a bring-your-own model from the models directory. */
  remove(id: string): Promise<void>
  /** Re-read the file and check it against the recorded sha256 and the manifest. */
  verify(id: string): Promise<ModelRecord>
  /** The record; unknown id → ModelNotFoundError. A failed record is returned (check `error`). */
  get(id: string): ModelRecord
  has(id: string): boolean
  ids(): string[]
  list(): ModelStatus[]
}

export const DEFAULT_BYTES_PER_FILE_BYTE = 2
export const DEFAULT_BYTES_OVERHEAD = 32 * 1024 * 1024

export function createModelRegistry(
  components: ModelRegistryComponents,
  options: ModelRegistryOptions,
): ModelRegistry {
  const log = (components.logger ?? silentLogger).child('registry')
  const modelsDir = resolve(options.modelsDir)
  const builtinDirs = (options.builtinDirs ?? []).map((d) => resolve(d))
  const factor = options.bytesPerFileByte ?? DEFAULT_BYTES_PER_FILE_BYTE
  const overhead = options.bytesOverhead ?? DEFAULT_BYTES_OVERHEAD
  let records = new Map<string, ModelRecord>()

  const estimate = (manifest: ModelManifest, fileBytes: number) =>
    manifest.memoryBytes ?? Math.ceil(fileBytes * factor) + overhead

  /** Validate one loaded manifest's file; a bad file yields a failed record rather than an exception. */
  const recordOf = async (loaded: LoadedManifest, builtin: boolean): Promise<ModelRecord> => {
    const base = { manifest: loaded.manifest, dir: loaded.dir, modelPath: loaded.modelPath, builtin }
    try {
      const checked = await validateModelFile(loaded.manifest, loaded.modelPath)
      return {
        ...base,
        sha256: checked.sha256,
        fileBytes: checked.fileBytes,
        estimatedBytes: estimate(loaded.manifest, checked.fileBytes),
      }
    } catch (err) {
      if (!(err instanceof FramemeshError)) throw err
      const fileBytes = await stat(loaded.modelPath).then(
        (s) => s.size,
        () => 0,
      )
      return {
        ...base,
        sha256: loaded.manifest.sha256 ?? '',
        fileBytes,
        estimatedBytes: estimate(loaded.manifest, fileBytes),
        error: err,
      }
    }
  }

  const scanDir = async (dir: string, builtin: boolean, into: Map<string, ModelRecord>) => {
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return []
      throw err
    })
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue
      const manifestPath = join(dir, entry.name, 'manifest.json')
      let loaded: LoadedManifest
      try {
        loaded = await loadManifestFile(manifestPath)
      } catch (err) {
        // A folder without a readable manifest is not a model; say so and move on.
        log.warn('skipping model folder', { folder: join(dir, entry.name), error: err })
        continue
      }
      if (into.has(loaded.manifest.id)) {
        log.warn('duplicate model id; keeping the first', { id: loaded.manifest.id, folder: loaded.dir })
        continue
      }
      const record = await recordOf(loaded, builtin)
      if (record.error !== undefined)
        log.warn('model failed verification', { id: record.manifest.id, error: record.error })
      into.set(record.manifest.id, record)
    }
  }

  const get = (id: string): ModelRecord => {
    const r = records.get(id)
    if (r === undefined) throw new ModelNotFoundError(id, [...records.keys()])
    return r
  }

  return {
    async scan() {
      const next = new Map<string, ModelRecord>()
      for (const dir of builtinDirs) await scanDir(dir, true, next)
      await scanDir(modelsDir, false, next)
      records = next
    },

    async add(manifestPath) {
      const loaded = await loadManifestFile(manifestPath)
      const id = loaded.manifest.id
      if (records.has(id)) throw new ModelExistsError(id)
      // Throws ERR_MODEL_CORRUPT / ERR_MANIFEST_MISMATCH before anything is copied.
      const checked = await validateModelFile(loaded.manifest, loaded.modelPath)
      const target = join(modelsDir, id)
      const staging = join(modelsDir, `.adding-${id}-${process.pid}-${Date.now()}`)
      await mkdir(staging, { recursive: true })
      try {
        const fileName = basename(loaded.manifest.file)
        await copyFile(loaded.modelPath, join(staging, fileName))
        let assets: Record<string, string> | undefined
        if (loaded.manifest.assets !== undefined) {
          assets = {}
          for (const [name, rel] of Object.entries(loaded.manifest.assets)) {
            assets[name] = basename(rel)
            await copyFile(resolve(loaded.dir, rel), join(staging, assets[name]))
          }
        }
        const stored: ModelManifest = { ...loaded.manifest, file: fileName, sha256: checked.sha256, assets }
        await writeFile(join(staging, 'manifest.json'), JSON.stringify(stored, null, 2) + '\n')
        // Rename last, so a crash mid-copy never leaves a half model where scan would find it.
        await rename(staging, target)
        const record: ModelRecord = {
          manifest: stored,
          dir: target,
          modelPath: join(target, fileName),
          sha256: checked.sha256,
          fileBytes: checked.fileBytes,
          estimatedBytes: estimate(stored, checked.fileBytes),
          builtin: false,
        }
        records.set(id, record)
        log.info('model added', { id, sha256: checked.sha256 })
        return record
      } catch (err) {
        await rm(staging, { recursive: true, force: true })
        if (
          (err as NodeJS.ErrnoException).code === 'ENOTEMPTY' ||
          (err as NodeJS.ErrnoException).code === 'EEXIST'
        ) {
          throw new ModelExistsError(id)
        }
        throw err
      }
    },

    async remove(id) {
      const record = get(id)
      if (record.builtin) {
        throw new FramemeshError('ERR_MODEL_BUILTIN', `model "${id}" is built in and cannot be removed`)
      }
      records.delete(id)
      await rm(record.dir, { recursive: true, force: true })
    },

    async verify(id) {
      const record = get(id)
      const expected = {
        ...record.manifest,
        sha256: record.sha256 === '' ? record.manifest.sha256 : record.sha256,
      }
      try {
        const checked = await validateModelFile(expected, record.modelPath)
        record.error = undefined
        record.fileBytes = checked.fileBytes
        record.sha256 = checked.sha256
        return record
      } catch (err) {
        if (err instanceof FramemeshError) record.error = err
        throw err
      }
    },

    get,
    has: (id) => records.has(id),
    ids: () => [...records.keys()],
    list: () =>
      [...records.values()].map((r) => ({
        id: r.manifest.id,
        pipeline: r.manifest.pipeline,
        state: r.error === undefined ? 'available' : 'failed',
        pinned: false,
        sha256: r.sha256,
        bytes: r.estimatedBytes,
        ...(r.error === undefined ? {} : { error: r.error.message }),
      })),
  }
}
