import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { FramemeshError } from '../../errors.js'

/**
 * Finds an installed package's folder the way Node's resolver walks node_modules, but without
 * going through its `exports` map (the model packages export code only, not their data files).
 */
export function installedPackageDir(name: string, fromDir: string): string {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return candidate
    if (dirname(dir) === dir) break
  }
  throw new FramemeshError(
    'ERR_PACKAGE_NOT_INSTALLED',
    `package ${name} is not installed under ${fromDir}; run npm install (it is a dependency of framemesh)`,
    { details: { name } },
  )
}
