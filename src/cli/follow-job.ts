/**
 * Following a job at a gateway from the command line: its events drawn as a progress bar with
 * each orchestrator and payment on stderr, then its result fetched. Shared by `submit` (right
 * after the upload) and `jobs get` (a job still running, say one whose submit was stopped).
 */
import { formatEther } from 'ethers'
import { FramemeshError } from '../errors.js'
import type { CliContext } from './command.js'
import type { GatewayClient, GatewayJob } from './gateway-client.js'
import { createProgress, type Progress } from './progress.js'

export class JobFailedError extends FramemeshError {}

/** Follows the job to its end, then fetches its result into `output`. */
export async function finishJob(
  ctx: CliContext,
  client: GatewayClient,
  id: string,
  label: string,
  output: string,
): Promise<{ job: GatewayJob; bytes: number }> {
  const job = await followJob(ctx, client, id, label)
  if (job.status === 'failed') {
    throw new JobFailedError(
      job.errorCode ?? 'ERR_JOB_FAILED',
      `job ${job.id} failed at the gateway: ${job.error ?? 'no reason given'}`,
    )
  }
  return { job, bytes: await fetchResult(ctx, client, job.id, output) }
}

/** A finished job's result into the file `output`, or (`-`) its OCR text onto stdout; the bytes fetched. */
export async function fetchResult(
  ctx: CliContext,
  client: GatewayClient,
  id: string,
  output: string,
): Promise<number> {
  if (output !== '-') return client.download(id, output, ctx.signal)
  const text = await client.outputText(id, ctx.signal)
  ctx.stdout((JSON.parse(text) as { text: string }).text)
  return Buffer.byteLength(text)
}

/** Follows the job's events to its end, drawing progress and reporting peers and payments. */
export async function followJob(
  ctx: CliContext,
  client: GatewayClient,
  id: string,
  label: string,
): Promise<GatewayJob> {
  let progress: Progress | undefined
  // Rates count from here: progress that arrives in a burst (after a reconnect) is not "fast".
  const following = performance.now()
  let framesDone = 0
  // The count the last progress line showed, so the closing line is not a repeat of it.
  let shown = -1
  const short = (peer: string) => `${peer.slice(0, 12)}…${peer.slice(-6)}`
  /** Stages that have an orchestrator already. */
  const started = new Set<number>()
  const write = (line: string) => {
    shown = framesDone
    ctx.stderr(line)
  }
  for await (const ev of client.events(id, ctx.signal)) {
    switch (ev.event) {
      case 'progress': {
        if (progress === undefined) {
          progress = createProgress(write, { label, total: ev.data.framesTotal, startedAt: following })
          progress.tick(0)
        }
        const delta = ev.data.framesDone - framesDone
        framesDone = ev.data.framesDone
        const { windows } = ev.data
        if (windows === undefined) progress.tick(delta)
        else {
          if (delta > 0) progress.tick(delta)
          progress.part(windows.done, windows.of, 'windows')
        }
        break
      }
      case 'peer': {
        // A stage spread over several orchestrators (parallel) starts one on each.
        const also = ev.data.from === undefined && started.has(ev.data.stage) ? 'also ' : ''
        started.add(ev.data.stage)
        ctx.stderr(
          ev.data.from === undefined
            ? `stage ${ev.data.stage + 1}: ${also}running on ${short(ev.data.to)}`
            : `stage ${ev.data.stage + 1}: moved from ${short(ev.data.from)} to ${short(ev.data.to)} (${ev.data.reason ?? 'failover'})`,
        )
        break
      }
      case 'payment':
        ctx.stderr(
          `paid ${short(ev.data.peerId)}${ev.data.check === true ? ' for checks' : ''}: ${ev.data.tickets} ticket(s), ${formatEther(BigInt(ev.data.evWei))} ETH expected value`,
        )
        break
      case 'check':
        // Matches are the rule and only counted; a mismatch is news.
        if (!ev.data.match)
          ctx.stderr(
            `stage ${ev.data.stage + 1}: ${short(ev.data.checker)} disagrees with ${short(ev.data.peerId)}; asking a third orchestrator`,
          )
        break
      case 'blamed':
        ctx.stderr(
          `stage ${ev.data.stage + 1}: ${short(ev.data.peerId)} found wrong (${ev.data.reason}, against ${short(ev.data.against)}); its work is redone elsewhere`,
        )
        break
      case 'done':
      case 'failed':
        if (shown !== framesDone) progress?.done()
        return ev.data
    }
  }
  throw new FramemeshError('ERR_GATEWAY_STREAM', `the event stream of job ${id} ended without an outcome`)
}

/** What a finished job's checks found, in one line (empty without verification). */
export function verificationLine(job: GatewayJob): string {
  const v = job.verification
  if (v === undefined) return ''
  const found =
    v.blamed.length === 0
      ? v.mismatches === 0
        ? 'no mismatch'
        : `${v.mismatches} mismatch(es)`
      : `${v.mismatches} mismatch(es), blamed ${v.blamed.map((b) => `${b.peerId} (stage ${b.stage + 1})`).join(', ')}`
  const unchecked =
    v.unverified === 0 ? '' : `; ${v.unverified} output(s) delivered unchecked (no second orchestrator)`
  const cost =
    BigInt(v.paidWei) === 0n ? '' : `; checks paid ${formatEther(BigInt(v.paidWei))} ETH in tickets`
  return `verified ${Math.round(v.share * 100)}%: ${v.checked} output(s) checked, ${found}${unchecked}${cost}`
}
