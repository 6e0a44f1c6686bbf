// Runs a CLI command in-process, with its output lines collected and awaitable, and a stop button.
import type { CliCommand, CliContext } from '../../src/cli/command.js'

export interface RunningCommand {
  out: string[]
  err: string[]
  /** The exit code, once the command returns; rejects with what it threw. */
  done: Promise<number>
  /** Resolves with the first stdout line matching `pattern` (already written or still to come). */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>
  /** The same for stderr (log lines). */
  errLine(pattern: RegExp, timeoutMs?: number): Promise<string>
  /** SIGINT. */
  stop(): void
  /** SIGINT and wait for the end, whatever it is: for teardowns after a failed test. */
  close(): Promise<void>
}

export function startCommand(
  command: CliCommand,
  argv: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): RunningCommand {
  const controller = new AbortController()
  const out: string[] = []
  const err: string[] = []
  type Waiter = { pattern: RegExp; resolve: (line: string) => void }
  const waiters = { out: new Set<Waiter>(), err: new Set<Waiter>() }
  const write = (stream: 'out' | 'err', line: string) => {
    ;(stream === 'out' ? out : err).push(line)
    for (const w of [...waiters[stream]]) {
      if (w.pattern.test(line)) {
        waiters[stream].delete(w)
        w.resolve(line)
      }
    }
  }
  const ctx: CliContext = {
    argv,
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    stdout: (line) => write('out', line),
    stderr: (line) => write('err', line),
    signal: controller.signal,
  }
  const done = command.run(ctx)
  const wait = (stream: 'out' | 'err', pattern: RegExp, timeoutMs: number): Promise<string> => {
    const seen = (stream === 'out' ? out : err).find((l) => pattern.test(l))
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const waiter = {
        pattern,
        resolve: (l: string) => {
          clearTimeout(timer)
          resolve(l)
        },
      }
      const timer = setTimeout(() => {
        waiters[stream].delete(waiter)
        reject(
          new Error(
            `no std${stream} line matched ${pattern} within ${timeoutMs} ms; stderr:\n${err.join('\n')}`,
          ),
        )
      }, timeoutMs)
      waiters[stream].add(waiter)
      // A command that ends (or throws) without the line fails the wait at once.
      const give = (e: unknown) => {
        if (!waiters[stream].delete(waiter)) return
        clearTimeout(timer)
        reject(e)
      }
      done.then((code) => give(new Error(`exited with ${code} before a line matched ${pattern}`)), give)
    })
  }
  return {
    out,
    err,
    done,
    line: (pattern, timeoutMs = 30_000) => wait('out', pattern, timeoutMs),
    errLine: (pattern, timeoutMs = 30_000) => wait('err', pattern, timeoutMs),
    stop: () => controller.abort(),
    close: async () => {
      controller.abort()
      await done.catch(() => {})
    },
  }
}
