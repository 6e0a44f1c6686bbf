// Runs a CLI command in-process, with its output lines collected and awaitable, and a stop button.
import type { CliCommand, CliContext } from '../../src/cli/command.js'

export interface RunningCommand {
  out: string[]
  err: string[]
  /** The exit code, once the command returns; rejects with what it threw. */
  done: Promise<number>
  /** Resolves with the first stdout line matching `pattern` (already written or still to come). */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>
  /** SIGINT. */
  stop(): void
}

export function startCommand(
  command: CliCommand,
  argv: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): RunningCommand {
  const controller = new AbortController()
  const out: string[] = []
  const err: string[] = []
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>()
  const ctx: CliContext = {
    argv,
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    stdout: (line) => {
      out.push(line)
      for (const w of [...waiters]) {
        if (w.pattern.test(line)) {
          waiters.delete(w)
          w.resolve(line)
        }
      }
    },
    stderr: (line) => err.push(line),
    signal: controller.signal,
  }
  const done = command.run(ctx)
  return {
    out,
    err,
    done,
    line(pattern, timeoutMs = 30_000) {
      const seen = out.find((l) => pattern.test(l))
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
          waiters.delete(waiter)
          reject(
            new Error(`no stdout line matched ${pattern} within ${timeoutMs} ms; stderr:\n${err.join('\n')}`),
          )
        }, timeoutMs)
        waiters.add(waiter)
        // A command that ends (or throws) without the line fails the wait at once.
        const give = (e: unknown) => {
          if (!waiters.delete(waiter)) return
          clearTimeout(timer)
          reject(e)
        }
        done.then((code) => give(new Error(`exited with ${code} before a line matched ${pattern}`)), give)
      })
    },
    stop: () => controller.abort(),
  }
}
