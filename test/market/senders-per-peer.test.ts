// How many different sender addresses one peer may name in its quote requests.
import test from 'ava'
import { SendersPerPeer } from '../../src/market/senders-per-peer.js'

const sender = (n: number) => `0x${n.toString(16).padStart(40, '0')}`

function limiter(maxSenders: number, options: { maxPeers?: number } = {}) {
  const clock = { now: 0 }
  const limit = new SendersPerPeer({ maxSenders, windowMs: 60_000, now: () => clock.now, ...options })
  return { clock, limit }
}

test('a peer may name maxSenders different senders; the next new one is refused with ERR_TOO_MANY_SENDERS', (t) => {
  const { limit } = limiter(3)
  for (let i = 1; i <= 3; i++) limit.admit('peer-a', sender(i))
  const err = t.throws(() => limit.admit('peer-a', sender(4)))
  t.is((err as { code?: string }).code, 'ERR_TOO_MANY_SENDERS')
  t.regex(err!.message, /named 3 different sender addresses .* retry in 60 s/)
})

test('a sender the peer named already is admitted however often it comes back', (t) => {
  const { limit } = limiter(2)
  limit.admit('peer-a', sender(1))
  limit.admit('peer-a', sender(2))
  for (let i = 0; i < 100; i++) t.notThrows(() => limit.admit('peer-a', sender(1 + (i % 2))))
})

test('each peer has its own count', (t) => {
  const { limit } = limiter(1)
  limit.admit('peer-a', sender(1))
  t.notThrows(() => limit.admit('peer-b', sender(2)))
  t.throws(() => limit.admit('peer-a', sender(2)), { code: 'ERR_TOO_MANY_SENDERS' })
})

test('a sender stops counting once the window since the peer last named it has passed', (t) => {
  const { clock, limit } = limiter(2)
  limit.admit('peer-a', sender(1))
  clock.now = 30_000
  limit.admit('peer-a', sender(2))
  t.throws(() => limit.admit('peer-a', sender(3)), { code: 'ERR_TOO_MANY_SENDERS' })
  // Sender 1 was named at 0: at 60 s it no longer counts, sender 2 (named at 30 s) still does.
  clock.now = 60_000
  t.notThrows(() => limit.admit('peer-a', sender(3)))
  t.throws(() => limit.admit('peer-a', sender(4)), { code: 'ERR_TOO_MANY_SENDERS' })
})

test('a refused sender is not recorded, so it does not keep the peer refused longer', (t) => {
  const { clock, limit } = limiter(1)
  limit.admit('peer-a', sender(1))
  clock.now = 59_000
  t.throws(() => limit.admit('peer-a', sender(2)), { code: 'ERR_TOO_MANY_SENDERS' })
  clock.now = 60_000
  t.notThrows(() => limit.admit('peer-a', sender(3)))
})

test('at most maxPeers peers are tracked; the least recently seen is forgotten first', (t) => {
  const { limit } = limiter(1, { maxPeers: 2 })
  limit.admit('peer-a', sender(1))
  limit.admit('peer-b', sender(1))
  limit.admit('peer-a', sender(1))
  limit.admit('peer-c', sender(1))
  // peer-b was seen least recently and is forgotten; peer-a is still counted.
  t.throws(() => limit.admit('peer-a', sender(2)), { code: 'ERR_TOO_MANY_SENDERS' })
  t.notThrows(() => limit.admit('peer-b', sender(2)))
})
