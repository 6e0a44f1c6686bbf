import { type ChildProcess, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { AbortedError, TimeoutError } from '../../errors.js'
import { FfmpegUnavailableError } from './errors.js'

/**
 * Starting and stopping the ffmpeg binary that ships in `@ffmpeg-installer/ffmpeg` (no system
 * install). Every process started here is killed and reaped when its caller is done with it,
 * whatever way that happens (end, error, abort), so no ffmpeg outlives its job.
 */

/** How much of ffmpeg's stderr to keep for error messages and probing (its tail). */
const STDERR_KEEP_BYTES = 64 * 1024

/** The path of the bundled ffmpeg binary. */
export function defaultFfmpegPath(): string {
  try {
    const require = createRequire(import.meta.url)
    return (require('@ffmpeg-installer/ffmpeg') as { path: string }).path
  } catch (err) {
    throw new FfmpegUnavailableError(
      `the bundled ffmpeg binary was not found (${String(err)}); reinstall with \`npm ci\` so @ffmpeg-installer/<platform> is present`,
      { cause: err },
    )
  }
}

export interface FfmpegExit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface FfmpegProcess {
  child: ChildProcess
  /** Settles when the process has exited and its pipes are closed; rejects only if it never started. */
  exited: Promise<FfmpegExit>
  /** The last STDERR_KEEP_BYTES of what ffmpeg wrote to stderr. */
  stderr(): string
  /** Kills the process if it still runs and waits until it is reaped. Safe to call many times. */
  stop(): Promise<void>
}

export interface SpawnFfmpegOptions {
  ffmpegPath?: string
  stdin?: 'pipe' | 'ignore'
  stdout?: 'pipe' | 'ignore'
}

export function spawnFfmpeg(args: string[], options: SpawnFfmpegOptions = {}): FfmpegProcess {
  const path = options.ffmpegPath ?? defaultFfmpegPath()
  const child = spawn(path, args, { stdio: [options.stdin ?? 'ignore', options.stdout ?? 'ignore', 'pipe'] })
  let tail = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (text: string) => {
    tail += text
    if (tail.length > STDERR_KEEP_BYTES * 2) tail = tail.slice(-STDERR_KEEP_BYTES)
  })
  const exited = new Promise<FfmpegExit>((resolve, reject) => {
    child.once('error', (err) => {
      // 'error' without a pid means the binary never started; otherwise 'close' still follows.
      if (child.pid === undefined) {
        reject(
          new FfmpegUnavailableError(
            `ffmpeg could not be started from ${path} (${err.message}); reinstall with \`npm ci\``,
            { cause: err },
          ),
        )
      }
    })
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
  // A caller that never awaits `exited` must not see an unhandled rejection.
  exited.catch(() => {})
  return {
    child,
    exited,
    stderr: () => tail.slice(-STDERR_KEEP_BYTES),
    stop: async () => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null)
        child.kill('SIGKILL')
      await exited.catch(() => {})
    },
  }
}

export interface RunFfmpegOptions {
  ffmpegPath?: string
  signal?: AbortSignal
  /** Kill ffmpeg after this long (default 60 s). */
  timeoutMs?: number
}

/** Runs ffmpeg to completion and returns its exit code and stderr; aborts and timeouts kill it. */
export async function runFfmpeg(
  args: string[],
  options: RunFfmpegOptions = {},
): Promise<{ code: number | null; stderr: string }> {
  options.signal?.throwIfAborted()
  const proc = spawnFfmpeg(args, { ffmpegPath: options.ffmpegPath })
  const stop = watchdog(proc, options.signal, options.timeoutMs ?? 60_000)
  stop.arm()
  try {
    const exit = await proc.exited
    stop.check()
    return { code: exit.code, stderr: proc.stderr() }
  } finally {
    stop.dispose()
    await proc.stop()
  }
}

export interface Watchdog {
  /** Throws AbortedError/TimeoutError if the watchdog ended the process. */
  check(): void
  /** (Re)starts the timer: call before waiting on ffmpeg. */
  arm(): void
  /** Stops the timer: call while ffmpeg waits on us (a slow consumer is not a stalled ffmpeg). */
  disarm(): void
  dispose(): void
}

/**
 * Kills `proc` when `signal` aborts or when `idleMs` pass while armed. `check()` then turns
 * what happened into the matching typed error.
 */
export function watchdog(proc: FfmpegProcess, signal: AbortSignal | undefined, idleMs: number): Watchdog {
  let reason: 'aborted' | 'timeout' | undefined
  const kill = (why: 'aborted' | 'timeout') => {
    reason ??= why
    void proc.stop()
  }
  const onAbort = () => kill('aborted')
  signal?.addEventListener('abort', onAbort, { once: true })
  let timer: NodeJS.Timeout | undefined
  return {
    check: () => {
      if (reason === 'aborted') throw new AbortedError('ffmpeg was stopped because the operation was aborted')
      if (reason === 'timeout') {
        throw new TimeoutError(
          `ffmpeg made no progress for ${idleMs} ms and was stopped; check the input file`,
        )
      }
    },
    arm: () => {
      clearTimeout(timer)
      timer = setTimeout(() => kill('timeout'), idleMs)
    },
    disarm: () => clearTimeout(timer),
    dispose: () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    },
  }
}
