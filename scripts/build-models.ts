/**
 * `npm run build:models` (also run by `prepare` on npm install / npm ci): writes the built-in
 * models to models/generated/. Flags: --force rebuilds everything; any other argument is a
 * model id to build alone.
 */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isFramemeshError } from '../src/errors.js'
import { buildModels } from '../src/inference/convert/build.js'
import { createLogger } from '../src/logger.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const ids = args.filter((a) => !a.startsWith('--'))
const logger = createLogger({
  name: 'build-models',
  pretty: true,
  level: args.includes('--verbose') ? 'debug' : 'info',
})

try {
  const started = performance.now()
  const reports = await buildModels(
    { logger },
    {
      rootDir: root,
      outDir: join(root, 'models', 'generated'),
      force: args.includes('--force'),
      only: ids.length > 0 ? ids : undefined,
    },
  )
  for (const r of reports) {
    const size = `${(r.bytes / 1e6).toFixed(1)} MB`.padStart(8)
    console.log(`${r.id.padEnd(18)} ${r.status.padEnd(10)} ${size} ${r.ms.toFixed(0).padStart(6)} ms`)
  }
  const built = reports.filter((r) => r.status === 'built').length
  console.log(
    `models/generated: ${built} built, ${reports.length - built} up to date, ${(performance.now() - started).toFixed(0)} ms`,
  )
} catch (err) {
  const message = isFramemeshError(err) ? `${err.code}: ${err.message}` : String((err as Error)?.stack ?? err)
  console.error(`build:models failed: ${message}`)
  process.exitCode = 1
}
