/**
 * Builds the built-in model catalogue into a folder: one sub-folder per model with model.onnx,
 * any assets and manifest.json (written last, so a manifest only exists beside complete files).
 * A model is skipped when its manifest is newer than every input, the converter's own source
 * included, which keeps `npm install` fast once the models exist.
 */
import { createHash } from 'node:crypto'
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FramemeshError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import type { ModelManifest } from '../types.js'
import { buildBlendModel } from './blend.js'
import { BUILTIN_MODELS, type BuiltinDefinition } from './catalogue.js'
import { installedPackageDir } from './package-dir.js'
import { readTfjsLayersModel } from './tfjs-model.js'
import { convertTfjsLayersToOnnx } from './tfjs-to-onnx.js'

export const MODEL_FILE = 'model.onnx'
export const MANIFEST_FILE = 'manifest.json'

export interface BuildModelsComponents {
  logger: Logger
}

export interface BuildModelsOptions {
  /** Folder whose node_modules hold the source packages (the framemesh package root). */
  rootDir: string
  /** Where models are written, e.g. <root>/models/generated. */
  outDir: string
  /** Rebuild even when up to date. */
  force?: boolean
  /** Build only these ids (default: the whole catalogue). */
  only?: string[]
}

export interface BuiltModelReport {
  id: string
  status: 'built' | 'up-to-date'
  /** Wall time spent on this model (conversion or copy, hashing, writing). */
  ms: number
  /** Size of model.onnx. */
  bytes: number
}

export async function buildModels(
  components: BuildModelsComponents,
  options: BuildModelsOptions,
): Promise<BuiltModelReport[]> {
  const log = components.logger
  const wanted =
    options.only === undefined
      ? BUILTIN_MODELS
      : BUILTIN_MODELS.filter((d) => options.only?.includes(d.manifest.id))
  await mkdir(options.outDir, { recursive: true })
  const codeTime = await newestMtime(await converterSources())
  const reports: BuiltModelReport[] = []
  for (const def of wanted) {
    const started = performance.now()
    const dir = join(options.outDir, def.manifest.id)
    const inputs = await sourceFiles(def, options.rootDir)
    const upToDate = !options.force && (await isUpToDate(dir, Math.max(codeTime, await newestMtime(inputs))))
    if (!upToDate) await buildOne(def, dir, options.rootDir)
    const bytes = (await stat(join(dir, MODEL_FILE))).size
    const report: BuiltModelReport = {
      id: def.manifest.id,
      status: upToDate ? 'up-to-date' : 'built',
      ms: performance.now() - started,
      bytes,
    }
    log.debug('built-in model', { ...report })
    reports.push(report)
  }
  if (options.only === undefined) await removeStale(options.outDir, log)
  return reports
}

async function buildOne(def: BuiltinDefinition, dir: string, rootDir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  // A stale manifest must not outlive a half-written model: remove it first, write it last.
  await rm(join(dir, MANIFEST_FILE), { force: true })
  const modelPath = join(dir, MODEL_FILE)
  const { source } = def
  let bytes: Uint8Array
  if (source.kind === 'tfjs') {
    const model = await readTfjsLayersModel(
      join(installedPackageDir(source.package, rootDir), source.modelDir, 'model.json'),
    )
    const result = convertTfjsLayersToOnnx(model, {
      name: def.manifest.id,
      sourceMax: source.sourceMax,
      frameBytes: def.manifest.inputs[0]?.dtype === 'uint8',
      docString: def.manifest.description,
      metadata: { source: `${source.package}/${source.modelDir}` },
    })
    if (result.scale !== def.manifest.scale) {
      throw new FramemeshError(
        'ERR_MODEL_BUILD_FAILED',
        `${def.manifest.id}: the converted graph scales by ${result.scale} but the catalogue says ${def.manifest.scale}; fix the catalogue entry`,
      )
    }
    bytes = result.onnx
  } else if (source.kind === 'blend') {
    bytes = buildBlendModel()
  } else {
    bytes = await readFile(join(installedPackageDir(source.package, rootDir), source.file))
  }
  await writeAtomic(modelPath, bytes)

  const assets: Record<string, string> = {}
  for (const [key, asset] of Object.entries(def.assets ?? {})) {
    const name = basename(asset.file)
    const target = join(dir, name)
    await copyFile(join(installedPackageDir(asset.package, rootDir), asset.file), `${target}.tmp`)
    await rename(`${target}.tmp`, target)
    assets[key] = name
  }

  const { id, pipeline, ...rest } = def.manifest
  const manifest: ModelManifest = {
    id,
    pipeline,
    file: MODEL_FILE,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    ...rest,
    ...(def.assets === undefined ? {} : { assets }),
  }
  await writeAtomic(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`)
}

async function sourceFiles(def: BuiltinDefinition, rootDir: string): Promise<string[]> {
  const { source } = def
  const assets = Object.values(def.assets ?? {}).map((a) =>
    join(installedPackageDir(a.package, rootDir), a.file),
  )
  if (source.kind === 'blend') return assets
  if (source.kind === 'copy')
    return [join(installedPackageDir(source.package, rootDir), source.file), ...assets]
  const modelDir = join(installedPackageDir(source.package, rootDir), source.modelDir)
  const names = await readdir(modelDir)
  return [...names.map((n) => join(modelDir, n)), ...assets]
}

/** The converter's own files: a change to any of them makes every built model stale. */
async function converterSources(): Promise<string[]> {
  const here = dirname(fileURLToPath(import.meta.url))
  const names = await readdir(here)
  const types = ['types.ts', 'types.js'].map((n) => join(here, '..', n))
  return [...names.filter((n) => /\.(ts|js)$/.test(n)).map((n) => join(here, n)), ...types]
}

async function newestMtime(files: string[]): Promise<number> {
  let newest = 0
  for (const file of files) {
    const s = await stat(file).catch(() => undefined)
    if (s !== undefined) newest = Math.max(newest, s.mtimeMs)
  }
  return newest
}

async function isUpToDate(dir: string, inputsTime: number): Promise<boolean> {
  const manifest = await stat(join(dir, MANIFEST_FILE)).catch(() => undefined)
  const model = await stat(join(dir, MODEL_FILE)).catch(() => undefined)
  return manifest !== undefined && model !== undefined && manifest.mtimeMs > inputsTime
}

/** Removes model folders a previous catalogue produced but this one no longer lists. */
async function removeStale(outDir: string, log: Logger): Promise<void> {
  const known = new Set(BUILTIN_MODELS.map((d) => d.manifest.id))
  for (const entry of await readdir(outDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || known.has(entry.name)) continue
    const dir = join(outDir, entry.name)
    const hasManifest = await stat(join(dir, MANIFEST_FILE)).then(
      () => true,
      () => false,
    )
    if (!hasManifest) continue
    log.info('removing a built-in model no longer in the catalogue', { id: entry.name })
    await rm(dir, { recursive: true, force: true })
  }
}

async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await writeFile(`${path}.tmp`, data)
  await rename(`${path}.tmp`, path)
}
