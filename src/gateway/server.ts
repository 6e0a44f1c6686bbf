/**
 * The HTTP gateway: Livepeer-compatible task routes, framemesh's own job routes with live
 * events, the order book, an OpenAPI description and the dashboard, on one node:http server.
 * Routes live in one table; every failure leaves in the Livepeer error shape.
 */
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { extname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { FramemeshError } from '../errors.js'
import { checkImageBytes } from '../inference/media/image.js'
import type { PipelineId } from '../inference/types.js'
import type { Logger } from '../logger.js'
import { MAX_PARALLEL } from '../market/job-input.js'
import { AccessControl } from './auth.js'
import { requestedRange } from './byte-range.js'
import { badRequest, HttpError, notFound, sendError, sendJson, validationError } from './http-error.js'
import { GatewayJobs } from './jobs.js'
import { LIVEPEER_TASKS, type LivepeerTask, pipelineForTask, runLivepeerTask } from './livepeer.js'
import { type JobFile, MediaLinks } from './media-links.js'
import type { GatewayMesh, StageSpec, VerifyRequest } from './mesh-port.js'
import { openApiDocument } from './openapi.js'
import { applyOriginRules, isLoopbackAddress } from './origins.js'
import { openEventStream } from './sse.js'
import { receiveUpload } from './upload.js'

export interface GatewayComponents {
  mesh: GatewayMesh
  logger?: Logger
}

export interface GatewayOptions {
  host?: string
  /** 0 picks a free port. */
  port?: number
  /** Bearer tokens accepted; none = open (local use). */
  tokens?: string[]
  maxConcurrentPerToken?: number
  /** Event streams and downloads open at once per token (default 32). */
  maxStreamsPerToken?: number
  /** Largest upload accepted, bytes (default 200 MiB). */
  maxUploadBytes?: number
  /** Longest pause in an upload's bytes before it is given up with a 408 (default 60 s). */
  uploadIdleTimeoutMs?: number
  /**
   * Web origins whose pages may call the API (CORS). Pages of other sites are refused: every
   * request spends the operator's deposit.
   */
  corsOrigins?: string[]
  /** Where uploads and results are written (default a folder under the OS temp dir). */
  dataDir?: string
  ethUsd?: number
  /** Finished jobs kept with their files per caller (default 100); each caller's oldest go first. */
  maxJobs?: number
  /** How long a signed link to a job's input or output stays valid (default 1 hour). */
  linkTtlMs?: number
}

export interface Gateway {
  url: string
  jobs: GatewayJobs
  close(): Promise<void>
}

const PIPELINES: readonly PipelineId[] = ['upscale', 'interpolate', 'ocr']
const DASHBOARD_DIR = fileURLToPath(new URL('./dashboard/', import.meta.url))
const STATIC_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[]) => Promise<void>
/** A handler for authenticated callers: `caller` is AccessControl's id for them. */
type CallerHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  params: string[],
  caller: string,
) => Promise<void>

export async function createGateway(
  components: GatewayComponents,
  options: GatewayOptions = {},
): Promise<Gateway> {
  const { mesh, logger } = components
  const dataDir = options.dataDir ?? join(tmpdir(), `framemesh-gateway-${process.pid}`)
  const maxUploadBytes = options.maxUploadBytes ?? 200 * 1024 * 1024
  const access = new AccessControl({
    tokens: options.tokens,
    maxConcurrentPerToken: options.maxConcurrentPerToken,
    maxStreamsPerToken: options.maxStreamsPerToken,
  })
  const jobs = new GatewayJobs(
    { mesh, logger },
    {
      dir: join(dataDir, 'jobs'),
      uploadsDir: join(dataDir, 'uploads'),
      ethUsd: options.ethUsd,
      maxJobs: options.maxJobs,
    },
  )
  // Jobs finished before a restart stay listed and downloadable.
  await jobs.restore()

  const uploadTo = (accept: Array<'image' | 'video'>) => ({
    dir: join(dataDir, 'uploads'),
    maxFileBytes: maxUploadBytes,
    accept,
    ...(options.uploadIdleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.uploadIdleTimeoutMs }),
  })

  const links = new MediaLinks({ ttlMs: options.linkTtlMs })

  // Another caller's job is a 404 too: nobody learns which ids exist.
  const noSuchJob = (id: string) => notFound(`no job '${id}' of yours; GET /v1/jobs lists your jobs`)
  const jobOr404 = (id: string, caller: string) => {
    const job = jobs.get(id, caller)
    if (job === undefined) throw noSuchJob(id)
    return job
  }

  const sendFile = async (req: IncomingMessage, res: ServerResponse, path: string, type: string) => {
    const { size } = await stat(path)
    const range = requestedRange(req.headers.range, size)
    if (range === 'unsatisfiable') {
      res.writeHead(416, { 'content-range': `bytes */${size}`, 'accept-ranges': 'bytes' })
      res.end()
      return
    }
    const headers = { 'content-type': type, 'accept-ranges': 'bytes' }
    if (range === undefined) res.writeHead(200, { ...headers, 'content-length': size })
    else {
      res.writeHead(206, {
        ...headers,
        'content-length': range.end - range.start + 1,
        'content-range': `bytes ${range.start}-${range.end}/${size}`,
      })
    }
    // pipeline (not pipe) closes the file when the client goes away mid-download.
    await pipeline(createReadStream(path, range ?? {}), res).catch(() => {})
  }

  // Work-taking routes hold one of the caller's slots while they run.
  const withSlot =
    (handler: CallerHandler): Handler =>
    async (req, res, params) => {
      const caller = access.authenticate(req)
      const release = access.acquire(caller)
      try {
        await handler(req, res, params, caller)
      } finally {
        release()
      }
    }

  const authed =
    (handler: CallerHandler): Handler =>
    async (req, res, params) => {
      await handler(req, res, params, access.authenticate(req))
    }

  // Long-lived answers (event streams, downloads) hold one of the caller's stream slots until the
  // response closes, however it ends. `identify` names the caller (by default from its token).
  const streaming =
    (
      handler: CallerHandler,
      identify: (req: IncomingMessage, params: string[]) => string = access.authenticate.bind(access),
    ): Handler =>
    async (req, res, params) => {
      const caller = identify(req, params)
      const release = access.acquireStream(caller)
      res.once('close', release)
      try {
        await handler(req, res, params, caller)
      } catch (err) {
        release()
        throw err
      }
    }

  // A job's file is read with the caller's token or with a signed link (media elements cannot
  // send a token); a link's reader counts as the job's owner.
  const tokenOrLink =
    (file: JobFile) =>
    (req: IncomingMessage, [id]: string[]): string => {
      const query = new URL(req.url ?? '/', 'http://gateway').searchParams
      if (!MediaLinks.carried(query)) return access.authenticate(req)
      links.check(id!, file, query)
      const job = jobs.find(id!)
      if (job === undefined) throw noSuchJob(id!)
      return job.owner
    }

  const routes: Array<[string, RegExp, Handler]> = [
    [
      'GET',
      /^\/$/,
      async (_req, res) => {
        res.writeHead(302, { location: '/dashboard/' })
        res.end()
      },
    ],
    [
      'GET',
      /^\/dashboard\/([\w.-]*)$/,
      async (_req, res, [file]) => {
        const name = file === '' ? 'index.html' : file
        const type = STATIC_TYPES[extname(name)]
        if (type === undefined) throw notFound(`no dashboard file '${name}'`)
        const body = await readFile(join(DASHBOARD_DIR, name)).catch(() => undefined)
        if (body === undefined) throw notFound(`no dashboard file '${name}'`)
        res.writeHead(200, { 'content-type': type, 'content-length': body.length })
        res.end(body)
      },
    ],
    [
      'GET',
      /^\/healthz$/,
      async (_req, res) => sendJson(res, 200, { status: 'ok', offers: mesh.offers().length }),
    ],
    ['GET', /^\/openapi\.json$/, async (_req, res) => sendJson(res, 200, openApiDocument())],
    ['GET', /^\/v1\/offers$/, authed(async (_req, res) => sendJson(res, 200, { offers: mesh.offers() }))],
    [
      'GET',
      /^\/v1\/jobs$/,
      authed(async (_req, res, _params, caller) => sendJson(res, 200, { jobs: jobs.list(caller) })),
    ],
    [
      'POST',
      /^\/v1\/jobs$/,
      authed(async (req, res, _params, caller) => {
        // The slot is the job's until it ends, not only the upload's: a caller's running jobs
        // spend the gateway's deposit, so they count against its cap.
        const release = access.acquire(caller)
        let handedOver = false
        try {
          const form = await receiveUpload(req, uploadTo(['image', 'video']))
          const file = form.files.find((f) => f.field === 'file')
          try {
            if (file === undefined)
              throw validationError([{ loc: ['body', 'file'], msg: 'Field required', type: 'missing' }])
            const stages = parseStages(form.fields.pipeline ?? form.fields.stages, form.fields.model_id)
            if (file.media.kind === 'image' && stages.some((s) => s.pipeline === 'interpolate'))
              throw badRequest('interpolate needs a video: it makes the frames between neighbouring frames')
            // Checked now, so a broken image is a 400 and not a failed job; decoded from these bytes.
            const bytes = file.media.kind === 'image' ? await checkImageUpload(file.path) : undefined
            const every = parseEvery(form.fields.every, stages, file.media.kind)
            const parallel = parseParallel(form.fields.parallel)
            const verify = parseVerify(form.fields.verify, form.fields.verify_strict)
            const input = { path: file.path, media: file.media, ...(bytes === undefined ? {} : { bytes }) }
            const view = jobs.start(stages, input, caller, {
              every,
              ...(parallel === undefined ? {} : { parallel }),
              ...(verify === undefined ? {} : { verify }),
            })
            handedOver = true
            void jobs.settled(view.id).finally(release)
            sendJson(res, 202, view)
          } catch (err) {
            await form.cleanup()
            throw err
          }
        } finally {
          if (!handedOver) release()
        }
      }),
    ],
    [
      'GET',
      /^\/v1\/jobs\/([\w-]+)$/,
      authed(async (_req, res, [id], caller) => sendJson(res, 200, jobOr404(id!, caller).view)),
    ],
    [
      'DELETE',
      /^\/v1\/jobs\/([\w-]+)$/,
      authed(async (_req, res, [id], caller) => {
        const outcome = await jobs.cancel(id!, caller)
        if (outcome === false) throw noSuchJob(id!)
        if (outcome === 'cancelled') return sendJson(res, 200, jobOr404(id!, caller).view)
        res.writeHead(204)
        res.end()
      }),
    ],
    [
      'GET',
      /^\/v1\/jobs\/([\w-]+)\/events$/,
      streaming(async (_req, res, [id], caller) => {
        const job = jobOr404(id!, caller)
        const sink = openEventStream(res)
        for (const ev of job.history) sink.send(ev.event, ev.data)
        if (job.view.status !== 'running') return sink.close()
        const off = job.emitter.on('event', (ev) => {
          sink.send(ev.event, ev.data)
          if (ev.event === 'done' || ev.event === 'failed') sink.close()
        })
        res.on('close', off)
      }),
    ],
    [
      'GET',
      /^\/v1\/jobs\/([\w-]+)\/output$/,
      streaming(async (req, res, [id], caller) => {
        const job = jobOr404(id!, caller)
        if (job.view.status !== 'done' || job.outputPath === undefined || job.view.output === undefined) {
          throw new HttpError(
            409,
            'ERR_JOB_NOT_DONE',
            `job '${id}' is ${job.view.status}; its output exists once it is done`,
          )
        }
        await sendFile(req, res, job.outputPath, job.view.output.contentType)
      }, tokenOrLink('output')),
    ],
    [
      'GET',
      /^\/v1\/jobs\/([\w-]+)\/input$/,
      streaming(async (req, res, [id], caller) => {
        const job = jobOr404(id!, caller)
        const { kind, format } = job.view.input
        await sendFile(req, res, job.inputPath, `${kind}/${format}`)
      }, tokenOrLink('input')),
    ],
    [
      'GET',
      /^\/v1\/jobs\/([\w-]+)\/links$/,
      authed(async (_req, res, [id], caller) => {
        const job = jobOr404(id!, caller)
        sendJson(res, 200, {
          input: links.sign(id!, 'input'),
          ...(job.view.status === 'done' && job.view.output !== undefined
            ? { output: links.sign(id!, 'output') }
            : {}),
        })
      }),
    ],
    [
      'POST',
      new RegExp(`^(?:/[\\w.-]+)*/(${LIVEPEER_TASKS.join('|')})$`),
      withSlot(async (req, res, [task]) => {
        pipelineForTask(task as LivepeerTask)
        const form = await receiveUpload(req, uploadTo(['image']))
        const controller = new AbortController()
        const onClose = () => {
          if (!res.writableFinished) controller.abort()
        }
        res.on('close', onClose)
        try {
          sendJson(res, 200, await runLivepeerTask(mesh, task as LivepeerTask, form, controller.signal))
        } finally {
          res.off('close', onClose)
          await form.cleanup()
        }
      }),
    ],
  ]

  const originRules = {
    allowedOrigins: options.corsOrigins ?? [],
    loopbackOnly: access.open && isLoopbackAddress(options.host ?? '127.0.0.1'),
  }
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway')
    const handle = async () => {
      if (applyOriginRules(req, res, originRules)) return
      const path = url.pathname
      const matching = routes.filter(([, pattern]) => pattern.test(path))
      if (matching.length === 0) throw notFound(`no route ${path}; GET /openapi.json lists the routes`)
      const route = matching.find(([method]) => method === req.method)
      if (route === undefined)
        throw new HttpError(405, 'ERR_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}`)
      const params = route[1].exec(path)!.slice(1)
      await route[2](req, res, params)
    }
    handle().catch((err) => {
      if (!(err instanceof HttpError))
        logger?.warn('gateway request failed', { path: url.pathname, error: err })
      // A refused upload may still be arriving: read it away so the client sees the answer.
      req.resume()
      sendError(res, err)
    })
  })
  // Node cuts any request not whole within 5 min by default: a large video over a slow link takes
  // longer. Uploads are guarded by their own stall timeout instead; headers still have 60 s.
  server.requestTimeout = 0
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve())
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${host}:${address.port}`,
    jobs,
    async close() {
      await jobs.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** The form field `name` as a whole number from 1 to `max`, or a 422 saying so. */
function wholeNumberField(name: string, text: string, max: number): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw validationError([
      { loc: ['body', name], msg: `must be a whole number from 1 to ${max}`, type: 'value_error' },
    ])
  }
  return value
}

/** The `parallel` field: each stage spread over up to this many orchestrators at once. */
function parseParallel(text: string | undefined): number | undefined {
  return text === undefined || text === '' ? undefined : wholeNumberField('parallel', text, MAX_PARALLEL)
}

/**
 * The `verify` field (the share of each stage's outputs checked on a second orchestrator, a
 * number above 0 up to 1; blank or 0: no checks) and `verify_strict` (true/false, as a form's
 * checkbox sends it: "on" or nothing).
 */
function parseVerify(share: string | undefined, strict: string | undefined): VerifyRequest | undefined {
  const strictOn = parseFlag('verify_strict', strict)
  if (share === undefined || share.trim() === '' || Number(share) === 0) {
    if (strictOn) throw badRequest('verify_strict needs verify: the share of outputs to check (e.g. 0.1)')
    return undefined
  }
  const value = Number(share)
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw validationError([
      {
        loc: ['body', 'verify'],
        msg: 'must be the share of outputs to check, a number from 0 to 1 (e.g. 0.1)',
        type: 'value_error',
      },
    ])
  }
  return { share: value, strict: strictOn }
}

/** A yes/no form field: absent, blank, "false", "0" or "off" is no; "true", "1" or "on" is yes. */
function parseFlag(name: string, text: string | undefined): boolean {
  const value = (text ?? '').trim().toLowerCase()
  if (value === '' || value === 'false' || value === '0' || value === 'off') return false
  if (value === 'true' || value === '1' || value === 'on') return true
  throw validationError([{ loc: ['body', name], msg: 'must be true or false', type: 'value_error' }])
}

/** The `every` field: OCR of a video on every n-th frame; 1 when absent. */
function parseEvery(text: string | undefined, stages: StageSpec[], kind: 'image' | 'video'): number {
  const every = text === undefined || text.trim() === '' ? 1 : wholeNumberField('every', text, 1_000_000)
  const ocrOnly = stages.at(-1)?.pipeline === 'ocr' && !stages.some((s) => s.pipeline === 'interpolate')
  if (every > 1 && (kind !== 'video' || !ocrOnly)) {
    throw badRequest('every applies to a video whose last stage is ocr (and that has no interpolate stage)')
  }
  return every
}

function parseStages(text: string | undefined, modelId: string | undefined): StageSpec[] {
  if (text === undefined || text.trim() === '') {
    throw validationError([{ loc: ['body', 'pipeline'], msg: 'Field required', type: 'missing' }])
  }
  const names = text.split(/[,>\s]+/).filter((s) => s.length > 0)
  const stages: StageSpec[] = []
  for (const [i, name] of names.entries()) {
    const [pipeline, model] = name.split(':')
    if (!PIPELINES.includes(pipeline as PipelineId)) {
      throw badRequest(`unknown pipeline '${pipeline}' at stage ${i + 1}; use one of ${PIPELINES.join(', ')}`)
    }
    if (pipeline === 'ocr' && i !== names.length - 1)
      throw badRequest('ocr gives text, so it can only be the last stage')
    stages.push({
      pipeline: pipeline as PipelineId,
      modelId: model ?? (names.length === 1 ? modelId || undefined : undefined),
    })
  }
  return stages
}

/**
 * An uploaded image whose own header shows it cannot be decoded (truncated, no pixels, more
 * pixels than a frame may have) is refused with the upload, not after a 202 as a failed job.
 */
async function checkImageUpload(path: string): Promise<Uint8Array> {
  const bytes = await readFile(path)
  try {
    checkImageBytes(bytes)
    return bytes
  } catch (err) {
    if (!(err instanceof FramemeshError)) throw err
    throw new HttpError(err.code === 'ERR_IMAGE_TOO_LARGE' ? 413 : 400, err.code, err.message)
  }
}
