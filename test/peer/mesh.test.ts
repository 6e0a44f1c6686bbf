import test from 'ava'
import { createBootstrapNode } from '../../bootstrap/index.js'
import type { GossipMessage } from '../../src/peer/index.js'
import { eventually, startPeer, within } from '../helpers/peer.js'

const TOPIC = '/framemesh-test/mesh/1.0.0'

test('four peers that know only the bootstrap address find each other and get each other’s gossip', async (t) => {
  const boot = await createBootstrapNode({ topics: [TOPIC] })
  t.teardown(() => boot.stop())
  t.true(
    boot.multiaddrs.some((a) => a.includes('/ws/')),
    'the bootstrap node listens on WebSockets too',
  )
  const bootstrap = [boot.multiaddrs[0]]
  const peers = await Promise.all([0, 1, 2, 3].map(() => startPeer(t, { bootstrap, topics: [TOPIC] })))
  const ids = peers.map((p) => p.peerId)

  // Each peer connects directly to every other one (learned over the address-exchange topic).
  await eventually(
    () => peers.every((p) => ids.every((id) => id === p.peerId || p.connectedPeers().includes(id))),
    { describe: () => peers.map((p) => `${p.peerId.slice(-4)}:${p.connectedPeers().length}`).join(' ') },
  )
  await eventually(() => peers.every((p) => p.gossip.subscribers(TOPIC).length >= 4))

  const received = new Map<string, Set<string>>(ids.map((id) => [id, new Set()]))
  const allIn = new Promise<void>((resolve) => {
    for (const p of peers) {
      p.gossip.onMessage(TOPIC, (m: GossipMessage) => {
        received.get(p.peerId)!.add(`${m.from}:${new TextDecoder().decode(m.data)}`)
        if ([...received.values()].every((s) => s.size === 3)) resolve()
      })
    }
  })
  for (const p of peers) await p.gossip.publish(TOPIC, new TextEncoder().encode(`hello from ${p.peerId}`))
  await within(allIn, 20_000, 'every peer receiving the 3 others’ messages')
  for (const p of peers) {
    const expected = ids.filter((id) => id !== p.peerId).map((id) => `${id}:hello from ${id}`)
    t.deepEqual([...received.get(p.peerId)!].sort(), expected.sort())
  }
})

test('a message its topic validator rejects never reaches the message handlers', async (t) => {
  const boot = await createBootstrapNode({ topics: [TOPIC] })
  t.teardown(() => boot.stop())
  const bootstrap = [boot.multiaddrs[0]]
  const [a, b] = await Promise.all([0, 1].map(() => startPeer(t, { bootstrap, topics: [TOPIC] })))
  await eventually(() => a.connectedPeers().includes(b.peerId))
  await eventually(() => a.gossip.subscribers(TOPIC).includes(b.peerId))
  let sawSpam: () => void = () => {}
  const spamJudged = new Promise<void>((resolve) => {
    sawSpam = resolve
  })
  b.gossip.setValidator(TOPIC, (m) => {
    const spam = new TextDecoder().decode(m.data).startsWith('spam')
    if (spam) sawSpam()
    return spam ? 'reject' : 'accept'
  })
  const delivered: string[] = []
  const good = new Promise<void>((resolve) =>
    b.gossip.onMessage(TOPIC, (m) => {
      delivered.push(new TextDecoder().decode(m.data))
      if (delivered.includes('good')) resolve()
    }),
  )
  await a.gossip.publish(TOPIC, new TextEncoder().encode('spam 1'))
  await a.gossip.publish(TOPIC, new TextEncoder().encode('good'))
  await within(Promise.all([good, spamJudged]), 20_000, 'the good message and the spam verdict')
  t.deepEqual(delivered, ['good'])
})

test('peers ping each other and report connect and disconnect events', async (t) => {
  const a = await startPeer(t)
  const b = await startPeer(t)
  const connected = b.events.waitFor('peer:connect', { filter: (e) => e.peerId === a.peerId })
  const rtt = await a.ping(b.multiaddrs[0])
  t.true(rtt >= 0)
  await connected
  const gone = b.events.waitFor('peer:disconnect', { filter: (e) => e.peerId === a.peerId })
  await a.hangUp(b.peerId)
  t.deepEqual(await gone, { peerId: a.peerId })
})

test('a bootstrap address without /p2p/<id> is refused with ERR_INVALID_PEER_OPTION', async (t) => {
  const { createPeer } = await import('../../src/peer/index.js')
  const err = await t.throwsAsync(createPeer({ bootstrap: ['/ip4/127.0.0.1/tcp/4001'] }))
  t.is((err as { code?: string }).code, 'ERR_INVALID_PEER_OPTION')
})

test('a peer joins through the bootstrap node’s WebSockets address', async (t) => {
  const boot = await createBootstrapNode()
  t.teardown(() => boot.stop())
  const ws = boot.multiaddrs.find((a) => a.includes('/ws/'))!
  const peer = await startPeer(t)
  const connection = await peer.dial(ws)
  t.is(connection.remotePeer.toString(), boot.peer.peerId)
  t.true(connection.remoteAddr.toString().includes('/ws'))
})

test('a peer that listens through the relay is reachable by others over circuit relay v2', async (t) => {
  const boot = await createBootstrapNode()
  t.teardown(() => boot.stop())
  const bootstrap = [boot.multiaddrs[0]]
  // This peer has no public address of its own: it only listens via a reservation on the relay.
  const hidden = await startPeer(t, { listen: ['/p2p-circuit'], bootstrap, addressDiscovery: false })
  await eventually(() => hidden.multiaddrs.some((a) => a.includes('/p2p-circuit')))
  const relayed = hidden.multiaddrs.find((a) => a.includes('/p2p-circuit'))!
  const other = await startPeer(t, { addressDiscovery: false })
  const connection = await other.dial(relayed)
  t.is(connection.remotePeer.toString(), hidden.peerId)
  t.true(connection.remoteAddr.toString().includes('/p2p-circuit'))
})

test('a peer at its connection limit refuses further inbound connections', async (t) => {
  const server = await startPeer(t, { maxConnections: 2, addressDiscovery: false })
  const clients = await Promise.all([0, 1, 2].map(() => startPeer(t, { addressDiscovery: false })))
  await clients[0].dial(server.multiaddrs[0])
  await clients[1].dial(server.multiaddrs[0])
  const err = await t.throwsAsync(clients[2].dial(server.multiaddrs[0], { timeoutMs: 5_000 }))
  t.is((err as { code?: string }).code, 'ERR_DIAL_FAILED')
  t.is(server.connectedPeers().length, 2)
})
