/**
 * Opt-in Prometheus metrics for one peer. Each peer gets its own Registry (never prom-client's
 * global default) so several peers in one process, as in tests and the demo, do not collide.
 * Everything that takes metrics takes them optionally: `metrics?.gossipIn.inc()`.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Counter, Gauge, Registry } from 'prom-client'
import { FramemeshError } from '../errors.js'

export interface PeerMetrics {
  registry: Registry
  /** Open connections right now. */
  connections: Gauge<'direction'>
  connectionsOpened: Counter<never>
  connectionsClosed: Counter<never>
  gossipIn: Counter<'topic'>
  gossipOut: Counter<'topic'>
  /** Gossip messages our validators rejected or ignored. */
  gossipInvalid: Counter<'topic' | 'result'>
  /** Streams ended because of a protocol error, by error code and protocol id. */
  protocolErrors: Counter<'protocol' | 'code'>
  /** Bytes of framed messages, by direction. */
  framedBytes: Counter<'direction'>
}

export interface PeerMetricsOptions {
  /** Registry to add to; a fresh one when absent. */
  registry?: Registry
  /** Metric name prefix (default `framemesh_`). */
  prefix?: string
}

export function createPeerMetrics(options: PeerMetricsOptions = {}): PeerMetrics {
  const registry = options.registry ?? new Registry()
  const p = options.prefix ?? 'framemesh_'
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name: `${p}${name}`, help, labelNames, registers: [registry] })
  return {
    registry,
    connections: new Gauge({
      name: `${p}peer_connections`,
      help: 'Open libp2p connections',
      labelNames: ['direction'],
      registers: [registry],
    }),
    connectionsOpened: counter('peer_connections_opened_total', 'Connections opened'),
    connectionsClosed: counter('peer_connections_closed_total', 'Connections closed'),
    gossipIn: counter('gossip_messages_in_total', 'Gossip messages received (after validation)', ['topic']),
    gossipOut: counter('gossip_messages_out_total', 'Gossip messages published', ['topic']),
    gossipInvalid: counter(
      'gossip_messages_invalid_total',
      'Gossip messages a topic validator rejected or ignored',
      ['topic', 'result'],
    ),
    protocolErrors: counter('protocol_errors_total', 'Streams ended by a protocol error', [
      'protocol',
      'code',
    ]),
    framedBytes: counter('framed_bytes_total', 'Bytes of length-prefixed messages sent and received', [
      'direction',
    ]),
  }
}

const counted = Symbol('framemesh.protocolErrorCounted')

/**
 * Counts a protocol error once: framing counts where it detects the error, and the handler
 * wrapper that later sees the same error thrown does not count it again.
 */
export function countProtocolError(metrics: PeerMetrics | undefined, protocol: string, error: Error): void {
  const marked = error as Error & { [counted]?: true }
  if (marked[counted] === true) return
  Object.defineProperty(marked, counted, { value: true, enumerable: false })
  metrics?.protocolErrors.inc({ protocol, code: (error as { code?: string }).code ?? 'ERR_HANDLER' })
}

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9464/metrics */
  url: string
  close(): Promise<void>
}

/** Serves `registry` at GET /metrics. Port 0 picks a free port (see `url`). */
export async function serveMetrics(
  components: { registry: Registry },
  options: { port: number; host?: string },
): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1'
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at GET /metrics\n')
      return
    }
    components.registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': components.registry.contentType }).end(body),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new FramemeshError(
          'ERR_METRICS_LISTEN',
          `cannot serve metrics on ${host}:${options.port} (${err.code ?? err.message}); pick another --metrics-port`,
          { cause: err },
        ),
      ),
    )
    server.listen(options.port, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
