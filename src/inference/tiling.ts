/**
 * Tiling for frame-to-frame models whose working memory grows with the frame. The frame is cut into
 * core tiles; each is run with `overlap` extra pixels of real context on every side (where the frame
 * has them), and only the core of each output is kept. A convolutional model's output pixel depends
 * only on input pixels within its receptive radius, so when `overlap` ≥ that radius the cropped cores
 * equal the whole-frame result and no seam can show; cropping (rather than feathered blending) keeps
 * it exact instead of averaging two slightly different answers.
 */
import { FramemeshError } from '../errors.js'
import type { Region } from './frame-tensor.js'
import type { Frame } from './types.js'
import { throwIfAborted } from './wait.js'

export interface TilingOptions {
  /** Largest tile edge fed to the model, overlap included. */
  tileSize: number
  /** Context pixels added on each side of a tile's core. */
  overlap: number
}

export interface Tile {
  /** The core: the part of the output this tile is responsible for. */
  core: Region
  /** The region fed to the model: the core plus up to `overlap` pixels on each side. */
  padded: Region
}

export const DEFAULT_TILING: TilingOptions = { tileSize: 512, overlap: 16 }

export function checkTilingOptions(o: TilingOptions): void {
  if (
    !Number.isInteger(o.tileSize) ||
    !Number.isInteger(o.overlap) ||
    o.overlap < 0 ||
    o.tileSize <= 2 * o.overlap
  ) {
    throw new FramemeshError(
      'ERR_TILING_INVALID',
      `tileSize ${o.tileSize} with overlap ${o.overlap} leaves no core; use integers with tileSize > 2 × overlap`,
      { details: { ...o } },
    )
  }
}

/** Cover width×height with tiles; a frame that fits in one tile yields a single whole-frame tile. */
export function planTiles(width: number, height: number, options: TilingOptions): Tile[] {
  checkTilingOptions(options)
  const { tileSize, overlap } = options
  if (width <= tileSize && height <= tileSize) {
    const whole = { x: 0, y: 0, width, height }
    return [{ core: whole, padded: whole }]
  }
  const step = tileSize - 2 * overlap
  const spans = (size: number): Array<[number, number]> => {
    if (size <= tileSize) return [[0, size]]
    const out: Array<[number, number]> = []
    for (let start = 0; start < size; start += step) out.push([start, Math.min(step, size - start)])
    return out
  }
  const tiles: Tile[] = []
  for (const [y, h] of spans(height)) {
    for (const [x, w] of spans(width)) {
      const px = Math.max(0, x - overlap)
      const py = Math.max(0, y - overlap)
      const px2 = Math.min(width, x + w + overlap)
      const py2 = Math.min(height, y + h + overlap)
      tiles.push({
        core: { x, y, width: w, height: h },
        padded: { x: px, y: py, width: px2 - px, height: py2 - py },
      })
    }
  }
  return tiles
}

/** An NHWC region of a frame's bytes (`rowBytes` a row) into `out`, row by row; set() copies (or converts to float) natively. */
export function copyRows(src: Uint8Array, rowBytes: number, r: Region, out: Float32Array | Uint8Array): void {
  const rowLen = r.width * 3
  for (let y = 0; y < r.height; y++) {
    const s = (r.y + y) * rowBytes + r.x * 3
    out.set(src.subarray(s, s + rowLen), y * rowLen)
  }
}

/**
 * Pastes the `core` of `part`, a model's output for a region of the input whose top-left is
 * `origin`, into `out` (`outWidth` pixels a row), all at `scale`: the one step every tiled run
 * ends with.
 */
export function pasteCore(
  out: Uint8Array,
  outWidth: number,
  part: Frame,
  origin: { x: number; y: number },
  core: Region,
  scale: number,
): void {
  const offX = (core.x - origin.x) * scale
  const offY = (core.y - origin.y) * scale
  const rowLen = core.width * scale * 3
  for (let row = 0; row < core.height * scale; row++) {
    const src = ((offY + row) * part.width + offX) * 3
    const dst = ((core.y * scale + row) * outWidth + core.x * scale) * 3
    out.set(part.data.subarray(src, src + rowLen), dst)
  }
}

/**
 * Run `runRegion` on each padded tile and paste each output's core into one output frame of
 * (width·scale)×(height·scale). `runRegion` must return exactly region×scale pixels.
 */
export async function runTiled(
  frame: Frame,
  scale: number,
  options: TilingOptions,
  runRegion: (region: Region) => Promise<Frame>,
  signal?: AbortSignal,
): Promise<Frame> {
  const tiles = planTiles(frame.width, frame.height, options)
  const outW = frame.width * scale
  const outH = frame.height * scale
  if (tiles.length === 1) return runRegion(tiles[0].padded)
  const out = new Uint8Array(outW * outH * 3)
  for (const { core, padded } of tiles) {
    throwIfAborted(signal, 'tiled inference')
    pasteCore(out, outW, await runRegion(padded), padded, core, scale)
  }
  return { width: outW, height: outH, channels: 3, data: out }
}
