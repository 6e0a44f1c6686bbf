/**
 * What every long-running command shares: a logger on stderr, a per-process Prometheus registry
 * served over HTTP when a metrics port is configured, and one teardown list that stops what the
 * command started, last-started first, however the command ends.
 */
import { createLogger, type Logger, type LogLevel } from '../logger.js'
import { Teardown } from '../node/lifecycle.js'
import { createPeerMetrics, type PeerMetrics, serveMetrics } from '../peer/metrics.js'
import type { CliContext } from './command.js'

/** The command's logger: JSON lines (or readable ones) on the command's stderr. */
export function commandLogger(
  ctx: Pick<CliContext, 'stderr'>,
  config: { logLevel: string; logFormat: string },
  name: string,
): Logger {
  return createLogger({
    level: config.logLevel as LogLevel,
    pretty: config.logFormat === 'pretty',
    name,
    write: ctx.stderr,
  })
}

/** Serves the metrics when a port is configured (none otherwise); the server's close goes on `teardown`. */
export async function startMetrics(
  teardown: Teardown,
  logger: Logger,
  config: { metricsPort?: number | undefined; metricsHost: string },
): Promise<PeerMetrics | undefined> {
  if (config.metricsPort === undefined) return undefined
  const metrics = createPeerMetrics()
  const server = await serveMetrics(
    { registry: metrics.registry },
    { port: config.metricsPort, host: config.metricsHost },
  )
  teardown.add(() => server.close())
  logger.info('serving metrics', { url: server.url })
  return metrics
}

/** Said on stdout around the teardown, for a command that reports its stop. */
export interface StopNotice {
  /** Before the first step runs. */
  stopping(): void
  /** After the last one, when every step succeeded. */
  stopped(): void
}

/**
 * Runs a command's `body`, which adds each thing's stop to `teardown` right after starting it;
 * when the body ends, returning or throwing, the steps run last-added first (a failure while
 * starting still stops what had started). Every failing step is logged and the rest still run.
 * The body's own error stays the command's error; after a clean body the first failing step's
 * error is thrown, so the command exits 1 instead of claiming a clean stop.
 */
export async function withTeardown<T>(
  logger: Logger,
  body: (teardown: Teardown) => Promise<T>,
  notice?: StopNotice,
): Promise<T> {
  const teardown = new Teardown(logger)
  let outcome: { ok: true; value: T } | { ok: false; error: unknown }
  try {
    outcome = { ok: true, value: await body(teardown) }
  } catch (error) {
    outcome = { ok: false, error }
  }
  notice?.stopping()
  const failed = await teardown.runAndReport()
  if (failed.length === 0) notice?.stopped()
  if (!outcome.ok) throw outcome.error
  if (failed.length > 0) throw failed[0]
  return outcome.value
}

/** Resolves when `signal` fires (SIGINT/SIGTERM in the CLI). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}
