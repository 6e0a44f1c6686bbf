/**
 * `npm run bench:peer`: how fast the peer layer is, as ratios against baselines run alongside.
 *  1. Mesh formation: 5 peers that know only the bootstrap address until all are connected to
 *     each other and a gossip message reached the other 4, against 5 peers told each other's
 *     addresses up front (direct dials, same gossip check).
 *  2. Stream throughput: framed messages (varint + protobuf, typed channel) against raw
 *     `stream.send` of the same bytes on the same kind of connection.
 *  3. Request/response round trip (new stream, one framed request, one framed response) against
 *     a libp2p ping on the same connection.
 * Everything runs on 127.0.0.1. Numbers vary with the machine; the ratios are what to compare.
 */
import type { Stream } from '@libp2p/interface'
import { createBootstrapNode } from '../bootstrap/index.js'
import {
  createPeer,
  handleRequests,
  messageChannel,
  messageType,
  type Peer,
  type RequestProtocol,
  sendRequest,
} from '../src/peer/index.js'
import { PeerAnnouncement } from '../src/peer/pb/discovery.js'

const TOPIC = '/framemesh-bench/1.0.0'
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const PEERS = 5
const TOTAL_BYTES = Number(process.env.BENCH_MB ?? 64) * 1024 * 1024
const MESSAGE_BYTES = 256 * 1024

async function until(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > end) throw new Error('bench condition not met in time')
    await new Promise((r) => setTimeout(r, 5))
  }
}

async function fullMeshAndGossip(peers: Peer[]): Promise<void> {
  const ids = peers.map((p) => p.peerId)
  await until(() => peers.every((p) => ids.every((id) => id === p.peerId || p.connectedPeers().includes(id))))
  await Promise.all(
    peers.slice(1).map((p) => peers[0]!.gossip.waitForSubscribers(TOPIC, { peerId: p.peerId })),
  )
  const seen = Promise.all(
    peers.slice(1).map((p) => new Promise<void>((resolve) => p.gossip.onMessage(TOPIC, () => resolve()))),
  )
  await peers[0]!.gossip.publish(TOPIC, new TextEncoder().encode('bench'))
  await seen
}

async function meshViaBootstrap(): Promise<number> {
  const boot = await createBootstrapNode({ topics: [TOPIC] })
  const start = performance.now()
  const peers = await Promise.all(
    Array.from({ length: PEERS }, () => createPeer({ bootstrap: [boot.multiaddrs[0]!], topics: [TOPIC] })),
  )
  await fullMeshAndGossip(peers)
  const ms = performance.now() - start
  await Promise.all([...peers, boot].map((p) => p.stop()))
  return ms
}

async function meshDirect(): Promise<number> {
  const start = performance.now()
  const peers = await Promise.all(
    Array.from({ length: PEERS }, () => createPeer({ topics: [TOPIC], addressDiscovery: false })),
  )
  await Promise.all(peers.flatMap((p, i) => peers.slice(i + 1).map((q) => p.dial(q.multiaddrs[0]!))))
  await fullMeshAndGossip(peers)
  const ms = performance.now() - start
  await Promise.all(peers.map((p) => p.stop()))
  return ms
}

const Chunk = messageType('PeerAnnouncement', PeerAnnouncement, MESSAGE_BYTES + 64)

async function throughput(mode: 'framed' | 'raw'): Promise<number> {
  const protocol = `/framemesh-bench/${mode}/1.0.0`
  const server = await createPeer({ addressDiscovery: false })
  const client = await createPeer({ addressDiscovery: false })
  let received = 0
  const done = new Promise<void>((resolve, reject) => {
    server
      .handle(protocol, async (stream: Stream) => {
        if (mode === 'framed') {
          for await (const m of messageChannel(stream, { in: Chunk, out: Chunk }))
            received += m.addrs[0]!.byteLength
        } else {
          for await (const buf of stream) received += buf.byteLength
        }
        resolve()
      })
      .catch(reject)
  })
  const stream = await client.dialProtocol(server.multiaddrs[0]!, protocol)
  const payload = new Uint8Array(MESSAGE_BYTES).fill(1)
  const start = performance.now()
  if (mode === 'framed') {
    const channel = messageChannel(stream, { in: Chunk, out: Chunk })
    for (let sent = 0; sent < TOTAL_BYTES; sent += MESSAGE_BYTES) {
      await channel.write({ addrs: [payload], timestamp: 0n })
    }
    await channel.closeWrite()
  } else {
    for (let sent = 0; sent < TOTAL_BYTES; sent += MESSAGE_BYTES) {
      if (!stream.send(payload)) await stream.onDrain()
    }
    await stream.close()
  }
  await done
  const seconds = (performance.now() - start) / 1000
  await Promise.all([client.stop(), server.stop()])
  if (received < TOTAL_BYTES) throw new Error(`${mode}: received ${received} of ${TOTAL_BYTES} bytes`)
  return TOTAL_BYTES / (1024 * 1024) / seconds
}

const ROUND_TRIPS = 200
const Small = messageType('PeerAnnouncement', PeerAnnouncement, 1024)
const ECHO: RequestProtocol<PeerAnnouncement, PeerAnnouncement> = {
  protocol: '/framemesh-bench/echo/1.0.0',
  request: Small,
  response: Small,
}

/** Mean ms per round trip: request/response and ping, interleaved on one connection. */
async function roundTrips(): Promise<{ request: number; ping: number }> {
  const server = await createPeer({ addressDiscovery: false })
  const client = await createPeer({ addressDiscovery: false })
  await handleRequests({ peer: server }, ECHO, (req) => req)
  await client.dial(server.multiaddrs[0]!)
  const message = { addrs: [new Uint8Array(100)], timestamp: 1n }
  let requestMs = 0
  let pingMs = 0
  for (let i = 0; i < ROUND_TRIPS; i++) {
    let start = performance.now()
    await sendRequest({ peer: client }, ECHO, server.peerId, message)
    requestMs += performance.now() - start
    start = performance.now()
    await client.ping(server.peerId)
    pingMs += performance.now() - start
  }
  await Promise.all([client.stop(), server.stop()])
  return { request: requestMs / ROUND_TRIPS, ping: pingMs / ROUND_TRIPS }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

async function main(): Promise<void> {
  const viaBootstrap: number[] = []
  const direct: number[] = []
  const framed: number[] = []
  const raw: number[] = []
  const request: number[] = []
  const pings: number[] = []
  // Interleave the runs so machine load hits both sides of each ratio alike.
  for (let i = 0; i < RUNS; i++) {
    direct.push(await meshDirect())
    viaBootstrap.push(await meshViaBootstrap())
    raw.push(await throughput('raw'))
    framed.push(await throughput('framed'))
    const rt = await roundTrips()
    request.push(rt.request)
    pings.push(rt.ping)
  }
  const fmt = (n: number) => n.toFixed(1)
  console.log(`peer bench: ${RUNS} runs each, medians, 127.0.0.1`)
  console.log(
    `mesh of ${PEERS} + gossip seen: via bootstrap ${fmt(median(viaBootstrap))} ms | direct dials ${fmt(median(direct))} ms | ratio ${(median(viaBootstrap) / median(direct)).toFixed(2)}x`,
  )
  console.log(
    `stream throughput (${TOTAL_BYTES / 1024 / 1024} MiB in ${MESSAGE_BYTES / 1024} KiB messages): framed ${fmt(median(framed))} MB/s | raw ${fmt(median(raw))} MB/s | ratio ${(median(framed) / median(raw)).toFixed(2)}`,
  )
  console.log(
    `round trip (mean of ${ROUND_TRIPS}, open connection): request/response ${median(request).toFixed(2)} ms | ping ${median(pings).toFixed(2)} ms | ratio ${(median(request) / median(pings)).toFixed(2)}x`,
  )
}

await main()
