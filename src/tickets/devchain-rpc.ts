/**
 * The dev chain's JSON-RPC endpoint: a node:http server that answers JSON-RPC 2.0 POSTs, single or
 * batched (ethers batches), by calling ganache's in-process provider.
 *
 * Why not ganache's own server: with no µWS binary for this Node it falls back to an http server
 * that adds a listener to that server for every connection and never removes it, so Node warned
 * (MaxListenersExceededWarning) once eleven connections had been made: in `npm start`, seconds
 * after the mesh came up. This server keeps nothing per connection.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** The part of ganache's provider the endpoint calls (EIP-1193 `request`). */
export interface JsonRpcBackend {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>
}

export interface JsonRpcEndpointOptions {
  host?: string
  /** 0 (default) picks a free port. */
  port?: number
  /** Largest request body taken (default 16 MiB: a contract deployment is a few hundred KiB). */
  maxBodyBytes?: number
}

export interface JsonRpcEndpoint {
  url: string
  /** Stops listening and closes every connection; requests still in the backend finish there. */
  close(): Promise<void>
}

const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024

/** JSON-RPC 2.0 error codes used here. */
const PARSE_ERROR = -32700
const INVALID_REQUEST = -32600
const INTERNAL_ERROR = -32603

type Id = string | number | null

interface RpcError {
  code: number
  message: string
  data?: unknown
}

type Reply = { jsonrpc: '2.0'; id: Id; result: unknown } | { jsonrpc: '2.0'; id: Id; error: RpcError }

export async function serveJsonRpc(
  backend: JsonRpcBackend,
  options: JsonRpcEndpointOptions = {},
): Promise<JsonRpcEndpoint> {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const server = createServer((req, res) => {
    void answer(backend, req, res, maxBodyBytes)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { address, port } = server.address() as AddressInfo
  return {
    url: `http://${address}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

async function answer(
  backend: JsonRpcBackend,
  req: IncomingMessage,
  res: ServerResponse,
  maxBodyBytes: number,
): Promise<void> {
  if (req.method !== 'POST') {
    res
      .writeHead(405, { allow: 'POST', 'content-type': 'text/plain' })
      .end('POST JSON-RPC 2.0 requests here\n')
    return
  }
  const body = await readBody(req, maxBodyBytes)
  if (body === undefined) {
    res.writeHead(413, { 'content-type': 'text/plain' })
    res.end(`request body over ${maxBodyBytes} bytes\n`)
    return
  }
  let payload: unknown
  try {
    payload = JSON.parse(body.toString('utf8'))
  } catch {
    send(res, failure(null, PARSE_ERROR, 'the request body is not JSON'))
    return
  }
  if (Array.isArray(payload)) {
    if (payload.length === 0) send(res, failure(null, INVALID_REQUEST, 'an empty batch'))
    else send(res, await Promise.all(payload.map((call) => callOne(backend, call))))
  } else send(res, await callOne(backend, payload))
}

/** The body, or undefined when it is over `limit` bytes (the rest is read and dropped, so the answer still reaches the caller). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size <= limit) chunks.push(chunk as Buffer)
  }
  return size > limit ? undefined : Buffer.concat(chunks)
}

async function callOne(backend: JsonRpcBackend, call: unknown): Promise<Reply> {
  if (call === null || typeof call !== 'object')
    return failure(null, INVALID_REQUEST, 'a call must be an object')
  const { id = null, method, params } = call as { id?: Id; method?: unknown; params?: unknown }
  if (typeof method !== 'string') return failure(id, INVALID_REQUEST, 'a call needs a string method')
  if (params !== undefined && !Array.isArray(params))
    return failure(id, INVALID_REQUEST, 'params must be an array (by-position)')
  try {
    const result = await backend.request({ method, params: params ?? [] })
    return { jsonrpc: '2.0', id, result: result ?? null }
  } catch (err) {
    // ganache's errors carry a JSON-RPC code, and revert data in `data`, which ethers decodes.
    const { code, message, data } = err as { code?: unknown; message?: unknown; data?: unknown }
    return {
      jsonrpc: '2.0',
      id,
      error: {
        code: typeof code === 'number' ? code : INTERNAL_ERROR,
        message: typeof message === 'string' ? message : String(err),
        ...(data === undefined ? {} : { data }),
      },
    }
  }
}

function failure(id: Id, code: number, message: string): Reply {
  return { jsonrpc: '2.0', id, error: { code, message } }
}

function send(res: ServerResponse, reply: Reply | Reply[]): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply))
}
