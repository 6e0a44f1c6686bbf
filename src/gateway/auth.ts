/**
 * Bearer-token access and a cap on concurrent work per token. With no tokens configured the
 * gateway is open (local use); every caller then shares the anonymous slot pool.
 */

import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { tooManyRequests, unauthorized } from './http-error.js'

/** The one caller of an open gateway (no tokens). */
export const ANONYMOUS = '<anonymous>'

/** At most `max` of something per caller at once; `take` refuses the next with a 429. */
class PerCaller {
  readonly #active = new Map<string, number>()

  constructor(
    private readonly max: number,
    private readonly what: string,
  ) {}

  /** Takes one for `caller`; the returned function gives it back (calling it again does nothing). */
  take(caller: string): () => void {
    const active = this.#active.get(caller) ?? 0
    if (active >= this.max) {
      throw tooManyRequests(`at most ${this.max} ${this.what} at once per token; retry when one finishes`)
    }
    this.#active.set(caller, active + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const n = (this.#active.get(caller) ?? 1) - 1
      if (n <= 0) this.#active.delete(caller)
      else this.#active.set(caller, n)
    }
  }
}

export class AccessControl {
  readonly #tokens: Buffer[]
  readonly #work: PerCaller
  readonly #streams: PerCaller

  constructor(options: { tokens?: string[]; maxConcurrentPerToken?: number; maxStreamsPerToken?: number }) {
    this.#tokens = (options.tokens ?? []).filter((t) => t.length > 0).map((t) => Buffer.from(t))
    this.#work = new PerCaller(options.maxConcurrentPerToken ?? 4, 'requests and running jobs')
    // Event streams and downloads each hold a socket and maybe a file for as long as they last.
    this.#streams = new PerCaller(options.maxStreamsPerToken ?? 32, 'event streams and downloads')
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

  /** Takes one of the caller's work slots; the returned function gives it back. */
  acquire(caller: string): () => void {
    return this.#work.take(caller)
  }

  /** Takes one of the caller's stream slots (an event stream or a download) until it gives it back. */
  acquireStream(caller: string): () => void {
    return this.#streams.take(caller)
  }
}
