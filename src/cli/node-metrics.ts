/**
 * What an operator watches on --metrics-port beyond the peer's own metrics: the orchestrator's
 * slots, jobs and earnings and its redemption queue; the gateway's order book and jobs. Gauges
 * read the live objects when scraped, so nothing here runs between scrapes.
 */
import { Counter, Gauge, type Registry } from 'prom-client'
import type { GatewayJobs } from '../gateway/jobs.js'
import type { Mesh } from '../market/mesh.js'
import type { OrchestratorNode } from '../node/orchestrator-node.js'

const PREFIX = 'framemesh_'

/** Registers the orchestrator's metrics; returns a function that stops counting its events. */
export function registerOrchestratorMetrics(registry: Registry, node: OrchestratorNode): () => void {
  const registers = [registry]
  new Gauge({
    name: `${PREFIX}orchestrator_slots`,
    help: 'Job slots by state',
    labelNames: ['state'],
    registers,
    collect() {
      const { free, total } = node.orchestrator.capacity()
      this.set({ state: 'free' }, free)
      this.set({ state: 'total' }, total)
    },
  })
  new Gauge({
    name: `${PREFIX}orchestrator_redemptions`,
    help: 'Winning tickets by redemption status',
    labelNames: ['status'],
    registers,
    collect() {
      const totals = node.redemption.totals()
      for (const status of ['queued', 'redeeming', 'redeemed', 'failed'] as const) {
        this.set({ status }, totals[status].count)
      }
    },
  })
  new Gauge({
    name: `${PREFIX}orchestrator_redeemed_wei`,
    help: 'Face value paid out by redeemed tickets, in wei (a float: fine for dashboards, not accounts)',
    registers,
    collect() {
      this.set(Number(node.redemption.totals().redeemed.paid))
    },
  })
  const jobs = new Counter({
    name: `${PREFIX}orchestrator_jobs_total`,
    help: 'Jobs ended, by outcome (ok or the error code)',
    labelNames: ['outcome'],
    registers,
  })
  const items = new Counter({
    name: `${PREFIX}orchestrator_items_total`,
    help: 'Work items served',
    registers,
  })
  const earned = new Counter({
    name: `${PREFIX}orchestrator_earned_wei_total`,
    help: 'Wei debited for work at the quoted prices (a float)',
    registers,
  })
  const refused = new Counter({
    name: `${PREFIX}orchestrator_jobs_refused_total`,
    help: 'Job requests refused, by code',
    labelNames: ['code'],
    registers,
  })
  const events = node.orchestrator.events
  const offs = [
    events.on('job:ended', (e) => {
      jobs.inc({ outcome: e.error === undefined ? 'ok' : e.error.code })
      items.inc(e.items)
      earned.inc(Number(e.debited))
    }),
    events.on('job:refused', (e) => refused.inc({ code: e.code })),
  ]
  return () => {
    for (const off of offs) off()
  }
}

/** Registers the gateway's metrics (all read when scraped). */
export function registerGatewayMetrics(registry: Registry, mesh: Mesh, jobs: GatewayJobs): void {
  const registers = [registry]
  new Gauge({
    name: `${PREFIX}gateway_offers`,
    help: 'Live offers in the order book',
    registers,
    collect() {
      this.set(mesh.offers().length)
    },
  })
  new Gauge({
    name: `${PREFIX}gateway_jobs`,
    help: 'Jobs the gateway keeps, by status',
    labelNames: ['status'],
    registers,
    collect() {
      const counts = { running: 0, done: 0, failed: 0 }
      for (const job of jobs.all()) counts[job.status]++
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n)
    },
  })
}
