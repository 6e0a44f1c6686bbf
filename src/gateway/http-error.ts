/**
 * Errors in the exact shapes Livepeer's AI gateway clients accept: `{"detail":{"msg"}}` for most
 * statuses and a list of `{loc, msg, type}` for 422. Anything else makes those clients throw.
 */
import type { ServerResponse } from 'node:http'
import { FramemeshError } from '../errors.js'

export interface ValidationIssue {
  loc: (string | number)[]
  msg: string
  type: string
}

export class HttpError extends FramemeshError {
  readonly status: number
  readonly issues?: ValidationIssue[]

  constructor(
    status: number,
    code: string,
    message: string,
    options?: { issues?: ValidationIssue[]; cause?: unknown },
  ) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.status = status
    this.issues = options?.issues
  }
}

export const badRequest = (msg: string) => new HttpError(400, 'ERR_BAD_REQUEST', msg)
export const unauthorized = (msg: string) => new HttpError(401, 'ERR_UNAUTHORIZED', msg)
export const notFound = (msg: string) => new HttpError(404, 'ERR_NOT_FOUND', msg)
export const tooLarge = (msg: string) => new HttpError(413, 'ERR_UPLOAD_TOO_LARGE', msg)
export const unsupportedMedia = (msg: string) => new HttpError(415, 'ERR_UNSUPPORTED_MEDIA', msg)
export const tooManyRequests = (msg: string) => new HttpError(429, 'ERR_TOO_MANY_REQUESTS', msg)
export const noPeer = (msg: string) => new HttpError(503, 'ERR_NO_PEER', msg)

export function validationError(issues: ValidationIssue[]): HttpError {
  return new HttpError(422, 'ERR_VALIDATION', issues.map((i) => `${i.loc.join('.')}: ${i.msg}`).join('; '), {
    issues,
  })
}

/**
 * Statuses for the mesh's own failures. 503: nobody could do the work just now, or the gateway
 * cannot pay (its chain is away, its deposit too small or unlocking, it is stopping): retry later, as a Livepeer
 * client does. 413: a frame too large for any job message.
 */
const STATUS_OF_CODE: Record<string, number> = {
  ERR_NO_OFFERS: 503,
  ERR_SENDER_INFO: 503,
  ERR_SENDER_FUNDS: 503,
  ERR_PARAMS_FACE_TOO_HIGH: 503,
  ERR_SENDER_UNLOCKING: 503,
  ERR_SHUTTING_DOWN: 503,
  ERR_FRAME_TOO_LARGE: 413,
  ERR_ITEM_TOO_LARGE: 413,
}

/** Maps any thrown value to a status and the body clients expect; unknown errors become 500. */
export function errorBody(err: unknown): { status: number; body: unknown } {
  if (err instanceof HttpError) {
    if (err.status === 422 && err.issues !== undefined) return { status: 422, body: { detail: err.issues } }
    return { status: err.status, body: { detail: { msg: err.message } } }
  }
  const message = err instanceof Error ? err.message : String(err)
  const code = err instanceof FramemeshError ? err.code : undefined
  const status = (code === undefined ? undefined : STATUS_OF_CODE[code]) ?? 500
  return { status, body: { detail: { msg: code === undefined ? message : `${message} (${code})` } } }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const { status, body } = errorBody(err)
  // "Try again later" answers say when, for clients that honour it (and HTTP retry policies).
  if (status === 429 || status === 503) res.setHeader('retry-after', String(RETRY_AFTER_S))
  sendJson(res, status, body)
}

/** Seconds a 429 or 503 asks the client to wait: a job slot or an orchestrator may free by then. */
const RETRY_AFTER_S = 5
