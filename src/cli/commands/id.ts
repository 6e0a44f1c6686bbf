import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadOrCreatePrivateKey, readPeerId } from '../../peer/identity.js'
import { readWalletAddress, walletFilePath } from '../../tickets/wallet.js'
import type { CliCommand } from '../command.js'
import { type ConfigSpec, configHelp, loadConfig, PEER_CONFIG } from '../config.js'

const spec = {
  dataDir: PEER_CONFIG.dataDir,
  json: { kind: 'bool', help: 'print one JSON object instead of lines', default: false },
} as const satisfies ConfigSpec

/**
 * One line of `framemesh id` output beyond the peer id (`key` names it in --json).
 * `read` returns undefined when the data dir has no such identity yet.
 */
interface IdLine {
  label: string
  key: string
  read: (dataDir: string) => Promise<string | undefined>
}
const idLines: readonly IdLine[] = [
  // The keystore's address is readable without its password.
  { label: 'payment address', key: 'paymentAddress', read: (dir) => readWalletAddress(walletFilePath(dir)) },
]

export const idCommand: CliCommand = {
  name: 'id',
  summary: 'print this node’s peer id (creating the identity on first use)',
  help: [
    'usage: framemesh id [--data-dir <dir>] [--json]',
    '',
    'Prints the peer id stored in the data directory. On first use it creates the identity',
    '(an Ed25519 key in <data-dir>/peer.key, mode 0600), exactly as the first start of a peer would.',
    'When the data directory holds a wallet (wallet.json) it also prints its payment address.',
    '',
    configHelp(spec),
  ].join('\n'),
  async run(ctx) {
    const { config } = await loadConfig(spec, ctx)
    let peerId = await readPeerId(config.dataDir)
    const created = peerId === undefined
    if (peerId === undefined)
      peerId = peerIdFromPrivateKey(await loadOrCreatePrivateKey(config.dataDir)).toString()
    const extra: Array<{ line: IdLine; value: string }> = []
    for (const line of idLines) {
      const value = await line.read(config.dataDir)
      if (value !== undefined) extra.push({ line, value })
    }
    if (config.json) {
      const fields = Object.fromEntries(extra.map((e) => [e.line.key, e.value]))
      ctx.stdout(JSON.stringify({ peerId, dataDir: config.dataDir, created, ...fields }))
    } else {
      ctx.stdout(`peer id: ${peerId}`)
      for (const { line, value } of extra) ctx.stdout(`${line.label}: ${value}`)
      if (created) ctx.stderr(`created a new identity in ${config.dataDir}`)
    }
    return 0
  },
}
