// The dev chain's JSON-RPC endpoint over HTTP: what a client sends, right or wrong, and what it
// gets back, on a real in-process ganache chain.
import { Agent, request } from 'node:http'
import anyTest, { type TestFn } from 'ava'
import { type DevChain, startDevChain } from '../../src/tickets/devchain.js'

const test = anyTest.serial as TestFn<{ chain: DevChain }>

test.before(async (t) => {
  t.context.chain = await startDevChain({ accounts: 2 })
})
test.after.always((t) => t.context.chain?.stop())

/** POSTs `body` (a string, sent as is) and returns the status and the parsed or raw answer. */
async function post(
  url: string,
  body: string,
  options: { method?: string; agent?: Agent } = {},
): Promise<{ status: number; json?: unknown; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'POST',
        headers: { 'content-type': 'application/json' },
        ...(options.agent === undefined ? {} : { agent: options.agent }),
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let json: unknown
          try {
            json = JSON.parse(text)
          } catch {}
          resolve({ status: res.statusCode ?? 0, json, text })
        })
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

test('a call gets its result under its own id', async (t) => {
  const { status, json } = await post(
    t.context.chain.rpcUrl,
    JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'eth_chainId', params: [] }),
  )
  t.is(status, 200)
  t.deepEqual(json, { jsonrpc: '2.0', id: 7, result: `0x${t.context.chain.chainId.toString(16)}` })
})

test('a batch is answered in order, each call with its own result or error', async (t) => {
  const { json } = await post(
    t.context.chain.rpcUrl,
    JSON.stringify([
      { jsonrpc: '2.0', id: 'a', method: 'eth_chainId' },
      { jsonrpc: '2.0', id: 'b', method: 'eth_noSuchMethod', params: [] },
      { jsonrpc: '2.0', id: 'c', method: 'eth_blockNumber', params: [] },
    ]),
  )
  const replies = json as Array<{ id: string; result?: string; error?: { code: number; message: string } }>
  t.deepEqual(
    replies.map((r) => r.id),
    ['a', 'b', 'c'],
  )
  t.is(replies[0]!.result, `0x${t.context.chain.chainId.toString(16)}`)
  t.is(typeof replies[1]!.error?.code, 'number')
  t.regex(replies[1]!.error!.message, /eth_noSuchMethod/)
  t.regex(replies[2]!.result!, /^0x[0-9a-f]+$/)
})

test('a call that reverts returns the revert data for the client to decode', async (t) => {
  const { chain } = t.context
  // claimRound() with nothing to claim reverts; any call to the broker with junk calldata does too.
  const { json } = await post(
    chain.rpcUrl,
    JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'eth_call',
      params: [{ to: chain.contractAddress, data: '0xdeadbeef' }, 'latest'],
    }),
  )
  const reply = json as { error?: { code: number; message: string; data?: unknown } }
  t.truthy(reply.error, JSON.stringify(json))
  t.is(typeof reply.error!.code, 'number')
  t.regex(reply.error!.message, /revert/i)
  t.true('data' in reply.error!, 'the revert data travels in error.data')
})

test('bad requests get JSON-RPC errors and the endpoint keeps serving', async (t) => {
  const url = t.context.chain.rpcUrl
  const notJson = await post(url, '{"jsonrpc": "2.0", "id": 1, "meth')
  t.is(notJson.status, 200)
  t.like(notJson.json as object, { id: null, error: { code: -32700 } })
  t.like((await post(url, '[]')).json as object, { id: null, error: { code: -32600 } })
  t.like((await post(url, JSON.stringify({ id: 4, params: [] }))).json as object, {
    id: 4,
    error: { code: -32600, message: 'a call needs a string method' },
  })
  t.like(
    (await post(url, JSON.stringify({ id: 5, method: 'eth_chainId', params: { a: 1 } }))).json as object,
    {
      id: 5,
      error: { code: -32600 },
    },
  )
  const batch = (await post(url, JSON.stringify([42, { id: 6, method: 'eth_chainId' }]))).json as unknown[]
  t.like(batch[0] as object, { id: null, error: { code: -32600 } })
  t.like(batch[1] as object, { id: 6, result: `0x${t.context.chain.chainId.toString(16)}` })
  const get = await post(url, '', { method: 'GET' })
  t.is(get.status, 405)
  // Still serving.
  t.like((await post(url, JSON.stringify({ id: 8, method: 'eth_chainId' }))).json as object, { id: 8 })
})

test('a body over the limit is refused with 413 and the endpoint keeps serving', async (t) => {
  // Room for the broker's deployment (a few tens of KiB), not for the call below.
  const chain = await startDevChain({ accounts: 1, maxRequestBytes: 64 * 1024 })
  t.teardown(() => chain.stop())
  const big = await post(
    chain.rpcUrl,
    JSON.stringify({ id: 1, method: 'eth_chainId', params: ['x'.repeat(128 * 1024)] }),
  )
  t.is(big.status, 413)
  t.regex(big.text, /over 65536 bytes/)
  t.like((await post(chain.rpcUrl, JSON.stringify({ id: 2, method: 'eth_chainId' }))).json as object, {
    id: 2,
    result: `0x${chain.chainId.toString(16)}`,
  })
})

test('many connections over the chain’s life leave nothing behind: Node prints no listener-leak warning', async (t) => {
  // ganache's own fallback server added a listener per connection and Node warned past ten.
  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`)
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))
  const agent = new Agent({ keepAlive: false })
  t.teardown(() => agent.destroy())
  const replies = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      post(t.context.chain.rpcUrl, JSON.stringify({ id: i, method: 'eth_blockNumber' }), { agent }),
    ),
  )
  t.true(replies.every((r) => r.status === 200))
  // Warnings are emitted on the next tick.
  await new Promise((resolve) => setImmediate(resolve))
  t.deepEqual(
    warnings.filter((w) => w.includes('MaxListenersExceeded')),
    [],
  )
})
