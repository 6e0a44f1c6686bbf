import { createBootstrapNode } from '../../../bootstrap/index.js'
import { marketGossipOptions, marketRelayValidators } from '../../market/advert-gossip.js'
import type { CliCommand } from '../command.js'
import { type ConfigSpec, configHelp, loadConfig, PEER_CONFIG } from '../config.js'
import { commandLogger, startMetrics, untilAborted, withTeardown } from '../runtime.js'

const spec = {
  ...PEER_CONFIG,
  listen: {
    kind: 'strings',
    help: 'multiaddr to listen on (repeat for several)',
    default: ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'],
  },
  maxConnections: { kind: 'int', help: 'most open connections', default: 500, min: 1, max: 100_000 },
  maxRelayReservations: {
    kind: 'int',
    help: 'circuit relay v2 reservations granted at once',
    default: 128,
    min: 0,
    max: 100_000,
  },
} as const satisfies ConfigSpec

export const bootstrapCommand: CliCommand = {
  name: 'bootstrap',
  summary: 'run a bootstrap (entry) node: relay, gossip hub, peer exchange',
  help: [
    'usage: framemesh bootstrap [options]',
    '',
    'Runs the well-known entry node of a mesh until Ctrl-C (SIGINT) or SIGTERM. It listens on TCP and',
    'WebSockets, relays connections for peers behind NAT (circuit relay v2) and relays gossip with',
    'peer exchange. It prints the multiaddrs to give peers as --bootstrap.',
    '',
    configHelp(spec),
  ].join('\n'),
  async run(ctx) {
    const { config } = await loadConfig(spec, ctx)
    const logger = commandLogger(ctx, config, 'bootstrap')
    return withTeardown(logger, async (teardown) => {
      const metrics = await startMetrics(teardown, logger, config)
      const node = await createBootstrapNode(
        {
          dataDir: config.dataDir,
          listen: config.listen,
          ...(config.announce === undefined ? {} : { announce: config.announce }),
          ...(config.bootstrap === undefined ? {} : { bootstrap: config.bootstrap }),
          maxConnections: config.maxConnections,
          mdns: config.mdns,
          maxRelayReservations: config.maxRelayReservations,
          gossip: marketGossipOptions(),
        },
        {
          logger,
          ...(metrics === undefined ? {} : { metrics }),
          // Adverts are checked here before they are relayed: a forged one stops at the hub.
          topicValidators: marketRelayValidators({ logger }),
        },
      )
      teardown.add(() => node.stop())
      ctx.stdout(`bootstrap node ${node.peer.peerId} listening on:`)
      for (const addr of node.multiaddrs) ctx.stdout(`  ${addr}`)
      const off = [
        node.peer.events.on('peer:connect', (e) => logger.info('peer connected', e)),
        node.peer.events.on('peer:disconnect', (e) => logger.info('peer disconnected', e)),
      ]
      await untilAborted(ctx.signal)
      for (const f of off) f()
      logger.info('stopping')
      return 0
    })
  },
}
