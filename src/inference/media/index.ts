// Frames in and out of files: still images (sharp) and videos (the bundled ffmpeg).
export { type ContainerSpec, containerFor, VIDEO_EXTENSIONS } from './containers.js'
export {
  FfmpegUnavailableError,
  ImageDecodeError,
  ImageEmptyError,
  ImageTooLargeError,
  VideoDecodeError,
  VideoEncodeError,
} from './errors.js'
export { defaultFfmpegPath } from './ffmpeg.js'
export {
  assertFrame,
  DEFAULT_MAX_PIXELS,
  type DecodeImageOptions,
  decodeImage,
  decodeRawFrame,
  type EncodeFormat,
  type EncodeImageOptions,
  encodeFormatForPath,
  encodeImage,
} from './image.js'
export { detectImageFormat, type ImageFormat, readImageHeader } from './image-header.js'
export { generateTestClip, type TestClipOptions } from './test-clip.js'
export {
  fpsToRational,
  type ProbeOptions,
  probeVideo,
  type Rational,
  type ReadVideoOptions,
  readVideoFrames,
  type VideoInfo,
  type WriteVideoOptions,
  type WriteVideoResult,
  writeVideo,
} from './video.js'
