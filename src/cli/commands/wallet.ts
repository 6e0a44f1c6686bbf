import { readFile } from 'node:fs/promises'
import { FramemeshError } from '../../errors.js'
import { createWalletFile, DEFAULT_SCRYPT_N } from '../../tickets/wallet.js'
import type { CliCommand } from '../command.js'
import { type ConfigSpec, configHelp, loadConfig } from '../config.js'
import {
  CHAIN_CONFIG,
  eth,
  openBroker,
  passwordOf,
  print,
  walletAddressOf,
  walletPathOf,
} from './chain-options.js'

const spec = {
  ...CHAIN_CONFIG,
  scryptN: {
    kind: 'int',
    help: 'keystore scrypt cost for `new` (a power of two; lower unlocks faster but resists guessing less)',
    default: DEFAULT_SCRYPT_N,
    min: 1024,
    max: 1 << 20,
  },
  importKeyFile: { kind: 'string', help: 'for `new`: import the 0x private key in this file', path: true },
} as const satisfies ConfigSpec

const usage = [
  'usage: framemesh wallet new [--wallet <file>] [--import-key-file <file>]',
  '       framemesh wallet show [--rpc <url> --broker <address>]',
]

export const walletCommand: CliCommand = {
  name: 'wallet',
  summary: 'create or show the Ethereum account that pays or receives tickets',
  help: [
    ...usage,
    '',
    'new   create an encrypted JSON keystore (geth/ethers format, mode 0600) in the data dir; the',
    '      password comes from FRAMEMESH_WALLET_PASSWORD or --password-file',
    'show  print the address (no password needed); with --rpc and --broker also its balance and',
    '      its deposit, reserve and unlock state in the TicketBroker',
    '',
    configHelp(spec),
  ].join('\n'),
  async run(ctx) {
    const { config, positionals } = await loadConfig(spec, ctx)
    const [action, ...extra] = positionals
    if ((action !== 'new' && action !== 'show') || extra.length > 0) {
      throw new FramemeshError('ERR_USAGE', `expected one of:\n${usage.join('\n')}`)
    }
    const path = walletPathOf(config)
    if (action === 'new') {
      if (config.walletKey !== undefined) {
        throw new FramemeshError(
          'ERR_USAGE',
          '`wallet new` writes a keystore; to keep a key you have, put it in a file and pass --import-key-file <file>',
        )
      }
      const privateKey =
        config.importKeyFile === undefined ? undefined : (await readFile(config.importKeyFile, 'utf8')).trim()
      const address = await createWalletFile(path, await passwordOf(config), {
        scryptN: config.scryptN,
        privateKey,
        signal: ctx.signal,
      })
      print(ctx, config.json, { address, path }, [`address: ${address}`, `keystore: ${path}`])
      return 0
    }
    const address = await walletAddressOf(config)
    if (address === undefined) {
      throw new FramemeshError(
        'ERR_WALLET_NOT_FOUND',
        `no wallet at ${path}; create one with \`framemesh wallet new\``,
      )
    }
    // With --wallet-key there is no keystore to name.
    const source = config.walletKey === undefined ? { path } : {}
    const sourceLines = config.walletKey === undefined ? [`keystore: ${path}`] : []
    if (config.rpc === undefined) {
      print(ctx, config.json, { address, ...source }, [`address: ${address}`, ...sourceLines])
      return 0
    }
    const { client } = await openBroker(ctx, config, false)
    try {
      const [balance, info, round] = await Promise.all([
        client.getBalance(address, { signal: ctx.signal }),
        client.getSenderInfo(address, { signal: ctx.signal }),
        client.getCurrentRound({ signal: ctx.signal }),
      ])
      const unlock =
        info.withdrawRound === 0n
          ? 'locked (funds can pay tickets)'
          : info.withdrawRound > round
            ? `unlocking: withdraw from round ${info.withdrawRound} (now ${round})`
            : `unlocked since round ${info.withdrawRound}: withdraw now`
      print(
        ctx,
        config.json,
        {
          address,
          ...source,
          balance,
          deposit: info.deposit,
          reserve: info.reserve,
          withdrawRound: info.withdrawRound,
          round,
        },
        [
          `address: ${address}`,
          `balance: ${eth(balance)}`,
          `deposit: ${eth(info.deposit)}`,
          `reserve: ${eth(info.reserve)}`,
          `state:   ${unlock}`,
        ],
      )
      return 0
    } finally {
      client.close()
    }
  },
}
