import { multiaddr } from '@multiformats/multiaddr'
import test from 'ava'
import { decodeAnnouncement, MAX_ANNOUNCED_ADDRS } from '../../src/peer/discovery.js'
import type { GossipMessage } from '../../src/peer/index.js'
import { PeerAnnouncement } from '../../src/peer/pb/discovery.js'

const now = 1_800_000_000_000
const maxAge = 5 * 60_000
const addr = multiaddr('/ip4/127.0.0.1/tcp/4001').bytes
const msg = (data: Uint8Array): GossipMessage => ({ topic: 't', data, from: 'a', via: 'b' })
const verdict = (data: Uint8Array) => {
  const d = decodeAnnouncement(msg(data), now, maxAge)
  return d.ok ? 'accept' : d.verdict
}

test('a fresh announcement with valid addresses is accepted and decoded', (t) => {
  const d = decodeAnnouncement(
    msg(PeerAnnouncement.encode({ addrs: [addr], timestamp: BigInt(now) })),
    now,
    maxAge,
  )
  t.true(d.ok)
  if (d.ok) t.deepEqual(d.addrs.map(String), ['/ip4/127.0.0.1/tcp/4001'])
})

test('announcements that are broken or oversized are rejected; stale ones are ignored', (t) => {
  t.is(verdict(Uint8Array.from([0x0a, 0x7f, 0x01])), 'reject', 'undecodable')
  t.is(
    verdict(PeerAnnouncement.encode({ addrs: [Uint8Array.from([0xff, 0xff])], timestamp: BigInt(now) })),
    'reject',
    'not a multiaddr',
  )
  t.is(
    verdict(
      PeerAnnouncement.encode({
        addrs: Array(MAX_ANNOUNCED_ADDRS + 1).fill(Uint8Array.from([4, 1, 2, 3, 4])),
        timestamp: BigInt(now),
      }),
    ),
    'reject',
    'too many addresses',
  )
  t.is(verdict(new Uint8Array(5000)), 'reject', 'too large')
  t.is(
    verdict(PeerAnnouncement.encode({ addrs: [addr], timestamp: BigInt(now - maxAge - 1) })),
    'ignore',
    'stale',
  )
  t.is(
    verdict(PeerAnnouncement.encode({ addrs: [addr], timestamp: BigInt(now + maxAge + 1) })),
    'ignore',
    'future',
  )
})
