import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { open, readFile, writeFile } from 'node:fs/promises'
import { FramemeshError } from '../../errors.js'
import type { InferenceEngine } from '../../inference/engine.js'
import { WrongPipelineError } from '../../inference/errors.js'
import { containerFor } from '../../inference/media/containers.js'
import { ImageDecodeError } from '../../inference/media/errors.js'
import { decodeImage, decodeRawFrame, encodeFormatForPath, encodeImage } from '../../inference/media/image.js'
import { detectImageFormat } from '../../inference/media/image-header.js'
import {
  multiplyRate,
  probeVideo,
  readVideoFrames,
  type VideoInfo,
  writeVideo,
} from '../../inference/media/video.js'
import type { OcrPipeline } from '../../inference/pipelines/ocr.js'
import {
  DEFAULT_OCR_DETECTOR,
  DEFAULT_OCR_RECOGNIZER,
  openOcrPipeline,
} from '../../inference/pipelines/ocr-models.js'
import type { Frame } from '../../inference/types.js'
import type { CliCommand, CliContext } from '../command.js'
import { type ConfigSpec, configHelp, loadConfig } from '../config.js'
import { INFERENCE_CONFIG, openEngine } from '../inference.js'
import { createProgress } from '../progress.js'

const spec = {
  ...INFERENCE_CONFIG,
  model: {
    kind: 'string',
    help: 'model id (upscale: esrgan-slim-x2, interpolate: blend, ocr: the detector)',
  },
  recModel: { kind: 'string', help: `OCR recogniser model id (default ${DEFAULT_OCR_RECOGNIZER})` },
  every: { kind: 'int', help: 'OCR on a video: read every n-th frame', default: 1, min: 1, max: 1_000_000 },
  inputSize: { kind: 'string', help: 'size of a raw RGB input as <width>x<height> (for .rgb files)' },
} as const satisfies ConfigSpec

type Config = Awaited<ReturnType<typeof loadConfig<typeof spec>>>['config']
type PipelineName = 'upscale' | 'interpolate' | 'ocr'

const DEFAULT_MODEL: Record<PipelineName, string> = {
  upscale: 'esrgan-slim-x2',
  interpolate: 'blend',
  ocr: DEFAULT_OCR_DETECTOR,
}

class UsageError extends FramemeshError {
  constructor(message: string) {
    super('ERR_USAGE', message)
  }
}

export const runCommand: CliCommand = {
  name: 'run',
  summary: 'run a pipeline (upscale, interpolate, ocr) on an image or video file locally',
  help: [
    'usage: framemesh run <pipeline> <input> <output> [--model <id>] [options]',
    '',
    'Runs a model on this machine, without the mesh. The input kind is read from its content:',
    'PNG, JPEG or WebP images, raw RGB with --input-size WxH, or any video ffmpeg reads.',
    '',
    '  upscale      image → image (.png, .jpg, .rgb), video → video (.mp4, .mov, .mkv, .webm)',
    '  interpolate  video → video at twice the frame rate: a blended frame between each pair',
    '  ocr          image or video → JSON text lines with boxes (output .json, or - for stdout)',
    '',
    'Videos keep their frame rate (doubled by interpolate) and audio track; progress goes to stderr.',
    '',
    configHelp(spec),
  ].join('\n'),
  async run(ctx) {
    const { config, positionals } = await loadConfig(spec, ctx)
    const [pipeline, input, output, ...extra] = positionals
    if (pipeline === undefined || input === undefined || output === undefined || extra.length > 0) {
      throw new UsageError(
        'expected: framemesh run <upscale|interpolate|ocr> <input> <output> [--model <id>]',
      )
    }
    if (!(pipeline in DEFAULT_MODEL)) {
      throw new UsageError(`unknown pipeline '${pipeline}'; choose upscale, interpolate or ocr`)
    }
    const job = { ctx, config, pipeline: pipeline as PipelineName, input, output }
    const kind = await inputKind(input, config.inputSize)
    checkOutput(job.pipeline, kind, output)
    const engine = await openEngine(ctx, config)
    try {
      const model = config.model ?? DEFAULT_MODEL[job.pipeline]
      const ocr =
        job.pipeline === 'ocr'
          ? await openOcrPipeline(engine, { detectorId: model, recognizerId: config.recModel })
          : undefined
      const record = engine.registry.get(model)
      // A model the registry already refused (its file changed, say) fails now, not a frame in.
      if (record.error !== undefined) throw record.error
      const wanted = record.manifest.pipeline
      if (ocr === undefined && wanted !== job.pipeline)
        throw new WrongPipelineError(model, wanted, job.pipeline)
      if (kind === 'video') await runVideo(job, engine, model, ocr)
      else await runImage(job, engine, model, ocr, await readImage(input, config.inputSize))
      return 0
    } finally {
      await engine.close()
    }
  },
}

interface Job {
  ctx: CliContext
  config: Config
  pipeline: PipelineName
  input: string
  output: string
}

async function inputKind(path: string, inputSize: string | undefined): Promise<'image' | 'video'> {
  if (inputSize !== undefined) return 'image'
  const head = new Uint8Array(16)
  const file = await open(path, 'r').catch((err: Error) => {
    throw new UsageError(`cannot read input '${path}' (${err.message}); check the path`)
  })
  try {
    await file.read(head, 0, head.length, 0)
  } finally {
    await file.close()
  }
  if (detectImageFormat(head) !== undefined) return 'image'
  // Read as a video, a corrupt .png would get ffmpeg's complaint about a video stream, or an
  // image output would be refused as a video container: neither says what is wrong.
  if (IMAGE_NAME.test(path)) {
    throw new ImageDecodeError(
      `'${path}' is named as an image but is not a PNG, JPEG or WebP file (its first bytes match none of them); it may be corrupt or misnamed`,
    )
  }
  return 'video'
}

/** File names of the image formats read by content (raw RGB needs --input-size anyway). */
const IMAGE_NAME = /\.(png|jpe?g|webp)$/i

/** Refuses an output the pipeline cannot write before any model loads. */
function checkOutput(pipeline: PipelineName, kind: 'image' | 'video', output: string): void {
  if (pipeline === 'ocr') {
    if (output !== '-' && !output.toLowerCase().endsWith('.json')) {
      throw new UsageError(`ocr writes JSON: name the output <file>.json, or - for stdout (got '${output}')`)
    }
    return
  }
  if (kind === 'image' && pipeline === 'interpolate') {
    throw new UsageError('interpolate needs a video input (it blends neighbouring frames)')
  }
  if (kind === 'video') containerFor(output)
  else if (encodeFormatForPath(output) === undefined) {
    throw new UsageError(`cannot tell the image format of '${output}'; end it in .png, .jpg or .rgb`)
  }
}

async function readImage(path: string, inputSize: string | undefined): Promise<Frame> {
  const bytes = new Uint8Array(await readFile(path))
  if (inputSize === undefined) return decodeImage(bytes)
  const m = /^(\d+)x(\d+)$/.exec(inputSize)
  if (m === null) throw new UsageError(`--input-size must look like 640x480, got '${inputSize}'`)
  return decodeRawFrame(bytes, Number(m[1]), Number(m[2]))
}

async function runImage(
  job: Job,
  engine: InferenceEngine,
  model: string,
  ocr: OcrPipeline | undefined,
  frame: Frame,
): Promise<void> {
  const { ctx } = job
  const started = performance.now()
  if (ocr !== undefined) {
    const lines = await ocr.recognize(frame, { signal: ctx.signal })
    await writeJson(job, { input: job.input, width: frame.width, height: frame.height, lines })
    ctx.stderr(`ocr: ${lines.length} lines in ${Math.round(performance.now() - started)} ms`)
    return
  }
  const out = await engine.upscale(model, frame, { signal: ctx.signal })
  const format = encodeFormatForPath(job.output) ?? 'png'
  await writeFile(job.output, await encodeImage(out, format))
  ctx.stderr(
    `upscale: ${frame.width}×${frame.height} → ${out.width}×${out.height} with ${model} in ${Math.round(performance.now() - started)} ms`,
  )
}

async function runVideo(
  job: Job,
  engine: InferenceEngine,
  model: string,
  ocr: OcrPipeline | undefined,
): Promise<void> {
  const { ctx } = job
  const signal = ctx.signal
  const info = await probeVideo(job.input, { signal })
  const every = job.config.every
  const total =
    info.frameCount === undefined
      ? undefined
      : ocr === undefined
        ? info.frameCount
        : Math.ceil(info.frameCount / every)
  const progress = createProgress(ctx.stderr, { label: job.pipeline, total })
  const frames = readVideoFrames(job.input, { info, signal })
  if (ocr !== undefined) {
    await ocrVideo(job, info, frames, ocr, () => progress.tick())
    progress.done()
  } else {
    const source = counted(frames, () => progress.tick())
    const out =
      job.pipeline === 'upscale'
        ? mapFrames(source, (f) => engine.upscale(model, f, { signal }))
        : doubleFrames(source, (a, b) => engine.interpolate(model, a, b, 0.5, { signal }))
    const fps = job.pipeline === 'upscale' ? info.fps : multiplyRate(info.fps, 2)
    const written = await writeVideo(job.output, out, { fps, audioFrom: job.input, signal })
    progress.done()
    // writeVideo pads odd sides by a pixel (see video.ts): say so rather than name a size the file has not.
    const { width, height } = written
    const padded =
      width % 2 === 1 || height % 2 === 1
        ? ` (stored as ${width + (width % 2)}×${height + (height % 2)}: the encoder needs even sides, so one black edge was added)`
        : ''
    ctx.stderr(
      `${job.pipeline}: wrote ${written.frames} frames of ${width}×${height}${padded} at ${fps.num}/${fps.den} fps${written.hasAudio ? ' with audio' : ''} to ${job.output}`,
    )
  }
}

/** Streams the JSON result frame by frame, so a long video's text never sits in memory. */
async function ocrVideo(
  job: Job,
  info: VideoInfo,
  frames: AsyncIterable<Frame>,
  ocr: OcrPipeline,
  tick: () => void,
): Promise<void> {
  const toStdout = job.output === '-'
  const file = toStdout ? undefined : createWriteStream(job.output)
  const chunks: string[] = []
  const write = async (text: string) => {
    if (file === undefined) chunks.push(text)
    else if (!file.write(text)) await once(file, 'drain')
  }
  try {
    const head = {
      input: job.input,
      width: info.width,
      height: info.height,
      fps: `${info.fps.num}/${info.fps.den}`,
    }
    await write(`${JSON.stringify(head).slice(0, -1)},"frames":[`)
    let index = 0
    let first = true
    for await (const frame of frames) {
      if (index % job.config.every === 0) {
        const lines = await ocr.recognize(frame, { signal: job.ctx.signal })
        const time = (index * info.fps.den) / info.fps.num
        await write(`${first ? '' : ','}\n${JSON.stringify({ index, time, lines })}`)
        first = false
        tick()
      }
      index++
    }
    await write('\n]}\n')
  } finally {
    if (file !== undefined) {
      file.end()
      await once(file, 'close')
    }
  }
  if (toStdout) job.ctx.stdout(chunks.join('').trimEnd())
}

async function writeJson(job: Job, value: unknown): Promise<void> {
  const text = JSON.stringify(value, null, 2)
  if (job.output === '-') job.ctx.stdout(text)
  else await writeFile(job.output, text + '\n')
}

async function* counted(frames: AsyncIterable<Frame>, tick: () => void): AsyncGenerator<Frame> {
  for await (const frame of frames) {
    yield frame
    tick()
  }
}

async function* mapFrames(
  frames: AsyncIterable<Frame>,
  fn: (f: Frame) => Promise<Frame>,
): AsyncGenerator<Frame> {
  for await (const frame of frames) yield await fn(frame)
}

/**
 * Each source frame followed by the frame halfway to the next one; the last frame is repeated so
 * the output, at twice the rate, lasts as long as the input.
 */
async function* doubleFrames(
  frames: AsyncIterable<Frame>,
  between: (a: Frame, b: Frame) => Promise<Frame>,
): AsyncGenerator<Frame> {
  let previous: Frame | undefined
  for await (const frame of frames) {
    if (previous !== undefined) {
      yield previous
      yield await between(previous, frame)
    }
    previous = frame
  }
  if (previous !== undefined) {
    yield previous
    yield previous
  }
}
