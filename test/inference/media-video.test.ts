import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { runFfmpeg } from '../../src/inference/media/ffmpeg.js'
import { generateTestClip } from '../../src/inference/media/test-clip.js'
import { fpsToRational, probeVideo, readVideoFrames, writeVideo } from '../../src/inference/media/video.js'
import type { Frame } from '../../src/inference/types.js'

// Tiny clips keep this file fast: 64×48 at 10 fps, 1 second.
const dir = await mkdtemp(join(tmpdir(), 'framemesh-video-'))
const clip = join(dir, 'clip.mp4')
await generateTestClip(clip, { width: 64, height: 48, fps: { num: 10, den: 1 }, seconds: 1, audio: true })
test.after.always(() => rm(dir, { recursive: true, force: true }))

/** ffmpeg processes (running or zombie) whose parent is this test process. */
async function ffmpegChildren(): Promise<string[]> {
  const found: string[] = []
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    const status = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
    // Fields: pid (comm) state ppid ...
    const m = /^\d+ \((.*)\) (\S) (\d+)/.exec(status)
    if (m !== null && m[1] === 'ffmpeg' && Number(m[3]) === process.pid) found.push(`${pid}:${m[2]}`)
  }
  return found
}

function psnr(a: Frame, b: Frame): number {
  let sum = 0
  for (let i = 0; i < a.data.length; i++) sum += (a.data[i] - b.data[i]) ** 2
  const mse = sum / a.data.length
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse)
}

async function collect(frames: AsyncIterable<Frame>): Promise<Frame[]> {
  const out: Frame[] = []
  for await (const f of frames) out.push(f)
  return out
}

// Serial tests run before the concurrent ones, so the process census sees only their own ffmpeg.
test.serial(
  'a paused reader holds ffmpeg back; breaking out stops it and leaves no process behind',
  async (t) => {
    // 50 frames of 320×240 are 11 MB of RGB, far more than the pipe buffers: if ffmpeg still
    // runs after two frames were taken, it is waiting on us (backpressure), not done.
    const long = join(dir, 'long.mp4')
    await generateTestClip(long, {
      width: 320,
      height: 240,
      fps: { num: 10, den: 1 },
      seconds: 5,
      audio: false,
    })
    let seen = 0
    for await (const frame of readVideoFrames(long)) {
      t.is(frame.data.length, 320 * 240 * 3)
      if (++seen === 2) {
        await new Promise((resolve) => setImmediate(resolve))
        const running = await ffmpegChildren()
        t.is(running.length, 1)
        t.notRegex(running[0], /:Z$/, 'ffmpeg is alive (not a zombie), blocked on the full pipe')
        break
      }
    }
    t.is(seen, 2)
    t.deepEqual(await ffmpegChildren(), [])
  },
)

test.serial('aborting a read rejects with ERR_ABORTED and reaps ffmpeg', async (t) => {
  const controller = new AbortController()
  const err = await t.throwsAsync(async () => {
    for await (const _ of readVideoFrames(clip, { signal: controller.signal })) controller.abort()
  })
  t.is((err as { code?: string }).code, 'ERR_ABORTED')
  t.deepEqual(await ffmpegChildren(), [])
})

test.serial(
  'aborting a write rejects with ERR_ABORTED, leaves no output file and reaps ffmpeg',
  async (t) => {
    const controller = new AbortController()
    const out = join(dir, 'aborted.mp4')
    async function* frames(): AsyncGenerator<Frame> {
      let n = 0
      for await (const frame of readVideoFrames(clip)) {
        if (++n === 4) controller.abort()
        yield frame
      }
    }
    const err = await t.throwsAsync(
      writeVideo(out, frames(), { fps: { num: 10, den: 1 }, signal: controller.signal }),
    )
    t.is((err as { code?: string }).code, 'ERR_ABORTED')
    t.deepEqual(
      (await readdir(dir)).filter((f) => f.startsWith('aborted')),
      [],
    )
    t.deepEqual(await ffmpegChildren(), [])
  },
)

test('probing a generated clip reports its size, exact fps, frame count and audio', async (t) => {
  const info = await probeVideo(clip)
  t.like(info, { width: 64, height: 48, fps: { num: 10, den: 1 }, frameCount: 10, frameCountExact: true })
  t.true(info.hasAudio)
  t.is(info.videoCodec, 'h264')
})

test('a video round trip keeps frame rate, frame count, audio and picture', async (t) => {
  const info = await probeVideo(clip)
  const original = await collect(readVideoFrames(clip, { info }))
  t.is(original.length, 10)
  const out = join(dir, 'round-trip.mp4')
  const written = await writeVideo(out, original, { fps: info.fps, audioFrom: clip })
  t.like(written, { frames: 10, width: 64, height: 48, hasAudio: true })
  const back = await probeVideo(out)
  t.deepEqual(back.fps, info.fps)
  t.is(back.frameCount, 10)
  t.true(back.hasAudio)
  const again = await collect(readVideoFrames(out))
  t.is(again.length, 10)
  for (let i = 0; i < 10; i++) t.true(psnr(original[i], again[i]) > 30, `frame ${i} survives re-encoding`)
})

test('an NTSC-rate clip keeps its 30000/1001 frame rate through a round trip', async (t) => {
  const ntsc = join(dir, 'ntsc.mkv')
  await generateTestClip(ntsc, {
    width: 32,
    height: 24,
    fps: { num: 30000, den: 1001 },
    seconds: 0.5,
    audio: false,
  })
  const info = await probeVideo(ntsc)
  t.deepEqual(info.fps, { num: 30000, den: 1001 })
  const out = join(dir, 'ntsc-out.mp4')
  const written = await writeVideo(out, readVideoFrames(ntsc, { info }), { fps: info.fps, audioFrom: ntsc })
  t.false(written.hasAudio)
  const back = await probeVideo(out)
  t.deepEqual(back.fps, { num: 30000, den: 1001 })
  t.is(back.frameCount, info.frameCount)
  t.false(back.hasAudio)
})

test('ffmpeg frame rates are read back as exact fractions', (t) => {
  t.deepEqual(fpsToRational('25'), { num: 25, den: 1 })
  t.deepEqual(fpsToRational('29.97'), { num: 30000, den: 1001 })
  t.deepEqual(fpsToRational('23.98'), { num: 24000, den: 1001 })
  t.deepEqual(fpsToRational('59.94'), { num: 60000, den: 1001 })
  t.deepEqual(fpsToRational('12.50'), { num: 25, den: 2 })
  t.deepEqual(fpsToRational('1k'), { num: 1000, den: 1 })
})

test('a text file given as a video is refused with ERR_VIDEO_DECODE when probed and when read', async (t) => {
  for (const name of ['notes.txt', 'notes.mp4']) {
    const path = join(dir, name)
    await writeFile(path, 'these are not moving pictures\n'.repeat(20))
    const probe = await t.throwsAsync(probeVideo(path))
    t.is((probe as { code?: string }).code, 'ERR_VIDEO_DECODE', name)
    t.regex(probe.message, /not a video|text file/)
    const read = await t.throwsAsync(collect(readVideoFrames(path)))
    t.is((read as { code?: string }).code, 'ERR_VIDEO_DECODE', name)
  }
})

test('a missing file is refused with ERR_VIDEO_DECODE naming the path', async (t) => {
  const err = await t.throwsAsync(probeVideo(join(dir, 'nope.mp4')))
  t.is((err as { code?: string }).code, 'ERR_VIDEO_DECODE')
  t.regex(err.message, /nope\.mp4/)
})

test('a truncated video fails with ERR_VIDEO_DECODE or yields fewer frames, never hangs', async (t) => {
  const bytes = await readFile(clip)
  const cut = join(dir, 'cut.mp4')
  await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 3)))
  try {
    const frames = await collect(readVideoFrames(cut))
    t.true(frames.length < 10)
  } catch (err) {
    t.is((err as { code?: string }).code, 'ERR_VIDEO_DECODE')
  }
})

test('frames of differing sizes are refused with ERR_FRAME_INVALID and no file is left', async (t) => {
  const out = join(dir, 'mixed.mp4')
  const frames: Frame[] = [
    { width: 16, height: 16, channels: 3, data: new Uint8Array(16 * 16 * 3) },
    { width: 8, height: 8, channels: 3, data: new Uint8Array(8 * 8 * 3) },
  ]
  const err = await t.throwsAsync(writeVideo(out, frames, { fps: { num: 10, den: 1 } }))
  t.is((err as { code?: string }).code, 'ERR_FRAME_INVALID')
  await t.throwsAsync(stat(out))
})

test('odd-sized frames are written padded to even sides', async (t) => {
  const out = join(dir, 'odd.mp4')
  const frames: Frame[] = [{ width: 15, height: 9, channels: 3, data: new Uint8Array(15 * 9 * 3).fill(128) }]
  await writeVideo(out, frames, { fps: { num: 5, den: 1 } })
  t.like(await probeVideo(out), { width: 16, height: 10, frameCount: 1 })
})

test('writing to an unknown container or with no frames is refused with ERR_VIDEO_ENCODE', async (t) => {
  const frame: Frame = { width: 8, height: 8, channels: 3, data: new Uint8Array(8 * 8 * 3) }
  const ext = await t.throwsAsync(writeVideo(join(dir, 'x.gifv'), [frame], { fps: { num: 1, den: 1 } }))
  t.is((ext as { code?: string }).code, 'ERR_VIDEO_ENCODE')
  const none = await t.throwsAsync(writeVideo(join(dir, 'none.mp4'), [], { fps: { num: 1, den: 1 } }))
  t.is((none as { code?: string }).code, 'ERR_VIDEO_ENCODE')
})

test('a video whose frames exceed the pixel limit is refused with ERR_IMAGE_TOO_LARGE before decoding', async (t) => {
  const err = await t.throwsAsync(collect(readVideoFrames(clip, { maxPixels: 64 * 48 - 1 })))
  t.is((err as { code?: string }).code, 'ERR_IMAGE_TOO_LARGE')
  t.regex(err.message, /64×48/)
})

test('large frames are written through the pipe with backpressure and all arrive', async (t) => {
  // 30 frames of 320×240 are 6.9 MB: far more than the pipe holds, so writes wait for 'drain'.
  const frames = function* (): Generator<Frame> {
    for (let i = 0; i < 30; i++) {
      yield { width: 320, height: 240, channels: 3, data: new Uint8Array(320 * 240 * 3).fill(i * 8) }
    }
  }
  const out = join(dir, 'large.mp4')
  const written = await writeVideo(out, frames(), { fps: { num: 30, den: 1 } })
  t.is(written.frames, 30)
  t.like(await probeVideo(out), { width: 320, height: 240, frameCount: 30 })
})

test('an output ffmpeg cannot create fails with ERR_VIDEO_ENCODE instead of hanging', async (t) => {
  const frames: Frame[] = Array.from({ length: 20 }, () => ({
    width: 320,
    height: 240,
    channels: 3 as const,
    data: new Uint8Array(320 * 240 * 3),
  }))
  const err = await t.throwsAsync(
    writeVideo(join(dir, 'no', 'such', 'dir.mp4'), frames, { fps: { num: 10, den: 1 } }),
  )
  t.is((err as { code?: string }).code, 'ERR_VIDEO_ENCODE')
})

test('a file with sound but no pictures is refused with ERR_VIDEO_DECODE', async (t) => {
  const audio = join(dir, 'tone.m4a')
  const made = await runFfmpeg([
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'sine=duration=0.5',
    '-c:a',
    'aac',
    audio,
  ])
  t.is(made.code, 0)
  const err = await t.throwsAsync(probeVideo(audio))
  t.is((err as { code?: string }).code, 'ERR_VIDEO_DECODE')
  t.regex(err.message, /no video stream/)
})
