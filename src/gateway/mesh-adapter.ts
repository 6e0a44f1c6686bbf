/**
 * Fits the market's Mesh to the gateway's small port: offers with their measured latency, and
 * `run` over a chain of stages with results streamed in input order.
 */
import type { Frame, PipelineId } from '../inference/types.js'
import type { Mesh, MeshJob } from '../market/mesh.js'
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
      return runStages(mesh, stages, frames, signal)
    },
  }
}

/**
 * Runs the stages one after another, each stage's output streaming into the next. Every stage is
 * its own mesh job, so each is priced, paid and failed over on its own.
 */
function runStages(
  mesh: Mesh,
  stages: StageSpec[],
  frames: AsyncIterable<Frame>,
  signal: AbortSignal,
): MeshRun {
  const events = new AsyncQueue<MeshJobEvent>()
  const outputs = new AsyncQueue<MeshOutput>({ highWaterMark: 8 })
  const peers = new Set<string>()
  let paidWei = 0n
  let framesDone = 0

  let input: AsyncIterable<Frame> = frames
  const jobs: MeshJob[] = []
  for (const [index, stage] of stages.entries()) {
    const last = index === stages.length - 1
    const fallback = DEFAULT_MODELS[stage.pipeline]
    const model =
      stage.modelId ??
      (fallback !== undefined && mesh.offers({ pipeline: stage.pipeline, modelId: fallback }).length > 0
        ? fallback
        : undefined)
    const job = mesh.submit({ pipeline: stage.pipeline, model, input, signal })
    jobs.push(job)
    job.events.on('peer:selected', (e) => {
      peers.add(e.peerId)
      events.push({ type: 'peer', stage: index, to: e.peerId })
    })
    job.events.on('peer:switch', (e) =>
      events.push({ type: 'peer', stage: index, from: e.from, to: e.to, reason: 'failover' }),
    )
    job.events.on('payment', (e) => {
      paidWei += e.ev
      events.push({ type: 'payment', peerId: e.peerId, tickets: e.tickets, evWei: e.ev })
    })
    if (last) {
      job.events.on('result', (r) => {
        void outputs.push({ kind: 'frame', frame: r.frame })
        framesDone++
        events.push({ type: 'progress', framesDone })
      })
    } else {
      const next = new AsyncQueue<Frame>({ highWaterMark: 8 })
      job.events.on('result', (r) => void next.push(r.frame))
      job.done.then(
        () => next.end(),
        (err) => next.fail(err),
      )
      input = next
    }
  }
  const done = Promise.all(jobs.map((j) => j.done)).then(
    (results) => {
      outputs.end()
      events.end()
      const chargedWei = results.reduce((sum, r) => sum + r.report.debited, 0n)
      return { peers: [...peers], paidWei, chargedWei }
    },
    (err) => {
      outputs.fail(err)
      events.end()
      for (const j of jobs) j.cancel()
      throw err
    },
  )
  done.catch(() => {})
  return { outputs, events, done }
}
