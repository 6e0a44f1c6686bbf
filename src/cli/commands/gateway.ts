import { join } from 'node:path'
import { formatEther } from 'ethers'
import { meshForGateway } from '../../gateway/mesh-adapter.js'
import { createGateway } from '../../gateway/server.js'
import type { Logger } from '../../logger.js'
import { type BroadcasterNode, startBroadcasterNode } from '../../node/broadcaster-node.js'
import type { CliCommand, CliContext } from '../command.js'
import { ConfigError, type ConfigSpec, configHelp, loadConfig } from '../config.js'
import { NODE_CONFIG, peerOptionsOf, prepareNode } from '../node-config.js'
import { registerGatewayMetrics } from '../node-metrics.js'
import { commandLogger, startMetrics, untilAborted, withTeardown } from '../runtime.js'

const spec = {
  ...NODE_CONFIG,
  host: { kind: 'string', help: 'address the HTTP gateway binds to', default: '127.0.0.1' },
  port: { kind: 'int', help: 'HTTP port (0 picks a free one)', default: 8935, min: 0, max: 65535 },
  token: {
    kind: 'strings',
    help: 'bearer token callers must send (repeatable; none = open, loopback only)',
    env: 'FRAMEMESH_GATEWAY_TOKENS',
  },
  corsOrigin: {
    kind: 'strings',
    help: 'web origin whose pages may call the API, e.g. https://app.example (repeatable; pages of other sites are refused)',
    env: 'FRAMEMESH_GATEWAY_CORS_ORIGINS',
  },
  allowOpen: {
    kind: 'bool',
    help: 'serve without tokens on a non-loopback --host (anyone reaching it spends your deposit)',
    default: false,
  },
  maxUploadMb: { kind: 'int', help: 'largest upload accepted, in MiB', default: 200, min: 1, max: 1_048_576 },
  maxConcurrent: {
    kind: 'int',
    help: 'requests and running jobs at once per token',
    default: 4,
    min: 1,
    max: 10_000,
  },
  maxStreams: {
    kind: 'int',
    help: 'event streams and downloads open at once per token',
    default: 32,
    min: 1,
    max: 100_000,
  },
  maxJobs: {
    kind: 'int',
    help: 'finished jobs kept per token with their inputs and outputs; its oldest are removed',
    default: 100,
    min: 1,
    max: 1_000_000,
  },
  jobsDir: {
    kind: 'string',
    help: 'where uploads and results are kept (default <data-dir>/gateway)',
    path: true,
  },
} as const satisfies ConfigSpec

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/

export const gatewayCommand: CliCommand = {
  name: 'gateway',
  summary: 'buy work on the mesh for HTTP callers: Livepeer-compatible API, job events, dashboard',
  help: [
    'usage: framemesh gateway --bootstrap <multiaddr> --rpc <url> --broker <address> [options]',
    '',
    'Runs a broadcaster node (order book, selection, failover, ticket payments from your deposit)',
    'and serves the HTTP gateway over it until Ctrl-C (SIGINT) or SIGTERM: POST /v1/jobs with a',
    'file and a pipeline or chain (`framemesh submit` does this), live events at',
    'GET /v1/jobs/<id>/events, the Livepeer AI routes (e.g. POST /upscale), the order book at',
    'GET /v1/offers, the API at /openapi.json and a dashboard at /dashboard/.',
    '',
    'Tickets are paid from the wallet’s TicketBroker deposit and reserve: fund them first with',
    '`framemesh deposit`. The wallet is <data-dir>/wallet.json unlocked with FRAMEMESH_WALLET_PASSWORD',
    'or --password-file (--wallet-key takes a raw key on dev chains). Bind a public --host only with',
    '--token (or FRAMEMESH_GATEWAY_TOKENS=a,b).',
    '',
    configHelp(spec),
  ].join('\n'),
  async run(ctx) {
    const loaded = await loadConfig(spec, ctx)
    const { config } = loaded
    const tokens = config.token ?? []
    const logger = commandLogger(ctx, config, 'gateway')
    const { chain, walletKey, lock } = await prepareNode('gateway', ctx, loaded, () => {
      for (const origin of config.corsOrigin ?? []) {
        let parsed: URL | undefined
        try {
          parsed = new URL(origin)
        } catch {
          parsed = undefined
        }
        if (parsed?.origin !== origin) {
          throw new ConfigError(
            'ERR_CONFIG_INVALID',
            `'cors-origin' ${origin} is not a web origin; write it as scheme://host[:port], e.g. https://app.example`,
            { details: { key: 'corsOrigin' } },
          )
        }
      }
      if (tokens.length === 0 && !LOOPBACK.test(config.host) && !config.allowOpen) {
        throw new ConfigError(
          'ERR_CONFIG_INVALID',
          `'token' is empty but --host ${config.host} is reachable from other machines, and every caller would spend your deposit: pass --token <secret> (or FRAMEMESH_GATEWAY_TOKENS), bind 127.0.0.1, or --allow-open`,
          { details: { key: 'token' } },
        )
      }
    })

    return withTeardown(logger, async (teardown) => {
      teardown.add(() => lock.release())
      const metrics = await startMetrics(teardown, logger, config)
      const started = performance.now()
      const node = await startBroadcasterNode(
        { logger },
        { dataDir: config.dataDir, peer: peerOptionsOf(config), chain, walletKey },
      )
      teardown.add(() => node.stop())
      const gateway = await createGateway(
        { mesh: meshForGateway(node.mesh), logger: logger.child('http') },
        {
          host: config.host,
          port: config.port,
          tokens,
          maxConcurrentPerToken: config.maxConcurrent,
          maxUploadBytes: config.maxUploadMb * 1024 * 1024,
          maxJobs: config.maxJobs,
          maxStreamsPerToken: config.maxStreams,
          corsOrigins: config.corsOrigin ?? [],
          dataDir: config.jobsDir ?? join(config.dataDir, 'gateway'),
        },
      ).catch((err: NodeJS.ErrnoException) => {
        throw listenError(err, config.host, config.port)
      })
      teardown.add(() => gateway.close())
      ctx.stdout(`gateway ${gateway.url} ready in ${Math.round(performance.now() - started)} ms`)
      ctx.stdout(`dashboard: ${gateway.url}/dashboard/`)
      ctx.stdout(`access: ${tokens.length === 0 ? 'open (no token)' : `${tokens.length} bearer token(s)`}`)
      if (metrics !== undefined) registerGatewayMetrics(metrics.registry, node.mesh, gateway.jobs)
      await printNode(ctx, node, chain.chainId ?? 0, logger)
      const off = node.mesh.orderBook.events.on('offer:added', ({ offer: o }) =>
        logger.info('offer', { peer: o.peerId, model: o.modelId, pricePerUnit: String(o.pricePerUnit) }),
      )
      await untilAborted(ctx.signal)
      off()
      logger.info('stopping: ending running jobs, closing the HTTP server and the peer')
      return 0
    })
  },
}

/** A port the gateway cannot bind is a setting to change, not a crash. */
function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  if (err.code !== 'EADDRINUSE' && err.code !== 'EACCES') return err
  return new ConfigError(
    'ERR_CONFIG_INVALID',
    `cannot listen on ${host}:${port} (${err.code}); pick another --port or stop what holds it`,
    { details: { key: 'port' }, cause: err },
  )
}

async function printNode(
  ctx: CliContext,
  node: BroadcasterNode,
  chainId: number,
  logger: Logger,
): Promise<void> {
  ctx.stdout(`peer ${node.peer.peerId}`)
  ctx.stdout(`payment address: ${node.address}`)
  ctx.stdout(`chain: ${chainId}, broker ${node.chain.broker.contractAddress}`)
  const info = await node.chain.broker.getSenderInfo(node.address, { signal: ctx.signal })
  ctx.stdout(`deposit: ${formatEther(info.deposit)} ETH, reserve: ${formatEther(info.reserve)} ETH`)
  if (info.deposit === 0n && info.reserve === 0n) {
    logger.warn(
      'the wallet has no deposit or reserve in the TicketBroker, so orchestrators will refuse its tickets: fund it with `framemesh deposit --deposit 0.1 --reserve 0.1`',
    )
  }
  if (info.withdrawRound !== 0n) {
    logger.warn(
      'the deposit is unlocking, so orchestrators may refuse its tickets: `framemesh unlock --cancel`',
    )
  }
}
