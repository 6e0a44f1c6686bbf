/**
 * Bearer-token access and a cap on concurrent work per token. With no tokens configured the
 * gateway is open (local use); every caller then shares the anonymous slot pool.
 */

import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { tooManyRequests, unauthorized } from './http-error.js'

/** The one caller of an open gateway (no tokens). */
export const ANONYMOUS = '<anonymous>'

export class AccessControl {
  readonly #tokens: Buffer[]
  readonly #maxConcurrent: number
  readonly #active = new Map<string, number>()

  constructor(options: { tokens?: string[]; maxConcurrentPerToken?: number }) {
    this.#tokens = (options.tokens ?? []).filter((t) => t.length > 0).map((t) => Buffer.from(t))
    this.#maxConcurrent = options.maxConcurrentPerToken ?? 4
  }

  get open(): boolean {
    return this.#tokens.length === 0
  }

  /**
   * Returns the caller's id or throws 401: a hash of its token (records on disk never hold a
   * token), ANONYMOUS on an open gateway.
   */
  authenticate(req: IncomingMessage): string {
    if (this.open) return ANONYMOUS
    const header = req.headers.authorization
    if (header === undefined)
      throw unauthorized('missing Authorization header; send "Authorization: Bearer <token>"')
    const match = /^Bearer\s+(.+)$/i.exec(header.trim())
    if (match === null) throw unauthorized('malformed Authorization header; expected "Bearer <token>"')
    const given = Buffer.from(match[1])
    const ok = this.#tokens.some((t) => t.length === given.length && timingSafeEqual(t, given))
    if (!ok) throw unauthorized('invalid bearer token')
    return `token:${createHash('sha256').update(given).digest('hex').slice(0, 32)}`
  }

  /** Takes one of the caller's work slots; the returned function gives it back (call exactly once). */
  acquire(identity: string): () => void {
    const active = this.#active.get(identity) ?? 0
    if (active >= this.#maxConcurrent) {
      throw tooManyRequests(
        `at most ${this.#maxConcurrent} requests and running jobs at once per token; retry when one finishes`,
      )
    }
    this.#active.set(identity, active + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const n = (this.#active.get(identity) ?? 1) - 1
      if (n <= 0) this.#active.delete(identity)
      else this.#active.set(identity, n)
    }
  }
}
