/**
 * Test helpers for real peers on 127.0.0.1: start peers that are stopped after the test, and a
 * poll-with-deadline for conditions no event reports (e.g. "every peer is connected to all others").
 */
import type { ExecutionContext } from 'ava'
import { createPeer, type Peer, type PeerOptions } from '../../src/peer/index.js'

/** Starts a peer on 127.0.0.1 and stops it when the test ends (pass or fail). */
export async function startPeer(t: ExecutionContext, options: PeerOptions = {}): Promise<Peer> {
  const peer = await createPeer(options)
  t.teardown(() => peer.stop())
  return peer
}

/**
 * Re-checks `condition` every `intervalMs` until it holds; rejects with what was last seen after
 * `timeoutMs`. For states that have no event of their own.
 */
export async function eventually(
  condition: () => boolean,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => string } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000
  const until = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > until) {
      throw new Error(
        `condition not met within ${timeoutMs} ms${options.describe ? `: ${options.describe()}` : ''}`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 25))
  }
}

/** Rejects with a message naming `what` if `promise` has not settled within `timeoutMs`. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what} did not happen within ${timeoutMs} ms`)),
          timeoutMs,
        )
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
