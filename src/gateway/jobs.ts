/**
 * Jobs the gateway runs on behalf of HTTP callers: the upload on disk goes in as frames, the
 * mesh's outputs go straight back to disk (a video is never held whole in memory), and every
 * event is kept so a dashboard that subscribes late still sees the whole story.
 */
import { randomUUID } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { decodeImage, encodeImage } from '../inference/media/image.js'
import {
  multiplyRate,
  probeVideo,
  type Rational,
  readVideoFrames,
  writeVideo,
} from '../inference/media/video.js'
import type { Frame, TextLine } from '../inference/types.js'
import type { Logger } from '../logger.js'
import { TypedEmitter } from '../peer/events.js'
import { ANONYMOUS } from './auth.js'
import type {
  GatewayMesh,
  MeshJobEvent,
  MeshOutput,
  StageSpec,
  VerificationSummary,
  VerifyRequest,
} from './mesh-port.js'
import type { MediaKind } from './sniff.js'

export type JobStatus = 'running' | 'done' | 'failed'

export interface CostEstimate {
  meshUsd: number
  cloudUsd: number
  cloudBasis: string
}

export interface JobView {
  id: string
  stages: string[]
  status: JobStatus
  framesDone: number
  framesTotal?: number
  /**
   * A frame sent through the mesh in windows (an upscale over ~0.7 MP): how many of the next
   * frame's windows are back. Absent between frames.
   */
  windows?: { done: number; of: number }
  peers: string[]
  /** Tickets' expected value sent (wei). */
  paidWei: bigint
  /** The work at the agreed prices (wei). */
  chargedWei: bigint
  input: { kind: MediaKind['kind']; format: string }
  output?: { kind: 'image' | 'video' | 'text'; contentType: string }
  /**
   * OCR result: all text found, lines joined by newlines (frames separated by blank lines). Each
   * frame's lines with their boxes and confidences are in the output.
   */
  text?: string
  /**
   * With verification: the share of each stage's outputs checked on a second orchestrator,
   * whether it is strict, and what the checks found so far (final when the job ends).
   */
  verification?: VerifyRequest & VerificationSummary
  error?: string
  errorCode?: string
  startedAt: number
  finishedAt?: number
  cost: CostEstimate
}

export type JobEvent = {
  event: 'progress' | 'peer' | 'payment' | 'check' | 'blamed' | 'done' | 'failed'
  data: unknown
}

/** What a job's caller may ask for besides its stages (see GatewayJobs.start). */
export interface JobOptions {
  every?: number
  parallel?: number
  verify?: VerifyRequest
}

export interface GatewayJobsOptions {
  /** Where outputs and finished jobs' records are kept (restore() reads them back). */
  dir: string
  /** Where uploads arrive: restore() removes the ones no job owns (left by a crash). */
  uploadsDir?: string
  /** USD per hour of the cloud GPU the dashboard compares against. */
  cloudGpuUsdPerHour?: number
  cloudGpuName?: string
  /** USD per ETH used to show tickets' expected value in dollars. */
  ethUsd?: number
  /** Finished jobs kept per caller (default 100); each caller's oldest go first, with their files. */
  maxJobs?: number
}

interface JobRecord {
  view: JobView
  /** Who started it (AccessControl's caller id): only they see it, follow it, cancel it. */
  owner: string
  /** Set when its owner cancelled it while it ran. */
  cancelled?: boolean
  history: JobEvent[]
  emitter: TypedEmitter<{ event: JobEvent }>
  inputPath: string
  outputPath?: string
  controller: AbortController
  finished: Promise<void>
}

// AWS g5.xlarge (one NVIDIA A10G), on-demand Linux, us-east-1, as listed publicly in 2026.
const DEFAULT_CLOUD_GPU = { name: 'AWS g5.xlarge (NVIDIA A10G) on-demand, us-east-1', usdPerHour: 1.006 }

export class GatewayJobs {
  readonly #mesh: GatewayMesh
  readonly #logger?: Logger
  readonly #options: Required<Omit<GatewayJobsOptions, 'uploadsDir'>> & { uploadsDir?: string }
  readonly #jobs = new Map<string, JobRecord>()
  /** Set by close(): jobs cut off from then on failed because the gateway stopped, not the caller. */
  #closing = false

  constructor(components: { mesh: GatewayMesh; logger?: Logger }, options: GatewayJobsOptions) {
    this.#mesh = components.mesh
    this.#logger = components.logger
    this.#options = {
      dir: options.dir,
      cloudGpuUsdPerHour: options.cloudGpuUsdPerHour ?? DEFAULT_CLOUD_GPU.usdPerHour,
      cloudGpuName: options.cloudGpuName ?? DEFAULT_CLOUD_GPU.name,
      ethUsd: options.ethUsd ?? 3000,
      maxJobs: options.maxJobs ?? 100,
      ...(options.uploadsDir === undefined ? {} : { uploadsDir: options.uploadsDir }),
    }
  }

  /**
   * Reads back the jobs of the gateway before a restart: finished ones stay served (record,
   * output, input); one that was still running failed with it (ERR_SHUTTING_DOWN). Then removes
   * files no job owns: a crash's half-written outputs and uploads, and those of jobs dropped while
   * the gateway was down. Call once, before serving.
   */
  async restore(): Promise<void> {
    const dir = this.#options.dir
    await mkdir(dir, { recursive: true })
    const restored: JobRecord[] = []
    for (const name of await readdir(dir)) {
      if (!name.endsWith(RECORD_SUFFIX)) continue
      const path = join(dir, name)
      try {
        const record = restoredRecord(JSON.parse(await readFile(path, 'utf8')), name)
        if (record.view.status === 'running') {
          // It was running when the gateway went down without finishing it (a crash, a kill).
          cutOff(record.view)
          record.view.finishedAt = record.view.startedAt
          record.history = [{ event: 'failed', data: record.view }]
          record.outputPath = undefined
          await this.#save(record)
        } else if (record.outputPath !== undefined) {
          // A done job is its output: without the file (removed by hand) there is nothing to serve.
          await stat(record.outputPath)
        }
        restored.push(record)
      } catch (err) {
        this.#logger?.warn('dropping a job record that cannot be served', {
          path,
          error: (err as Error).message,
        })
        await rm(path, { force: true })
      }
    }
    restored.sort((a, b) => a.view.startedAt - b.view.startedAt)
    for (const record of restored) this.#jobs.set(record.view.id, record)
    this.#prune()
    const owned = new Set<string>()
    for (const { view, inputPath, outputPath } of this.#jobs.values()) {
      for (const p of [inputPath, outputPath, this.#recordPath(view.id)]) if (p !== undefined) owned.add(p)
    }
    for (const folder of [dir, this.#options.uploadsDir]) {
      if (folder === undefined) continue
      const names = await readdir(folder).catch(() => [] as string[])
      for (const name of names) {
        const path = join(folder, name)
        if (!owned.has(path)) await rm(path, { recursive: true, force: true })
      }
    }
    if (restored.length > 0) this.#logger?.info('restored finished jobs', { count: this.#jobs.size })
  }

  /** `owner`'s jobs, newest first. */
  list(owner: string): JobView[] {
    return [...this.#jobs.values()]
      .filter((j) => j.owner === owner)
      .map((j) => j.view)
      .reverse()
  }

  /** Every job, whoever started it: the operator's view (metrics), never a caller's. */
  all(): JobView[] {
    return [...this.#jobs.values()].map((j) => j.view).reverse()
  }

  /** The job, when `owner` started it; nobody learns of others' jobs. */
  get(id: string, owner: string): JobRecord | undefined {
    const record = this.#jobs.get(id)
    return record?.owner === owner ? record : undefined
  }

  /** Any job by id, for the operator's own code in this process (the demo, tests). */
  find(id: string): JobRecord | undefined {
    return this.#jobs.get(id)
  }

  /**
   * A running job is stopped (it fails with ERR_CANCELLED; what it paid for stays paid) and
   * resolves once it has; a finished one is removed with its files. False when `owner` has no
   * such job.
   */
  async cancel(id: string, owner: string): Promise<'cancelled' | 'removed' | false> {
    const record = this.get(id, owner)
    if (record === undefined) return false
    if (record.view.status === 'running') {
      record.cancelled = true
      record.controller.abort()
      await record.finished
      return 'cancelled'
    }
    await this.#remove(record)
    return 'removed'
  }

  /**
   * Starts a job over an uploaded file for `owner`; the file becomes the job's (removed with it).
   * An image's `bytes`, when the caller read them already, are decoded rather than read again.
   * `every` (a video whose last stage is OCR): only every n-th frame is sent, as
   * \`framemesh run ocr --every\` reads them. `parallel`: each stage spread over up to this many
   * orchestrators at once. `verify`: a share of each stage's outputs checked on another one.
   */
  start(
    stages: StageSpec[],
    input: { path: string; media: MediaKind; bytes?: Uint8Array },
    owner: string,
    options: JobOptions = {},
  ): JobView {
    const id = randomUUID()
    const startedAt = Date.now()
    const view: JobView = {
      id,
      stages: stages.map((s) => (s.modelId === undefined ? s.pipeline : `${s.pipeline}:${s.modelId}`)),
      status: 'running',
      framesDone: 0,
      peers: [],
      paidWei: 0n,
      chargedWei: 0n,
      input: { kind: input.media.kind, format: input.media.format },
      startedAt,
      cost: this.#cost(0n, 0),
      ...(options.verify === undefined
        ? {}
        : {
            verification: {
              ...options.verify,
              checked: 0,
              mismatches: 0,
              unverified: 0,
              blamed: [],
              checkers: [],
              paidWei: 0n,
            },
          }),
    }
    const record: JobRecord = {
      view,
      owner,
      history: [],
      emitter: new TypedEmitter(),
      inputPath: input.path,
      controller: new AbortController(),
      finished: Promise.resolve(),
    }
    this.#jobs.set(id, record)
    // Kept from the start, so a job cut off by a crash reads as such after a restart, not as unknown.
    record.finished = this.#save(record).then(() => this.#run(record, stages, options, input.bytes))
    return view
  }

  /** Waits for a job to finish (for tests and the demo). */
  async settled(id: string): Promise<JobView | undefined> {
    const record = this.#jobs.get(id)
    await record?.finished
    return record?.view
  }

  async close(): Promise<void> {
    this.#closing = true
    for (const job of this.#jobs.values()) job.controller.abort()
    await Promise.allSettled([...this.#jobs.values()].map((j) => j.finished))
  }

  #emit(record: JobRecord, event: JobEvent): void {
    record.history.push(event)
    record.emitter.emit('event', event)
  }

  async #run(
    record: JobRecord,
    stages: StageSpec[],
    options: JobOptions,
    imageBytes: Uint8Array | undefined,
  ): Promise<void> {
    const every = options.every ?? 1
    const { view } = record
    const signal = record.controller.signal
    try {
      await mkdir(this.#options.dir, { recursive: true })
      const isVideo = view.input.kind === 'video'
      const info = isVideo ? await probeVideo(record.inputPath, { signal }) : undefined
      // Interpolating a video doubles its frame rate, as `framemesh run interpolate` does.
      const doublings = stages.filter((s) => s.pipeline === 'interpolate').length
      const rateFactor = 2 ** doublings
      view.framesTotal = isVideo
        ? info?.frameCount === undefined
          ? undefined
          : Math.ceil(info.frameCount / every) * rateFactor
        : 1
      const frames: AsyncIterable<Frame> = isVideo
        ? everyNth(readVideoFrames(record.inputPath, { signal, info }), every)
        : (async function* () {
            yield await decodeImage(imageBytes ?? (await readFile(record.inputPath)))
          })()
      const meshStages = stages.map((s) => (s.pipeline === 'interpolate' ? { ...s, doubleRate: true } : s))
      const run = this.#mesh.run(meshStages, frames, {
        signal,
        ...(options.parallel === undefined ? {} : { parallel: options.parallel }),
        ...(options.verify === undefined ? {} : { verify: options.verify }),
      })
      const eventsDone = this.#forwardEvents(record, run.events)
      const textual = stages[stages.length - 1].pipeline === 'ocr'
      if (textual) {
        record.outputPath = join(this.#options.dir, `${view.id}.json`)
        const rate = info === undefined ? undefined : multiplyRate(info.fps, rateFactor)
        view.text = await writeText(record.outputPath, run.outputs, { rate, every })
        view.output = { kind: 'text', contentType: 'application/json' }
      } else if (isVideo && info !== undefined) {
        record.outputPath = join(this.#options.dir, `${view.id}.mp4`)
        await writeVideo(record.outputPath, framesOf(run.outputs), {
          fps: multiplyRate(info.fps, rateFactor),
          audioFrom: info.hasAudio ? record.inputPath : undefined,
          signal,
        })
        view.output = { kind: 'video', contentType: 'video/mp4' }
      } else {
        let frame: Frame | undefined
        for await (const f of framesOf(run.outputs)) frame = f
        if (frame === undefined) throw new Error('the mesh returned no output frame')
        record.outputPath = join(this.#options.dir, `${view.id}.png`)
        await writeFile(record.outputPath, await encodeImage(frame, 'png'))
        view.output = { kind: 'image', contentType: 'image/png' }
      }
      const report = await run.done
      await eventsDone
      view.peers = report.peers
      view.paidWei = report.paidWei
      view.chargedWei = report.chargedWei
      if (view.verification !== undefined && report.verification !== undefined)
        view.verification = { ...view.verification, ...report.verification }
      view.status = 'done'
    } catch (err) {
      view.status = 'failed'
      if (record.cancelled === true && signal.aborted) {
        view.error = 'cancelled by its owner; what the mesh delivered before was paid for'
        view.errorCode = 'ERR_CANCELLED'
      } else if (this.#closing && signal.aborted) {
        // The mesh says only "cancelled"; a client that follows the job should know to resubmit.
        cutOff(view)
      } else {
        view.error = err instanceof Error ? err.message : String(err)
        view.errorCode = (err as { code?: string }).code
      }
      this.#logger?.warn('gateway job failed', { id: view.id, error: view.error, code: view.errorCode })
    } finally {
      delete view.windows
      if (view.status === 'failed' && record.outputPath !== undefined) {
        // What a failed job wrote is no result (the output route serves done jobs only).
        await rm(record.outputPath, { force: true })
        record.outputPath = undefined
      }
      view.finishedAt = Date.now()
      view.cost = this.#cost(view.chargedWei, view.finishedAt - view.startedAt)
      await this.#save(record)
      this.#prune()
      this.#emit(record, { event: view.status === 'done' ? 'done' : 'failed', data: view })
    }
  }

  #recordPath(id: string): string {
    return join(this.#options.dir, `${id}${RECORD_SUFFIX}`)
  }

  /** The job's record beside its output (written whole, then renamed into place). */
  async #save(record: JobRecord): Promise<void> {
    const path = this.#recordPath(record.view.id)
    const saved: SavedJob = {
      view: record.view,
      owner: record.owner,
      inputPath: record.inputPath,
      ...(record.outputPath === undefined ? {} : { outputPath: record.outputPath }),
    }
    try {
      await mkdir(this.#options.dir, { recursive: true })
      await writeFile(
        `${path}.tmp`,
        JSON.stringify(saved, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)),
      )
      await rename(`${path}.tmp`, path)
    } catch (err) {
      this.#logger?.warn('could not keep the job record; it is lost on restart', {
        id: record.view.id,
        error: (err as Error).message,
      })
    }
  }

  async #forwardEvents(record: JobRecord, events: AsyncIterable<MeshJobEvent>): Promise<void> {
    const { view } = record
    for await (const ev of events) {
      if (ev.type === 'progress') {
        view.framesDone = ev.framesDone
        if (ev.windows === undefined) delete view.windows
        else view.windows = ev.windows
        this.#emit(record, {
          event: 'progress',
          data: {
            framesDone: ev.framesDone,
            framesTotal: view.framesTotal,
            ...(ev.windows === undefined ? {} : { windows: ev.windows }),
          },
        })
      } else if (ev.type === 'peer') {
        if (!view.peers.includes(ev.to)) view.peers.push(ev.to)
        this.#emit(record, { event: 'peer', data: ev })
      } else if (ev.type === 'payment') {
        view.paidWei += ev.evWei
        if (ev.check === true && view.verification !== undefined) view.verification.paidWei += ev.evWei
        this.#emit(record, { event: 'payment', data: ev })
      } else if (ev.type === 'check') {
        const v = view.verification
        if (v !== undefined) {
          v.checked++
          if (!ev.match) v.mismatches++
          if (!v.checkers.includes(ev.checker)) v.checkers.push(ev.checker)
        }
        this.#emit(record, { event: 'check', data: ev })
      } else {
        view.verification?.blamed.push({
          stage: ev.stage,
          peerId: ev.peerId,
          against: ev.against,
          reason: ev.reason,
        })
        this.#emit(record, { event: 'blamed', data: ev })
      }
    }
  }

  #cost(chargedWei: bigint, elapsedMs: number): CostEstimate {
    const o = this.#options
    return {
      meshUsd: (Number(chargedWei) / 1e18) * o.ethUsd,
      cloudUsd: (elapsedMs / 3_600_000) * o.cloudGpuUsdPerHour,
      cloudBasis: `${o.cloudGpuName} at $${o.cloudGpuUsdPerHour}/h for the same wall time; ETH at $${o.ethUsd}`,
    }
  }

  /**
   * Keeps each caller's newest `maxJobs` finished jobs and removes the rest with their files: one
   * busy caller does not push out another's results. Running jobs are bounded by the callers' slots.
   */
  #prune(): void {
    const finished = new Map<string, JobRecord[]>()
    for (const record of this.#jobs.values()) {
      if (record.view.status === 'running') continue
      const own = finished.get(record.owner) ?? []
      own.push(record)
      finished.set(record.owner, own)
    }
    const finishedAt = (r: JobRecord) => r.view.finishedAt ?? r.view.startedAt
    for (const own of finished.values()) {
      // By when they finished: a long job started first is not the first to go when it ends.
      own.sort((a, b) => finishedAt(a) - finishedAt(b))
      for (const record of own.slice(0, Math.max(0, own.length - this.#options.maxJobs))) {
        void this.#remove(record)
      }
    }
  }

  /** Forgets a finished job and removes its files. */
  async #remove(record: JobRecord): Promise<void> {
    this.#jobs.delete(record.view.id)
    const files = [record.inputPath, record.outputPath, this.#recordPath(record.view.id)]
    await Promise.all(files.map((p) => (p === undefined ? undefined : rm(p, { force: true }))))
  }
}

/** A finished job's record file: `<id>.job.json` in the jobs dir. */
const RECORD_SUFFIX = '.job.json'

/** What a record file holds (bigints as decimal strings). */
interface SavedJob {
  view: JobView
  owner?: string
  inputPath: string
  outputPath?: string
}

/**
 * A job read back from its record: a finished one's history is its last event. Throws on a
 * record that does not add up.
 */
function restoredRecord(saved: SavedJob, fileName: string): JobRecord {
  const view = saved?.view
  const id = basename(fileName, RECORD_SUFFIX)
  if (view?.id !== id || !['running', 'done', 'failed'].includes(view.status)) {
    throw new Error(`not a job record`)
  }
  if (typeof saved.inputPath !== 'string' || typeof view.startedAt !== 'number') {
    throw new Error('the record lacks its input or start time')
  }
  view.paidWei = BigInt(view.paidWei)
  view.chargedWei = BigInt(view.chargedWei)
  if (view.verification !== undefined) view.verification.paidWei = BigInt(view.verification.paidWei)
  return {
    view,
    // Records from before jobs had owners: the open gateway's caller is the one who may see them.
    owner: typeof saved.owner === 'string' ? saved.owner : ANONYMOUS,
    history: view.status === 'running' ? [] : [{ event: view.status, data: view }],
    emitter: new TypedEmitter(),
    inputPath: saved.inputPath,
    ...(saved.outputPath === undefined ? {} : { outputPath: saved.outputPath }),
    controller: new AbortController(),
    finished: Promise.resolve(),
  }
}

/**
 * Writes an OCR job's result as it comes, one frame at a time (a long video's lines never sit in
 * memory): `{"frames":[{"index","time"?,"lines"}…],"text"}`, as \`framemesh run ocr\` writes them.
 * The n-th output is frame n × `every` of the video at `rate`; `time` (seconds) for videos only.
 * Returns all the text, frames apart by a blank line.
 */
async function writeText(
  path: string,
  outputs: AsyncIterable<MeshOutput>,
  video: { rate: Rational | undefined; every: number },
): Promise<string> {
  const file = await open(path, 'w')
  const write = async (chunk: string) => {
    await file.write(chunk)
  }
  const texts: string[] = []
  try {
    await write('{"frames":[')
    const { rate, every } = video
    for await (const out of outputs) {
      const lines = textOf(out)
      const index = texts.length * every
      const time = rate === undefined ? {} : { time: (index * rate.den) / rate.num }
      await write(`${texts.length === 0 ? '' : ','}\n${JSON.stringify({ index, ...time, lines })}`)
      texts.push(lines.map((l) => l.text).join('\n'))
    }
    const text = texts.join('\n\n')
    await write(`\n],"text":${JSON.stringify(text)}}\n`)
    return text
  } finally {
    await file.close()
  }
}

async function* everyNth(frames: AsyncIterable<Frame>, n: number): AsyncGenerator<Frame> {
  let index = 0
  for await (const frame of frames) if (index++ % n === 0) yield frame
}

function textOf(out: MeshOutput): TextLine[] {
  if (out.kind !== 'text') throw new Error('expected text from the last (OCR) stage, got a frame')
  return out.lines
}

async function* framesOf(outputs: AsyncIterable<MeshOutput>): AsyncGenerator<Frame> {
  for await (const out of outputs) {
    if (out.kind !== 'frame') throw new Error('expected frames from the last stage, got text')
    yield out.frame
  }
}

/** A job the gateway's stop (clean, or a crash found at restart) cut off: the client resubmits. */
function cutOff(view: JobView): void {
  view.status = 'failed'
  view.errorCode = 'ERR_SHUTTING_DOWN'
  view.error = 'the gateway stopped while the job ran; submit it again once the gateway is back'
}
