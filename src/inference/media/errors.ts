import { FramemeshError } from '../../errors.js'

/**
 * Typed errors of frame and video input/output. Callers switch on `code`; every message says
 * what was wrong with the input and what to send instead.
 */

/** The bytes are not a decodable PNG, JPEG or WebP (corrupt, truncated or another format). */
export class ImageDecodeError extends FramemeshError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('ERR_IMAGE_DECODE', message, options)
  }
}

/** The image declares more pixels than the configured limit allows. */
export class ImageTooLargeError extends FramemeshError {
  constructor(message: string, options?: { details?: Record<string, unknown> }) {
    super('ERR_IMAGE_TOO_LARGE', message, options)
  }
}

/** The image (or the input) has no pixels: an empty buffer or a zero width or height. */
export class ImageEmptyError extends FramemeshError {
  constructor(message: string, options?: { details?: Record<string, unknown> }) {
    super('ERR_IMAGE_EMPTY', message, options)
  }
}

/** The file is not a video ffmpeg can decode, or decoding failed part way. */
export class VideoDecodeError extends FramemeshError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('ERR_VIDEO_DECODE', message, options)
  }
}

/** ffmpeg could not encode or write the output video. */
export class VideoEncodeError extends FramemeshError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('ERR_VIDEO_ENCODE', message, options)
  }
}

/** The ffmpeg binary could not be started (missing package, no exec permission). */
export class FfmpegUnavailableError extends FramemeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_FFMPEG_UNAVAILABLE', message, options)
  }
}
