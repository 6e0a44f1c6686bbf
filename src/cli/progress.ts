/**
 * A text progress bar for long jobs, written as whole lines (at most one a second, plus the
 * last) so it reads the same on a terminal and in a log file.
 */
export interface Progress {
  /** Counts `n` more items done. */
  tick(n?: number): void
  /**
   * The next item is `done` of `of` parts through (e.g. a frame sent in windows): the bar and the
   * eta count it, so one large item does not sit at 0 %. The next tick clears it.
   */
  part(done: number, of: number, unit: string): void
  /** Writes the final line. */
  done(): void
}

export interface ProgressOptions {
  label: string
  /** Items expected; undefined when unknown (then no bar, only counts). */
  total?: number
  unit?: string
  /** Shortest time between two lines (default 1000 ms). */
  intervalMs?: number
  now?: () => number
  /** When the work began, on `now`'s clock (default: when the bar is made); rates count from it. */
  startedAt?: number
}

const WIDTH = 24

export function createProgress(write: (line: string) => void, options: ProgressOptions): Progress {
  const now = options.now ?? (() => performance.now())
  const unit = options.unit ?? 'frames'
  const started = options.startedAt ?? now()
  let count = 0
  let part: { done: number; of: number; unit: string } | undefined
  let lastWrite = -Infinity
  const line = () => {
    const seconds = (now() - started) / 1000
    // Done so far, the next item's finished share included.
    const through = count + (part === undefined ? 0 : part.done / part.of)
    const rate = seconds > 0 ? through / seconds : 0
    const partly = part === undefined ? '' : ` (next: ${part.done}/${part.of} ${part.unit})`
    const { total } = options
    if (total === undefined || total <= 0) {
      return `${options.label} ${count} ${unit}${partly}, ${rate.toFixed(1)} ${unit}/s`
    }
    const share = Math.min(through / total, 1)
    const filled = Math.round(share * WIDTH)
    const eta = rate > 0 && through < total ? `, eta ${Math.ceil((total - through) / rate)} s` : ''
    const bar = '#'.repeat(filled) + '.'.repeat(WIDTH - filled)
    return `${options.label} [${bar}] ${String(Math.round(share * 100)).padStart(3)}% ${count}/${total} ${unit}${partly}, ${rate.toFixed(1)} ${unit}/s${eta}`
  }
  const maybeWrite = () => {
    const t = now()
    if (t - lastWrite >= (options.intervalMs ?? 1000)) {
      lastWrite = t
      write(line())
    }
  }
  return {
    tick(n = 1) {
      count += n
      part = undefined
      maybeWrite()
    },
    part(done, of, partUnit) {
      part = { done, of, unit: partUnit }
      maybeWrite()
    },
    done() {
      write(line())
    },
  }
}
