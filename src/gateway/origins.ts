/**
 * What the gateway lets web pages do. Every request it serves spends the operator's deposit, and a
 * browser sends a cross-site form POST without asking (no preflight), so a page on any site could
 * start jobs on a gateway its visitor runs. So: a request a page sends from another origin is
 * refused unless that origin was allowed (`--cors-origin`), and then it gets the CORS headers its
 * browser needs. An open gateway (no tokens) also checks the Host header: a page whose own name
 * was re-pointed at 127.0.0.1 (DNS rebinding) is same-origin to its browser, but names itself in
 * Host.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { HttpError } from './http-error.js'

export interface OriginRules {
  /** Web origins (scheme://host[:port]) whose pages may call the API. */
  allowedOrigins: readonly string[]
  /** Only loopback names may be in Host: an open gateway (no tokens) on a loopback address. */
  loopbackOnly: boolean
}

const LOOPBACK_HOST = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/i

/**
 * Checks the request against the rules; sets CORS headers for an allowed foreign origin. Returns
 * true when the request was a CORS preflight and has been answered.
 */
export function applyOriginRules(req: IncomingMessage, res: ServerResponse, rules: OriginRules): boolean {
  const host = req.headers.host ?? ''
  if (rules.loopbackOnly && !LOOPBACK_HOST.test(host)) {
    throw new HttpError(
      403,
      'ERR_HOST_NOT_ALLOWED',
      `an open gateway (no tokens) answers only to loopback names, not '${host}'; call it as 127.0.0.1 or localhost, or give it --token`,
    )
  }
  const origin = req.headers.origin
  // Same-origin requests (the dashboard) and clients that are not browsers (no Origin) pass.
  if (origin === undefined || origin === `http://${host}` || origin === `https://${host}`) return false
  if (!rules.allowedOrigins.includes(origin)) {
    throw new HttpError(
      403,
      'ERR_ORIGIN_NOT_ALLOWED',
      `requests from web pages of ${origin} are refused; start the gateway with --cors-origin ${origin} to allow them`,
    )
  }
  res.setHeader('access-control-allow-origin', origin)
  res.setHeader('vary', 'Origin')
  if (req.method !== 'OPTIONS') return false
  res.writeHead(204, {
    'access-control-allow-methods': 'GET, POST, DELETE',
    'access-control-allow-headers': 'authorization, content-type, range',
    'access-control-max-age': '600',
  })
  res.end()
  return true
}

/** Whether a bind address is a loopback one. */
export function isLoopbackAddress(address: string): boolean {
  return LOOPBACK_HOST.test(address) || address === '::1'
}
