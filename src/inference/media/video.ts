import { rename, rm } from 'node:fs/promises'
import type { Readable, Writable } from 'node:stream'
import { FrameInvalidError } from '../errors.js'
import type { Frame } from '../types.js'
import { containerFor } from './containers.js'
import { ImageTooLargeError, VideoDecodeError, VideoEncodeError } from './errors.js'
import { type FfmpegProcess, spawnFfmpeg, type Watchdog, watchdog } from './ffmpeg.js'
import { assertFrame, DEFAULT_MAX_PIXELS } from './image.js'
import { probeVideo, type Rational, type VideoInfo } from './video-probe.js'

export {
  fpsToRational,
  multiplyRate,
  type ProbeOptions,
  probeVideo,
  type Rational,
  type VideoInfo,
} from './video-probe.js'

/**
 * Video files as streams of frames: ffmpeg decodes to raw rgb24 on its stdout, one frame at a
 * time as the consumer pulls (a slow consumer pauses ffmpeg through the pipe), and encodes
 * frames from its stdin, waiting for the pipe to drain. Nothing holds a whole video in memory.
 */

export interface ReadVideoOptions {
  ffmpegPath?: string
  signal?: AbortSignal
  /** Fail when ffmpeg sends nothing for this long while a frame is awaited (default 30 s). */
  stallTimeoutMs?: number
  /** A probe already made, to skip probing again. */
  info?: VideoInfo
  /** Largest frame accepted, width × height (default DEFAULT_MAX_PIXELS, 8K with head room). */
  maxPixels?: number
}

/** Decodes every video frame of the file in order. Breaking out of the loop stops ffmpeg. */
export async function* readVideoFrames(path: string, options: ReadVideoOptions = {}): AsyncGenerator<Frame> {
  const info = options.info ?? (await probeVideo(path, { ...options, countFrames: false }))
  const { width, height } = info
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS
  if (width * height > maxPixels) {
    throw new ImageTooLargeError(
      `the frames of '${path}' are ${width}×${height}, over the limit of ${maxPixels} pixels; scale the video down first`,
      { details: { width, height, maxPixels } },
    )
  }
  const frameBytes = width * height * 3
  // passthrough: every decoded frame exactly once, none duplicated or dropped to fit a rate.
  const args = [
    '-nostdin',
    '-hide_banner',
    '-v',
    'error',
    '-i',
    path,
    '-map',
    '0:v:0',
    '-vsync',
    'passthrough',
  ]
  // -s pins the output to the probed size, so a stream that reports one size and decodes another
  // still yields frames of exactly frameBytes.
  const output = ['-s', `${width}x${height}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']
  const proc = spawnFfmpeg([...args, ...output], {
    ffmpegPath: options.ffmpegPath,
    stdout: 'pipe',
  })
  const dog = watchdog(proc, options.signal, options.stallTimeoutMs ?? 30_000)
  const chunks = (proc.child.stdout as Readable)[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  try {
    // Every byte of a frame is overwritten before it is yielded, so no zero-fill is needed.
    const allocate = () => {
      const b = Buffer.allocUnsafeSlow(frameBytes)
      return new Uint8Array(b.buffer, b.byteOffset, frameBytes)
    }
    let frame = allocate()
    let filled = 0
    for (;;) {
      dog.arm()
      const next = await chunks.next()
      dog.disarm()
      if (next.done === true) break
      const chunk = next.value
      for (let at = 0; at < chunk.length; ) {
        const n = Math.min(chunk.length - at, frameBytes - filled)
        frame.set(chunk.subarray(at, at + n), filled)
        filled += n
        at += n
        if (filled === frameBytes) {
          yield { width, height, channels: 3, data: frame }
          frame = allocate()
          filled = 0
        }
      }
    }
    dog.arm()
    const exit = await proc.exited
    dog.check()
    if (exit.code !== 0) {
      throw new VideoDecodeError(
        `ffmpeg could not decode '${path}' (${tail(proc)}); the file may be damaged`,
        {
          details: { exitCode: exit.code },
        },
      )
    }
    if (filled !== 0) {
      throw new VideoDecodeError(`'${path}' ended part way through a frame; the file may be truncated`)
    }
  } finally {
    dog.dispose()
    await chunks.return?.()
    await proc.stop()
  }
}

export interface WriteVideoOptions {
  /** The output frame rate: give the source's to keep timing (or twice it after interpolation). */
  fps: Rational
  /** Copy the first audio track of this file into the output (if it has one). */
  audioFrom?: string
  ffmpegPath?: string
  signal?: AbortSignal
  /** Fail when ffmpeg accepts no data for this long (default 60 s). */
  stallTimeoutMs?: number
}

export interface WriteVideoResult {
  frames: number
  width: number
  height: number
  hasAudio: boolean
}

/**
 * Encodes frames into a video file (format from the extension: .mp4, .mov, .mkv, .webm).
 * All frames must have the first frame's size. Odd sizes are padded by one pixel (yuv420p
 * needs even sides). The file appears only when complete: ffmpeg writes to a side file that is
 * renamed at the end and removed on any failure.
 */
export async function writeVideo(
  path: string,
  frames: AsyncIterable<Frame> | Iterable<Frame>,
  options: WriteVideoOptions,
): Promise<WriteVideoResult> {
  const { num, den } = options.fps
  if (!(num > 0 && den > 0 && Number.isInteger(num) && Number.isInteger(den))) {
    throw new VideoEncodeError(`the frame rate ${num}/${den} is not a positive fraction of whole numbers`)
  }
  const spec = containerFor(path)
  options.signal?.throwIfAborted()
  const audio =
    options.audioFrom === undefined
      ? undefined
      : await probeVideo(options.audioFrom, { ...options, countFrames: false }).catch((err: unknown) => {
          throw new VideoEncodeError(
            `cannot take audio from '${options.audioFrom}': ${(err as Error).message}`,
            {
              cause: err,
            },
          )
        })
  const iterator = toAsyncIterator(frames)
  const first = await iterator.next()
  if (first.done === true)
    throw new VideoEncodeError(`no frames to write to '${path}'; give at least one frame`)
  assertFrame(first.value)
  const { width, height } = first.value
  const audioArgs: string[] = []
  if (audio?.hasAudio === true && options.audioFrom !== undefined) {
    const copy = audio.audioCodec !== undefined && spec.copyableAudio.has(audio.audioCodec)
    audioArgs.push('-i', options.audioFrom, '-map', '0:v:0', '-map', '1:a:0')
    audioArgs.push(...(copy ? ['-c:a', 'copy'] : spec.audioEncodeArgs))
  }
  const pad = width % 2 === 1 || height % 2 === 1 ? ['-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2'] : []
  const partial = `${path}.partial-${process.pid}`
  const input = [
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    '-s',
    `${width}x${height}`,
    '-framerate',
    `${num}/${den}`,
  ]
  const proc = spawnFfmpeg(
    [
      ...['-nostdin', '-hide_banner', '-v', 'error', '-y', ...input, '-i', 'pipe:0'],
      ...audioArgs,
      ...spec.videoArgs,
      ...pad,
      ...spec.extraArgs,
      ...['-f', spec.muxer, partial],
    ],
    { ffmpegPath: options.ffmpegPath, stdin: 'pipe' },
  )
  const dog = watchdog(proc, options.signal, options.stallTimeoutMs ?? 60_000)
  const stdin = proc.child.stdin as Writable
  // ffmpeg dying mid-write gives EPIPE here; its exit code and stderr tell the real story below.
  stdin.on('error', () => {})
  let done = false
  let count = 0
  try {
    let current: IteratorResult<Frame> = first
    while (current.done !== true) {
      const frame = current.value
      assertFrame(frame)
      if (frame.width !== width || frame.height !== height) {
        throw new FrameInvalidError(
          `frame ${count} is ${frame.width}×${frame.height} but the video is ${width}×${height}; all frames must share one size`,
        )
      }
      if (!stdin.write(frame.data)) await drained(stdin, proc, dog)
      dog.check()
      count++
      current = await iterator.next()
    }
    stdin.end()
    dog.arm()
    const exit = await proc.exited
    dog.check()
    if (exit.code !== 0) {
      throw new VideoEncodeError(
        `ffmpeg could not write '${path}' (${tail(proc)}); check the output path and free disk space`,
        {
          details: { exitCode: exit.code },
        },
      )
    }
    await rename(partial, path)
    done = true
    return { frames: count, width, height, hasAudio: audioArgs.length > 0 }
  } finally {
    dog.dispose()
    await proc.stop()
    if (!done) {
      await rm(partial, { force: true })
      await iterator.return?.()
    }
  }
}

/** Waits until the pipe takes more data, ffmpeg exits, or the watchdog fires. */
async function drained(stdin: Writable, proc: FfmpegProcess, dog: Watchdog): Promise<void> {
  dog.arm()
  try {
    await new Promise<void>((resolve) => {
      const finish = () => {
        stdin.off('drain', finish)
        stdin.off('close', finish)
        resolve()
      }
      stdin.once('drain', finish)
      stdin.once('close', finish)
      void proc.exited.then(finish, finish)
    })
  } finally {
    dog.disarm()
  }
  dog.check()
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
    throw new VideoEncodeError(
      `ffmpeg stopped while frames were still being written (${tail(proc)}); check that the output folder exists and is writable`,
    )
  }
}

function toAsyncIterator<T>(source: AsyncIterable<T> | Iterable<T>): AsyncIterator<T> {
  if (Symbol.asyncIterator in source) return source[Symbol.asyncIterator]()
  const sync = source[Symbol.iterator]()
  return {
    next: async () => sync.next(),
    return: async (value?: unknown) => sync.return?.(value) ?? { done: true, value: undefined },
  }
}

function tail(proc: FfmpegProcess): string {
  const text = proc.stderr().trim()
  return text === '' ? 'no message from ffmpeg' : text.split('\n').slice(-3).join(' / ')
}
