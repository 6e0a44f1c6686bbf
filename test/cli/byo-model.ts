// A bring-your-own model for the CLI tests: the built-in blend model under another id.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { builtinModelsDir } from '../../src/inference/builtins.js'

/**
 * Writes blend's manifest (without its sha256, as an operator's would be) under `id` into a new
 * folder in `dir`, with the model file beside it, or junk bytes when `corrupt`; returns the
 * manifest's path for `framemesh models add`.
 */
export async function byoModel(dir: string, id: string, corrupt = false): Promise<string> {
  const src = join(builtinModelsDir(), 'blend')
  const folder = join(dir, `src-${id}`)
  await mkdir(folder, { recursive: true })
  const manifest = JSON.parse(await readFile(join(src, 'manifest.json'), 'utf8'))
  delete manifest.sha256
  await writeFile(join(folder, 'manifest.json'), JSON.stringify({ ...manifest, id }))
  if (corrupt) await writeFile(join(folder, 'model.onnx'), 'this is not protobuf')
  else await copyFile(join(src, 'model.onnx'), join(folder, 'model.onnx'))
  return join(folder, 'manifest.json')
}
