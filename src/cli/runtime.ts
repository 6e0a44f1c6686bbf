/**
 * What every long-running command sets up from its config: a logger on stderr and, when a metrics
 * port is configured, a per-process Prometheus registry served over HTTP.
 */
import { createLogger, type Logger, type LogLevel } from '../logger.js'
import { createPeerMetrics, type MetricsServer, type PeerMetrics, serveMetrics } from '../peer/metrics.js'
import type { CliContext } from './command.js'

export interface Observability {
  logger: Logger
  metrics?: PeerMetrics
  metricsServer?: MetricsServer
  close(): Promise<void>
}

export async function startObservability(
  ctx: Pick<CliContext, 'stderr'>,
  config: { logLevel: string; logFormat: string; metricsPort?: number | undefined; metricsHost: string },
  name: string,
): Promise<Observability> {
  const logger = createLogger({
    level: config.logLevel as LogLevel,
    pretty: config.logFormat === 'pretty',
    name,
    write: ctx.stderr,
  })
  if (config.metricsPort === undefined) return { logger, close: async () => {} }
  const metrics = createPeerMetrics()
  const metricsServer = await serveMetrics(
    { registry: metrics.registry },
    { port: config.metricsPort, host: config.metricsHost },
  )
  logger.info('serving metrics', { url: metricsServer.url })
  return { logger, metrics, metricsServer, close: () => metricsServer.close() }
}

/** Resolves when `signal` fires (SIGINT/SIGTERM in the CLI). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}
