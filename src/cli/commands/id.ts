import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadOrCreatePrivateKey, readPeerId } from '../../peer/identity.js'
import type { CliCommand } from '../command.js'
import { type ConfigSpec, configHelp, loadConfig, PEER_CONFIG } from '../config.js'

const spec = {
  dataDir: PEER_CONFIG.dataDir,
  json: { kind: 'bool', help: 'print one JSON object instead of lines', default: false },
} as const satisfies ConfigSpec

/**
 * One line of `framemesh id` output beyond the peer id.
 * HOOK(tickets): the payment area adds its line here, e.g.
 *   { label: 'payment address', read: (dataDir) => readPaymentAddress(dataDir) }
 * `read` returns undefined when the data dir has no such identity yet.
 */
interface IdLine {
  label: string
  read: (dataDir: string) => Promise<string | undefined>
}
const idLines: readonly IdLine[] = []

export const idCommand: CliCommand = {
  name: 'id',
  summary: 'print this node’s peer id (creating the identity on first use)',
  help: [
    'usage: framemesh id [--data-dir <dir>] [--json]',
    '',
    'Prints the peer id stored in the data directory. On first use it creates the identity',
    '(an Ed25519 key in <data-dir>/peer.key, mode 0600), exactly as the first start of a peer would.',
    '',
    configHelp(spec),
  ].join('\n'),
  async run(ctx) {
    const { config } = await loadConfig(spec, ctx)
    let peerId = await readPeerId(config.dataDir)
    const created = peerId === undefined
    if (peerId === undefined)
      peerId = peerIdFromPrivateKey(await loadOrCreatePrivateKey(config.dataDir)).toString()
    const extra: Record<string, string> = {}
    for (const line of idLines) {
      const value = await line.read(config.dataDir)
      if (value !== undefined) extra[line.label] = value
    }
    if (config.json) {
      ctx.stdout(JSON.stringify({ peerId, dataDir: config.dataDir, created, ...extra }))
    } else {
      ctx.stdout(`peer id: ${peerId}`)
      for (const [label, value] of Object.entries(extra)) ctx.stdout(`${label}: ${value}`)
      if (created) ctx.stderr(`created a new identity in ${config.dataDir}`)
    }
    return 0
  },
}
