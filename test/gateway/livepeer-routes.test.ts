import { mkdtemp, readdir } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Livepeer } from '@livepeer/ai'
import test from 'ava'
import { meshForGateway } from '../../src/gateway/mesh-adapter.js'
import { createGateway, type Gateway } from '../../src/gateway/server.js'
import { decodeImage } from '../../src/inference/media/image.js'
import { renderPng, textLine } from '../inference/ocr-fixtures.js'
import { errorMessage, form, type GatewayWorld, pngOf, startGatewayWorld, testFrame } from './fixtures.js'

let world: GatewayWorld
let dataDir: string
/** The same mesh behind a gateway with a token, as a Livepeer client is configured for. */
let gated: Gateway
const gatedUrl = () => gated.url

test.before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'fm-gateway-test-'))
  world = await startGatewayWorld({ dataDir, maxUploadBytes: 256 * 1024 })
  gated = await createGateway(
    { mesh: meshForGateway(world.local.broadcaster.mesh) },
    { tokens: ['s3cret'], dataDir: join(dataDir, 'sdk') },
  )
})
test.after.always(async () => {
  await gated?.close()
  await world?.stop()
})

const post = (path: string, body: FormData | string, headers: Record<string, string> = {}) =>
  fetch(`${world.gateway.url}${path}`, { method: 'POST', body, headers })

test.serial(
  'POST /upscale answers 200 with one data-URL image twice the size, equal to local inference',
  async (t) => {
    const frame = testFrame(40, 24, 1)
    const res = await post(
      '/upscale',
      form({ image: await pngOf(frame), prompt: '', model_id: '', seed: '42' }),
    )
    t.is(res.status, 200)
    t.is(res.headers.get('content-type'), 'application/json')
    const body = (await res.json()) as { images: Array<{ url: string; seed: number; nsfw: boolean }> }
    t.is(body.images.length, 1)
    const [image] = body.images
    t.is(image.seed, 42)
    t.is(image.nsfw, false)
    t.true(image.url.startsWith('data:image/png;base64,'))
    const out = await decodeImage(Buffer.from(image.url.split(',')[1], 'base64'))
    t.is(out.width, 80)
    t.is(out.height, 48)
    const local = await world.local.orchestrators[0].engine.upscale('esrgan-slim-x2', frame)
    t.deepEqual(Buffer.from(out.data), Buffer.from(local.data))
  },
)

test.serial('POST /image-to-text answers 200 with {text} read by OCR on a mesh peer', async (t) => {
  const png = await renderPng(textLine('FRAMEMESH 2026', 20, 60, 36), 360, 100)
  const res = await post(
    '/image-to-text',
    form({ image: new Blob([new Uint8Array(png)], { type: 'image/png' }), prompt: '' }),
  )
  t.is(res.status, 200)
  const body = (await res.json()) as { text: string }
  t.deepEqual(Object.keys(body), ['text'])
  t.is(body.text, 'FRAMEMESH 2026')
})

test.serial('the task route works under any prefix the client server URL carries', async (t) => {
  const res = await post('/api/v1/upscale', form({ image: await pngOf(testFrame(16, 16)), prompt: 'x' }))
  t.is(res.status, 200)
})

test.serial('a missing image or prompt is a 422 with a list of {loc, msg, type}', async (t) => {
  const res = await post('/upscale', form({ model_id: '' }))
  t.is(res.status, 422)
  const body = (await res.json()) as { detail: Array<{ loc: string[]; msg: string; type: string }> }
  t.deepEqual(
    body.detail.map((d) => d.loc.join('.')),
    ['body.image', 'body.prompt'],
  )
  for (const d of body.detail) t.is(d.type, 'missing')
})

test.serial('a seed that is not an integer is a 422 naming the seed', async (t) => {
  const res = await post('/upscale', form({ image: await pngOf(testFrame(8, 8)), prompt: '', seed: 'abc' }))
  t.is(res.status, 422)
  const body = (await res.json()) as { detail: Array<{ loc: string[] }> }
  t.deepEqual(body.detail[0].loc, ['body', 'seed'])
})

test.serial(
  'an upload that claims to be PNG but is not an image is a 415 in the Livepeer error shape',
  async (t) => {
    const fake = new Blob([Buffer.from('this is plain text pretending to be a png file')], {
      type: 'image/png',
    })
    const res = await post('/upscale', form({ image: fake, prompt: '' }))
    t.is(res.status, 415)
    const body = (await res.json()) as { detail: { msg: string } }
    t.regex(body.detail.msg, /not a PNG, JPEG or WebP image/)
  },
)

test.serial('an upload over the size limit is a 413 and leaves no file behind', async (t) => {
  const big = testFrame(400, 400, 3) // raw RGB in a PNG container: well over 256 KiB
  const res = await post('/upscale', form({ image: await pngOf(big), prompt: '' }))
  t.is(res.status, 413)
  const body = (await res.json()) as { detail: { msg: string } }
  t.regex(body.detail.msg, /larger than/)
  t.deepEqual(await readdir(join(dataDir, 'uploads')), [])
})

test.serial(
  'a task no peer serves is a 503 saying so, whatever its body (text-to-image sends JSON)',
  async (t) => {
    for (const body of [form({ prompt: 'a cat' }), JSON.stringify({ prompt: 'a cat' })]) {
      const res = await post('/text-to-image', body, {
        ...(typeof body === 'string' ? { 'content-type': 'application/json' } : {}),
      })
      t.is(res.status, 503)
      t.is(res.headers.get('retry-after'), '5')
      const json = (await res.json()) as { detail: { msg: string } }
      t.regex(json.detail.msg, /no peer .* serves the 'text-to-image' task/)
    }
  },
)

test.serial(
  'the official Livepeer AI SDK (@livepeer/ai) works against the gateway with only its serverURL changed',
  async (t) => {
    const livepeer = new Livepeer({ httpBearer: 's3cret', serverURL: gatedUrl() })
    const frame = testFrame(24, 16, 4)
    const up = await livepeer.generate.upscale({ image: await pngOf(frame), prompt: '', modelId: '' })
    t.is(up.statusCode, 200)
    const [image] = up.imageResponse!.images
    const out = await decodeImage(Buffer.from(image!.url.split(',')[1]!, 'base64'))
    t.like(out, { width: 48, height: 32 })
    t.deepEqual(
      Buffer.from(out.data),
      Buffer.from((await world.local.orchestrators[0]!.engine.upscale('esrgan-slim-x2', frame)).data),
    )
    const png = await renderPng(textLine('LIVEPEER SDK', 20, 60, 36), 360, 100)
    const read = await livepeer.generate.imageToText({
      image: new Blob([new Uint8Array(png)], { type: 'image/png' }),
      prompt: '',
    })
    t.is(read.imageToTextResponse?.text, 'LIVEPEER SDK')
    // A task nobody serves reaches the SDK as the API's error with its status and message.
    const err = await t.throwsAsync(livepeer.generate.textToImage({ prompt: 'a cat' }))
    t.is((err as { statusCode?: number }).statusCode, 503)
    t.regex(err!.message, /no peer in this mesh serves the 'text-to-image' task/)
    // A wrong token: the 401's body parses as the SDK's own HTTPError, {detail: {msg}}.
    const stranger = new Livepeer({ httpBearer: 'nope', serverURL: gatedUrl() })
    const refused = await t.throwsAsync(stranger.generate.upscale({ image: await pngOf(frame), prompt: '' }))
    t.is(refused!.name, 'HTTPError')
    t.regex((refused as unknown as { detail: { msg: string } }).detail.msg, /invalid bearer token/)
  },
)

test.serial('a model no peer serves is a 503 naming the model', async (t) => {
  const res = await post(
    '/upscale',
    form({ image: await pngOf(testFrame(8, 8)), prompt: '', model_id: 'sd-turbo' }),
  )
  t.is(res.status, 503)
  const body = (await res.json()) as { detail: { msg: string } }
  t.regex(body.detail.msg, /sd-turbo/)
})

test.serial('a body that is not multipart is a 415, a broken multipart body a 400', async (t) => {
  const json = await fetch(`${world.gateway.url}/upscale`, {
    method: 'POST',
    body: '{"prompt":""}',
    headers: { 'content-type': 'application/json' },
  })
  t.is(json.status, 415)
  const broken = await fetch(`${world.gateway.url}/upscale`, {
    method: 'POST',
    body: '--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n\x89PNG',
    headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
  })
  t.is(broken.status, 400)
  t.truthy(await errorMessage(broken))
})

test.serial(
  'a client that disconnects mid-upload leaves nothing half-written and the gateway keeps serving',
  async (t) => {
    const url = new URL(`${world.gateway.url}/upscale`)
    await new Promise<void>((resolve) => {
      const req = request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'multipart/form-data; boundary=b', 'content-length': '100000' },
      })
      req.on('error', () => resolve())
      req.write(
        '--b\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\nContent-Type: image/png\r\n\r\n',
      )
      req.write(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array(5000).fill(1)]))
      setTimeout(() => {
        req.destroy()
        resolve()
      }, 100)
    })
    const deadline = Date.now() + 5000
    while ((await readdir(join(dataDir, 'uploads'))).length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50))
    }
    t.deepEqual(await readdir(join(dataDir, 'uploads')), [])
    const res = await post('/upscale', form({ image: await pngOf(testFrame(8, 8)), prompt: '' }))
    t.is(res.status, 200)
  },
)

test.serial(
  'an upload that stops arriving is given up with a 408 and leaves nothing behind; a slow but steady one is never cut',
  async (t) => {
    const slowDir = join(dataDir, 'slow')
    const gateway = await world.another(t, { dataDir: slowDir, uploadIdleTimeoutMs: 400 })
    const url = new URL(`${gateway.url}/upscale`)
    const body = Buffer.from(
      await await new Response(form({ image: await pngOf(testFrame(8, 8)), prompt: '' })).arrayBuffer(),
    )
    const boundary = /^--([^\r]+)/.exec(body.toString('latin1'))![1]!
    /** Sends the body in `pieces`, `gapMs` apart, stopping after `stopAfter` of them; resolves with the answer. */
    const upload = (pieces: number, gapMs: number, stopAfter = pieces) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'content-length': String(body.length),
          },
        })
        req.on('error', reject)
        req.on('response', (res) => {
          let text = ''
          res.on('data', (c) => (text += c))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
        })
        const size = Math.ceil(body.length / pieces)
        let sent = 0
        const next = () => {
          if (sent >= stopAfter) return
          req.write(body.subarray(sent * size, (sent + 1) * size))
          sent++
          if (sent === pieces) req.end()
          else setTimeout(next, gapMs)
        }
        next()
      })
    // 10 pieces 150 ms apart: 1.35 s in all, past the idle limit, but never idle that long.
    const steady = await upload(10, 150)
    t.is(steady.status, 200, steady.body)
    // Half the body, then silence.
    const stalled = await upload(10, 20, 5)
    t.is(stalled.status, 408)
    t.regex(stalled.body, /no bytes of the upload arrived for 0.4 s; it was given up, send it again/)
    t.deepEqual(await readdir(join(slowDir, 'uploads')), [])
  },
)

test.serial(
  'a web page of another site cannot spend the deposit: its requests are 403 unless its origin was allowed, which then gets CORS',
  async (t) => {
    const upscale = async (base: string, headers: Record<string, string>) =>
      fetch(`${base}/upscale`, {
        method: 'POST',
        body: form({ image: await pngOf(testFrame(8, 8)), prompt: '' }),
        headers,
      })
    const before = (await readdir(join(dataDir, 'uploads'))).length
    const evil = await upscale(world.gateway.url, { origin: 'http://evil.example' })
    t.is(evil.status, 403)
    t.regex(await errorMessage(evil), /--cors-origin http:\/\/evil\.example/)
    t.is((await readdir(join(dataDir, 'uploads'))).length, before, 'nothing was uploaded')
    // The gateway's own pages (the dashboard) are same-origin.
    const own = await upscale(world.gateway.url, { origin: world.gateway.url })
    t.is(own.status, 200)

    const app = 'https://app.example'
    const cors = await world.another(t, { dataDir: join(dataDir, 'cors'), corsOrigins: [app] })
    const preflight = await fetch(`${cors.url}/upscale`, {
      method: 'OPTIONS',
      headers: { origin: app, 'access-control-request-method': 'POST' },
    })
    t.is(preflight.status, 204)
    t.is(preflight.headers.get('access-control-allow-origin'), app)
    t.regex(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/)
    const allowed = await upscale(cors.url, { origin: app })
    t.is(allowed.status, 200)
    t.is(allowed.headers.get('access-control-allow-origin'), app)
    t.is((await upscale(cors.url, { origin: 'http://evil.example' })).status, 403)
  },
)

test.serial(
  'an open gateway answers only to loopback names in Host (a re-pointed name is refused); one with tokens to any',
  async (t) => {
    const url = new URL(world.gateway.url)
    const ask = (base: URL, host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          { host: base.hostname, port: base.port, path: '/v1/jobs', headers: { host } },
          (res) => {
            res.resume()
            resolve(res.statusCode ?? 0)
          },
        )
        req.on('error', reject)
        req.end()
      })
    t.is(await ask(url, `evil.example:${url.port}`), 403)
    t.is(await ask(url, `localhost:${url.port}`), 200)
    t.is(await ask(url, `127.0.0.1:${url.port}`), 200)
    // With tokens the token guards it, whatever name it is called by.
    const gatedUrl = new URL(gated.url)
    t.is(await ask(gatedUrl, `gateway.example:${gatedUrl.port}`), 401)
  },
)

test.serial('unknown routes are 404 and wrong methods 405, both in the error shape', async (t) => {
  const missing = await fetch(`${world.gateway.url}/v1/nothing-here`)
  t.is(missing.status, 404)
  t.truthy(await errorMessage(missing))
  const wrong = await fetch(`${world.gateway.url}/upscale`)
  t.is(wrong.status, 405)
})

test.serial(
  'GET /healthz, /openapi.json and /v1/offers describe the gateway and the live order book',
  async (t) => {
    const health = (await (await fetch(`${world.gateway.url}/healthz`)).json()) as {
      status: string
      offers: number
    }
    t.is(health.status, 'ok')
    t.true(health.offers > 0)
    const api = (await (await fetch(`${world.gateway.url}/openapi.json`)).json()) as {
      paths: Record<string, unknown>
    }
    for (const path of [
      '/upscale',
      '/image-to-text',
      '/v1/jobs',
      '/v1/jobs/{id}/events',
      '/v1/offers',
      '/healthz',
    ]) {
      t.truthy(api.paths[path], path)
    }
    const { offers } = (await (await fetch(`${world.gateway.url}/v1/offers`)).json()) as {
      offers: Array<{ peerId: string; pricePerUnit: string }>
    }
    t.is(new Set(offers.map((o) => o.peerId)).size, 3)
    t.is(typeof offers[0].pricePerUnit, 'string')
  },
)

test.serial('with tokens configured: no or a wrong bearer token is a 401, the right one works', async (t) => {
  const gated = await world.another(t, { tokens: ['s3cret'], dataDir: join(dataDir, 'gated') })
  const body = async () => form({ image: await pngOf(testFrame(8, 8)), prompt: '' })
  const none = await fetch(`${gated.url}/upscale`, { method: 'POST', body: await body() })
  t.is(none.status, 401)
  t.regex(await errorMessage(none), /Authorization/)
  const wrong = await fetch(`${gated.url}/upscale`, {
    method: 'POST',
    body: await body(),
    headers: { authorization: 'Bearer nope' },
  })
  t.is(wrong.status, 401)
  const right = await fetch(`${gated.url}/upscale`, {
    method: 'POST',
    body: await body(),
    headers: { authorization: 'Bearer s3cret' },
  })
  t.is(right.status, 200)
  const offers = await fetch(`${gated.url}/v1/offers`)
  t.is(offers.status, 401)
})

test.serial(
  'a token over its concurrency limit gets a 429 while its first request is still running',
  async (t) => {
    const gated = await world.another(t, {
      tokens: ['one'],
      maxConcurrentPerToken: 1,
      dataDir: join(dataDir, 'limited'),
    })
    const url = new URL(`${gated.url}/upscale`)
    // The first request holds its slot: its upload never finishes.
    const held = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: {
        authorization: 'Bearer one',
        'content-type': 'multipart/form-data; boundary=b',
        'content-length': '100000',
      },
    })
    held.on('error', () => {})
    held.write('--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n')
    t.teardown(() => held.destroy())
    const deadline = Date.now() + 5000
    let status = 0
    while (Date.now() < deadline) {
      const res = await fetch(`${gated.url}/upscale`, {
        method: 'POST',
        body: form({ image: await pngOf(testFrame(8, 8)), prompt: '' }),
        headers: { authorization: 'Bearer one' },
      })
      status = res.status
      if (status === 429) {
        t.is(res.headers.get('retry-after'), '5')
        t.regex(await errorMessage(res), /at most 1/)
        break
      }
    }
    t.is(status, 429)
  },
)
