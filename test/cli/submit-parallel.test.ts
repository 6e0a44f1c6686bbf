// `framemesh submit --parallel` against a real gateway over a local mesh with two sellers.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { submitCommand } from '../../src/cli/commands/submit.js'
import { meshForGateway } from '../../src/gateway/mesh-adapter.js'
import { createGateway } from '../../src/gateway/server.js'
import { probeVideo, writeVideo } from '../../src/inference/media/video.js'
import type { Frame } from '../../src/inference/types.js'
import { startLocalMesh } from '../../src/node/local-mesh.js'
import { startCommand } from './node-harness.js'

test('submit --parallel 2 runs the video on both sellers at once, says so, and writes every frame', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'framemesh-cli-parallel-'))
  const price = 2_000_000_000_000n
  const mesh = await startLocalMesh(
    {},
    { orchestrators: [{ prices: { 'esrgan-slim-x2': price } }, { prices: { 'esrgan-slim-x2': price } }] },
  )
  const gateway = await createGateway(
    { mesh: meshForGateway(mesh.broadcaster.mesh) },
    { dataDir: join(dir, 'gateway') },
  )
  t.teardown(async () => {
    await gateway.close()
    await mesh.stop()
    await rm(dir, { recursive: true, force: true })
  })
  // Twelve 320×240 frames: long enough to share (a lane starts once a window's worth is out).
  const frames: Frame[] = Array.from({ length: 12 }, (_, i) => ({
    width: 320,
    height: 240,
    channels: 3,
    data: new Uint8Array(320 * 240 * 3).map((_, j) => (j * (i + 17)) % 251),
  }))
  await writeVideo(join(dir, 'in.mp4'), frames, { fps: { num: 10, den: 1 } })
  const cmd = startCommand(
    submitCommand,
    ['upscale', 'in.mp4', '-o', 'out.mp4', '--parallel', '2', '--gateway', gateway.url],
    { cwd: dir },
  )
  t.is(await cmd.done, 0, cmd.err.join('\n'))
  const log = cmd.err.join('\n')
  t.regex(log, /^stage 1: running on 12D3KooW/m)
  t.regex(log, /^stage 1: also running on 12D3KooW/m)
  t.regex(cmd.out[0]!, / 2 peer\(s\), /)
  t.like(await probeVideo(join(dir, 'out.mp4'), { countFrames: true }), {
    width: 640,
    height: 480,
    frameCount: 12,
  })
})
