import { cp, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { meshForGateway } from '../../src/gateway/mesh-adapter.js'
import { createGateway, type Gateway } from '../../src/gateway/server.js'
import { decodeImage } from '../../src/inference/media/image.js'
import { generateTestClip } from '../../src/inference/media/test-clip.js'
import { probeVideo, writeVideo } from '../../src/inference/media/video.js'
import { renderFrame, renderPng, textLine } from '../inference/ocr-fixtures.js'
import {
  errorMessage,
  form,
  type GatewayWorld,
  pngOf,
  readEvents,
  startGatewayWorld,
  testFrame,
} from './fixtures.js'

let world: GatewayWorld
let scratch: string

test.before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'fm-gateway-jobs-'))
  world = await startGatewayWorld({ dataDir: join(scratch, 'gateway') })
})
test.after.always(async () => {
  await world?.stop()
})

interface JobJson {
  id: string
  status: string
  framesDone: number
  peers: string[]
  paidWei: string
  error?: string
  output?: { kind: string; contentType: string }
}

async function startJob(file: Blob, pipeline: string): Promise<Response> {
  return fetch(`${world.gateway.url}/v1/jobs`, { method: 'POST', body: form({ file, pipeline }) })
}

/** A 1 s, 10 fps 48×32 clip with audio sent as a `pipeline` job, followed to its end. */
async function videoJob(t: ExecutionContext, name: string, pipeline: string) {
  const clip = join(scratch, `${name}.mp4`)
  await generateTestClip(clip, { width: 48, height: 32, fps: { num: 10, den: 1 }, seconds: 1, audio: true })
  const source = await probeVideo(clip, { countFrames: true })
  const res = await startJob(new Blob([await readFile(clip)], { type: 'video/mp4' }), pipeline)
  t.is(res.status, 202)
  const job = (await res.json()) as JobJson
  t.is(job.status, 'running', job.error)
  const events = await readEvents(
    `${world.gateway.url}/v1/jobs/${job.id}/events`,
    (e) => e === 'done' || e === 'failed',
    AbortSignal.timeout(60_000),
  )
  return { source, job, events }
}

test.serial(
  'a video job streams progress, peer and payment events, then its output keeps size ×2, frame count, rate and audio',
  async (t) => {
    const { source, job, events } = await videoJob(t, 'clip', 'upscale')
    const names = events.map((e) => e.event)
    t.is(names.at(-1), 'done', JSON.stringify(events.at(-1)))
    t.true(names.includes('peer'))
    t.true(names.includes('payment'))
    const progress = events
      .filter((e) => e.event === 'progress')
      .map((e) => (e.data as { framesDone: number }).framesDone)
    t.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
    )
    t.is(progress.at(-1), source.frameCount)

    const done = (await (await fetch(`${world.gateway.url}/v1/jobs/${job.id}`)).json()) as JobJson
    t.is(done.status, 'done')
    t.true(BigInt(done.paidWei) > 0n)
    t.true(done.peers.length >= 1)
    const output = await fetch(`${world.gateway.url}/v1/jobs/${job.id}/output`)
    t.is(output.status, 200)
    t.is(output.headers.get('content-type'), 'video/mp4')
    t.is(output.headers.get('accept-ranges'), 'bytes')
    const whole = Buffer.from(await output.arrayBuffer())
    const outPath = join(scratch, 'out.mp4')
    await writeFile(outPath, whole)
    // A player seeks with byte ranges: 206 with the bytes asked, 416 past the end.
    const ranged = async (range: string) =>
      fetch(`${world.gateway.url}/v1/jobs/${job.id}/output`, { headers: { range } })
    const head = await ranged('bytes=0-99')
    t.is(head.status, 206)
    t.is(head.headers.get('content-range'), `bytes 0-99/${whole.length}`)
    t.deepEqual(Buffer.from(await head.arrayBuffer()), whole.subarray(0, 100))
    const tail = await ranged('bytes=-10')
    t.deepEqual(Buffer.from(await tail.arrayBuffer()), whole.subarray(whole.length - 10))
    const past = await ranged(`bytes=${whole.length}-`)
    t.is(past.status, 416)
    t.is(past.headers.get('content-range'), `bytes */${whole.length}`)
    const result = await probeVideo(outPath, { countFrames: true })
    t.is(result.width, 96)
    t.is(result.height, 64)
    t.is(result.frameCount, source.frameCount)
    t.deepEqual(result.fps, source.fps)
    t.true(result.hasAudio)
  },
)

test.serial(
  'an interpolate job gives the video at twice the frame rate: each frame, then the one between it and the next, audio kept; an image is a 400',
  async (t) => {
    const { source, job, events } = await videoJob(t, 'interpolate-me', 'interpolate')
    const { id } = job
    t.is(events.at(-1)?.event, 'done', JSON.stringify(events.at(-1)))
    const last = events.filter((e) => e.event === 'progress').at(-1)?.data
    t.deepEqual(last, { framesDone: 2 * source.frameCount!, framesTotal: 2 * source.frameCount! })
    const outPath = join(scratch, 'interpolated.mp4')
    await writeFile(
      outPath,
      Buffer.from(await (await fetch(`${world.gateway.url}/v1/jobs/${id}/output`)).arrayBuffer()),
    )
    const result = await probeVideo(outPath, { countFrames: true })
    t.like(result, { width: 48, height: 32, frameCount: 2 * source.frameCount!, fps: { num: 20, den: 1 } })
    t.true(result.hasAudio)
    // As long as the input: the last frame is shown twice.
    t.true(
      Math.abs(result.durationSeconds! - source.durationSeconds!) < 0.15,
      `${result.durationSeconds} s vs ${source.durationSeconds} s`,
    )

    const image = await startJob(await pngOf(testFrame(16, 12, 1)), 'interpolate')
    t.is(image.status, 400)
    t.regex(await errorMessage(image), /interpolate needs a video/)
  },
)

test.serial('an image job gives a PNG twice the size and lists the jobs', async (t) => {
  const res = await startJob(await pngOf(testFrame(20, 12, 5)), 'upscale')
  t.is(res.status, 202)
  const { id } = (await res.json()) as JobJson
  const view = await world.gateway.jobs.settled(id)
  t.is(view?.status, 'done', view?.error)
  const output = await fetch(`${world.gateway.url}/v1/jobs/${id}/output`)
  t.is(output.headers.get('content-type'), 'image/png')
  const frame = await decodeImage(new Uint8Array(await output.arrayBuffer()))
  t.is(frame.width, 40)
  t.is(frame.height, 24)
  const input = await fetch(`${world.gateway.url}/v1/jobs/${id}/input`)
  t.is(input.headers.get('content-type'), 'image/png')
  const { jobs } = (await (await fetch(`${world.gateway.url}/v1/jobs`)).json()) as { jobs: JobJson[] }
  t.true(jobs.some((j) => j.id === id))
})

test.serial(
  'an image sent through the mesh in windows reports its windows as progress before the frame is done',
  async (t) => {
    // 1000×720 is past what one job message carries at ×4, so the mesh cuts it into six windows.
    const res = await startJob(await pngOf(testFrame(1000, 720, 3)), 'upscale')
    t.is(res.status, 202)
    const { id } = (await res.json()) as JobJson
    const events = await readEvents(
      `${world.gateway.url}/v1/jobs/${id}/events`,
      (e) => e === 'done' || e === 'failed',
      AbortSignal.timeout(60_000),
    )
    t.is(events.at(-1)?.event, 'done', JSON.stringify(events.at(-1)))
    const progress = events
      .filter((e) => e.event === 'progress')
      .map((e) => e.data as { framesDone: number; windows?: { done: number; of: number } })
    t.deepEqual(
      progress.map((p) =>
        p.windows === undefined ? `${p.framesDone}` : `${p.framesDone}+${p.windows.done}/${p.windows.of}`,
      ),
      ['0+1/6', '0+2/6', '0+3/6', '0+4/6', '0+5/6', '1'],
    )
    const view = (await (await fetch(`${world.gateway.url}/v1/jobs/${id}`)).json()) as JobJson & {
      windows?: unknown
    }
    t.like(view, { framesDone: 1, status: 'done' })
    t.false('windows' in view, 'a finished job has no frame under way')
  },
)

test.serial('a chain upscale,ocr runs both stages on mesh peers and gives the text as JSON', async (t) => {
  const png = await renderPng(textLine('FRAMEMESH 2026', 10, 40, 24), 240, 64)
  const res = await startJob(new Blob([new Uint8Array(png)], { type: 'image/png' }), 'upscale,ocr')
  t.is(res.status, 202)
  const { id } = (await res.json()) as JobJson
  const view = await world.gateway.jobs.settled(id)
  t.is(view?.status, 'done', view?.error)
  t.deepEqual(view?.stages, ['upscale', 'ocr'])
  t.is(view?.text, 'FRAMEMESH 2026')
  const output = await fetch(`${world.gateway.url}/v1/jobs/${id}/output`)
  t.is(output.headers.get('content-type'), 'application/json')
  const body = (await output.json()) as {
    text: string
    frames: Array<{ index: number; time?: number; lines: Array<{ text: string; box: number[][] }> }>
  }
  t.is(body.text, 'FRAMEMESH 2026')
  t.like(body.frames, [{ index: 0, lines: [{ text: 'FRAMEMESH 2026' }] }])
  t.false('time' in body.frames[0]!, 'an image has no time')
})

test.serial(
  'OCR of a video gives each frame’s lines with its index and time, as framemesh run ocr does',
  async (t) => {
    const frames = await Promise.all(
      [0, 1, 2].map((i) => renderFrame(textLine(`CAPTION ${i}`, 10, 40, 24), 240, 64)),
    )
    const clip = join(scratch, 'captions.mp4')
    await writeVideo(clip, frames, { fps: { num: 4, den: 1 } })
    const res = await startJob(new Blob([await readFile(clip)], { type: 'video/mp4' }), 'ocr')
    t.is(res.status, 202)
    const { id } = (await res.json()) as JobJson
    const view = await world.gateway.jobs.settled(id)
    t.is(view?.status, 'done', view?.error)
    const body = (await (await fetch(`${world.gateway.url}/v1/jobs/${id}/output`)).json()) as {
      text: string
      frames: Array<{ index: number; time: number; lines: Array<{ text: string }> }>
    }
    t.deepEqual(
      body.frames.map((f) => [f.index, f.time, f.lines.map((l) => l.text).join(' ')]),
      [
        [0, 0, 'CAPTION 0'],
        [1, 0.25, 'CAPTION 1'],
        [2, 0.5, 'CAPTION 2'],
      ],
    )
    t.is(body.text, 'CAPTION 0\n\nCAPTION 1\n\nCAPTION 2')
    t.is(view?.text, body.text)

    // every=2: frames 0 and 2 only, numbered and timed as in the video.
    const post = async (pipeline: string, every: string) =>
      fetch(`${world.gateway.url}/v1/jobs`, {
        method: 'POST',
        body: form({ file: new Blob([await readFile(clip)], { type: 'video/mp4' }), pipeline, every }),
      })
    const sampled = await post('ocr', '2')
    t.is(sampled.status, 202)
    const second = (await sampled.json()) as JobJson
    t.is((await world.gateway.jobs.settled(second.id))?.status, 'done')
    const some = (await (
      await fetch(`${world.gateway.url}/v1/jobs/${second.id}/output`)
    ).json()) as typeof body
    t.deepEqual(
      some.frames.map((f) => [f.index, f.time, f.lines.map((l) => l.text).join(' ')]),
      [
        [0, 0, 'CAPTION 0'],
        [2, 0.5, 'CAPTION 2'],
      ],
    )
    // Only for OCR of a video, and a whole number from 1.
    t.is((await post('upscale', '2')).status, 400)
    t.is((await post('ocr', '0')).status, 422)
  },
)

test.serial(
  'a video sent with parallel 3 is spread over several orchestrators and comes back the same as from one; a parallel out of 1–16 is a 422',
  async (t) => {
    const clip = join(scratch, 'spread.mp4')
    await generateTestClip(clip, { width: 160, height: 120, fps: { num: 12, den: 1 }, seconds: 3 })
    const res = await fetch(`${world.gateway.url}/v1/jobs`, {
      method: 'POST',
      body: form({
        file: new Blob([await readFile(clip)], { type: 'video/mp4' }),
        pipeline: 'upscale',
        parallel: '3',
      }),
    })
    t.is(res.status, 202)
    const { id } = (await res.json()) as JobJson
    const view = await world.gateway.jobs.settled(id)
    t.is(view?.status, 'done', view?.error)
    t.true((view?.peers.length ?? 0) >= 2, `peers: ${view?.peers.join(', ')}`)
    const source = await probeVideo(clip, { countFrames: true })
    const output = async (jobId: string) =>
      new Uint8Array(await (await fetch(`${world.gateway.url}/v1/jobs/${jobId}/output`)).arrayBuffer())
    const spread = await output(id)
    const out = join(scratch, 'spread-x2.mp4')
    await writeFile(out, spread)
    t.like(await probeVideo(out, { countFrames: true }), {
      width: 320,
      height: 240,
      frameCount: source.frameCount,
    })
    // The same video as from one orchestrator: every frame, in its place.
    const one = await startJob(new Blob([await readFile(clip)], { type: 'video/mp4' }), 'upscale')
    const single = (await one.json()) as JobJson
    t.is((await world.gateway.jobs.settled(single.id))?.status, 'done')
    t.deepEqual(spread, await output(single.id))
    for (const parallel of ['0', '17', 'two']) {
      const refused = await fetch(`${world.gateway.url}/v1/jobs`, {
        method: 'POST',
        body: form({ file: await pngOf(testFrame(8, 8)), pipeline: 'upscale', parallel }),
      })
      t.is(refused.status, 422, parallel)
    }
  },
)

test.serial(
  'an image whose header shows it cannot be decoded is refused with the upload (truncated: 400, too many pixels: 413), and no job is started',
  async (t) => {
    const png = Buffer.from(await (await pngOf(testFrame(32, 24))).arrayBuffer())
    const jobsBefore = world.gateway.jobs.all().length
    const truncated = await startJob(
      new Blob([png.subarray(0, png.length - 20)], { type: 'image/png' }),
      'upscale',
    )
    t.is(truncated.status, 400)
    t.regex(await errorMessage(truncated), /truncated.*send the whole file/)
    // The same PNG, its header saying 100000×100000 (the IHDR chunk's CRC is not checked this early).
    const huge = Buffer.from(png)
    huge.writeUInt32BE(100_000, 16)
    huge.writeUInt32BE(100_000, 20)
    const tooLarge = await startJob(new Blob([huge], { type: 'image/png' }), 'upscale')
    t.is(tooLarge.status, 413)
    t.regex(await errorMessage(tooLarge), /100000/)
    t.is(world.gateway.jobs.all().length, jobsBefore)
  },
)

test.serial(
  'a file that looks like MP4 but does not decode fails the job with a clear error; the gateway serves on',
  async (t) => {
    const fake = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.alloc(2000, 7)])
    const res = await startJob(new Blob([fake], { type: 'video/mp4' }), 'upscale')
    t.is(res.status, 202)
    const { id } = (await res.json()) as JobJson
    const view = await world.gateway.jobs.settled(id)
    t.is(view?.status, 'failed')
    t.is(view?.errorCode, 'ERR_VIDEO_DECODE')
    const output = await fetch(`${world.gateway.url}/v1/jobs/${id}/output`)
    t.is(output.status, 409)
    const next = await startJob(await pngOf(testFrame(8, 8)), 'upscale')
    t.is(next.status, 202)
  },
)

test.serial(
  'a client that disconnects mid-download does not disturb the gateway or the stored output',
  async (t) => {
    const res = await startJob(await pngOf(testFrame(300, 200, 9)), 'upscale')
    const { id } = (await res.json()) as JobJson
    t.is((await world.gateway.jobs.settled(id))?.status, 'done')
    const url = `${world.gateway.url}/v1/jobs/${id}/output`
    const full = new Uint8Array(await (await fetch(url)).arrayBuffer())
    t.true(full.length > 64 * 1024, 'the output is large enough to be cut mid-way')
    const controller = new AbortController()
    const partial = await fetch(url, { signal: controller.signal })
    const reader = partial.body!.getReader()
    await reader.read()
    controller.abort()
    await reader.read().catch(() => {})
    const again = new Uint8Array(await (await fetch(url)).arrayBuffer())
    t.deepEqual(Buffer.from(again), Buffer.from(full))
    t.is((await fetch(`${world.gateway.url}/healthz`)).status, 200)
  },
)

/**
 * A gateway of its own over the shared mesh (which stays up for the other tests) with a video
 * upscale under way (12 fps, `seconds` long: 36 frames by default): its first frame is done. The
 * caller closes the gateway.
 */
async function jobUnderWay(
  t: ExecutionContext,
  dataDir: string,
  access: {
    tokens?: string[]
    maxConcurrentPerToken?: number
    maxStreamsPerToken?: number
    linkTtlMs?: number
    token?: string
    seconds?: number
  } = {},
): Promise<{ gateway: Gateway; job: JobJson }> {
  const { token, seconds = 3, ...options } = access
  const gateway = await world.another(t, { dataDir, ...options })
  const clip = join(scratch, `${basename(dataDir)}.mp4`)
  await generateTestClip(clip, { width: 160, height: 120, fps: { num: 12, den: 1 }, seconds })
  const headers = bearer(token)
  const res = await fetch(`${gateway.url}/v1/jobs`, {
    method: 'POST',
    body: form({ file: new Blob([await readFile(clip)], { type: 'video/mp4' }), pipeline: 'upscale' }),
    headers,
  })
  const job = (await res.json()) as JobJson
  const controller = new AbortController()
  t.teardown(() => controller.abort())
  await readEvents(
    `${gateway.url}/v1/jobs/${job.id}/events`,
    (e) => e === 'progress' || e === 'done' || e === 'failed',
    AbortSignal.any([controller.signal, AbortSignal.timeout(60_000)]),
    headers,
  )
  return { gateway, job }
}

const bearer = (token?: string): Record<string, string> =>
  token === undefined ? {} : { authorization: `Bearer ${token}` }

test.serial(
  'with tokens, a caller lists, follows, downloads and cancels only its own jobs: another caller’s are a 404 to it',
  async (t) => {
    const dataDir = join(scratch, 'owners')
    const gated = await world.another(t, { tokens: ['alice-token', 'bob-token'], dataDir })
    const alice = bearer('alice-token')
    const bob = bearer('bob-token')
    const res = await fetch(`${gated.url}/v1/jobs`, {
      method: 'POST',
      body: form({ file: await pngOf(testFrame(16, 12, 4)), pipeline: 'upscale' }),
      headers: alice,
    })
    const { id } = (await res.json()) as JobJson
    t.is((await gated.jobs.settled(id))?.status, 'done')
    const listed = async (headers: Record<string, string>) =>
      ((await (await fetch(`${gated.url}/v1/jobs`, { headers })).json()) as { jobs: JobJson[] }).jobs.map(
        (j) => j.id,
      )
    t.deepEqual(await listed(alice), [id])
    t.deepEqual(await listed(bob), [])
    for (const path of ['', '/events', '/output', '/input']) {
      t.is((await fetch(`${gated.url}/v1/jobs/${id}${path}`, { headers: bob })).status, 404, `bob: ${path}`)
      t.is(
        (await fetch(`${gated.url}/v1/jobs/${id}${path}`, { headers: alice })).status,
        200,
        `alice: ${path}`,
      )
    }
    t.is((await fetch(`${gated.url}/v1/jobs/${id}`, { method: 'DELETE', headers: bob })).status, 404)
    t.deepEqual(await listed(alice), [id])
    // The record on disk names its owner by a hash, never by the token.
    const saved = await readFile(join(dataDir, 'jobs', `${id}.job.json`), 'utf8')
    t.false(saved.includes('alice-token'))
    t.regex(saved, /"owner":"token:[0-9a-f]{32}"/)
  },
)

test.serial(
  'with tokens, GET /links gives signed links that read one job file without a token, ranges too; a forged, swapped or expired link is a 403',
  async (t) => {
    const dataDir = join(scratch, 'links')
    // Links live 1.5 s here, so the test can watch one expire.
    const { gateway, job } = await jobUnderWay(t, dataDir, {
      tokens: ['one', 'two'],
      token: 'one',
      linkTtlMs: 1500,
    })
    const headers = bearer('one')
    const linksOf = async (id: string, h: Record<string, string>) =>
      fetch(`${gateway.url}/v1/jobs/${id}/links`, { headers: h })
    t.is((await linksOf(job.id, {})).status, 401)
    t.is((await linksOf(job.id, bearer('two'))).status, 404, 'another caller’s job')
    const running = (await (await linksOf(job.id, headers)).json()) as {
      input?: { url: string }
      output?: { url: string }
    }
    t.truthy(running.input)
    t.is(running.output, undefined, 'no output link before the job is done')

    t.is((await gateway.jobs.settled(job.id))?.status, 'done')
    const links = (await (await linksOf(job.id, headers)).json()) as Record<
      'input' | 'output',
      { url: string; expiresAt: number }
    >
    t.regex(links.output.url, new RegExp(`^/v1/jobs/${job.id}/output\\?expires=\\d+&sig=[\\w-]+$`))
    const whole = await fetch(`${gateway.url}${links.output.url}`)
    t.is(whole.status, 200)
    t.is(whole.headers.get('content-type'), 'video/mp4')
    const bytes = new Uint8Array(await whole.arrayBuffer())
    const withToken = new Uint8Array(
      await (await fetch(`${gateway.url}/v1/jobs/${job.id}/output`, { headers })).arrayBuffer(),
    )
    t.deepEqual(bytes, withToken)
    const part = await fetch(`${gateway.url}${links.output.url}`, { headers: { range: 'bytes=4-11' } })
    t.is(part.status, 206)
    t.deepEqual(new Uint8Array(await part.arrayBuffer()), bytes.subarray(4, 12))
    t.is((await fetch(`${gateway.url}${links.input.url}`)).status, 200)

    /** The link's answer is a 403 whose message matches `why`. */
    const refused = async (url: string, why: RegExp, message?: string) => {
      const res = await fetch(`${gateway.url}${url}`)
      t.is(res.status, 403, message)
      t.regex(await errorMessage(res), why, message)
    }
    const forged = links.output.url.replace(/sig=(.)/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`)
    await refused(forged, /not valid/)
    const later = links.output.url.replace(
      /expires=(\d+)/,
      (_m, n: string) => `expires=${Number(n) + 60_000}`,
    )
    await refused(later, /not valid/, 'a moved expiry breaks the signature')
    const swapped = links.input.url.replace('/input?', '/output?')
    await refused(swapped, /not valid/, 'an input link does not read the output')
    await refused(links.output.url.replace(/&sig=.*$/, '&sig='), /not valid/)

    await new Promise((resolve) => setTimeout(resolve, links.output.expiresAt - Date.now() + 50))
    await refused(links.output.url, /expired at .*GET \/v1\/jobs\/.*\/links/)
    t.is(
      (await fetch(`${gateway.url}/v1/jobs/${job.id}/output`, { headers })).status,
      200,
      'the token still reads it',
    )
  },
)

test.serial(
  'event streams and downloads are capped per token: past the cap a 429, and a closed one frees its slot',
  async (t) => {
    const dataDir = join(scratch, 'streams')
    // 120 frames: still running while its event streams are opened.
    const { gateway, job } = await jobUnderWay(t, dataDir, {
      tokens: ['one'],
      maxStreamsPerToken: 1,
      token: 'one',
      seconds: 10,
    })
    const headers = bearer('one')
    /**
     * `path` once the server has seen earlier streams close (it hears of a close a moment after
     * the client is done), or the 429 it still answers after a second.
     */
    const whenFree = async (path: string, signal?: AbortSignal) => {
      for (let i = 0; ; i++) {
        const res = await fetch(`${gateway.url}/v1/jobs/${job.id}/${path}`, { headers, signal })
        if (res.status !== 429 || i === 50) return res
        await res.arrayBuffer()
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
    const downloadWhenFree = async () => {
      const res = await whenFree('input')
      await res.arrayBuffer()
      return res.status
    }
    t.is(await downloadWhenFree(), 200)
    const first = new AbortController()
    const open = await whenFree('events', first.signal)
    t.is(open.status, 200)
    const second = await fetch(`${gateway.url}/v1/jobs/${job.id}/events`, { headers })
    t.is(second.status, 429)
    t.regex(await errorMessage(second), /at most 1 event streams and downloads/)
    first.abort()
    t.is(await downloadWhenFree(), 200, 'the closed stream gave its slot back')
  },
)

test.serial(
  'a running job holds its caller’s slot until it ends; DELETE cancels it with ERR_CANCELLED, which frees the slot, and removes a finished job with its files',
  async (t) => {
    const dataDir = join(scratch, 'cancelling')
    const { gateway, job } = await jobUnderWay(t, dataDir, {
      tokens: ['one'],
      maxConcurrentPerToken: 1,
      token: 'one',
    })
    const headers = bearer('one')
    const image = async () =>
      fetch(`${gateway.url}/v1/jobs`, {
        method: 'POST',
        body: form({ file: await pngOf(testFrame(16, 12, 5)), pipeline: 'upscale' }),
        headers,
      })
    const refused = await image()
    t.is(refused.status, 429)
    t.regex(await errorMessage(refused), /running jobs/)

    const cancel = await fetch(`${gateway.url}/v1/jobs/${job.id}`, { method: 'DELETE', headers })
    t.is(cancel.status, 200)
    const cancelled = (await cancel.json()) as JobJson & { errorCode: string; framesDone: number }
    t.like(cancelled, { status: 'failed', errorCode: 'ERR_CANCELLED' })
    t.true(cancelled.framesDone < 36, `${cancelled.framesDone} of 36 frames done when cancelled`)
    t.is((await fetch(`${gateway.url}/v1/jobs/${job.id}/output`, { headers })).status, 409)

    const next = await image()
    t.is(next.status, 202, 'the cancelled job gave its slot back')
    const { id } = (await next.json()) as JobJson
    t.is((await gateway.jobs.settled(id))?.status, 'done')
    t.true((await readdir(join(dataDir, 'jobs'))).some((f) => f.startsWith(id)))
    t.is((await fetch(`${gateway.url}/v1/jobs/${id}`, { method: 'DELETE', headers })).status, 204)
    t.is((await fetch(`${gateway.url}/v1/jobs/${id}`, { headers })).status, 404)
    t.false(
      (await readdir(join(dataDir, 'jobs'))).some((f) => f.startsWith(id)),
      'its record and output are removed',
    )
  },
)

test.serial(
  'past maxJobs a caller’s oldest finished job goes, with its files; other callers keep theirs',
  async (t) => {
    const dataDir = join(scratch, 'few-jobs')
    const gateway = await world.another(t, { dataDir, maxJobs: 2, tokens: ['busy', 'quiet'] })
    const job = async (token: string, seed: number) => {
      const res = await fetch(`${gateway.url}/v1/jobs`, {
        method: 'POST',
        body: form({ file: await pngOf(testFrame(8, 8, seed)), pipeline: 'upscale' }),
        headers: bearer(token),
      })
      const { id } = (await res.json()) as JobJson
      t.is((await gateway.jobs.settled(id))?.status, 'done')
      return id
    }
    const quiet = await job('quiet', 9)
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push(await job('busy', i))
    const listed = async (token: string) =>
      (
        (await (await fetch(`${gateway.url}/v1/jobs`, { headers: bearer(token) })).json()) as {
          jobs: JobJson[]
        }
      ).jobs.map((j) => j.id)
    t.deepEqual(await listed('busy'), [ids[2], ids[1]])
    t.deepEqual(await listed('quiet'), [quiet], 'the busy caller did not push out the quiet one’s result')
    t.is((await fetch(`${gateway.url}/v1/jobs/${ids[0]}`, { headers: bearer('busy') })).status, 404)
    // Its files are removed in the background: give that a moment.
    let left = ['?']
    for (let i = 0; i < 50 && left.length > 0; i++) {
      left = (await readdir(join(dataDir, 'jobs'))).filter((f) => f.startsWith(ids[0]!))
      if (left.length > 0) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    t.deepEqual(left, [], 'the dropped job’s record and output are gone')
  },
)

test.serial(
  'a job without a pipeline is a 422, with an unknown pipeline a 400; an unknown job id is a 404',
  async (t) => {
    const none = await fetch(`${world.gateway.url}/v1/jobs`, {
      method: 'POST',
      body: form({ file: await pngOf(testFrame(8, 8)) }),
    })
    t.is(none.status, 422)
    const unknown = await startJob(await pngOf(testFrame(8, 8)), 'colorize')
    t.is(unknown.status, 400)
    t.regex(await errorMessage(unknown), /unknown pipeline 'colorize'/)
    const missing = await fetch(`${world.gateway.url}/v1/jobs/00000000-0000-0000-0000-000000000000`)
    t.is(missing.status, 404)
  },
)

test.serial(
  'a gateway that shuts down mid-job fails the job with ERR_SHUTTING_DOWN, telling its followers to resubmit',
  async (t) => {
    const { gateway, job } = await jobUnderWay(t, join(scratch, 'closing-gateway'))
    let closed = false
    t.teardown(() => (closed ? undefined : gateway.close()))
    t.is(job.status, 'running', job.error)
    await gateway.close()
    closed = true
    const view = gateway.jobs.find(job.id)!
    t.is(view.view.status, 'failed')
    t.is(view.view.errorCode, 'ERR_SHUTTING_DOWN')
    t.regex(view.view.error ?? '', /submit it again once the gateway is back/)

    // Back on the same data dir, a follower asking about the job gets that answer, not a 404.
    const back = await world.another(t, { dataDir: join(scratch, 'closing-gateway') })
    const again = (await (await fetch(`${back.url}/v1/jobs/${job.id}`)).json()) as JobJson & {
      errorCode: string
    }
    t.like(again, { status: 'failed', errorCode: 'ERR_SHUTTING_DOWN' })
  },
)

test.serial(
  'a job the gateway was running when it crashed reads as failed with ERR_SHUTTING_DOWN after the restart',
  async (t) => {
    const dataDir = join(scratch, 'crashing-gateway')
    const { gateway, job } = await jobUnderWay(t, dataDir)
    // What a crash at this moment leaves on disk: the data dir as it is now, mid-job.
    const crashed = join(scratch, 'crashed-copy')
    await cp(dataDir, crashed, { recursive: true })
    t.is(gateway.jobs.find(job.id)?.view.status, 'running', 'the job was still running when copied')

    const back = await world.another(t, { dataDir: crashed })
    const view = (await (await fetch(`${back.url}/v1/jobs/${job.id}`)).json()) as JobJson & {
      errorCode: string
    }
    t.like(view, { status: 'failed', errorCode: 'ERR_SHUTTING_DOWN' })
    t.is((await fetch(`${back.url}/v1/jobs/${job.id}/output`)).status, 409)
    // Its half-written output is gone; its record is what is left of it.
    t.deepEqual(await readdir(join(crashed, 'jobs')), [`${job.id}.job.json`])
  },
)

test.serial(
  'finished jobs outlive a gateway restart: listed, output and input served, events replayed; files no job owns are removed',
  async (t) => {
    const dataDir = join(scratch, 'restarted-gateway')
    const open = () =>
      createGateway({ mesh: meshForGateway(world.local.broadcaster.mesh) }, { dataDir, ethUsd: 3000 })
    const first = await open()
    let firstClosed = false
    t.teardown(() => (firstClosed ? undefined : first.close()))
    const res = await fetch(`${first.url}/v1/jobs`, {
      method: 'POST',
      body: form({ file: await pngOf(testFrame(16, 12, 3)), pipeline: 'upscale' }),
    })
    const { id } = (await res.json()) as JobJson
    t.is((await first.jobs.settled(id))?.status, 'done')
    const before = Buffer.from(await (await fetch(`${first.url}/v1/jobs/${id}/output`)).arrayBuffer())
    const viewBefore = (await (await fetch(`${first.url}/v1/jobs/${id}`)).json()) as JobJson
    await first.close()
    firstClosed = true
    // What a crash leaves: an upload and a half-written output that no job owns.
    await writeFile(join(dataDir, 'uploads', 'stray-upload.bin'), 'x')
    await writeFile(join(dataDir, 'jobs', 'cut-off.mp4'), 'x')

    const second = await open()
    t.teardown(() => second.close())
    const { jobs } = (await (await fetch(`${second.url}/v1/jobs`)).json()) as { jobs: JobJson[] }
    t.deepEqual(
      jobs.map((j) => j.id),
      [id],
    )
    t.deepEqual((await (await fetch(`${second.url}/v1/jobs/${id}`)).json()) as JobJson, viewBefore)
    const after = await fetch(`${second.url}/v1/jobs/${id}/output`)
    t.is(after.headers.get('content-type'), 'image/png')
    t.true(Buffer.from(await after.arrayBuffer()).equals(before))
    t.is((await fetch(`${second.url}/v1/jobs/${id}/input`)).status, 200)
    const events = await readEvents(
      `${second.url}/v1/jobs/${id}/events`,
      (e) => e === 'done' || e === 'failed',
      AbortSignal.timeout(10_000),
    )
    t.deepEqual(
      events.map((e) => e.event),
      ['done'],
    )
    t.deepEqual(await readdir(join(dataDir, 'uploads')).then((n) => n.includes('stray-upload.bin')), false)
    t.deepEqual(await readdir(join(dataDir, 'jobs')).then((n) => n.includes('cut-off.mp4')), false)
  },
)

test.serial(
  'a job sent with verify 0.5 has its output checked on a second orchestrator: the view and its check events say so; a verify outside 0–1 is a 422, verify_strict without verify a 400',
  async (t) => {
    const post = (fields: Record<string, string>) =>
      fetch(`${world.gateway.url}/v1/jobs`, {
        method: 'POST',
        body: form({ file: new Blob([png]), pipeline: 'upscale', ...fields }),
      })
    const png = Buffer.from(await (await pngOf(testFrame(40, 32, 3))).arrayBuffer())
    const res = await post({ verify: '0.5' })
    t.is(res.status, 202)
    const { id } = (await res.json()) as JobJson
    const view = await world.gateway.jobs.settled(id)
    t.is(view?.status, 'done', view?.error)
    // One frame: the end of the input checks it, whatever the draw.
    t.like(view?.verification, {
      share: 0.5,
      strict: false,
      checked: 1,
      mismatches: 0,
      unverified: 0,
      blamed: [],
    })
    // The check was paid for, and counts in what the job sent.
    t.true((view?.verification?.paidWei ?? 0n) > 0n)
    t.true((view?.paidWei ?? 0n) > (view?.verification?.paidWei ?? 0n))
    const history = world.gateway.jobs.find(id)!.history
    t.true(history.some((e) => e.event === 'payment' && (e.data as { check?: boolean }).check === true))
    const checks = history.filter((e) => e.event === 'check')
    t.is(checks.length, 1)
    const check = checks[0]!.data as { peerId: string; checker: string; match: boolean }
    t.true(check.match)
    t.not(check.checker, check.peerId)
    t.deepEqual(view?.verification?.checkers, [check.checker])
    for (const verify of ['1.5', '-0.1', 'some']) t.is((await post({ verify })).status, 422, verify)
    t.is((await post({ verify: '0.1', verify_strict: 'maybe' })).status, 422)
    const strictAlone = await post({ verify_strict: 'on' })
    t.is(strictAlone.status, 400)
    t.regex(await errorMessage(strictAlone), /verify_strict needs verify/)
  },
)

test.serial(
  'a model only one orchestrator sells cannot be checked: with verify_strict the job fails with ERR_UNVERIFIABLE and keeps no output; without, it is delivered and counted unverified',
  async (t) => {
    const png = await pngOf(testFrame(24, 16, 4))
    // esrgan-slim-x4 is on the first orchestrator of the local mesh only.
    const run = async (strict: string) => {
      const res = await fetch(`${world.gateway.url}/v1/jobs`, {
        method: 'POST',
        body: form({ file: png, pipeline: 'upscale:esrgan-slim-x4', verify: '1', verify_strict: strict }),
      })
      t.is(res.status, 202)
      const { id } = (await res.json()) as JobJson
      return { id, view: await world.gateway.jobs.settled(id) }
    }
    const strict = await run('true')
    t.is(strict.view?.status, 'failed')
    t.is(strict.view?.errorCode, 'ERR_UNVERIFIABLE', strict.view?.error)
    // A failed job has no result to serve.
    t.is((await fetch(`${world.gateway.url}/v1/jobs/${strict.id}/output`)).status, 409)
    const lenient = await run('false')
    t.is(lenient.view?.status, 'done', lenient.view?.error)
    t.like(lenient.view?.verification, { strict: false, checked: 0, unverified: 1 })
    const out = await decodeImage(
      new Uint8Array(await (await fetch(`${world.gateway.url}/v1/jobs/${lenient.id}/output`)).arrayBuffer()),
    )
    t.deepEqual([out.width, out.height], [96, 64])
  },
)

// Last: it stops one of the shared mesh's orchestrators.
test.serial(
  'when a job moves to another orchestrator, its peer event says why the first one failed',
  async (t) => {
    const clip = join(scratch, 'moving.mp4')
    await generateTestClip(clip, { width: 160, height: 120, fps: { num: 12, den: 1 }, seconds: 4 })
    const res = await startJob(new Blob([await readFile(clip)], { type: 'video/mp4' }), 'upscale')
    const job = (await res.json()) as JobJson
    const controller = new AbortController()
    t.teardown(() => controller.abort())
    const first = await readEvents(
      `${world.gateway.url}/v1/jobs/${job.id}/events`,
      (e) => e === 'progress' || e === 'done' || e === 'failed',
      AbortSignal.any([controller.signal, AbortSignal.timeout(60_000)]),
    )
    const selected = first.find((e) => e.event === 'peer')
    t.truthy(selected, JSON.stringify(first))
    const chosen = (selected!.data as { to: string }).to
    // Its operator stops it mid-job: the job goes on elsewhere.
    await world.local.orchestrators.find((o) => o.peer.peerId.toString() === chosen)!.stop()
    const view = await world.gateway.jobs.settled(job.id)
    t.is(view?.status, 'done', view?.error)
    const move = world.gateway.jobs
      .find(job.id)!
      .history.find((e) => e.event === 'peer' && (e.data as { from?: string }).from === chosen)
    t.regex((move?.data as { reason?: string })?.reason ?? '', /^ERR_SHUTTING_DOWN: /, JSON.stringify(move))
  },
)
