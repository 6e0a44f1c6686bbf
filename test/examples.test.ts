/** The README's library example runs as written. */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import test from 'ava'

test('examples/upscale-on-local-mesh.ts runs: offers listed, 8 frames upscaled to 128×96 and paid for', async (t) => {
  const root = new URL('..', import.meta.url).pathname
  const { stdout } = await promisify(execFile)('npx', ['tsx', 'examples/upscale-on-local-mesh.ts'], {
    cwd: root,
    timeout: 90_000,
  })
  t.regex(stdout, /^offer: \S+ esrgan-slim-x2 at \d+ wei per output-megapixel$/m)
  t.regex(stdout, /^paid \d+ ticket\(s\), expected value \d+ wei$/m)
  t.regex(stdout, /^got 8 frames of 128×96; charged [1-9]\d* wei$/m)
})
