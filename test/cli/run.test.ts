import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import sharp from 'sharp'
import type { CliContext } from '../../src/cli/command.js'
import { modelsCommand } from '../../src/cli/commands/models.js'
import { runCommand } from '../../src/cli/commands/run.js'
import { runFfmpeg } from '../../src/inference/media/ffmpeg.js'
import { decodeImage } from '../../src/inference/media/image.js'
import { generateTestClip } from '../../src/inference/media/test-clip.js'
import { probeVideo } from '../../src/inference/media/video.js'
import { cudaInstalled } from '../inference/helpers/providers.js'
import { renderPng, textLine } from '../inference/ocr-fixtures.js'
import { byoModel } from './byo-model.js'

// `framemesh run` end to end on the built-in models (models/generated) and tiny inputs.
const dir = await mkdtemp(join(tmpdir(), 'framemesh-cli-run-'))
const dataDir = join(dir, 'data')
const clip = join(dir, 'clip.mp4')
await generateTestClip(clip, { width: 64, height: 48, fps: { num: 10, den: 1 }, seconds: 1, audio: true })
test.after.always(() => rm(dir, { recursive: true, force: true }))

function run(...argv: string[]) {
  const out: string[] = []
  const err: string[] = []
  const ctx: CliContext = {
    argv: [...argv, '--data-dir', dataDir],
    env: {},
    cwd: dir,
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
    signal: new AbortController().signal,
  }
  return { result: runCommand.run(ctx), out, err }
}

/** A PNG of one colour at `path`. */
async function writeSolidPng(path: string, width: number, height: number, background: string): Promise<void> {
  await writeFile(
    path,
    await sharp({ create: { width, height, channels: 3, background } })
      .png()
      .toBuffer(),
  )
}

async function fails(t: import('ava').ExecutionContext, code: string, ...argv: string[]) {
  const err = await t.throwsAsync(run(...argv).result)
  t.is((err as { code?: string }).code, code, err.message)
  return err
}

test('upscale on a PNG writes a PNG twice the size', async (t) => {
  const input = join(dir, 'small.png')
  await writeSolidPng(input, 24, 16, '#3a6')
  const output = join(dir, 'small-x2.png')
  const { result, err } = run('upscale', input, output)
  t.is(await result, 0)
  const frame = await decodeImage(await readFile(output))
  t.like(frame, { width: 48, height: 32 })
  t.regex(err.join('\n'), /24×16 → 48×32/)
})

test('ocr on an image writes JSON with the rendered text', async (t) => {
  const input = join(dir, 'text.png')
  await writeFile(input, await renderPng(textLine('FRAMEMESH 2026', 30, 70, 40), 480, 120))
  const output = join(dir, 'text.json')
  t.is(await run('ocr', input, output).result, 0)
  const json = JSON.parse(await readFile(output, 'utf8'))
  t.deepEqual(
    json.lines.map((l: { text: string }) => l.text),
    ['FRAMEMESH 2026'],
  )
  t.is(json.lines[0].box.length, 4)
})

test('interpolate on a video doubles frame rate and frame count and keeps the audio', async (t) => {
  const output = join(dir, 'double.mp4')
  const { result, err } = run('interpolate', clip, output)
  t.is(await result, 0)
  const info = await probeVideo(output)
  t.deepEqual(info.fps, { num: 20, den: 1 })
  t.is(info.frameCount, 20)
  t.true(info.hasAudio)
  t.regex(err.join('\n'), /\[#{24}\] 100% 10\/10 frames/)
})

test('a video of odd size is written one pixel larger on the odd sides, and the summary says so', async (t) => {
  // 4:4:4 chroma, the one H.264 layout that takes odd sides.
  const odd = join(dir, 'odd.mp4')
  const size = '33x25'
  const made = await runFfmpeg(
    [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      `testsrc=size=${size}:rate=10`,
      '-t',
      '0.5',
      '-pix_fmt',
      'yuv444p',
      odd,
    ],
    {},
  )
  t.is(made.code, 0, made.stderr)
  t.like(await probeVideo(odd), { width: 33, height: 25 })
  const output = join(dir, 'odd-double.mp4')
  const { result, err } = run('interpolate', odd, output)
  t.is(await result, 0)
  t.like(await probeVideo(output), { width: 34, height: 26 })
  t.regex(err.join('\n'), /wrote \d+ frames of 33×25 \(stored as 34×26: the encoder needs even sides/)
})

test('upscale on a video keeps frame rate, frame count and audio at twice the size', async (t) => {
  const output = join(dir, 'up.mkv')
  t.is(await run('upscale', clip, output, '--model', 'esrgan-slim-x2').result, 0)
  t.like(await probeVideo(output), {
    width: 128,
    height: 96,
    fps: { num: 10, den: 1 },
    frameCount: 10,
    hasAudio: true,
  })
})

test('ocr on a video writes one JSON entry per sampled frame', async (t) => {
  const output = join(dir, 'clip.json')
  t.is(await run('ocr', clip, output, '--every', '5').result, 0)
  const json = JSON.parse(await readFile(output, 'utf8'))
  t.like(json, { width: 64, height: 48, fps: '10/1' })
  t.deepEqual(
    json.frames.map((f: { index: number; time: number }) => [f.index, f.time]),
    [
      [0, 0],
      [5, 0.5],
    ],
  )
  t.true(Array.isArray(json.frames[0].lines))
})

test('a raw RGB input of the wrong length is refused with ERR_FRAME_INVALID', async (t) => {
  const input = join(dir, 'frame.rgb')
  await writeFile(input, new Uint8Array(10 * 10 * 3 - 1))
  await fails(t, 'ERR_FRAME_INVALID', 'upscale', input, join(dir, 'out.png'), '--input-size', '10x10')
})

test('a text file as input is refused with ERR_VIDEO_DECODE', async (t) => {
  const input = join(dir, 'notes.txt')
  await writeFile(input, 'not a picture\n')
  await fails(t, 'ERR_VIDEO_DECODE', 'upscale', input, join(dir, 'out.mp4'))
})

test('a file named as an image whose bytes are no image is refused with ERR_IMAGE_DECODE, not read as a video', async (t) => {
  const input = join(dir, 'broken.png')
  await writeFile(input, new Uint8Array(64).fill(7))
  const err = await fails(t, 'ERR_IMAGE_DECODE', 'upscale', input, join(dir, 'out.png'))
  t.regex(err.message, /named as an image but is not a PNG, JPEG or WebP file/)
  await fails(t, 'ERR_IMAGE_DECODE', 'upscale', input, join(dir, 'out.mp4'))
})

test('a model whose file changed after it was added is refused before the video starts; no output is written', async (t) => {
  const ctx: CliContext = {
    argv: ['add', await byoModel(dir, 'tampered-blend'), '--data-dir', dataDir],
    env: {},
    cwd: dir,
    stdout: () => {},
    stderr: () => {},
    signal: new AbortController().signal,
  }
  t.is(await modelsCommand.run(ctx), 0)
  // One byte of the copy in the models folder changes: its sha256 no longer matches.
  const added = join(dataDir, 'models', 'tampered-blend')
  const file = join(added, (await readdir(added)).find((f) => f.endsWith('.onnx'))!)
  const bytes = await readFile(file)
  bytes[100] = bytes[100]! ^ 0xff
  await writeFile(file, bytes)
  const output = join(dir, 'tampered.mp4')
  const { result, err } = run('interpolate', clip, output, '--model', 'tampered-blend')
  await t.throwsAsync(result, { code: 'ERR_MANIFEST_MISMATCH' })
  t.deepEqual(
    err.filter((l) => /frames/.test(l)),
    [],
    'no frame was read: no progress line',
  )
  await t.throwsAsync(stat(output), { code: 'ENOENT' })
})

test('usage mistakes are refused before any model loads', async (t) => {
  const png = join(dir, 'usage.png')
  await writeSolidPng(png, 8, 8, '#000')
  await fails(t, 'ERR_USAGE', 'sharpen', png, join(dir, 'x.png'))
  await fails(t, 'ERR_USAGE', 'interpolate', png, join(dir, 'x.png'))
  await fails(t, 'ERR_USAGE', 'upscale', png, join(dir, 'x.gif'))
  await fails(t, 'ERR_USAGE', 'ocr', png, join(dir, 'x.txt'))
  await fails(t, 'ERR_USAGE', 'upscale', png)
  await fails(t, 'ERR_VIDEO_ENCODE', 'upscale', clip, join(dir, 'x.avi'))
})

test('onnxruntime options: one thread on the cpu provider upscales; a provider this build lacks is refused before any model loads', async (t) => {
  const png = join(dir, 'options.png')
  await writeSolidPng(png, 8, 6, '#468')
  const out = join(dir, 'options-x2.png')
  await run('upscale', png, out, '--threads', '1', '--execution-provider', 'cpu').result
  t.like(await sharp(out).metadata(), { width: 16, height: 12 })
  const err = await fails(
    t,
    'ERR_EXECUTION_PROVIDER_UNAVAILABLE',
    'upscale',
    png,
    join(dir, 'never.png'),
    '--execution-provider',
    'no-such-provider',
  )
  t.regex(err.message, /available: [^)]*cpu/)
  await t.throwsAsync(stat(join(dir, 'never.png')), { code: 'ENOENT' })
  if (!cudaInstalled()) {
    // A provider this build knows but cannot start here: said before any frame is read.
    await fails(
      t,
      'ERR_EXECUTION_PROVIDER_FAILED',
      'upscale',
      png,
      join(dir, 'never.png'),
      '--execution-provider',
      'cuda',
    )
    await t.throwsAsync(stat(join(dir, 'never.png')), { code: 'ENOENT' })
  }
})

test('a model of another pipeline is refused with ERR_WRONG_PIPELINE', async (t) => {
  await fails(t, 'ERR_WRONG_PIPELINE', 'upscale', clip, join(dir, 'wrong.mp4'), '--model', 'blend')
})
