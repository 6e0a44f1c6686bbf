import { existsSync } from 'node:fs'
import { FramemeshError } from '../../errors.js'
import { RedemptionStore, redemptionDbPath } from '../../tickets/redemption-store.js'
import type { CliCommand } from '../command.js'
import { type ConfigSpec, configHelp, loadConfig, PEER_CONFIG } from '../config.js'
import { eth, print } from './chain-options.js'

const spec = {
  dataDir: PEER_CONFIG.dataDir,
  db: {
    kind: 'string',
    help: 'redemption database (default <data-dir>/redemptions.sqlite, where `framemesh orchestrator` keeps it)',
    path: true,
  },
  list: {
    kind: 'int',
    help: 'also list the N most recently updated tickets',
    default: 0,
    min: 0,
    max: 10_000,
  },
  json: { kind: 'bool', help: 'print one JSON object instead of lines', default: false },
} as const satisfies ConfigSpec

export const ticketsCommand: CliCommand = {
  name: 'tickets',
  summary: 'show the winning tickets this node holds: queued, redeemed, failed and their value',
  help: [
    'usage: framemesh tickets status [--db <file>] [--list <n>]',
    '',
    'Reads the redemption database a receiving node keeps (no chain access needed): how many',
    'winning tickets wait to be redeemed and their face value, how many were redeemed and what',
    'they paid net of gas, and why any failed.',
    '',
    configHelp(spec),
  ].join('\n'),
  async run(ctx) {
    const { config, positionals } = await loadConfig(spec, ctx)
    if (positionals[0] !== 'status' || positionals.length > 1) {
      throw new FramemeshError('ERR_USAGE', 'usage: framemesh tickets status [--db <file>] [--list <n>]')
    }
    const path = config.db ?? redemptionDbPath(config.dataDir)
    if (!existsSync(path)) {
      // Do not create one just to say it is empty.
      print(ctx, config.json, { db: path, exists: false }, [
        `no redemption database at ${path}: this node has received no winning tickets yet`,
      ])
      return 0
    }
    const store = new RedemptionStore(path)
    try {
      const totals = store.totals()
      const recent = config.list > 0 ? store.list(undefined, config.list) : []
      const failed = Object.entries(totals.failed.byCode).map(([code, n]) => `${code} ×${n}`)
      print(
        ctx,
        config.json,
        {
          ...totals,
          recent: recent.map((r) => ({
            ticketHash: r.ticketHash,
            status: r.status,
            faceValue: r.ticket.ticket.faceValue,
            sender: r.ticket.ticket.sender,
            paid: r.paid,
            txHash: r.txHash,
            error: r.errorCode,
          })),
        },
        [
          `queued:    ${totals.queued.count} tickets, ${eth(totals.queued.faceValue)} face value`,
          `redeeming: ${totals.redeeming.count} tickets, ${eth(totals.redeeming.faceValue)}`,
          `redeemed:  ${totals.redeemed.count} tickets, paid ${eth(totals.redeemed.paid)}, gas ${eth(totals.redeemed.fees)}, net ${eth(totals.redeemed.paid - totals.redeemed.fees)}`,
          `failed:    ${totals.failed.count} tickets, ${eth(totals.failed.faceValue)}${failed.length > 0 ? ` (${failed.join(', ')})` : ''}`,
          ...recent.map(
            (r) =>
              `  ${r.ticketHash.slice(0, 18)}… ${r.status.padEnd(9)} ${eth(r.ticket.ticket.faceValue)}${r.txHash === undefined ? '' : ` tx ${r.txHash.slice(0, 18)}…`}${r.errorCode === undefined ? '' : ` ${r.errorCode}`}`,
          ),
        ],
      )
      return 0
    } finally {
      store.close()
    }
  },
}
