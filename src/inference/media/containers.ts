import { extname } from 'node:path'
import { VideoEncodeError } from './errors.js'

/**
 * Which muxer and codecs framemesh writes for an output file name. H.264 in MP4/MOV/MKV plays
 * nearly everywhere; WebM gets VP9. Audio is copied when the container accepts the source codec.
 */
export interface ContainerSpec {
  /** ffmpeg muxer name (-f), so a temporary file name needs no matching extension. */
  muxer: string
  videoArgs: string[]
  /** Audio codecs this container takes as they are (stream copy). */
  copyableAudio: ReadonlySet<string>
  /** Encoder arguments when the source audio cannot be copied. */
  audioEncodeArgs: string[]
  extraArgs: string[]
}

const x264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p']

const mp4: ContainerSpec = {
  muxer: 'mp4',
  videoArgs: x264,
  copyableAudio: new Set(['aac', 'mp3', 'alac', 'ac3']),
  audioEncodeArgs: ['-c:a', 'aac', '-b:a', '160k'],
  extraArgs: ['-movflags', '+faststart'],
}

const containers: Record<string, ContainerSpec> = {
  '.mp4': mp4,
  '.m4v': mp4,
  '.mov': { ...mp4, muxer: 'mov' },
  '.mkv': {
    muxer: 'matroska',
    videoArgs: x264,
    copyableAudio: new Set(['aac', 'mp3', 'opus', 'vorbis', 'flac', 'ac3', 'pcm_s16le', 'alac']),
    audioEncodeArgs: ['-c:a', 'libopus', '-b:a', '128k'],
    extraArgs: [],
  },
  '.webm': {
    muxer: 'webm',
    videoArgs: ['-c:v', 'libvpx-vp9', '-b:v', '0', '-crf', '32', '-deadline', 'realtime', '-cpu-used', '8'],
    copyableAudio: new Set(['opus', 'vorbis']),
    audioEncodeArgs: ['-c:a', 'libopus', '-b:a', '128k'],
    extraArgs: [],
  },
}

export const VIDEO_EXTENSIONS: readonly string[] = Object.keys(containers)

export function containerFor(path: string): ContainerSpec {
  const spec = containers[extname(path).toLowerCase()]
  if (spec === undefined) {
    throw new VideoEncodeError(
      `cannot write video '${path}': the extension is not one of ${VIDEO_EXTENSIONS.join(', ')}; pick one of these`,
    )
  }
  return spec
}
