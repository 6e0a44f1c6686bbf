import test from 'ava'
import {
  createPeerMetrics,
  encodeVarint,
  messageChannel,
  messageType,
  serveMetrics,
} from '../../src/peer/index.js'
import { PeerAnnouncement } from '../../src/peer/pb/discovery.js'
import { startPeer } from '../helpers/peer.js'

const TOPIC = '/framemesh-test/metrics/1.0.0'
const PROTOCOL = '/framemesh-test/metrics-echo/1.0.0'

test('the metrics endpoint reports connections, gossip in/out and protocol errors per peer', async (t) => {
  const metricsB = createPeerMetrics()
  // Peer A runs without metrics: metrics are optional everywhere.
  const a = await startPeer(t, { topics: [TOPIC] })
  const { createPeer } = await import('../../src/peer/index.js')
  const b = await createPeer({ topics: [TOPIC] }, { metrics: metricsB })
  t.teardown(() => b.stop())
  const server = await serveMetrics({ registry: metricsB.registry }, { port: 0 })
  t.teardown(() => server.close())

  await b.handle(PROTOCOL, async (stream) => {
    const channel = messageChannel(
      stream,
      {
        in: messageType('PeerAnnouncement', PeerAnnouncement, 64),
        out: messageType('PeerAnnouncement', PeerAnnouncement, 64),
      },
      { metrics: metricsB },
    )
    await channel.read()
  })
  await a.dial(b.multiaddrs[0])
  await b.gossip.waitForSubscribers(TOPIC, { peerId: a.peerId })
  await a.gossip.waitForSubscribers(TOPIC, { peerId: b.peerId })
  const got = new Promise<void>((resolve) => b.gossip.onMessage(TOPIC, () => resolve()))
  await a.gossip.publish(TOPIC, new Uint8Array([1]))
  await b.gossip.publish(TOPIC, new Uint8Array([2]))
  await got

  const failed = b.events.waitFor('protocol:error')
  const raw = await a.dialProtocol(b.multiaddrs[0], PROTOCOL)
  raw.send(encodeVarint(1000))
  await failed

  const body = await (await fetch(server.url)).text()
  t.regex(body, /framemesh_peer_connections\{direction="inbound"\} 1/)
  t.regex(body, new RegExp(`framemesh_gossip_messages_in_total\\{topic="${TOPIC}"\\} 1`))
  t.regex(body, new RegExp(`framemesh_gossip_messages_out_total\\{topic="${TOPIC}"\\} 1`))
  t.regex(
    body,
    new RegExp(`framemesh_protocol_errors_total\\{protocol="${PROTOCOL}",code="ERR_MESSAGE_TOO_LARGE"\\} 1`),
  )
  t.is((await fetch(server.url.replace('/metrics', '/other'))).status, 404)
})

test('two peers in one process keep separate metric registries', (t) => {
  const one = createPeerMetrics()
  const two = createPeerMetrics()
  one.gossipOut.inc({ topic: 'x' })
  t.not(one.registry, two.registry)
  t.notThrows(() => createPeerMetrics())
})

test('a metrics port that is taken fails with ERR_METRICS_LISTEN', async (t) => {
  const first = await serveMetrics({ registry: createPeerMetrics().registry }, { port: 0 })
  t.teardown(() => first.close())
  const port = Number(new URL(first.url).port)
  const err = await t.throwsAsync(serveMetrics({ registry: createPeerMetrics().registry }, { port }))
  t.is((err as { code?: string }).code, 'ERR_METRICS_LISTEN')
})
