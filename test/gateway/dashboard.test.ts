/**
 * The dashboard in a real browser (Debian's headless Chromium driven by playwright-core): the
 * page loads, shows the mesh's peers, takes an upload and shows the upscaled result; on a gateway
 * with tokens it asks for one first, cancels a running job, and plays results from signed links.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { type Browser, chromium, type Page } from 'playwright-core'
import { encodeImage } from '../../src/inference/media/image.js'
import { generateTestClip } from '../../src/inference/media/test-clip.js'
import { renderPng, textLine } from '../inference/ocr-fixtures.js'
import { type GatewayWorld, startGatewayWorld, testFrame } from './fixtures.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

let world: GatewayWorld
let browser: Browser
let scratch: string

test.before(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`)
  }
  scratch = await mkdtemp(join(tmpdir(), 'fm-dashboard-'))
  world = await startGatewayWorld({ dataDir: join(scratch, 'gateway') })
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Background networking reaches for hosts this sandbox cannot resolve; none is needed.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
})

test.after.always(async () => {
  await browser?.close()
  await world?.stop()
})

/** Submits `file` to `pipeline` with the page's form. */
async function submitThrough(page: Page, file: string, pipeline: string) {
  await page.setInputFiles('#file', file)
  await page.selectOption('#pipeline', pipeline)
  await page.click('#submit-button')
}

/**
 * The dashboard of a new gateway with the token 'dash-token', given its token through the form the
 * page shows; `beforeToken` looks at the page while it still waits for one.
 */
async function gatedPage(t: ExecutionContext, name: string, beforeToken?: (page: Page) => Promise<void>) {
  const gated = await world.another(t, { tokens: ['dash-token'], dataDir: join(scratch, name) })
  const page = await browser.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', (err) => pageErrors.push(err.message))
  await page.goto(gated.url)
  await page.waitForSelector('#token-box:not([hidden])', { timeout: 15_000 })
  await beforeToken?.(page)
  await page.fill('#token', 'dash-token')
  await page.click('#token-button')
  await page.waitForSelector('#offers tbody tr[data-peer]', { timeout: 15_000 })
  return { gated, page, pageErrors }
}

test('the dashboard lists the mesh peers, runs an uploaded image through upscale and shows the result beside it', async (t) => {
  const page = await browser.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', (err) => pageErrors.push(err.message))
  await page.goto(world.gateway.url)
  t.is(await page.title(), 'framemesh dashboard')

  await page.waitForSelector('#offers tbody tr[data-peer]', { timeout: 15_000 })
  const peers = await page.$$eval(
    '#offers tbody tr[data-peer]',
    (rows) => new Set(rows.map((r) => r.getAttribute('data-peer'))).size,
  )
  t.is(peers, 3)
  t.regex((await page.textContent('#mesh-count')) ?? '', /3 peers/)

  const input = join(scratch, 'input.png')
  await writeFile(input, await encodeImage(testFrame(40, 30, 2), 'png'))
  await submitThrough(page, input, 'upscale')

  await page.waitForSelector('#result:not([hidden])', { timeout: 60_000 })
  const size = await page.$eval('#output-view img', async (img) => {
    const image = img as HTMLImageElement
    await image.decode()
    return [image.naturalWidth, image.naturalHeight]
  })
  t.deepEqual(size, [80, 60])
  t.regex((await page.textContent('#report')) ?? '', /cloud GPU/)
  t.regex((await page.textContent('#progress-text')) ?? '', /done/)
  await page.waitForSelector('#jobs tbody tr .status-done')

  // The upscalers on offer are the choices; picking ×4 runs the job on a seller of ×4.
  const choices = await page.$$eval('#model option', (options) =>
    options.map((o) => (o as HTMLOptionElement).value),
  )
  t.deepEqual(choices, ['', 'esrgan-slim-x2', 'esrgan-slim-x4'])
  await page.selectOption('#model', 'esrgan-slim-x4')
  await page.click('#submit-button')
  await page.waitForFunction(
    () => document.querySelectorAll('#jobs tbody tr .status-done').length === 2,
    undefined,
    { timeout: 60_000 },
  )
  await page.waitForSelector('#result:not([hidden]) #output-view img')
  const x4 = await page.$eval('#output-view img', async (img) => {
    const image = img as HTMLImageElement
    await image.decode()
    return [image.naturalWidth, image.naturalHeight]
  })
  t.deepEqual(x4, [160, 120])
  t.is((await page.textContent('#jobs tbody tr td:nth-child(2)')) ?? '', 'upscale:esrgan-slim-x4')
  await page.screenshot({ path: join(scratch, 'dashboard.png'), fullPage: true })
  t.log(`screenshot: ${join(scratch, 'dashboard.png')}`)
  t.deepEqual(pageErrors, [])
})

test('asked to check outputs on a second orchestrator, the dashboard reports what the checks found; strict on a model one seller has, the job fails and says why', async (t) => {
  // A gateway of its own: the jobs list of the shared one is another test's to count.
  const own = await world.another(t, { dataDir: join(scratch, 'verify') })
  const page = await browser.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', (err) => pageErrors.push(err.message))
  await page.goto(own.url)
  await page.waitForSelector('#model option[value="esrgan-slim-x4"]', { state: 'attached', timeout: 15_000 })
  const input = join(scratch, 'checked.png')
  await writeFile(input, await encodeImage(testFrame(32, 24, 5), 'png'))
  await page.fill('#verify', '100')
  await page.selectOption('#model', 'esrgan-slim-x2')
  // Every line the progress text shows, however briefly.
  await page.evaluate(() => {
    const text = document.querySelector('#progress-text')!
    const seen: string[] = []
    Object.assign(window, { seen })
    new MutationObserver(() => seen.push(text.textContent ?? '')).observe(text, {
      childList: true,
      characterData: true,
      subtree: true,
    })
  })
  await submitThrough(page, input, 'upscale')
  await page.waitForSelector('#result:not([hidden]) #output-view img', { timeout: 60_000 })
  const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen)
  t.true(
    seen.some((line) => /^1 \/ 1 frames, 1 checked$/.test(line)),
    JSON.stringify(seen),
  )
  t.regex(
    (await page.textContent('#report')) ?? '',
    /Checked on a second orchestrator100% asked: 1 output\(s\) checked on 12D3KooW\S+, no mismatch/,
  )
  // esrgan-slim-x4 is on one orchestrator of the local mesh only: nobody can check it.
  await page.selectOption('#model', 'esrgan-slim-x4')
  await page.check('#verify-strict')
  await page.click('#submit-button')
  await page.waitForFunction(
    () => /^failed: /.test(document.querySelector('#progress-text')?.textContent ?? ''),
    undefined,
    { timeout: 60_000 },
  )
  t.regex(
    (await page.textContent('#progress-text')) ?? '',
    /verification is strict: 1 unchecked result was not delivered/,
  )
  t.deepEqual(pageErrors, [])
})

test('on a gateway with tokens the dashboard asks for one, then lists the mesh, and its Cancel button stops a running video job, Remove takes it off the list', async (t) => {
  const { gated, page, pageErrors } = await gatedPage(t, 'gated', async (page) => {
    t.regex((await page.textContent('#token-message')) ?? '', /needs an access token/)
    t.is(await page.$$eval('#offers tbody tr[data-peer]', (rows) => rows.length), 0)
  })
  t.true(await page.$eval('#token-box', (box) => (box as HTMLElement).hidden))

  // A 36-frame video: long enough to cancel after its first frames.
  const clip = join(scratch, 'cancel-me.mp4')
  await generateTestClip(clip, { width: 160, height: 120, fps: { num: 12, den: 1 }, seconds: 3 })
  await submitThrough(page, clip, 'upscale')
  await page.waitForFunction(
    () => /^[1-9]\d* \/ 36 frames/.test(document.getElementById('progress-text')?.textContent ?? ''),
    undefined,
    { timeout: 60_000 },
  )
  await page.click('#cancel-button')
  await page.waitForFunction(
    () => /^failed: cancelled/.test(document.getElementById('progress-text')?.textContent ?? ''),
    undefined,
    { timeout: 30_000 },
  )
  const [job] = gated.jobs.all()
  t.like(job, { status: 'failed', errorCode: 'ERR_CANCELLED' })
  t.true(job!.framesDone < 36, `${job!.framesDone} of 36 frames when cancelled`)
  t.true(await page.$eval('#cancel-button', (b) => (b as HTMLElement).hidden))
  await page.waitForSelector('#jobs tbody tr .status-failed')
  // Remove takes the finished job off the list, and off the gateway with its files.
  await page.click('#jobs tbody tr .job-action')
  await page.waitForFunction(() => document.querySelectorAll('#jobs tbody tr').length === 0)
  t.deepEqual(gated.jobs.all(), [])
  t.deepEqual(pageErrors, [])
})

test('with a token the result video plays from a signed link, streamed and seekable, and an OCR result lists its lines', async (t) => {
  const { page, pageErrors } = await gatedPage(t, 'links')

  const clip = join(scratch, 'play-me.mp4')
  await generateTestClip(clip, { width: 64, height: 48, fps: { num: 12, den: 1 }, seconds: 2 })
  await submitThrough(page, clip, 'upscale')
  await page.waitForSelector('#result:not([hidden]) #output-view video', { timeout: 60_000 })
  // No named functions inside: the test runner's transform would name them with a helper the page lacks.
  const played = await page.$eval('#output-view video', async (element) => {
    const video = element as HTMLVideoElement
    const events = ['loadedmetadata', 'seeked', 'error']
    const seen: string[] = []
    for (const name of events) video.addEventListener(name, () => seen.push(name))
    while (video.readyState < 1 && !seen.includes('error')) await new Promise((r) => setTimeout(r, 20))
    const size = [video.videoWidth, video.videoHeight]
    video.currentTime = 1.5
    while (!seen.includes('seeked') && !seen.includes('error')) await new Promise((r) => setTimeout(r, 20))
    const error = video.error?.code
    return { src: video.src, size, duration: video.duration, seen, error, at: video.currentTime }
  })
  t.regex(played.src, /\/v1\/jobs\/[\w-]+\/output\?expires=\d+&sig=/, 'a signed link, not a fetched blob')
  t.deepEqual(played.size, [128, 96])
  t.true(Math.abs(played.duration - 2) < 0.2, `duration ${played.duration}`)
  t.is(played.error, undefined)
  t.true(played.seen.includes('seeked'))
  t.true(Math.abs(played.at - 1.5) < 0.1, `at ${played.at}`)

  const text = join(scratch, 'words.png')
  await writeFile(text, await renderPng(textLine('FRAMEMESH 2026', 10, 40, 24), 240, 64))
  await submitThrough(page, text, 'ocr')
  await page.waitForSelector('#output-view pre.ocr-text', { timeout: 60_000 })
  t.regex(
    (await page.textContent('#output-view pre.ocr-text')) ?? '',
    /^frame 1 {2}FRAMEMESH 2026 {2}\(\d+ %\)$/,
  )
  t.deepEqual(pageErrors, [])
})
