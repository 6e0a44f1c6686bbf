/**
 * The built-in model catalogue as generated on disk by `npm run build:models`
 * (models/generated/<id>/manifest.json + model.onnx + assets). Reads only; never builds.
 */
import { existsSync, readFileSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FramemeshError } from '../errors.js'
import type { ModelManifest, PipelineId } from './types.js'

/** The generated models are missing or incomplete: the build step has not run (or failed). */
export class ModelsNotBuiltError extends FramemeshError {
  constructor(dir: string, reason: string) {
    super(
      'ERR_MODELS_NOT_BUILT',
      `built-in models in ${dir} are not usable (${reason}); run \`npm run build:models\` in the framemesh folder`,
      { details: { dir } },
    )
  }
}

const PIPELINES: readonly PipelineId[] = ['upscale', 'interpolate', 'ocr-detect', 'ocr-recognize', 'ocr']

/** <framemesh package root>/models/generated, found from this file's location (works from src/ and dist/). */
export function builtinModelsDir(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json')
    if (
      existsSync(pkg) &&
      (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'framemesh'
    ) {
      return join(dir, 'models', 'generated')
    }
    if (dirname(dir) === dir) {
      throw new FramemeshError(
        'ERR_PACKAGE_ROOT_NOT_FOUND',
        'cannot find the framemesh package root above its own source; reinstall framemesh',
      )
    }
  }
}

/**
 * Every generated manifest, sorted by id, with `file` and `assets` turned into absolute paths
 * (so a caller can open them without knowing the folder). Throws ModelsNotBuiltError when the
 * folder, a manifest or a file it names is missing.
 */
export async function listBuiltinManifests(dir: string = builtinModelsDir()): Promise<ModelManifest[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined)
  if (entries === undefined) throw new ModelsNotBuiltError(dir, 'the folder does not exist')
  const manifests: ModelManifest[] = []
  for (const entry of entries) {
    if (!entry.isDirectory()) continue
    const modelDir = join(dir, entry.name)
    const text = await readFile(join(modelDir, 'manifest.json'), 'utf8').catch(() => undefined)
    if (text === undefined) continue
    manifests.push(resolveManifest(parseManifest(text, modelDir, dir), modelDir, dir))
  }
  if (manifests.length === 0) throw new ModelsNotBuiltError(dir, 'no manifest.json found')
  return manifests.sort((a, b) => a.id.localeCompare(b.id))
}

function parseManifest(text: string, modelDir: string, dir: string): ModelManifest {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new ModelsNotBuiltError(dir, `${modelDir}/manifest.json is not JSON`)
  }
  const m = value as Partial<ModelManifest>
  if (
    typeof m.id !== 'string' ||
    typeof m.file !== 'string' ||
    typeof m.licence !== 'string' ||
    !PIPELINES.includes(m.pipeline as PipelineId) ||
    !Array.isArray(m.inputs) ||
    !Array.isArray(m.outputs)
  ) {
    throw new ModelsNotBuiltError(
      dir,
      `${modelDir}/manifest.json lacks id, pipeline, file, licence, inputs or outputs`,
    )
  }
  return m as ModelManifest
}

function resolveManifest(manifest: ModelManifest, modelDir: string, dir: string): ModelManifest {
  const absolute = (p: string): string => {
    const full = resolve(modelDir, p)
    if (!existsSync(full)) throw new ModelsNotBuiltError(dir, `${manifest.id} names ${p}, which is missing`)
    return full
  }
  const resolved: ModelManifest = { ...manifest, file: absolute(manifest.file) }
  if (manifest.assets !== undefined) {
    resolved.assets = Object.fromEntries(Object.entries(manifest.assets).map(([k, p]) => [k, absolute(p)]))
  }
  return resolved
}
