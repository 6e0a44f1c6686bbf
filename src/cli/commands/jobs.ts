import { resolve } from 'node:path'
import { formatEther } from 'ethers'
import { FramemeshError } from '../../errors.js'
import type { CliCommand } from '../command.js'
import { type ConfigSpec, configHelp, loadConfig } from '../config.js'
import { fetchResult, finishJob, verificationLine } from '../follow-job.js'
import { GATEWAY_CONNECTION_CONFIG, GatewayClient, type GatewayJob } from '../gateway-client.js'

const spec = {
  ...GATEWAY_CONNECTION_CONFIG,
  output: {
    kind: 'string',
    short: 'o',
    help: 'get: where to write the result (- prints OCR text to stdout)',
  },
  json: { kind: 'bool', help: 'print JSON instead of text', default: false },
} as const satisfies ConfigSpec

const USAGE =
  'usage: framemesh jobs [list] | framemesh jobs get <id> -o <file> | framemesh jobs cancel <id> [--gateway <url>] [--token <t>]'

export const jobsCommand: CliCommand = {
  name: 'jobs',
  summary: 'list your jobs at a gateway, download one’s result, or cancel (remove) one',
  help: [
    USAGE,
    '',
    '`list` (the default) prints the jobs your token started at the gateway, newest first: id,',
    'status, frames, stages and what they were charged. `get <id> -o <file>` downloads a job’s result',
    '(say, one you stopped following with Ctrl-C); a job still running is followed to its end first,',
    'with its progress on stderr. `cancel <id>` stops a running job (it fails',
    'with ERR_CANCELLED; what the mesh delivered before stays paid) or removes a finished one with',
    'its files. A gateway shows each token only its own jobs.',
    '',
    configHelp(spec),
  ].join('\n'),
  async run(ctx) {
    const { config, positionals } = await loadConfig(spec, ctx)
    const [action = 'list', id, ...extra] = positionals
    const client = new GatewayClient({ url: config.gateway, token: config.token })
    if (action === 'list' && id === undefined) {
      const jobs = await client.list(ctx.signal)
      if (config.json) ctx.stdout(JSON.stringify(jobs))
      else if (jobs.length === 0) ctx.stdout('no jobs of yours at this gateway')
      else for (const job of jobs) ctx.stdout(jobLine(job))
      return 0
    }
    if (action === 'get' && id !== undefined && extra.length === 0) {
      if (config.output === undefined)
        throw new FramemeshError('ERR_USAGE', `-o <file> is required; ${USAGE}`)
      const job = await client.job(id, ctx.signal)
      if (job.status === 'failed') {
        throw new FramemeshError(
          job.errorCode ?? 'ERR_JOB_FAILED',
          `job ${id} failed, so it has no result: ${job.error ?? 'no reason given'}`,
        )
      }
      const output = config.output === '-' ? '-' : resolve(ctx.cwd, config.output)
      if (job.status === 'running') {
        ctx.stderr(
          `job ${id} is still running; following it to its end (Ctrl-C stops following, not the job)`,
        )
        const { job: ended, bytes } = await finishJob(ctx, client, id, job.stages.join(','), output).catch(
          (err: unknown) => {
            if (!ctx.signal.aborted) throw err
            throw new FramemeshError(
              'ERR_ABORTED',
              `stopped following job ${id}; it goes on at the gateway`,
              {
                cause: err,
              },
            )
          },
        )
        if (output !== '-') for (const line of wrote(config.output, ended, bytes)) ctx.stdout(line)
        return 0
      }
      const bytes = await fetchResult(ctx, client, id, output)
      if (output !== '-') for (const line of wrote(config.output, job, bytes)) ctx.stdout(line)
      return 0
    }
    if (action === 'cancel' && id !== undefined && extra.length === 0) {
      const ended = await client.cancel(id, ctx.signal)
      if (config.json) ctx.stdout(JSON.stringify(ended ?? { id, removed: true }))
      else if (ended === undefined) ctx.stdout(`removed job ${id} and its files`)
      else
        ctx.stdout(`cancelled job ${id} after ${ended.framesDone} frame(s): ${ended.error ?? ended.status}`)
      return 0
    }
    throw new FramemeshError('ERR_USAGE', USAGE)
  },
}

/** The result written, then what the job's checks found, if it had any: a line each. */
function wrote(output: string, job: GatewayJob, bytes: number): string[] {
  const checks = verificationLine(job)
  return [
    `wrote ${output} (${job.output?.contentType ?? 'unknown type'}, ${bytes} bytes)`,
    ...(checks === '' ? [] : [checks]),
  ]
}

function jobLine(job: GatewayJob): string {
  const frames = `${job.framesDone}/${job.framesTotal ?? '?'} frames`
  const charged = job.chargedWei === undefined ? '' : `, charged ${formatEther(BigInt(job.chargedWei))} ETH`
  const why = job.status === 'failed' && job.errorCode !== undefined ? ` (${job.errorCode})` : ''
  return `${job.id}  ${job.status}${why}  ${frames}  ${job.stages.join(' → ')}${charged}`
}
