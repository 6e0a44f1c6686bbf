/**
 * Upscale frames whose result could not fit one job message, cut into windows for the mesh and
 * pasted back. Every item of a job has the quoted size, so the windows all have one size: each
 * covers a core plus context on every side, shifted inward at the frame's edges rather than cut
 * smaller. Only each result's core is kept, as in the engine's own tiling (tiling.ts says why no
 * seam shows).
 */
import { copyRows, pasteCore } from '../inference/tiling.js'
import type { Frame } from '../inference/types.js'
import type { StageResult } from './failover.js'
import { maxItemPixels } from './job-protocol.js'
import { JobError } from './market-errors.js'

/** The largest scale the upscalers here have: a frame is cut when its ×4 result would not fit. */
const LARGEST_SCALE = 4

/** Largest window edge and its context: the engine's own tile (512, 16), so a window is one engine tile. */
export const WINDOW_SIZE = 512
export const WINDOW_OVERLAP = 16

export interface Window {
  /** Where the window sits in the frame (all windows of a frame have one size). */
  x: number
  y: number
  width: number
  height: number
  /** The part of the frame this window's result is kept for. */
  core: { x: number; y: number; width: number; height: number }
}

/** Whether an upscale of a width×height frame must go through the mesh in windows. */
export function needsWindows(width: number, height: number): boolean {
  return width * height > maxItemPixels(3 * LARGEST_SCALE * LARGEST_SCALE)
}

/**
 * Windows of one size covering the frame's cores, each with `overlap` context where the frame has
 * it. Cores split each side evenly (1080 rows: three cores of 360, not 480 + 480 + 120), so the
 * windows waste little on context: at 1920×1080 they hold 16 % more pixels than the frame.
 */
export function planWindows(
  width: number,
  height: number,
  size = WINDOW_SIZE,
  overlap = WINDOW_OVERLAP,
): Window[] {
  if (size <= 2 * overlap) throw new RangeError(`window size ${size} leaves no core with overlap ${overlap}`)
  const xs = evenSpans(width, size, overlap)
  const ys = evenSpans(height, size, overlap)
  const windows: Window[] = []
  for (const y of ys) {
    for (const x of xs) {
      windows.push({
        x: Math.min(Math.max(0, x.start - overlap), width - x.window),
        y: Math.min(Math.max(0, y.start - overlap), height - y.window),
        width: x.window,
        height: y.window,
        core: { x: x.start, y: y.start, width: x.length, height: y.length },
      })
    }
  }
  return windows
}

/** One side cut into cores of (nearly) one length, and the window length that holds a core with its context. */
function evenSpans(
  total: number,
  size: number,
  overlap: number,
): Array<{ start: number; length: number; window: number }> {
  if (total <= size) return [{ start: 0, length: total, window: total }]
  const count = Math.ceil(total / (size - 2 * overlap))
  const core = Math.ceil(total / count)
  const window = Math.min(total, core + 2 * overlap)
  const spans = []
  for (let start = 0; start < total; start += core) {
    spans.push({ start, length: Math.min(core, total - start), window })
  }
  return spans
}

/** The window's pixels as a frame of its own. */
export function cutWindow(frame: Frame, win: Window): Frame {
  const data = new Uint8Array(win.width * win.height * 3)
  copyRows(frame.data, frame.width * 3, win, data)
  return { width: win.width, height: win.height, channels: 3, data }
}

/** One output frame assembled from its windows' results, in any order. */
export class WindowedFrame {
  readonly #windows: readonly Window[]
  readonly #width: number
  readonly #height: number
  #scale = 0
  #out: Uint8Array | undefined
  #filled = 0

  constructor(windows: readonly Window[], width: number, height: number) {
    this.#windows = windows
    this.#width = width
    this.#height = height
  }

  get complete(): boolean {
    return this.#filled === this.#windows.length
  }

  /** Pastes the core of window `index`'s result; the first result fixes the scale. */
  put(index: number, part: Frame): void {
    const win = this.#windows[index]!
    const scale = part.width / win.width
    const expected = this.#scale === 0 ? scale : this.#scale
    if (!Number.isInteger(scale) || scale !== expected || part.height !== win.height * scale) {
      const what = this.#scale === 0 ? 'a whole multiple of it' : `${this.#scale}× it, as every window so far`
      throw new JobError(
        'ERR_RESULT_SIZE',
        `a ${win.width}x${win.height} window came back ${part.width}x${part.height}; expected ${what}`,
      )
    }
    this.#scale = scale
    const outW = this.#width * scale
    this.#out ??= new Uint8Array(outW * this.#height * scale * 3)
    pasteCore(this.#out, outW, part, win, win.core, scale)
    this.#filled++
  }

  frame(): Frame {
    return {
      width: this.#width * this.#scale,
      height: this.#height * this.#scale,
      channels: 3,
      data: this.#out ?? new Uint8Array(0),
    }
  }
}

/**
 * Takes a stage's results, which come in order, one per window, and hands on each frame once its
 * last window is in, numbered as the frame. `partly` hears of every other window (for progress).
 */
export function assembleWindows(
  windows: readonly Window[],
  width: number,
  height: number,
  deliver: (result: StageResult) => void,
  partly?: (windowsDone: number, result: StageResult) => void,
): (result: StageResult) => void {
  let current: WindowedFrame | undefined
  return (result) => {
    const index = result.seq % windows.length
    if (index === 0) current = new WindowedFrame(windows, width, height)
    current!.put(index, result.frame)
    if (!current!.complete) partly?.(index + 1, result)
    else {
      deliver({
        seq: Math.floor(result.seq / windows.length),
        frame: current!.frame(),
        peerId: result.peerId,
      })
    }
  }
}
