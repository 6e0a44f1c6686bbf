/**
 * A read of a sender's funds kept with its age, shared by the sender (its own funds) and the
 * recipient (each sender's): fresh for a TTL, and while the chain cannot be read, standing in
 * for a while longer rather than stopping payments at the first failed read.
 */
import type { SenderInfo } from './chain.js'

export interface FundsRead {
  info: SenderInfo
  /** When it was read (ms). */
  readAt: number
  /** Used without asking the chain again until then (ms). */
  freshUntil: number
}

export function freshRead(info: SenderInfo, ttlMs: number, now = Date.now()): FundsRead {
  return { info, readAt: now, freshUntil: now + ttlMs }
}

/**
 * The last read, when a new one failed and it is younger than `staleMs`; undefined otherwise.
 * It then counts as fresh for another `ttlMs`: a chain that hangs is not asked on every call.
 */
export function standIn(
  known: FundsRead | undefined,
  staleMs: number,
  ttlMs: number,
  now = Date.now(),
): { info: SenderInfo; ageMs: number } | undefined {
  if (known === undefined || now - known.readAt >= staleMs) return undefined
  known.freshUntil = now + ttlMs
  return { info: known.info, ageMs: now - known.readAt }
}
