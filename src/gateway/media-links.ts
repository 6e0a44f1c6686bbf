/**
 * Signed, expiring links to one job's input or output. A browser's <video> and <img> cannot send
 * an Authorization header, so on a gateway with tokens a page would have to fetch a whole result
 * before it could play it. A link carries its own proof instead: an HMAC over the job, the file
 * and the expiry time, under a key that lives only in this process (a restart voids every link;
 * the page asks for new ones). A link grants reading that one file until it expires, nothing else.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { HttpError } from './http-error.js'

export type JobFile = 'input' | 'output'

export interface MediaLink {
  /** Path and query, relative to the gateway's origin. */
  url: string
  /** Unix milliseconds. */
  expiresAt: number
}

/** One hour: long enough to watch and seek a result, short enough that a leaked link soon dies. */
export const DEFAULT_LINK_TTL_MS = 60 * 60 * 1000

const linkRefused = (msg: string) => new HttpError(403, 'ERR_LINK_REFUSED', msg)

export class MediaLinks {
  readonly #key: Buffer
  readonly #ttlMs: number
  readonly #now: () => number

  constructor(options: { ttlMs?: number; now?: () => number } = {}) {
    this.#key = randomBytes(32)
    this.#ttlMs = options.ttlMs ?? DEFAULT_LINK_TTL_MS
    this.#now = options.now ?? Date.now
  }

  /** A link to `file` of job `jobId`, valid for the configured time from now. */
  sign(jobId: string, file: JobFile): MediaLink {
    const expiresAt = this.#now() + this.#ttlMs
    const query = new URLSearchParams({ expires: String(expiresAt), sig: this.#mac(jobId, file, expiresAt) })
    return { url: `/v1/jobs/${encodeURIComponent(jobId)}/${file}?${query}`, expiresAt }
  }

  /** Whether the request's query carries a link (then it must be checked instead of a token). */
  static carried(query: URLSearchParams): boolean {
    return query.has('sig')
  }

  /** Throws 403 ERR_LINK_REFUSED unless `query` is a live link to `file` of `jobId`. */
  check(jobId: string, file: JobFile, query: URLSearchParams): void {
    const expires = query.get('expires') ?? ''
    const given = Buffer.from(query.get('sig') ?? '', 'base64url')
    const expiresAt = /^\d{1,15}$/.test(expires) ? Number(expires) : Number.NaN
    const wanted = Number.isFinite(expiresAt)
      ? Buffer.from(this.#mac(jobId, file, expiresAt), 'base64url')
      : undefined
    if (wanted === undefined || given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
      throw linkRefused(
        `this link to the job's ${file} is not valid; ask GET /v1/jobs/${jobId}/links for one`,
      )
    }
    if (expiresAt <= this.#now()) {
      throw linkRefused(
        `this link to the job's ${file} expired at ${new Date(expiresAt).toISOString()}; ask GET /v1/jobs/${jobId}/links for a new one`,
      )
    }
  }

  #mac(jobId: string, file: JobFile, expiresAt: number): string {
    return createHmac('sha256', this.#key).update(`${jobId}\n${file}\n${expiresAt}`).digest('base64url')
  }
}
