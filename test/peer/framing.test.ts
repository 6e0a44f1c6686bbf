import type { Stream } from '@libp2p/interface'
import test from 'ava'
import { isFramemeshError } from '../../src/errors.js'
import {
  encodeVarint,
  frameMessage,
  type MessageChannel,
  messageChannel,
  messageType,
  type Peer,
} from '../../src/peer/index.js'
import { PeerAnnouncement } from '../../src/peer/pb/discovery.js'
import { startPeer } from '../helpers/peer.js'

// PeerAnnouncement stands in for any protobuf message: 1 KiB limit for these tests.
const Small = messageType('PeerAnnouncement', PeerAnnouncement, 1024)
const ECHO = '/framemesh-test/echo/1.0.0'

function announcement(bytes: number): PeerAnnouncement {
  return { addrs: [new Uint8Array(bytes).fill(7)], timestamp: 42n }
}

/** A server that echoes every message back until the client closes. */
async function echoServer(t: import('ava').ExecutionContext): Promise<Peer> {
  const server = await startPeer(t)
  await server.handle(ECHO, async (stream) => {
    const channel = messageChannel(stream, { in: Small, out: Small })
    for await (const message of channel) await channel.write(message)
    await channel.closeWrite()
  })
  return server
}

async function open(
  t: import('ava').ExecutionContext,
  server: Peer,
): Promise<MessageChannel<PeerAnnouncement, PeerAnnouncement>> {
  const client = await startPeer(t)
  const stream = await client.dialProtocol(server.multiaddrs[0], ECHO)
  return messageChannel(stream, { in: Small, out: Small })
}

test('messages round-trip in order and a clean close ends the iteration', async (t) => {
  const server = await echoServer(t)
  const channel = await open(t, server)
  for (const size of [0, 1, 300, 1000]) await channel.write(announcement(size))
  await channel.closeWrite()
  const sizes: number[] = []
  for await (const message of channel) sizes.push(message.addrs[0]?.byteLength ?? 0)
  t.deepEqual(sizes, [0, 1, 300, 1000])
})

test('a message is framed as one buffer: its varint length then its protobuf body, with or without the field codec', (t) => {
  const plain = { encode: PeerAnnouncement.encode, decode: PeerAnnouncement.decode }
  // 0, 1- and 2-byte addrs fields around the 1- to 3-byte varint boundaries of the body length.
  for (const size of [0, 100, 200, 20_000]) {
    const message = announcement(size)
    const body = PeerAnnouncement.encode(message)
    const expected = new Uint8Array([...encodeVarint(body.byteLength), ...body])
    for (const codec of [PeerAnnouncement, plain]) {
      const { frame, bodyBytes } = frameMessage(codec, message)
      t.is(bodyBytes, body.byteLength)
      t.deepEqual(frame, expected)
    }
  }
})

test('writing a message above its type limit fails with ERR_MESSAGE_TOO_LARGE and sends nothing', async (t) => {
  const server = await echoServer(t)
  const channel = await open(t, server)
  const err = await t.throwsAsync(channel.write(announcement(2000)))
  t.true(isFramemeshError(err, 'ERR_MESSAGE_TOO_LARGE'))
  // The stream is still usable.
  await channel.write(announcement(5))
  t.is((await channel.read())?.addrs[0]?.byteLength, 5)
})

/** Opens a raw stream to a framed handler and records how the handler's stream ended. */
async function rawAgainstHandler(t: import('ava').ExecutionContext) {
  const server = await startPeer(t)
  await server.handle(ECHO, async (stream) => {
    const channel = messageChannel(stream, { in: Small, out: Small })
    for await (const message of channel) await channel.write(message)
    await channel.closeWrite()
  })
  const client = await startPeer(t)
  const errors = server.events
  return { server, client, errors }
}

test('an oversized length prefix ends that stream with ERR_MESSAGE_TOO_LARGE; the peer serves other streams', async (t) => {
  const { server, client, errors } = await rawAgainstHandler(t)
  const failed = errors.waitFor('protocol:error', { timeoutMs: 10_000 })
  const raw: Stream = await client.dialProtocol(server.multiaddrs[0], ECHO)
  // Announce a 1 MiB body but send only a few bytes: the limit is enforced on the prefix alone.
  raw.send(encodeVarint(1024 * 1024))
  raw.send(new Uint8Array(16))
  const { error, protocol } = await failed
  t.is(protocol, ECHO)
  t.true(isFramemeshError(error, 'ERR_MESSAGE_TOO_LARGE'), String(error))
  // The client's stream was reset.
  await t.throwsAsync(async () => {
    for await (const _ of raw) {
      // drain
    }
  })
  const healthy = messageChannel(await client.dialProtocol(server.multiaddrs[0], ECHO), {
    in: Small,
    out: Small,
  })
  await healthy.write(announcement(10))
  t.is((await healthy.read())?.addrs[0]?.byteLength, 10)
})

test('a message that does not decode ends that stream with ERR_MALFORMED_MESSAGE; the peer serves other streams', async (t) => {
  const { server, client, errors } = await rawAgainstHandler(t)
  const failed = errors.waitFor('protocol:error', { timeoutMs: 10_000 })
  const raw: Stream = await client.dialProtocol(server.multiaddrs[0], ECHO)
  // Field 1 (bytes) claims 0x7f bytes but the 3-byte body ends first: not a protobuf message.
  const body = Uint8Array.from([0x0a, 0x7f, 0x01])
  raw.send(encodeVarint(body.byteLength))
  raw.send(body)
  const { error } = await failed
  t.true(isFramemeshError(error, 'ERR_MALFORMED_MESSAGE'), String(error))
  const healthy = messageChannel(await client.dialProtocol(server.multiaddrs[0], ECHO), {
    in: Small,
    out: Small,
  })
  await healthy.write(announcement(3))
  t.is((await healthy.read())?.addrs[0]?.byteLength, 3)
})

test('a stream that ends in the middle of a message fails the read with ERR_STREAM_ENDED', async (t) => {
  const { server, client, errors } = await rawAgainstHandler(t)
  const failed = errors.waitFor('protocol:error', { timeoutMs: 10_000 })
  const raw: Stream = await client.dialProtocol(server.multiaddrs[0], ECHO)
  raw.send(encodeVarint(100))
  raw.send(new Uint8Array(10))
  await raw.close()
  const { error } = await failed
  t.true(isFramemeshError(error, 'ERR_STREAM_ENDED'), String(error))
})

test('large messages keep their bytes intact under backpressure', async (t) => {
  const Big = messageType('PeerAnnouncement', PeerAnnouncement, 8 * 1024 * 1024)
  const server = await startPeer(t)
  let received = 0
  let checksum = 0
  const done = new Promise<void>((resolve, reject) => {
    server
      .handle(ECHO, async (stream) => {
        const channel = messageChannel(stream, { in: Big, out: Big })
        for await (const message of channel) {
          received++
          checksum += message.addrs[0].reduce((a, b) => a + b, 0)
        }
        resolve()
      })
      .catch(reject)
  })
  const client = await startPeer(t)
  const channel = messageChannel(await client.dialProtocol(server.multiaddrs[0], ECHO), { in: Big, out: Big })
  let expected = 0
  for (let i = 0; i < 8; i++) {
    const payload = new Uint8Array(4 * 1024 * 1024).fill(i + 1)
    expected += (i + 1) * payload.byteLength
    await channel.write({ addrs: [payload], timestamp: BigInt(i) })
  }
  await channel.closeWrite()
  await done
  t.is(received, 8)
  t.is(checksum, expected)
})

test('a second read while one is waiting fails with ERR_CONCURRENT_READ; an aborted read leaves the channel usable', async (t) => {
  const server = await echoServer(t)
  const channel = await open(t, server)
  const controller = new AbortController()
  const first = channel.read({ signal: controller.signal })
  const err = await t.throwsAsync(channel.read())
  t.true(isFramemeshError(err, 'ERR_CONCURRENT_READ'), String(err))
  controller.abort()
  t.true(isFramemeshError(await first.catch((e: unknown) => e), 'ERR_ABORTED'))
  await channel.write(announcement(4))
  t.is((await channel.read())?.addrs[0]?.byteLength, 4)
})

test('a read given timeoutMs that gets no message fails with ERR_TIMEOUT; the channel stays usable', async (t) => {
  const server = await echoServer(t)
  const channel = await open(t, server)
  const err = await t.throwsAsync(channel.read({ timeoutMs: 50 }))
  t.true(isFramemeshError(err, 'ERR_TIMEOUT'), String(err))
  await channel.write(announcement(4))
  t.is((await channel.read({ timeoutMs: 10_000 }))?.addrs[0]?.byteLength, 4)
})

test('messages written together go to the stream as one chunk and are read back one by one, in order', async (t) => {
  const server = await echoServer(t)
  const channel = await open(t, server)
  const chunks: number[] = []
  const send = channel.stream.send.bind(channel.stream)
  channel.stream.send = (data) => {
    chunks.push(data.byteLength)
    return send(data)
  }
  await channel.writeMany([announcement(1), announcement(300), announcement(2)])
  t.is(chunks.length, 1)
  const sizes: number[] = []
  for (let i = 0; i < 3; i++) sizes.push((await channel.read())?.addrs[0]?.byteLength ?? -1)
  t.deepEqual(sizes, [1, 300, 2])
  // One oversized message in the batch: nothing of it is sent.
  const err = await t.throwsAsync(channel.writeMany([announcement(3), announcement(2000)]))
  t.true(isFramemeshError(err, 'ERR_MESSAGE_TOO_LARGE'))
  t.is(chunks.length, 1)
})
