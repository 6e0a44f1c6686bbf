/**
 * Fits the market's Mesh to the gateway's small port: offers with their measured latency, and
 * `run` as one mesh job over all the stages, its outputs read from `job.results` at the
 * gateway's pace (so a long video is never held whole in memory).
 */
import type { Frame, PipelineId } from '../inference/types.js'
import type { JobReport, Mesh, StageSpec as MeshStageSpec } from '../market/mesh.js'
import type {
  GatewayMesh,
  GatewayOffer,
  MeshJobEvent,
  MeshOutput,
  MeshRun,
  StageSpec,
  VerifyBlame,
  VerifyRequest,
} from './mesh-port.js'

/**
 * The model a stage gets when the caller names none (Livepeer clients send an empty model_id):
 * a ×2 upscale is what people mean by "upscale"; other pipelines take any model on offer.
 */
export const DEFAULT_MODELS: Partial<Record<PipelineId, string>> = { upscale: 'esrgan-slim-x2' }

export function meshForGateway(mesh: Mesh): GatewayMesh {
  return {
    offers(): GatewayOffer[] {
      return mesh.offers().map((o) => ({
        peerId: o.peerId,
        modelId: o.modelId,
        pipeline: o.pipeline,
        pricePerUnit: o.pricePerUnit,
        unit: o.unit,
        slotsFree: o.slotsFree,
        slotsTotal: o.slotsTotal,
        warm: o.warm,
        latencyMs: mesh.stats.health(o.peerId).latencyMs,
      }))
    },
    run(stages, frames, options) {
      return runJob(mesh, stages, frames, options)
    },
  }
}

function withDefaultModel(mesh: Mesh, stage: StageSpec): MeshStageSpec {
  const model = stage.modelId ?? offeredDefault(mesh, stage.pipeline)
  return {
    pipeline: stage.pipeline,
    ...(model === undefined ? {} : { model }),
    ...(stage.doubleRate === true ? { doubleRate: true } : {}),
  }
}

/** The pipeline's default model when someone offers it; otherwise any model will do. */
function offeredDefault(mesh: Mesh, pipeline: StageSpec['pipeline']): string | undefined {
  const fallback = DEFAULT_MODELS[pipeline]
  return fallback !== undefined && mesh.offers({ pipeline, modelId: fallback }).length > 0
    ? fallback
    : undefined
}

/** `code: message`, the message cut to one short line for a progress display. */
function failureReason(code: string, message: string): string {
  const line = message.split('\n')[0]!
  return `${code}: ${line.length > 160 ? `${line.slice(0, 157)}...` : line}`
}

function runJob(
  mesh: Mesh,
  stages: StageSpec[],
  frames: AsyncIterable<Frame>,
  { signal, parallel, verify }: { signal: AbortSignal; parallel?: number; verify?: VerifyRequest },
): MeshRun {
  const job = mesh.submit({
    stages: stages.map((s) => withDefaultModel(mesh, s)),
    input: frames,
    collect: false,
    signal,
    ...(parallel === undefined ? {} : { parallel }),
    ...(verify === undefined ? {} : { verify }),
  })

  // The job's own event stream, in the port's words; it ends when the job does.
  async function* events(): AsyncGenerator<MeshJobEvent> {
    // Why each stage's last orchestrator failed or would not quote: a move away from it says so.
    const failures = new Map<number, string>()
    let framesDone = 0
    for await (const e of job.events) {
      const stage = (e.detail as { stage?: number }).stage ?? 0
      if (e.type === 'progress') {
        framesDone = e.detail.done
        yield { type: 'progress', framesDone }
      } else if (e.type === 'progress:windows')
        yield { type: 'progress', framesDone, windows: { done: e.detail.done, of: e.detail.of } }
      else if (e.type === 'peer:selected') yield { type: 'peer', stage, to: e.detail.peerId }
      else if (e.type === 'peer:failed' || e.type === 'quote:refused')
        failures.set(stage, failureReason(e.detail.code, e.detail.message))
      else if (e.type === 'peer:switch') {
        const reason = failures.get(stage) ?? 'failover'
        failures.delete(stage)
        yield { type: 'peer', stage, from: e.detail.from, to: e.detail.to, reason }
      } else if (e.type === 'payment')
        yield { type: 'payment', peerId: e.detail.peerId, tickets: e.detail.tickets, evWei: e.detail.ev }
      else if (e.type === 'verify:payment')
        yield {
          type: 'payment',
          peerId: e.detail.peerId,
          tickets: e.detail.tickets,
          evWei: e.detail.ev,
          check: true,
        }
      else if (e.type === 'verify:checked') {
        const { peerId, checker, match } = e.detail
        yield { type: 'check', stage, peerId, checker, match }
      } else if (e.type === 'verify:blamed') {
        const { peerId, against, reason } = e.detail
        yield { type: 'blamed', stage, peerId, against, reason }
      }
    }
  }

  async function* outputs(): AsyncGenerator<MeshOutput> {
    for await (const r of job.results) {
      yield r.lines === undefined ? { kind: 'frame', frame: r.frame } : { kind: 'text', lines: r.lines }
    }
  }

  const done = job.done.then(({ report }) => {
    const v = report.verification
    return {
      peers: [...new Set(report.peers.map((p) => p.peerId))],
      paidWei: report.evSent + (v?.evSent ?? 0n),
      chargedWei: report.debited,
      ...(v === undefined
        ? {}
        : {
            verification: {
              checked: v.checked,
              mismatches: v.mismatches,
              unverified: v.unverified,
              blamed: blamesByStage(report),
              checkers: v.checkers,
              paidWei: v.evSent,
            },
          }),
    }
  })
  done.catch(() => {})
  return { outputs: outputs(), events: events(), done }
}

/** Every blame of the job with its stage: a workflow's are in its stages' reports. */
function blamesByStage(report: JobReport): VerifyBlame[] {
  const perStage = report.stages ?? [report]
  return perStage.flatMap((r, stage) =>
    (r.verification?.blamed ?? []).map((b) => ({
      stage,
      peerId: b.peerId,
      against: b.against,
      reason: b.reason,
    })),
  )
}
