import { marketGossipOptions } from '../../market/advert-gossip.js'
import { createPeer } from '../../peer/index.js'
import type { CliCommand } from '../command.js'
import { ConfigError, configHelp, loadConfig, PEER_CONFIG } from '../config.js'
import { commandLogger, startMetrics, untilAborted, withTeardown } from '../runtime.js'

const spec = PEER_CONFIG

export const peerCommand: CliCommand = {
  name: 'peer',
  summary: 'join a mesh and log the peers found',
  help: [
    'usage: framemesh peer --bootstrap <multiaddr> [options]',
    '',
    'Starts a peer with the identity in --data-dir, dials the bootstrap node(s), and logs every peer',
    'it finds and connects to until Ctrl-C (SIGINT) or SIGTERM. To be reachable from other machines,',
    'listen on a public interface (--listen /ip4/0.0.0.0/tcp/4010) and, behind NAT, --announce the',
    'public address.',
    '',
    configHelp(spec),
  ].join('\n'),
  async run(ctx) {
    const { config } = await loadConfig(spec, ctx)
    if ((config.bootstrap ?? []).length === 0 && !config.mdns) {
      throw new ConfigError(
        'ERR_CONFIG_INVALID',
        "'bootstrap' is empty and mdns is off, so this peer would find nobody: pass --bootstrap <multiaddr> (printed by `framemesh bootstrap`) or --mdns",
      )
    }
    const logger = commandLogger(ctx, config, 'peer')
    return withTeardown(logger, async (teardown) => {
      const metrics = await startMetrics(teardown, logger, config)
      const peer = await createPeer(
        {
          dataDir: config.dataDir,
          listen: config.listen,
          ...(config.announce === undefined ? {} : { announce: config.announce }),
          bootstrap: config.bootstrap ?? [],
          mdns: config.mdns,
          maxConnections: config.maxConnections,
          gossip: marketGossipOptions(),
        },
        { logger, ...(metrics === undefined ? {} : { metrics }) },
      )
      teardown.add(() => peer.stop())
      ctx.stdout(`peer ${peer.peerId} listening on:`)
      for (const addr of peer.multiaddrs) ctx.stdout(`  ${addr}`)
      const off = [
        // Peer exchange can name a peer before its addresses are known; the line with them follows.
        peer.events.on('peer:discovery', (e) => {
          if (e.multiaddrs.length > 0) ctx.stdout(`found ${e.peerId} at ${e.multiaddrs.join(' ')}`)
        }),
        peer.events.on('peer:connect', (e) =>
          ctx.stdout(`connected to ${e.peerId} (${peer.connectedPeers().length} connected)`),
        ),
        peer.events.on('peer:disconnect', (e) =>
          ctx.stdout(`disconnected from ${e.peerId} (${peer.connectedPeers().length} connected)`),
        ),
      ]
      await untilAborted(ctx.signal)
      for (const f of off) f()
      return 0
    })
  },
}
