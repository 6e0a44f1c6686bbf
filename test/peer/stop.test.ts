import { setTimeout as sleep } from 'node:timers/promises'
import test from 'ava'
import { messageChannel, messageType } from '../../src/peer/index.js'
import { PeerAnnouncement } from '../../src/peer/pb/discovery.js'
import { startPeer, within } from '../helpers/peer.js'

// PeerAnnouncement stands in for any protobuf message.
const Note = messageType('PeerAnnouncement', PeerAnnouncement, 1024)
const LAST_WORDS = '/framemesh-test/last-words/1.0.0'

const note = (timestamp: bigint): PeerAnnouncement => ({ addrs: [], timestamp })

/** A promise and the function that resolves it. */
function signalled(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

test('a handler still winding up when its peer stops gets its last message out before the connection closes', async (t) => {
  const server = await startPeer(t)
  const client = await startPeer(t)
  const serving = signalled()
  await server.handle(LAST_WORDS, async (stream, { signal }) => {
    const channel = messageChannel(stream, { in: Note, out: Note })
    await channel.write(note(1n))
    serving.resolve()
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
    // Some cleanup that takes a moment (a job flushes its results, gives its model back) comes
    // before the message that tells the other side why the stream ends.
    await sleep(100)
    await channel.write(note(2n))
  })
  const stream = await client.dialProtocol(server.multiaddrs[0], LAST_WORDS)
  const channel = messageChannel(stream, { in: Note, out: Note })
  t.is((await channel.read())?.timestamp, 1n)
  await serving.promise
  const stopped = server.stop()
  t.is((await within(channel.read(), 10_000, 'the last message'))?.timestamp, 2n)
  await stopped
})

test('a handler that ignores the stop holds the peer up for stopGraceMs only', async (t) => {
  const server = await startPeer(t, { stopGraceMs: 200 })
  const client = await startPeer(t)
  const serving = signalled()
  await server.handle(LAST_WORDS, async () => {
    serving.resolve()
    await new Promise(() => {}) // never returns
  })
  await client.dialProtocol(server.multiaddrs[0], LAST_WORDS)
  await serving.promise
  await within(server.stop(), 10_000, 'the stop')
  t.deepEqual(server.connectedPeers(), [])
})
