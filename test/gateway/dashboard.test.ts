/**
 * The dashboard in a real browser (Debian's headless Chromium driven by playwright-core): the
 * page loads, shows the mesh's peers, takes an upload and shows the upscaled result; on a gateway
 * with tokens it asks for one first, and it cancels a running job.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { type Browser, chromium } from 'playwright-core'
import { encodeImage } from '../../src/inference/media/image.js'
import { generateTestClip } from '../../src/inference/media/test-clip.js'
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
  await page.setInputFiles('#file', input)
  await page.selectOption('#pipeline', 'upscale')
  await page.click('#submit-button')

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

test('on a gateway with tokens the dashboard asks for one, then lists the mesh, and its Cancel button stops a running video job, Remove takes it off the list', async (t) => {
  const gated = await world.another(t, { tokens: ['dash-token'], dataDir: join(scratch, 'gated') })
  const page = await browser.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', (err) => pageErrors.push(err.message))
  await page.goto(gated.url)
  await page.waitForSelector('#token-box:not([hidden])', { timeout: 15_000 })
  t.regex((await page.textContent('#token-message')) ?? '', /needs an access token/)
  t.is(await page.$$eval('#offers tbody tr[data-peer]', (rows) => rows.length), 0)

  await page.fill('#token', 'dash-token')
  await page.click('#token-button')
  await page.waitForSelector('#offers tbody tr[data-peer]', { timeout: 15_000 })
  t.true(await page.$eval('#token-box', (box) => (box as HTMLElement).hidden))

  // A 36-frame video: long enough to cancel after its first frames.
  const clip = join(scratch, 'cancel-me.mp4')
  await generateTestClip(clip, { width: 160, height: 120, fps: { num: 12, den: 1 }, seconds: 3 })
  await page.setInputFiles('#file', clip)
  await page.selectOption('#pipeline', 'upscale')
  await page.click('#submit-button')
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
