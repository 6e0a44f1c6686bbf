import { containerFor } from './containers.js'
import { VideoEncodeError } from './errors.js'
import { runFfmpeg } from './ffmpeg.js'
import type { Rational } from './video-probe.js'

/**
 * Makes a short synthetic clip on the spot (ffmpeg's testsrc2 pattern and a sine tone), so
 * tests and the demo need no video files checked in or downloaded.
 */
export interface TestClipOptions {
  width?: number
  height?: number
  fps?: Rational
  /** Length in seconds (default 1). */
  seconds?: number
  /** Add a 440 Hz audio track (default true). */
  audio?: boolean
  ffmpegPath?: string
  signal?: AbortSignal
  timeoutMs?: number
}

export async function generateTestClip(path: string, options: TestClipOptions = {}): Promise<void> {
  const { width = 64, height = 48, seconds = 1 } = options
  const fps = options.fps ?? { num: 10, den: 1 }
  const spec = containerFor(path)
  const video = `testsrc2=size=${width}x${height}:rate=${fps.num}/${fps.den}:duration=${seconds}`
  const audio = options.audio ?? true
  const args = ['-nostdin', '-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', video]
  if (audio) args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`)
  args.push(
    ...spec.videoArgs,
    ...(audio ? spec.audioEncodeArgs : []),
    ...spec.extraArgs,
    '-f',
    spec.muxer,
    path,
  )
  const { code, stderr } = await runFfmpeg(args, options)
  if (code !== 0)
    throw new VideoEncodeError(`ffmpeg could not make the test clip '${path}': ${stderr.trim()}`)
}
