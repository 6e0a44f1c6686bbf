// `framemesh submit` against a real gateway over a real local mesh (dev chain, bootstrap, seller).
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import anyTest, { type TestFn } from 'ava'
import sharp from 'sharp'
import { jobsCommand } from '../../src/cli/commands/jobs.js'
import { submitCommand } from '../../src/cli/commands/submit.js'
import { meshForGateway } from '../../src/gateway/mesh-adapter.js'
import { createGateway, type Gateway } from '../../src/gateway/server.js'
import { probeVideo, writeVideo } from '../../src/inference/media/video.js'
import type { Frame } from '../../src/inference/types.js'
import { type LocalMesh, startLocalMesh } from '../../src/node/local-mesh.js'
import { startTcpSwitch } from '../helpers/tcp-switch.js'
import { startCommand } from './node-harness.js'

interface Ctx {
  mesh: LocalMesh
  gateway: Gateway
  dir: string
  image: string
}

const test = anyTest as TestFn<Ctx>
const TOKEN = 'submit-test-token'

test.before(async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'framemesh-cli-submit-'))
  // One seller of the 2× upscaler only: enough for the round trip, and nobody sells OCR. It runs
  // inference on the event loop this test shares with the gateway and the client: the video test
  // below relies on each frame holding the loop (slow reconnects), not on a free-running 100 ms timer.
  const mesh = await startLocalMesh(
    {},
    { orchestrators: [{ prices: { 'esrgan-slim-x2': 2_000_000_000_000n }, inferenceThread: 'main' }] },
  )
  const gateway = await createGateway(
    { mesh: meshForGateway(mesh.broadcaster.mesh) },
    { tokens: [TOKEN], dataDir: join(dir, 'gateway') },
  )
  const image = join(dir, 'in.png')
  const pixels = Buffer.alloc(40 * 24 * 3)
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37) % 251
  await writeFile(
    image,
    await sharp(pixels, { raw: { width: 40, height: 24, channels: 3 } })
      .png()
      .toBuffer(),
  )
  t.context = { mesh, gateway, dir, image }
})

test.after.always(async (t) => {
  await t.context.gateway?.close()
  await t.context.mesh?.stop()
  if (t.context.dir !== undefined) await rm(t.context.dir, { recursive: true, force: true })
})

/** A 10 fps clip of `count` 320×240 frames (each takes the seller a while), different for each `salt`. */
async function writeClip(t: { context: Ctx }, name: string, count: number, salt: number): Promise<string> {
  const clip = join(t.context.dir, name)
  const frames: Frame[] = Array.from({ length: count }, (_, i) => ({
    width: 320,
    height: 240,
    channels: 3,
    data: new Uint8Array(320 * 240 * 3).map((_, j) => (j * (i + salt)) % 251),
  }))
  await writeVideo(clip, frames, { fps: { num: 10, den: 1 } })
  return clip
}

const submit = (t: { context: Ctx }, argv: string[], env: Record<string, string> = {}) =>
  startCommand(submitCommand, [...argv, '--gateway', t.context.gateway.url], {
    env: { FRAMEMESH_GATEWAY_TOKEN: TOKEN, ...env },
    cwd: t.context.dir,
  })

const jobs = (t: { context: Ctx }, argv: string[]) =>
  startCommand(jobsCommand, [...argv, '--gateway', t.context.gateway.url], {
    env: { FRAMEMESH_GATEWAY_TOKEN: TOKEN },
    cwd: t.context.dir,
  })

test.serial(
  'submit uploads an image, follows the job on stderr and writes the 2× upscaled PNG',
  async (t) => {
    const started = performance.now()
    const cmd = submit(t, ['upscale', 'in.png', '-o', 'out.png'])
    t.is(await cmd.done, 0, cmd.err.join('\n'))
    t.log(
      `submit round trip (40×24 PNG, upload → events → download): ${Math.round(performance.now() - started)} ms`,
    )
    const meta = await sharp(join(t.context.dir, 'out.png')).metadata()
    t.like(meta, { format: 'png', width: 80, height: 48 })

    const seller = t.context.mesh.orchestrators[0]!.peer.peerId.toString()
    const stderr = cmd.err.join('\n')
    t.regex(stderr, /^job [\w-]+: upscale$/m)
    t.regex(stderr, new RegExp(`stage 1: running on ${seller.slice(0, 12)}…${seller.slice(-6)}`))
    t.is(cmd.err.filter((l) => /^upscale \[#{24}\] 100% 1\/1 frames/.test(l)).length, 1, stderr)
    t.regex(
      cmd.out[0]!,
      /^wrote out\.png \(image\/png, \d+ bytes\) in [\d.]+ s; 1 peer\(s\), charged [\d.]+ ETH, sent [\d.]+ ETH in tickets/,
    )
    // Nothing half-written is left beside the result.
    t.deepEqual(
      (await readdir(t.context.dir)).filter((f) => f.startsWith('out.png')),
      ['out.png'],
    )
  },
)

test.serial('--json prints the finished job with its peers and payment', async (t) => {
  const cmd = submit(t, ['upscale:esrgan-slim-x2', 'in.png', '--output', 'json.png', '--json'])
  t.is(await cmd.done, 0)
  const summary = JSON.parse(cmd.out[0]!)
  t.like(summary, {
    contentType: 'image/png',
    peers: [t.context.mesh.orchestrators[0]!.peer.peerId.toString()],
  })
  t.true(BigInt(summary.paidWei) > 0n, `paid ${summary.paidWei}`)
  t.true(BigInt(summary.chargedWei) > 0n, `charged ${summary.chargedWei}`)
})

test.serial('a job the mesh cannot run exits non-zero with the gateway’s error', async (t) => {
  const cmd = submit(t, ['ocr', 'in.png', '-o', 'text.json'])
  const err = await t.throwsAsync(cmd.done)
  t.is((err as { code?: string }).code, 'ERR_NO_OFFERS')
  t.regex(
    err!.message,
    /^job [\w-]+ failed at the gateway: no orchestrator offers ocr; wait for more adverts$/,
  )
  // A model nobody sells is named in the refusal.
  const model = await t.throwsAsync(submit(t, ['upscale:no-such-model', 'in.png', '-o', 'x.png']).done)
  t.is((model as { code?: string }).code, 'ERR_NO_OFFERS')
  t.regex(model!.message, /no orchestrator offers upscale with model 'no-such-model'; wait for more adverts$/)
})

test.serial(
  'with one seller, --verify delivers the result and says it went unchecked; with --verify-strict the job fails with ERR_UNVERIFIABLE',
  async (t) => {
    const lenient = submit(t, ['upscale', 'in.png', '-o', 'checked.png', '--verify', '50'])
    t.is(await lenient.done, 0, lenient.err.join('\n'))
    t.is(
      lenient.out[1],
      'verified 50%: 0 output(s) checked, no mismatch; 1 output(s) delivered unchecked (no second orchestrator)',
    )
    // The finished job says the same when its result is fetched again.
    const id = /^job ([\w-]+): upscale$/m.exec(lenient.err.join('\n'))![1]!
    const get = jobs(t, ['get', id, '-o', 'again.png'])
    t.is(await get.done, 0, get.err.join('\n'))
    t.is(get.out[1], lenient.out[1])
    const strict = submit(t, ['upscale', 'in.png', '-o', 'strict.png', '--verify', '50', '--verify-strict'])
    const err = await t.throwsAsync(strict.done)
    t.is((err as { code?: string }).code, 'ERR_UNVERIFIABLE')
    t.regex(err!.message, /verification is strict: 1 unchecked result was not delivered/)
    t.false((await readdir(t.context.dir)).some((f) => f.startsWith('strict.png')))
  },
)

test('Ctrl-C during the upload stops with ERR_ABORTED and says no job was started', async (t) => {
  const cmd = submit(t, ['upscale', 'in.png', '-o', 'never.png'])
  cmd.stop()
  await t.throwsAsync(cmd.done, { code: 'ERR_ABORTED', message: /no job was started/ })
})

test.serial(
  'Ctrl-C while following a job stops with ERR_ABORTED, says where the job goes on, and leaves no unhandled rejection',
  async (t) => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    t.teardown(() => process.off('unhandledRejection', onUnhandled))
    // Frames big enough that the job is still running when the first event arrives.
    await writeClip(t, 'followed.mp4', 4, 5)
    const cmd = submit(t, ['upscale', 'followed.mp4', '-o', 'followed-x2.mp4'])
    await cmd.errLine(/^stage 1: running on /, 30_000)
    cmd.stop()
    const err = await t.throwsAsync(cmd.done, { code: 'ERR_ABORTED' })
    t.regex(
      err!.message,
      /^stopped following job ([\w-]+); it goes on at the gateway: http:.* \(fetch its result later with `framemesh jobs get \1 -o <file>`, or stop it with `framemesh jobs cancel \1`\)$/,
    )
    // Cancelling the event stream after its fetch was aborted rejected where nothing handled it.
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.deepEqual(unhandled, [])
  },
)

test.serial(
  'a video job outlives a silent event stream: submit reconnects, skips the replayed events and writes the 2× video',
  async (t) => {
    // Three 320×240 frames: each takes the seller longer than the 100 ms idle timeout below.
    await writeClip(t, 'clip.mp4', 3, 3)
    const cmd = submit(t, ['upscale', 'clip.mp4', '-o', 'clip-x2.mp4', '--idle-timeout-ms', '100'])
    t.is(await cmd.done, 0, cmd.err.join('\n'))
    const info = await probeVideo(join(t.context.dir, 'clip-x2.mp4'))
    t.like(info, { width: 640, height: 480, frameCount: 3 })
    const lines = (pattern: RegExp) => cmd.err.filter((l) => pattern.test(l)).length
    t.true(lines(/^event stream lost \(the gateway sent nothing for 100 ms/) > 0, cmd.err.join('\n'))
    // Every event the gateway recorded is shown once, though reconnecting replays them all.
    const id = /^job ([\w-]+):/.exec(cmd.err.find((l) => l.startsWith('job '))!)![1]!
    const history = t.context.gateway.jobs.find(id)!.history
    const count = (event: string) => history.filter((e) => e.event === event).length
    t.is(lines(/^stage 1: running on /), count('peer'), cmd.err.join('\n'))
    t.is(lines(/^paid /), count('payment'), cmd.err.join('\n'))
    t.true(count('payment') > 0)
  },
)

test.serial(
  'a gateway that stops answering for a moment (a restart, a network blip) is waited for: submit reconnects and writes the result',
  async (t) => {
    await writeClip(t, 'blip.mp4', 6, 7)
    // submit reaches the gateway through a switch: off, it resets the connection and refuses new ones.
    const link = await startTcpSwitch(Number(new URL(t.context.gateway.url).port))
    t.teardown(() => link.close())
    const cmd = startCommand(
      submitCommand,
      ['upscale', 'blip.mp4', '-o', 'blip-x2.mp4', '--gateway', link.urlFor(t.context.gateway.url)],
      { env: { FRAMEMESH_GATEWAY_TOKEN: TOKEN }, cwd: t.context.dir },
    )
    await cmd.errLine(/^stage 1: running on /, 30_000)
    link.off()
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    link.on()
    t.is(await cmd.done, 0, cmd.err.join('\n'))
    t.true(
      cmd.err.some((l) => /^event stream lost \(no gateway answers at .*\); reconnecting$/.test(l)),
      cmd.err.join('\n'),
    )
    t.like(await probeVideo(join(t.context.dir, 'blip-x2.mp4')), { width: 640, height: 480, frameCount: 6 })
    // Progress that came in a burst after the reconnect is not shown as thousands of frames/s.
    const rates = cmd.err.flatMap((l) => /([\d.]+) frames\/s/.exec(l)?.[1] ?? []).map(Number)
    t.true(
      rates.every((r) => r < 100),
      cmd.err.join('\n'),
    )
  },
)

test.serial(
  'at the token’s cap of running jobs submit waits for a slot and then runs; with --wait-when-busy-ms 0 it exits with the 429',
  async (t) => {
    const gateway = await createGateway(
      { mesh: meshForGateway(t.context.mesh.broadcaster.mesh) },
      { tokens: [TOKEN], maxConcurrentPerToken: 1, dataDir: join(t.context.dir, 'one-slot') },
    )
    t.teardown(() => gateway.close())
    const at = (argv: string[]) =>
      startCommand(submitCommand, [...argv, '--gateway', gateway.url], {
        env: { FRAMEMESH_GATEWAY_TOKEN: TOKEN },
        cwd: t.context.dir,
      })
    // Twelve 320×240 frames: still running while the others are submitted.
    await writeClip(t, 'long.mp4', 12, 11)
    const long = at(['upscale', 'long.mp4', '-o', 'long-x2.mp4'])
    await long.errLine(/^stage 1: running on /, 30_000)

    await t.throwsAsync(at(['upscale', 'in.png', '-o', 'refused.png', '--wait-when-busy-ms', '0']).done, {
      code: 'ERR_TOO_MANY_REQUESTS',
      message: /at most 1 requests and running jobs at once per token/,
    })
    const queued = at(['upscale', 'in.png', '-o', 'queued.png'])
    t.is(await queued.done, 0, queued.err.join('\n'))
    t.is(await long.done, 0, long.err.join('\n'))
    t.is(
      queued.err.filter((l) =>
        l.startsWith('the gateway is running as many of your jobs as it allows; waiting'),
      ).length,
      1,
      queued.err.join('\n'),
    )
    t.like(await sharp(join(t.context.dir, 'queued.png')).metadata(), { width: 80, height: 48 })
    t.like(await probeVideo(join(t.context.dir, 'long-x2.mp4')), { width: 640, frameCount: 12 })
  },
)

test.serial(
  'jobs get on a job still running follows it to its end with its progress, then writes the result',
  async (t) => {
    await writeClip(t, 'unfollowed.mp4', 12, 13)
    const first = submit(t, ['upscale', 'unfollowed.mp4', '-o', 'never.mp4'])
    await first.errLine(/^stage 1: running on /, 30_000)
    first.stop()
    const stopped = await t.throwsAsync(first.done, { code: 'ERR_ABORTED' })
    const id = /stopped following job ([\w-]+)/.exec(stopped!.message)![1]!
    const get = jobs(t, ['get', id, '-o', 'followed.mp4'])
    t.is(await get.done, 0, get.err.join('\n'))
    t.is(
      get.err[0],
      `job ${id} is still running; following it to its end (Ctrl-C stops following, not the job)`,
    )
    t.true(
      get.err.some((l) => /^upscale \[#+\] 100% 12\/12 frames/.test(l)),
      get.err.join('\n'),
    )
    t.regex(get.out[0]!, /^wrote followed\.mp4 \(video\/mp4, \d+ bytes\)$/)
    t.like(await probeVideo(join(t.context.dir, 'followed.mp4')), { width: 640, height: 480, frameCount: 12 })
  },
)

test.serial(
  'framemesh jobs lists the caller’s jobs, get downloads one’s result, cancel removes a finished one, and an unknown id is ERR_NOT_FOUND',
  async (t) => {
    const jobsCmd = (argv: string[]) => jobs(t, argv)
    const done = submit(t, ['upscale', 'in.png', '-o', 'listed.png', '--json'])
    t.is(await done.done, 0)
    const { id } = JSON.parse(done.out[0]!) as { id: string }
    const list = jobsCmd([])
    t.is(await list.done, 0)
    t.true(
      list.out.some((l) => l.startsWith(`${id}  done  1/1 frames  upscale, charged `)),
      list.out.join('\n'),
    )
    // The result again, as after a Ctrl-C that stopped following the job.
    const get = jobsCmd(['get', id, '-o', 'again.png'])
    t.is(await get.done, 0)
    t.regex(get.out[0]!, /^wrote again\.png \(image\/png, \d+ bytes\)$/)
    t.deepEqual(
      await readFile(join(t.context.dir, 'again.png')),
      await readFile(join(t.context.dir, 'listed.png')),
    )
    await t.throwsAsync(jobsCmd(['get', id]).done, { code: 'ERR_USAGE', message: /-o <file> is required/ })
    // A failed job has no result: get says why, with the job's own code.
    const failing = await t.throwsAsync(submit(t, ['ocr', 'in.png', '-o', 'text.json']).done)
    const failedId = /^job ([\w-]+) failed/.exec(failing!.message)![1]!
    await t.throwsAsync(jobsCmd(['get', failedId, '-o', 'nothing.json']).done, {
      code: 'ERR_NO_OFFERS',
      message: new RegExp(`^job ${failedId} failed, so it has no result: `),
    })
    const cancel = jobsCmd(['cancel', id])
    t.is(await cancel.done, 0)
    t.deepEqual(cancel.out, [`removed job ${id} and its files`])
    const after = jobsCmd(['list', '--json'])
    t.is(await after.done, 0)
    t.false((JSON.parse(after.out[0]!) as Array<{ id: string }>).some((j) => j.id === id))
    await t.throwsAsync(jobsCmd(['cancel', id]).done, {
      code: 'ERR_NOT_FOUND',
      message: /no job .* of yours/,
    })
    await t.throwsAsync(jobsCmd(['cancel']).done, { code: 'ERR_USAGE' })
  },
)

test('a wrong token exits with the gateway’s 401 message and says how to pass one', async (t) => {
  const cmd = submit(t, ['upscale', 'in.png', '-o', 'x.png'], { FRAMEMESH_GATEWAY_TOKEN: 'wrong' })
  await t.throwsAsync(cmd.done, { code: 'ERR_UNAUTHORIZED', message: /invalid bearer token; pass --token/ })
})

test('bad arguments are refused before anything is uploaded', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['upscale', 'in.png'], /-o <output> is required/],
    [['sharpen', 'in.png', '-o', 'x.png'], /unknown pipeline 'sharpen' at stage 1/],
    [['ocr,upscale', 'in.png', '-o', 'x.png'], /ocr .* only be the last stage/],
    [['upscale', 'in.png', '-o', 'x.jpg'], /result is PNG: name the output <file>\.png/],
    [['upscale', 'missing.png', '-o', 'x.png'], /cannot read input/],
    [['upscale', 'notes.txt', '-o', 'x.png'], /neither an image .* nor a video/],
    [['upscale', 'in.png', '-o', '-'], /-o - prints OCR text/],
    [['interpolate', 'in.png', '-o', 'x.png'], /interpolate needs a video/],
    [['ocr', 'in.png', '-o', 'x.json', '--every', '2'], /--every applies to a video whose last stage is ocr/],
    [['upscale', 'in.png', '-o', 'x.png', '--verify-strict'], /--verify-strict needs --verify <percent>/],
  ]
  await writeFile(join(t.context.dir, 'notes.txt'), 'not a picture at all')
  for (const [argv, message] of cases) {
    await t.throwsAsync(submit(t, argv).done, { code: 'ERR_USAGE', message }, argv.join(' '))
  }
  await t.throwsAsync(submit(t, ['upscale', 'in.png', '-o', 'x.png', '--parallel', '17']).done, {
    code: 'ERR_CONFIG_INVALID',
    message: /'parallel' must be an integer from 1 to 16, got 17/,
  })
})

test('a gateway URL where nothing listens is reported with how to fix it', async (t) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  const cmd = startCommand(
    submitCommand,
    ['upscale', 'in.png', '-o', 'x.png', '--gateway', `http://127.0.0.1:${port}`],
    {
      cwd: t.context.dir,
    },
  )
  await t.throwsAsync(cmd.done, { code: 'ERR_GATEWAY_UNREACHABLE', message: /framemesh gateway.*--gateway/ })
})
