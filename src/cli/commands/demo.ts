import { createBootstrapNode } from '../../../bootstrap/index.js'
import { TimeoutError } from '../../errors.js'
import { createPeer, type Peer } from '../../peer/index.js'
import type { CliCommand } from '../command.js'
import { type ConfigSpec, configHelp, loadConfig, PEER_CONFIG } from '../config.js'
import { startObservability, untilAborted } from '../runtime.js'

const DEMO_TOPIC = '/framemesh/demo/1.0.0'

const spec = {
  stay: { kind: 'bool', help: 'keep the mesh running until Ctrl-C instead of stopping', default: false },
  timeoutMs: { kind: 'int', help: 'give up on any step after this many ms', default: 20_000, min: 100 },
  logLevel: { ...PEER_CONFIG.logLevel, default: 'warn' },
  logFormat: PEER_CONFIG.logFormat,
} as const satisfies ConfigSpec

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'start a local mesh (bootstrap + two peers) and pass a gossip message',
  help: [
    'usage: framemesh demo [--stay]',
    '',
    'Starts a bootstrap node and two peers on 127.0.0.1. The peers know only the bootstrap address,',
    'find each other through it, and one sends the other a gossip message. Then everything stops,',
    'or keeps running until Ctrl-C with --stay. `npm start` runs this.',
    '',
    configHelp(spec),
  ].join('\n'),
  async run(ctx) {
    const { config } = await loadConfig(spec, ctx)
    const obs = await startObservability(ctx, { ...config, metricsHost: '127.0.0.1' }, 'demo')
    const step = { signal: ctx.signal, timeoutMs: config.timeoutMs }
    const started: Array<{ stop(): Promise<void> }> = []
    try {
      const boot = await createBootstrapNode(
        { topics: [DEMO_TOPIC] },
        { logger: obs.logger.child('bootstrap') },
      )
      started.push(boot)
      ctx.stdout(`bootstrap node ${short(boot.peer.peerId)} on ${boot.multiaddrs[0]}`)
      const join = async (name: string): Promise<Peer> => {
        const peer = await createPeer(
          { bootstrap: [boot.multiaddrs[0]!], topics: [DEMO_TOPIC] },
          { logger: obs.logger.child(name) },
        )
        started.push(peer)
        ctx.stdout(`${name} ${short(peer.peerId)} joined, knowing only the bootstrap address`)
        return peer
      }
      const alice = await join('alice')
      const bob = await join('bob')

      // Alice learns Bob's address from his announcement relayed by the bootstrap node, and dials him.
      if (!alice.connectedPeers().includes(bob.peerId)) {
        await alice.events.waitFor('peer:connect', { ...step, filter: (e) => e.peerId === bob.peerId })
      }
      ctx.stdout(`alice and bob found each other through the bootstrap node and connected directly`)

      await alice.gossip.waitForSubscribers(DEMO_TOPIC, { ...step, peerId: bob.peerId })
      const received = new Promise<string>((resolve) => {
        bob.gossip.onMessage(DEMO_TOPIC, (m) => {
          if (m.from === alice.peerId) resolve(new TextDecoder().decode(m.data))
        })
      })
      const text = `hello bob, this is alice (${new Date().toISOString()})`
      const { recipients } = await alice.gossip.publish(DEMO_TOPIC, new TextEncoder().encode(text))
      ctx.stdout(`alice published on ${DEMO_TOPIC} to ${recipients} peer(s)`)
      const got = await withTimeout(received, step.timeoutMs, 'bob did not receive the gossip message')
      ctx.stdout(`bob received from alice: "${got}"`)
      ctx.stdout(`round trip alice -> bob ping: ${await alice.ping(bob.peerId, step)} ms`)

      if (config.stay) {
        ctx.stdout('mesh is up; Ctrl-C to stop')
        await untilAborted(ctx.signal)
      }
      ctx.stdout('demo done')
      return 0
    } finally {
      await Promise.allSettled(started.reverse().map((s) => s.stop()))
      await obs.close()
    }
  },
}

function short(peerId: string): string {
  return `…${peerId.slice(-8)}`
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(`${message} within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
