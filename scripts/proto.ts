/**
 * `npm run proto`: compiles every proto/<area>/<name>.proto to src/<area>/pb/<name>.ts with protons.
 * The generated files are committed, so building and running never needs this step; a test checks
 * they match what this script would write.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const protoRoot = join(root, 'proto')

/** Every .proto file under proto/, with the src/<area>/pb directory its code belongs in. */
export function protoFiles(dir = protoRoot): Array<{ proto: string; outDir: string }> {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return protoFiles(path)
    if (!name.endsWith('.proto')) return []
    return [{ proto: path, outDir: join(root, 'src', relative(protoRoot, dir), 'pb') }]
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

/** Generates `<outDir>/<name>.ts` from one .proto file; returns its path. */
export function generate(proto: string, outDir: string): string {
  mkdirSync(outDir, { recursive: true })
  const result = spawnSync(
    join(root, 'node_modules', '.bin', 'protons'),
    ['--strict', '--output', outDir, proto],
    {
      cwd: root,
      encoding: 'utf8',
    },
  )
  if (result.status !== 0) {
    throw new Error(`protons failed on ${relative(root, proto)}: ${result.stderr || result.error?.message}`)
  }
  const out = join(outDir, basename(proto).replace(/\.proto$/, '.ts'))
  writeFileSync(out, adaptToRuntime8(readFileSync(out, 'utf8')))
  return out
}

function main(): number {
  const files = protoFiles()
  if (files.length === 0) console.error('proto: no .proto files under proto/')
  let failed = 0
  for (const { proto, outDir } of files) {
    try {
      console.log(`proto: ${relative(root, proto)} -> ${relative(root, generate(proto, outDir))}`)
    } catch (err) {
      failed++
      console.error(`proto: ${(err as Error).message}`)
    }
  }
  return failed === 0 ? 0 : 1
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1])
  process.exitCode = main()
