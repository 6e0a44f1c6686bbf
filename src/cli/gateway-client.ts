/**
 * A client for a framemesh gateway's job routes: upload a file as a job, follow its events
 * (reconnecting without repeats: the gateway replays a job's history to each subscriber), read
 * its state and download its output. Errors carry the gateway's own message.
 */
import { once } from 'node:events'
import { createWriteStream, openAsBlob } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { basename } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setTimeout as delay } from 'node:timers/promises'
import { FramemeshError } from '../errors.js'
import type { ConfigSpec } from './config.js'
import { readSse } from './sse-reader.js'

/** The parts of the gateway's job view this client reads. */
export interface GatewayJob {
  id: string
  stages: string[]
  status: 'running' | 'done' | 'failed'
  framesDone: number
  framesTotal?: number
  /** Unix ms. */
  startedAt?: number
  peers: string[]
  /** Tickets' expected value sent, wei as a decimal string (JSON has no bigint). */
  paidWei: string
  /** The work at the agreed prices, wei as a decimal string. */
  chargedWei?: string
  output?: { kind: 'image' | 'video' | 'text'; contentType: string }
  text?: string
  /** With verification: the checks' findings (see the gateway's Job schema). */
  verification?: {
    share: number
    strict: boolean
    checked: number
    mismatches: number
    unverified: number
    blamed: Array<{ stage: number; peerId: string; against: string; reason: string }>
    checkers: string[]
    /** Tickets' expected value sent for the checks, wei as a decimal string (part of paidWei). */
    paidWei: string
  }
  error?: string
  errorCode?: string
}

export type GatewayJobEvent =
  | {
      event: 'progress'
      data: { framesDone: number; framesTotal?: number; windows?: { done: number; of: number } }
    }
  | { event: 'peer'; data: { stage: number; from?: string; to: string; reason?: string } }
  | { event: 'payment'; data: { peerId: string; tickets: number; evWei: string; check?: boolean } }
  | { event: 'check'; data: { stage: number; peerId: string; checker: string; match: boolean } }
  | { event: 'blamed'; data: { stage: number; peerId: string; against: string; reason: string } }
  | { event: 'done' | 'failed'; data: GatewayJob }

export class GatewayError extends FramemeshError {}

/** A job's options besides its stages, as the gateway's form fields take them. */
export interface UploadOptions {
  /** OCR of a video: only every n-th frame. */
  every?: number
  /** Each stage over up to this many orchestrators at once. */
  parallel?: number
  /** Check this share (0–1) of each stage's outputs on a second orchestrator; `strict`: fail rather than deliver unchecked. */
  verify?: { share: number; strict: boolean }
}

/** Where the gateway is and the caller's token: the options of every command that talks to one. */
export const GATEWAY_CONNECTION_CONFIG = {
  gateway: {
    kind: 'string',
    help: 'URL of a running `framemesh gateway`',
    default: 'http://127.0.0.1:8935',
    env: 'FRAMEMESH_GATEWAY',
  },
  token: { kind: 'string', help: 'bearer token the gateway accepts', env: 'FRAMEMESH_GATEWAY_TOKEN' },
} as const satisfies ConfigSpec

export interface GatewayClientOptions {
  url: string
  token?: string
  /** Bound on each request (not on following a job's events). */
  requestTimeoutMs?: number
  /** Longest silence on the event stream before reconnecting (the gateway beats every 15 s). */
  idleTimeoutMs?: number
  /** Reconnects to the event stream in a row, without a new event between them, before giving up. */
  maxReconnects?: number
  /**
   * First wait before reconnecting to a gateway that does not answer (doubling each time, at most
   * 10 s): a gateway restarting, or a network blip, gets ~25 s with the default 5 reconnects.
   */
  reconnectDelayMs?: number
  /** Told each time the event stream is reopened, with why. */
  onReconnect?: (why: string) => void
}

// The gateway's HTTP statuses, as codes a script can switch on.
const CODES: Record<number, string> = {
  400: 'ERR_BAD_REQUEST',
  401: 'ERR_UNAUTHORIZED',
  404: 'ERR_NOT_FOUND',
  405: 'ERR_METHOD_NOT_ALLOWED',
  408: 'ERR_UPLOAD_STALLED',
  409: 'ERR_JOB_NOT_DONE',
  413: 'ERR_UPLOAD_TOO_LARGE',
  415: 'ERR_UNSUPPORTED_MEDIA',
  422: 'ERR_VALIDATION',
  429: 'ERR_TOO_MANY_REQUESTS',
  503: 'ERR_NO_PEER',
}

export class GatewayClient {
  readonly #url: string
  readonly #headers: Record<string, string>
  readonly #requestTimeoutMs: number
  readonly #idleTimeoutMs: number
  readonly #maxReconnects: number
  readonly #onReconnect?: (why: string) => void
  readonly #reconnectDelayMs: number

  constructor(options: GatewayClientOptions) {
    this.#url = options.url.replace(/\/+$/, '')
    this.#headers = options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 60_000
    this.#maxReconnects = options.maxReconnects ?? 5
    this.#onReconnect = options.onReconnect
    this.#reconnectDelayMs = options.reconnectDelayMs ?? 1000
  }

  /**
   * Uploads `path` (streamed from disk) and starts a job over `stages` ("upscale,ocr"); `every`
   * (OCR of a video) sends only every n-th frame; `parallel` spreads each stage over up to that many
   * orchestrators at once. When the gateway already runs as many of this
   * token's jobs as it allows (429), it is asked again for up to `waitWhenBusyMs` (0: the 429 is
   * thrown at once); `onBusy` is told when waiting starts.
   */
  async submit(
    stages: string,
    path: string,
    signal: AbortSignal,
    options: UploadOptions & { waitWhenBusyMs?: number; onBusy?: () => void } = {},
  ): Promise<GatewayJob> {
    const giveUpAt = performance.now() + (options.waitWhenBusyMs ?? 0)
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#upload(stages, path, signal, options)
      } catch (err) {
        if (!(err instanceof GatewayError) || err.code !== 'ERR_TOO_MANY_REQUESTS') throw err
        if (performance.now() >= giveUpAt) throw err
        if (attempt === 0) options.onBusy?.()
        await this.#slotLikelyFree(err, giveUpAt, signal)
      }
    }
  }

  /**
   * Waits until one of this token's running jobs has ended, or `UPLOAD_AGAIN_AFTER_MS` has passed
   * (the slot may be held by a request that is not a job), or `giveUpAt`. Each try uploads the
   * whole file again, so a large video is not re-sent every few seconds on the off chance.
   */
  async #slotLikelyFree(refusal: GatewayError, giveUpAt: number, signal: AbortSignal): Promise<void> {
    const pollMs = (refusal.details?.retryAfterMs as number | undefined) ?? DEFAULT_RETRY_AFTER_MS
    const running = async () => (await this.list(signal)).filter((j) => j.status === 'running').length
    const before = await running()
    const until = Math.min(giveUpAt, performance.now() + UPLOAD_AGAIN_AFTER_MS)
    while (performance.now() < until) {
      await delay(Math.max(0, Math.min(pollMs, until - performance.now())), undefined, { signal })
      if ((await running()) < before) return
    }
  }

  async #upload(
    stages: string,
    path: string,
    signal: AbortSignal,
    options: UploadOptions,
  ): Promise<GatewayJob> {
    const form = new FormData()
    form.append('pipeline', stages)
    if ((options.every ?? 1) > 1) form.append('every', String(options.every))
    if ((options.parallel ?? 1) > 1) form.append('parallel', String(options.parallel))
    if (options.verify !== undefined) {
      form.append('verify', String(options.verify.share))
      if (options.verify.strict) form.append('verify_strict', 'true')
    }
    form.append('file', await openAsBlob(path), basename(path))
    // An upload takes as long as it takes: the gateway answers only once it has the whole file.
    const res = await this.#fetch('/v1/jobs', { method: 'POST', body: form }, signal, false)
    return (await res.json()) as GatewayJob
  }

  async job(id: string, signal: AbortSignal): Promise<GatewayJob> {
    const res = await this.#fetch(`/v1/jobs/${id}`, {}, signal)
    return (await res.json()) as GatewayJob
  }

  /** The jobs this client's token started, newest first. */
  async list(signal: AbortSignal): Promise<GatewayJob[]> {
    const res = await this.#fetch('/v1/jobs', {}, signal)
    return ((await res.json()) as { jobs: GatewayJob[] }).jobs
  }

  /** Cancels a running job (resolving with how it ended) or removes a finished one (undefined). */
  async cancel(id: string, signal: AbortSignal): Promise<GatewayJob | undefined> {
    const res = await this.#fetch(`/v1/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' }, signal)
    return res.status === 204 ? undefined : ((await res.json()) as GatewayJob)
  }

  /**
   * The job's events until `done` or `failed`. A dropped or silent stream is reopened, up to
   * maxReconnects times in a row without news; the events already seen are skipped, since the
   * gateway replays a job's whole history to each subscriber.
   */
  async *events(id: string, signal: AbortSignal): AsyncGenerator<GatewayJobEvent> {
    let seen = 0
    for (let failures = 0; ; ) {
      const before = seen
      let why: string
      let unreachable = false
      try {
        let index = 0
        const res = await this.#fetch(`/v1/jobs/${id}/events`, {}, signal)
        for await (const msg of readSse(res.body!, { idleTimeoutMs: this.#idleTimeoutMs, signal })) {
          if (index++ < seen) continue
          seen++
          const event = { event: msg.event, data: JSON.parse(msg.data) } as GatewayJobEvent
          yield event
          if (event.event === 'done' || event.event === 'failed') return
        }
        // Ended without an outcome (a restart, a proxy): the job's state says what happened.
        const job = await this.job(id, signal)
        if (job.status !== 'running') {
          yield { event: job.status, data: job }
          return
        }
        why = 'closed'
      } catch (err) {
        // A gateway that does not answer may be restarting (it keeps its jobs): wait and retry.
        unreachable = err instanceof GatewayError && err.code === 'ERR_GATEWAY_UNREACHABLE'
        if (signal.aborted || (err instanceof GatewayError && !unreachable)) throw err
        why = err instanceof Error ? err.message : String(err)
      }
      failures = seen > before ? 1 : failures + 1
      if (failures > this.#maxReconnects) {
        throw new GatewayError(
          'ERR_GATEWAY_STREAM',
          `the event stream of job ${id} failed ${failures} times in a row (${why}); follow it at ${this.#url}/v1/jobs/${id}`,
        )
      }
      this.#onReconnect?.(why)
      if (unreachable) {
        const wait = Math.min(this.#reconnectDelayMs * 2 ** (failures - 1), 10_000)
        await delay(wait, undefined, { signal })
      }
    }
  }

  /** Streams the job's output to `path` (written beside it, then renamed: never half a file). */
  async download(id: string, path: string, signal: AbortSignal): Promise<number> {
    const res = await this.#fetch(`/v1/jobs/${id}/output`, {}, signal)
    const part = `${path}.part-${process.pid}`
    const file = createWriteStream(part)
    try {
      await pipeline(Readable.fromWeb(res.body! as import('node:stream/web').ReadableStream), file, {
        signal,
      })
      await rename(part, path)
      return file.bytesWritten
    } catch (err) {
      file.destroy()
      await once(file, 'close').catch(() => {})
      await rm(part, { force: true })
      throw err
    }
  }

  /** The output as text (OCR results). */
  async outputText(id: string, signal: AbortSignal): Promise<string> {
    return (await this.#fetch(`/v1/jobs/${id}/output`, {}, signal)).text()
  }

  /**
   * One request. The timeout bounds the wait for the response headers only: a body (an event
   * stream, a video) then flows for as long as the caller's signal allows.
   */
  async #fetch(path: string, init: RequestInit, signal: AbortSignal, timed = true): Promise<Response> {
    signal.throwIfAborted()
    const controller = new AbortController()
    const onAbort = () => controller.abort(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    const timer = timed ? setTimeout(() => controller.abort(), this.#requestTimeoutMs) : undefined
    let res: Response
    try {
      res = await fetch(`${this.#url}${path}`, { ...init, headers: this.#headers, signal: controller.signal })
    } catch (cause) {
      signal.removeEventListener('abort', onAbort)
      signal.throwIfAborted()
      const why = controller.signal.aborted
        ? `no answer within ${this.#requestTimeoutMs} ms`
        : (cause as Error).cause instanceof Error
          ? ((cause as Error).cause as Error).message
          : String(cause)
      throw new GatewayError(
        'ERR_GATEWAY_UNREACHABLE',
        `no gateway answers at ${this.#url} (${why}); start one with \`framemesh gateway\` or fix --gateway`,
        { cause },
      )
    } finally {
      clearTimeout(timer)
    }
    // The listener stays: the caller's signal keeps governing the body.
    if (res.ok) return res
    const retryAfterMs = retryAfter(res.headers.get('retry-after'))
    throw new GatewayError(CODES[res.status] ?? 'ERR_GATEWAY_HTTP', refusal(res.status, await res.text()), {
      details: { status: res.status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
    })
  }
}

/** When the gateway says nothing of when to come back. */
const DEFAULT_RETRY_AFTER_MS = 5000
/** A busy gateway gets the file again at least this often, whether or not a job of ours ended. */
const UPLOAD_AGAIN_AFTER_MS = 30_000

/** A Retry-After of whole seconds (the form the gateway sends) in ms; a date or junk is ignored. */
function retryAfter(header: string | null): number | undefined {
  if (header === null || !/^\d{1,6}$/.test(header.trim())) return undefined
  return Number(header.trim()) * 1000
}

/** The gateway's own words from a Livepeer-shaped error body, plus what to do for the common cases. */
function refusal(status: number, body: string): string {
  let detail = body.trim() || `HTTP ${status}`
  try {
    const parsed = JSON.parse(body) as {
      detail?: { msg?: string } | Array<{ loc?: unknown[]; msg?: string }>
    }
    if (Array.isArray(parsed.detail)) {
      detail = parsed.detail.map((i) => `${(i.loc ?? []).join('.')}: ${i.msg}`).join('; ')
    } else if (typeof parsed.detail?.msg === 'string') {
      detail = parsed.detail.msg
    }
  } catch {
    // Not JSON (a proxy's page): keep the text.
  }
  const hint = status === 401 ? '; pass --token <token> or set FRAMEMESH_GATEWAY_TOKEN' : ''
  return `the gateway answered HTTP ${status}: ${detail}${hint}`
}
