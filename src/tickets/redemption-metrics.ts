/**
 * Opt-in Prometheus metrics for the redemption service, on a registry of the caller's choosing
 * (never prom-client's global one). Wei amounts are exported in ETH: Prometheus values are
 * floats, so totals are approximate past 2^53 wei; the exact figures stay in the database.
 */
import { Counter, Gauge, Registry } from 'prom-client'

export interface RedemptionMetrics {
  registry: Registry
  /** Ticket outcomes: queued, redeemed, failed (by code), deferred. */
  tickets: Counter<'event' | 'code'>
  /** ETH received for redeemed tickets. */
  paidEth: Counter<never>
  /** ETH spent on redemption gas. */
  gasEth: Counter<never>
  /** Tickets waiting (queued or redeeming), set on every change. */
  pending: Gauge<never>
}

export function createRedemptionMetrics(
  options: { registry?: Registry; prefix?: string } = {},
): RedemptionMetrics {
  const registry = options.registry ?? new Registry()
  const p = options.prefix ?? 'framemesh_'
  return {
    registry,
    tickets: new Counter({
      name: `${p}redemption_tickets_total`,
      help: 'Winning tickets by redemption event (queued, redeemed, deferred, failed) and error code',
      labelNames: ['event', 'code'],
      registers: [registry],
    }),
    paidEth: new Counter({
      name: `${p}redemption_paid_eth_total`,
      help: 'ETH received for redeemed tickets',
      registers: [registry],
    }),
    gasEth: new Counter({
      name: `${p}redemption_gas_eth_total`,
      help: 'ETH spent on redemption transactions',
      registers: [registry],
    }),
    pending: new Gauge({
      name: `${p}redemption_pending_tickets`,
      help: 'Winning tickets not yet redeemed or failed',
      registers: [registry],
    }),
  }
}

/** Wei as a float number of ETH (for metrics only). */
export function weiToEth(wei: bigint): number {
  return Number(wei / 10n ** 9n) / 1e9
}
