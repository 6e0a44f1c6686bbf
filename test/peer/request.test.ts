import test from 'ava'
import { isFramemeshError } from '../../src/errors.js'
import { handleRequests, messageType, type RequestProtocol, sendRequest } from '../../src/peer/index.js'
import { PeerAnnouncement } from '../../src/peer/pb/discovery.js'
import { startPeer } from '../helpers/peer.js'

const Msg = messageType('PeerAnnouncement', PeerAnnouncement, 1024)
const proto = (name: string): RequestProtocol<PeerAnnouncement, PeerAnnouncement> => ({
  protocol: `/framemesh-test/${name}/1.0.0`,
  request: Msg,
  response: Msg,
})

test('a request gets the handler response', async (t) => {
  const server = await startPeer(t)
  const client = await startPeer(t)
  const doubler = proto('double')
  await handleRequests({ peer: server }, doubler, (req, ctx) => {
    t.is(ctx.remotePeer, client.peerId)
    return { addrs: req.addrs, timestamp: req.timestamp * 2n }
  })
  const res = await sendRequest({ peer: client }, doubler, server.multiaddrs[0], {
    addrs: [],
    timestamp: 21n,
  })
  t.is(res.timestamp, 42n)
})

test('a request that gets no answer fails with ERR_TIMEOUT after its timeout', async (t) => {
  const server = await startPeer(t)
  const client = await startPeer(t)
  const silent = proto('silent')
  let received = false
  // Reads the request, then never answers (until the server stops).
  await handleRequests({ peer: server }, silent, async (_req, ctx) => {
    received = true
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
    return { addrs: [], timestamp: 0n }
  })
  // Connect first so the timeout is spent waiting for the answer, not dialling a loaded machine.
  await client.dial(server.multiaddrs[0])
  const err = await t.throwsAsync(
    sendRequest({ peer: client }, silent, server.peerId, { addrs: [], timestamp: 1n }, { timeoutMs: 1500 }),
  )
  t.true(isFramemeshError(err, 'ERR_TIMEOUT'), String(err))
  t.true(received)
})

test('an aborted request stops at once with ERR_ABORTED', async (t) => {
  const server = await startPeer(t)
  const client = await startPeer(t)
  const silent = proto('never')
  const controller = new AbortController()
  // The moment the server holds the request, the client aborts; the request has a long timeout.
  await handleRequests({ peer: server }, silent, async (_req, ctx) => {
    controller.abort()
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
    return { addrs: [], timestamp: 0n }
  })
  const err = await t.throwsAsync(
    sendRequest(
      { peer: client },
      silent,
      server.multiaddrs[0],
      { addrs: [], timestamp: 1n },
      {
        signal: controller.signal,
        timeoutMs: 60_000,
      },
    ),
  )
  t.true(isFramemeshError(err, 'ERR_ABORTED'), String(err))
})

test('a request aborted before it starts rejects with ERR_ABORTED without dialling', async (t) => {
  const client = await startPeer(t)
  const server = await startPeer(t)
  const err = await t.throwsAsync(
    sendRequest(
      { peer: client },
      proto('x'),
      server.multiaddrs[0],
      { addrs: [], timestamp: 1n },
      {
        signal: AbortSignal.abort(),
      },
    ),
  )
  t.true(isFramemeshError(err, 'ERR_ABORTED'), String(err))
  t.deepEqual(client.connectedPeers(), [])
})

test('a request to a peer that does not serve the protocol fails with ERR_PROTOCOL_NOT_SUPPORTED', async (t) => {
  const server = await startPeer(t)
  const client = await startPeer(t)
  const err = await t.throwsAsync(
    sendRequest({ peer: client }, proto('unknown'), server.multiaddrs[0], { addrs: [], timestamp: 1n }),
  )
  t.true(isFramemeshError(err, 'ERR_PROTOCOL_NOT_SUPPORTED'), String(err))
})

test('a handler that throws ends the stream and the requester sees ERR_STREAM_ENDED', async (t) => {
  const server = await startPeer(t)
  const client = await startPeer(t)
  const failing = proto('failing')
  await handleRequests({ peer: server }, failing, () => {
    throw new Error('boom')
  })
  const failed = server.events.waitFor('protocol:error')
  const err = await t.throwsAsync(
    sendRequest({ peer: client }, failing, server.multiaddrs[0], { addrs: [], timestamp: 1n }),
  )
  t.true(isFramemeshError(err, 'ERR_STREAM_ENDED'), String(err))
  t.is((await failed).error.message, 'boom')
})

test('registering a second handler for the same protocol fails with ERR_PROTOCOL_ALREADY_HANDLED', async (t) => {
  const server = await startPeer(t)
  const p = proto('twice')
  await handleRequests({ peer: server }, p, (req) => req)
  const err = await t.throwsAsync(handleRequests({ peer: server }, p, (req) => req))
  t.true(isFramemeshError(err, 'ERR_PROTOCOL_ALREADY_HANDLED'), String(err))
  await server.unhandle(p.protocol)
  await t.notThrowsAsync(handleRequests({ peer: server }, p, (req) => req))
})
