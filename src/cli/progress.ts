/**
 * A text progress bar for long jobs, written as whole lines (at most one a second, plus the
 * last) so it reads the same on a terminal and in a log file.
 */
export interface Progress {
  /** Counts `n` more items done. */
  tick(n?: number): void
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
  let lastWrite = -Infinity
  const line = () => {
    const seconds = (now() - started) / 1000
    const rate = seconds > 0 ? count / seconds : 0
    const { total } = options
    if (total === undefined || total <= 0) {
      return `${options.label} ${count} ${unit}, ${rate.toFixed(1)} ${unit}/s`
    }
    const share = Math.min(count / total, 1)
    const filled = Math.round(share * WIDTH)
    const eta = rate > 0 && count < total ? `, eta ${Math.ceil((total - count) / rate)} s` : ''
    const bar = '#'.repeat(filled) + '.'.repeat(WIDTH - filled)
    return `${options.label} [${bar}] ${String(Math.round(share * 100)).padStart(3)}% ${count}/${total} ${unit}, ${rate.toFixed(1)} ${unit}/s${eta}`
  }
  return {
    tick(n = 1) {
      count += n
      const t = now()
      if (t - lastWrite >= (options.intervalMs ?? 1000)) {
        lastWrite = t
        write(line())
      }
    },
    done() {
      write(line())
    },
  }
}
