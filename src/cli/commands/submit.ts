import { type FileHandle, open } from 'node:fs/promises'
import { extname, resolve } from 'node:path'
import { formatEther } from 'ethers'
import { FramemeshError } from '../../errors.js'
import { type MediaKind, SNIFF_BYTES, sniffMedia } from '../../gateway/sniff.js'
import type { CliCommand } from '../command.js'
import { type ConfigSpec, configHelp, loadConfig } from '../config.js'
import { finishJob, verificationLine } from '../follow-job.js'
import { GATEWAY_CONNECTION_CONFIG, GatewayClient } from '../gateway-client.js'

const spec = {
  ...GATEWAY_CONNECTION_CONFIG,
  output: { kind: 'string', short: 'o', help: 'where to write the result (- prints OCR text to stdout)' },
  requestTimeoutMs: {
    kind: 'int',
    help: 'bound on waiting for each gateway answer (not on the job), in ms',
    default: 30_000,
    min: 100,
  },
  idleTimeoutMs: {
    kind: 'int',
    help: 'reconnect when the event stream is silent this long, in ms (the gateway beats every 15 s)',
    default: 60_000,
    min: 100,
  },
  every: {
    kind: 'int',
    help: 'OCR of a video: read every n-th frame only (and pay for those)',
    default: 1,
    min: 1,
    max: 1_000_000,
  },
  parallel: {
    kind: 'int',
    help: 'spread each stage over up to this many orchestrators at once (fewer when fewer sell it)',
    default: 1,
    min: 1,
    max: 16,
  },
  verify: {
    kind: 'int',
    help: "check this percent of each stage's outputs on a second orchestrator (a peer found wrong is dropped, its work redone); 0: no checks",
    default: 0,
    min: 0,
    max: 100,
  },
  verifyStrict: {
    kind: 'bool',
    help: 'with --verify: fail the job rather than deliver an output no second orchestrator could check',
    default: false,
  },
  waitWhenBusyMs: {
    kind: 'int',
    help: 'when the gateway already runs as many of your jobs as it allows (429), keep trying this long, in ms (0: fail at once)',
    default: 600_000,
    min: 0,
  },
  json: { kind: 'bool', help: 'print the finished job as one JSON object', default: false },
} as const satisfies ConfigSpec

const USAGE = 'usage: framemesh submit <pipeline|chain> <input> -o <output> [--gateway <url>] [--token <t>]'
const PIPELINES = ['upscale', 'interpolate', 'ocr']

class UsageError extends FramemeshError {
  constructor(message: string) {
    super('ERR_USAGE', message)
  }
}

export const submitCommand: CliCommand = {
  name: 'submit',
  summary: 'send an image or video to a gateway, follow the job, download the result',
  help: [
    USAGE,
    '',
    'Uploads <input> to a running gateway (POST /v1/jobs), follows the job’s events with a progress',
    'bar on stderr, printing each orchestrator it runs on and each payment, then downloads the result.',
    'A chain runs stages one after another, e.g. `upscale,ocr`; a stage may name its model, as in',
    '`upscale:esrgan-slim-x4`. Images come back as PNG, videos as MP4 and OCR as JSON, so -o must end',
    'in .png, .mp4 or .json (or be - to print OCR text). A failed job exits 1 with the gateway’s message.',
    '',
    configHelp(spec),
  ].join('\n'),
  async run(ctx) {
    const { config, positionals } = await loadConfig(spec, ctx)
    const [stages, input, ...extra] = positionals
    if (stages === undefined || input === undefined || extra.length > 0) throw new UsageError(USAGE)
    if (config.output === undefined) throw new UsageError(`-o <output> is required; ${USAGE}`)
    const names = parseChain(stages)
    const inputPath = resolve(ctx.cwd, input)
    const kind = await mediaKind(inputPath)
    if (kind === 'image' && names.includes('interpolate'))
      throw new UsageError('interpolate needs a video: it makes the frames between neighbouring frames')
    if (config.every > 1 && (kind !== 'video' || names.at(-1) !== 'ocr' || names.includes('interpolate')))
      throw new UsageError(
        '--every applies to a video whose last stage is ocr (and that has no interpolate stage)',
      )
    if (config.verifyStrict && config.verify === 0)
      throw new UsageError('--verify-strict needs --verify <percent>: the share of outputs to check')
    const ocr = names[names.length - 1] === 'ocr'
    const output = config.output === '-' ? '-' : resolve(ctx.cwd, config.output)
    checkOutput(output, ocr ? '.json' : kind === 'image' ? '.png' : '.mp4')

    const client = new GatewayClient({
      url: config.gateway,
      token: config.token,
      requestTimeoutMs: config.requestTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
      onReconnect: (why) => ctx.stderr(`event stream lost (${why}); reconnecting`),
    })
    const started = performance.now()
    ctx.stderr(`uploading ${input} to ${config.gateway}`)
    const submitted = await client
      .submit(stages, inputPath, ctx.signal, {
        every: config.every,
        parallel: config.parallel,
        ...(config.verify === 0
          ? {}
          : { verify: { share: config.verify / 100, strict: config.verifyStrict } }),
        waitWhenBusyMs: config.waitWhenBusyMs,
        onBusy: () =>
          ctx.stderr(
            `the gateway is running as many of your jobs as it allows; waiting for one to end (up to ${Math.round(config.waitWhenBusyMs / 1000)} s, --wait-when-busy-ms)`,
          ),
      })
      .catch((err: unknown) => {
        if (!ctx.signal.aborted) throw err
        throw new FramemeshError('ERR_ABORTED', 'stopped during the upload; no job was started', {
          cause: err,
        })
      })
    ctx.stderr(`job ${submitted.id}: ${submitted.stages.join(' → ')}`)
    const { job, bytes } = await finishJob(ctx, client, submitted.id, stages, output).catch(
      (err: unknown) => {
        if (!ctx.signal.aborted) throw err
        throw new FramemeshError(
          'ERR_ABORTED',
          `stopped following job ${submitted.id}; it goes on at the gateway: ${config.gateway}/v1/jobs/${submitted.id} (fetch its result later with \`framemesh jobs get ${submitted.id} -o <file>\`, or stop it with \`framemesh jobs cancel ${submitted.id}\`)`,
          { cause: err },
        )
      },
    )
    const seconds = (performance.now() - started) / 1000
    const summary = {
      id: job.id,
      output,
      contentType: job.output?.contentType,
      bytes,
      peers: job.peers,
      chargedWei: job.chargedWei,
      paidWei: job.paidWei,
      seconds: Number(seconds.toFixed(3)),
      ...(job.verification === undefined ? {} : { verification: job.verification }),
    }
    if (config.json) ctx.stdout(JSON.stringify(summary))
    else if (output !== '-') {
      ctx.stdout(
        `wrote ${config.output} (${summary.contentType}, ${bytes} bytes) in ${seconds.toFixed(1)} s; ` +
          `${job.peers.length} peer(s), charged ${formatEther(BigInt(job.chargedWei ?? 0))} ETH, ` +
          `sent ${formatEther(BigInt(job.paidWei))} ETH in tickets (expected value)`,
      )
      const checks = verificationLine(job)
      if (checks !== '') ctx.stdout(checks)
    }
    return 0
  },
}

/** "upscale,ocr" → its pipeline names, refusing unknown ones before anything is uploaded. */
function parseChain(text: string): string[] {
  const stages = text.split(/[,>\s]+/).filter((s) => s !== '')
  if (stages.length === 0)
    throw new UsageError(`name a pipeline or chain, e.g. upscale or upscale,ocr; ${USAGE}`)
  const names = stages.map((s) => s.split(':')[0]!)
  for (const [i, name] of names.entries()) {
    if (!PIPELINES.includes(name)) {
      throw new UsageError(`unknown pipeline '${name}' at stage ${i + 1}; use ${PIPELINES.join(', ')}`)
    }
    if (name === 'ocr' && i !== names.length - 1) {
      throw new UsageError('ocr gives text, so it can only be the last stage of a chain')
    }
  }
  return names
}

/** The input's kind, judged by its first bytes exactly as the gateway will judge them. */
async function mediaKind(path: string): Promise<MediaKind['kind']> {
  let handle: FileHandle
  try {
    handle = await open(path, 'r')
  } catch (err) {
    throw new UsageError(`cannot read input '${path}' (${(err as Error).message}); check the path`)
  }
  try {
    const { buffer, bytesRead } = await handle.read({ buffer: new Uint8Array(SNIFF_BYTES) })
    const media = sniffMedia(buffer.subarray(0, bytesRead))
    if (media === undefined) {
      throw new UsageError(
        `'${path}' is neither an image (PNG, JPEG, WebP) nor a video the gateway takes (MP4, WebM, AVI)`,
      )
    }
    return media.kind
  } finally {
    await handle.close()
  }
}

function checkOutput(output: string, wanted: '.png' | '.mp4' | '.json'): void {
  if (output === '-') {
    if (wanted !== '.json') throw new UsageError('-o - prints OCR text; images and videos need a file name')
    return
  }
  if (extname(output).toLowerCase() !== wanted) {
    throw new UsageError(
      `this job's result is ${wanted.slice(1).toUpperCase()}: name the output <file>${wanted}`,
    )
  }
}
