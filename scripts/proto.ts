/**
 * `npm run proto`: compiles every proto/<area>/<name>.proto to src/<area>/pb/<name>.ts with protons.
 * The generated files are committed, so building and running never needs this step.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const protoRoot = join(root, 'proto')

function protoFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return protoFiles(path)
    return name.endsWith('.proto') ? [path] : []
  })
}

/**
 * protons 9 still emits types for protons-runtime 7 (`Codec<T>`); the runtime we ship (8) types a
 * codec as `Codec<Decoded, Encoded>`. The code is the same at run time, so only the type arguments
 * are rewritten: messages encode from a Partial, enums from themselves.
 */
export function adaptToRuntime8(source: string): string {
  const enums = new Set([...source.matchAll(/enumeration<([\w.]+)>\(/g)].map((m) => m[1]))
  return source
    .replace(/Codec<([\w.]+)>/g, (_, t: string) =>
      enums.has(t) ? `Codec<${t}, ${t}>` : `Codec<${t}, Partial<${t}>>`,
    )
    .replace(/message<([\w.]+)>\(/g, (_, t: string) => `message<${t}, Partial<${t}>>(`)
}

function generatedPath(outDir: string, file: string): string {
  return join(outDir, file.slice(dirname(file).length + 1).replace(/\.proto$/, '.ts'))
}

const files = protoFiles(protoRoot)
let failed = 0
for (const file of files) {
  const area = relative(protoRoot, dirname(file))
  const outDir = join(root, 'src', area, 'pb')
  const result = spawnSync('npx', ['protons', '--strict', '--output', outDir, file], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  if (result.status !== 0) {
    failed++
    console.error(`proto: failed to compile ${relative(root, file)}`)
  } else {
    const out = generatedPath(outDir, file)
    writeFileSync(out, adaptToRuntime8(readFileSync(out, 'utf8')))
    console.log(`proto: ${relative(root, file)} -> ${relative(root, outDir)}/`)
  }
}
if (files.length === 0) console.error('proto: no .proto files under proto/')
process.exitCode = failed === 0 ? 0 : 1
