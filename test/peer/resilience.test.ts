import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { createBootstrapNode } from '../../bootstrap/index.js'
import { startPeer, within } from '../helpers/peer.js'

const TOPIC = '/framemesh-test/resilience/1.0.0'

test('a peer whose bootstrap node is down at start connects once the node comes up', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'framemesh-boot-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  // Learn the node's address (fixed identity, fixed port), then take it down.
  const first = await createBootstrapNode({ dataDir })
  const address = first.multiaddrs[0]
  const listen = address.split('/p2p/')[0]
  await first.stop()

  const peer = await startPeer(t, { bootstrap: [address] })
  const connected = peer.events.waitFor('peer:connect', { timeoutMs: 30_000 })
  const again = await createBootstrapNode({ dataDir, listen: [listen] })
  t.teardown(() => again.stop())
  t.is(again.peer.peerId, first.peer.peerId)
  t.is((await connected).peerId, again.peer.peerId)
})

test('gossip relayed by the bootstrap node reaches a dozen peers on one host (no IP-colocation graylisting)', async (t) => {
  const boot = await createBootstrapNode({ topics: [TOPIC] })
  t.teardown(() => boot.stop())
  // No address exchange: every message has to travel through the bootstrap node.
  const peers = await Promise.all(
    Array.from({ length: 12 }, () =>
      startPeer(t, { bootstrap: [boot.multiaddrs[0]], topics: [TOPIC], addressDiscovery: false }),
    ),
  )
  await boot.peer.gossip.waitForSubscribers(TOPIC, { count: peers.length })
  await peers[0].gossip.waitForSubscribers(TOPIC, { peerId: boot.peer.peerId })
  const received = Promise.all(
    peers.slice(1).map((p) => new Promise<void>((resolve) => p.gossip.onMessage(TOPIC, () => resolve()))),
  )
  // Gossip is best effort while the meshes are still forming (a message published before a peer
  // is grafted can age out of the gossip window), so republish each second as adverts do. A peer
  // graylisted for sharing the host's IP would never take any of them.
  let rounds = 0
  const republish = setInterval(() => {
    rounds++
    void peers[0].gossip.publish(TOPIC, new TextEncoder().encode(`to everyone #${rounds}`)).catch(() => {})
  }, 1_000)
  t.teardown(() => clearInterval(republish))
  await peers[0].gossip.publish(TOPIC, new TextEncoder().encode('to everyone'))
  await within(received, 20_000, 'delivery to all 11 other peers')
  clearInterval(republish)
  t.log(`all 11 peers had a message after ${rounds} republish(es)`)
  t.pass()
})
