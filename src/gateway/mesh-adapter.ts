/**
 * Fits the market's Mesh to the gateway's small port: offers with their measured latency, and
 * `run` as one mesh job over all the stages, its outputs read from `job.results` at the
 * gateway's pace (so a long video is never held whole in memory).
 */
import type { Frame, PipelineId } from '../inference/types.js'
import type { Mesh, StageSpec as MeshStageSpec } from '../market/mesh.js'
import { AsyncQueue } from './async-queue.js'
import type { GatewayMesh, GatewayOffer, MeshJobEvent, MeshOutput, MeshRun, StageSpec } from './mesh-port.js'

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
    run(stages, frames, { signal }) {
      return runJob(mesh, stages, frames, signal)
    },
  }
}

function withDefaultModel(mesh: Mesh, stage: StageSpec): MeshStageSpec {
  if (stage.modelId !== undefined) return { pipeline: stage.pipeline, model: stage.modelId }
  const fallback = DEFAULT_MODELS[stage.pipeline]
  const offered =
    fallback !== undefined && mesh.offers({ pipeline: stage.pipeline, modelId: fallback }).length > 0
  return offered ? { pipeline: stage.pipeline, model: fallback } : { pipeline: stage.pipeline }
}

function runJob(mesh: Mesh, stages: StageSpec[], frames: AsyncIterable<Frame>, signal: AbortSignal): MeshRun {
  const job = mesh.submit({
    stages: stages.map((s) => withDefaultModel(mesh, s)),
    input: frames,
    collect: false,
    signal,
  })
  const events = new AsyncQueue<MeshJobEvent>()
  const peers = new Set<string>()
  let paidWei = 0n
  let framesDone = 0
  const stageOf = (e: object) => (e as { stage?: number }).stage ?? 0
  job.events.on('peer:selected', (e) => {
    peers.add(e.peerId)
    void events.push({ type: 'peer', stage: stageOf(e), to: e.peerId })
  })
  job.events.on('peer:switch', (e) => {
    void events.push({ type: 'peer', stage: stageOf(e), from: e.from, to: e.to, reason: 'failover' })
  })
  job.events.on('payment', (e) => {
    paidWei += e.ev
    void events.push({ type: 'payment', peerId: e.peerId, tickets: e.tickets, evWei: e.ev })
  })

  async function* outputs(): AsyncGenerator<MeshOutput> {
    for await (const r of job.results) {
      framesDone++
      void events.push({ type: 'progress', framesDone })
      yield r.lines === undefined ? { kind: 'frame', frame: r.frame } : { kind: 'text', lines: r.lines }
    }
  }

  const done = job.done.then(
    (result) => {
      events.end()
      return { peers: [...peers], paidWei, chargedWei: result.report.debited }
    },
    (err) => {
      events.end()
      throw err
    },
  )
  done.catch(() => {})
  return { outputs: outputs(), events, done }
}
