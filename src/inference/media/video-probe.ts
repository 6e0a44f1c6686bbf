import { stat } from 'node:fs/promises'
import { VideoDecodeError } from './errors.js'
import { runFfmpeg } from './ffmpeg.js'

/**
 * What a video file holds, read from ffmpeg's own report on its input (the npm package ships
 * no ffprobe, so `ffmpeg -i` stderr is parsed).
 */

/** A frame rate as a fraction, e.g. 30000/1001 for NTSC 29.97. */
export interface Rational {
  num: number
  den: number
}

export interface VideoInfo {
  /** Size of the frames as decoded (after ffmpeg's auto-rotation). */
  width: number
  height: number
  fps: Rational
  /** Exact number of video frames when counted, else an estimate from duration × fps, else undefined. */
  frameCount?: number
  frameCountExact: boolean
  durationSeconds?: number
  hasAudio: boolean
  videoCodec: string
  audioCodec?: string
  /** ffmpeg's demuxer name(s), e.g. 'mov,mp4,m4a,3gp,3g2,mj2'. */
  container: string
}

export interface ProbeOptions {
  ffmpegPath?: string
  signal?: AbortSignal
  timeoutMs?: number
  /** Count frames exactly by reading the packets (stream copy, no decoding; default true). */
  countFrames?: boolean
}

// Demuxers that accept any file by its name alone: a text file named .txt becomes an "ansi video".
const NOT_VIDEO_DEMUXERS = new Set(['tty'])

export async function probeVideo(path: string, options: ProbeOptions = {}): Promise<VideoInfo> {
  try {
    const s = await stat(path)
    if (!s.isFile()) throw new VideoDecodeError(`'${path}' is not a file; give the path of a video file`)
  } catch (err) {
    if (err instanceof VideoDecodeError) throw err
    throw new VideoDecodeError(`cannot read '${path}' (${(err as Error).message}); check the path`, {
      cause: err,
    })
  }
  const run = {
    ffmpegPath: options.ffmpegPath,
    signal: options.signal,
    timeoutMs: options.timeoutMs ?? 30_000,
  }
  const { stderr } = await runFfmpeg(['-nostdin', '-hide_banner', '-i', path], run)
  const info = parseProbe(path, stderr)
  if (options.countFrames ?? true) {
    const counted = await runFfmpeg(
      ['-nostdin', '-hide_banner', '-i', path, '-map', '0:v:0', '-c', 'copy', '-f', 'null', '-'],
      run,
    )
    const matches = [...counted.stderr.matchAll(/frame=\s*(\d+)/g)]
    if (counted.code === 0 && matches.length > 0) {
      info.frameCount = Number(matches[matches.length - 1][1])
      info.frameCountExact = true
    }
  }
  return info
}

/** Parses the report `ffmpeg -i <file>` writes to stderr. Exported for tests of odd reports. */
export function parseProbe(path: string, stderr: string): VideoInfo {
  const input = /^Input #0, (.+?), from /m.exec(stderr)
  if (input === null) {
    throw new VideoDecodeError(
      `'${path}' is not a video ffmpeg can read (${lastLine(stderr)}); give an MP4, MOV, MKV or WebM file`,
    )
  }
  const container = input[1]
  if (NOT_VIDEO_DEMUXERS.has(container)) {
    throw new VideoDecodeError(`'${path}' is a text file, not a video; give an MP4, MOV, MKV or WebM file`)
  }
  const video = /^\s*Stream #0:\d+.*?: Video: (\w+).*$/m.exec(stderr)
  if (video === null) {
    throw new VideoDecodeError(
      `'${path}' has no video stream (container ${container}); give a file with video`,
    )
  }
  const line = video[0]
  const size = /, (\d+)x(\d+)[ ,\n]/.exec(line + '\n')
  const rate = /, ([\d.]+k?) fps/.exec(line) ?? /, ([\d.]+k?) tbr/.exec(line)
  if (size === null || rate === null) {
    throw new VideoDecodeError(
      `'${path}': could not read the size or frame rate of its video stream (${line.trim()})`,
    )
  }
  let width = Number(size[1])
  let height = Number(size[2])
  if (width === 0 || height === 0)
    throw new VideoDecodeError(`'${path}' has a video stream of size 0; it is broken`)
  const rotation = /rotate\s*:\s*(-?\d+)/.exec(stderr) ?? /rotation of (-?[\d.]+) degrees/.exec(stderr)
  if (rotation !== null && Math.abs(Math.round(Number(rotation[1]))) % 180 === 90) {
    // ffmpeg auto-rotates while decoding, so frames come out with the sides swapped.
    ;[width, height] = [height, width]
  }
  const fps = fpsToRational(rate[1])
  const duration = /Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(stderr)
  const durationSeconds =
    duration === null
      ? undefined
      : Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3])
  const audio = /^\s*Stream #0:\d+.*?: Audio: (\w+)/m.exec(stderr)
  return {
    width,
    height,
    fps,
    frameCount: durationSeconds === undefined ? undefined : Math.round((durationSeconds * fps.num) / fps.den),
    frameCountExact: false,
    durationSeconds,
    hasAudio: audio !== null,
    videoCodec: video[1],
    audioCodec: audio?.[1],
    container,
  }
}

/**
 * ffmpeg prints rates as "25", "29.97" or "12.50" (2 decimals at most), so the exact fraction
 * is recovered: NTSC rates (n × 1000/1001) first, then the simplest fraction that rounds back.
 */
export function fpsToRational(text: string): Rational {
  const value = text.endsWith('k') ? Number(text.slice(0, -1)) * 1000 : Number(text)
  if (!(value > 0)) throw new VideoDecodeError(`the frame rate '${text}' is not a positive number`)
  if (Number.isInteger(value)) return { num: value, den: 1 }
  const ntsc = Math.round(value * 1.001)
  if (Math.abs((ntsc * 1000) / 1001 - value) < 0.006) return { num: ntsc * 1000, den: 1001 }
  for (let den = 2; den <= 1000; den++) {
    const num = Math.round(value * den)
    if (Math.abs(num / den - value) < 0.005) return { num, den }
  }
  return { num: Math.round(value * 1000), den: 1000 }
}

/** `fps` × `factor` as a reduced fraction (interpolation doubles a video's rate). */
export function multiplyRate(fps: Rational, factor: number): Rational {
  const num = fps.num * factor
  const g = gcd(num, fps.den)
  return { num: num / g, den: fps.den / g }
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b)
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n')
  return lines[lines.length - 1]?.trim() || 'no output from ffmpeg'
}
