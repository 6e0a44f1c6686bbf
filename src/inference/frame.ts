/**
 * The frame shape every pipeline assumes (RGB, HWC, unpadded uint8 rows), checked in one place.
 * No onnxruntime import here, so media code can check frames without loading the native binding.
 */
import { FrameInvalidError, FrameTooLargeError } from './errors.js'
import type { Frame } from './types.js'

/** 3840×2160: one 4K frame. Larger inputs are refused before any tensor is allocated. */
export const DEFAULT_MAX_PIXELS = 3840 * 2160

/** Check a frame's shape and buffer; throws FrameInvalidError / FrameTooLargeError. */
export function validateFrame(frame: Frame, maxPixels = DEFAULT_MAX_PIXELS, label = 'frame'): void {
  if (frame === null || typeof frame !== 'object')
    throw new FrameInvalidError(`${label} is not a frame object`)
  const { width, height, channels, data } = frame
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new FrameInvalidError(
      `${label} is ${width}x${height}; width and height must be positive integers`,
      {
        width,
        height,
      },
    )
  }
  if (channels !== 3) {
    throw new FrameInvalidError(
      `${label} has ${channels} channels; send RGB (3 channels, drop alpha first)`,
      {
        channels,
      },
    )
  }
  if (width * height > maxPixels) throw new FrameTooLargeError(width, height, maxPixels)
  if (!(data instanceof Uint8Array))
    throw new FrameInvalidError(`${label} data must be a Uint8Array of RGB bytes`)
  const expected = width * height * 3
  if (data.byteLength !== expected) {
    throw new FrameInvalidError(
      `${label} data has ${data.byteLength} bytes but ${width}x${height} RGB needs ${expected} (width × height × 3); send unpadded HWC rows`,
      { expected, actual: data.byteLength },
    )
  }
}
