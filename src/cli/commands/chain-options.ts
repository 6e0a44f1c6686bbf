/**
 * What the payment commands (wallet, deposit, unlock, withdraw, tickets) share: chain and wallet
 * options, the signing key (keystore or --wallet-key, also the node commands'), opening a
 * TicketBrokerClient, reading amounts and printing ether.
 */
import { readFile } from 'node:fs/promises'
import { formatEther, isAddress, isHexString, parseUnits, Wallet } from 'ethers'
import { FramemeshError } from '../../errors.js'
import { TicketBrokerClient } from '../../tickets/broker.js'
import type { Address } from '../../tickets/bytes.js'
import { loadWalletFile, readWalletAddress, WalletError, walletFilePath } from '../../tickets/wallet.js'
import type { CliCommand, CliContext } from '../command.js'
import { type Config, ConfigError, type ConfigSpec, configHelp, loadConfig, PEER_CONFIG } from '../config.js'

export const WALLET_CONFIG = {
  dataDir: PEER_CONFIG.dataDir,
  wallet: { kind: 'string', help: 'keystore file (default <data-dir>/wallet.json)', path: true },
  passwordFile: { kind: 'string', help: 'file whose first line is the wallet password', path: true },
  walletPassword: {
    kind: 'string',
    help: 'wallet password (prefer the env var or --password-file: flags are visible in ps)',
  },
  json: { kind: 'bool', help: 'print one JSON object instead of lines', default: false },
} as const satisfies ConfigSpec

/** A raw key instead of the keystore: what dev chains and tests use, in every command that signs. */
export const WALLET_KEY_CONFIG = {
  walletKey: {
    kind: 'string',
    help: 'raw 0x private key instead of the keystore (dev chains only: it shows in ps and env)',
  },
} as const satisfies ConfigSpec

export const CHAIN_CONFIG = {
  ...WALLET_CONFIG,
  ...WALLET_KEY_CONFIG,
  rpc: { kind: 'string', help: 'JSON-RPC URL of the chain, e.g. http://127.0.0.1:8545' },
  broker: { kind: 'string', help: 'address of the TicketBroker contract' },
  timeoutMs: { kind: 'int', help: 'bound on each chain request, in ms', default: 15_000, min: 100 },
  confirmTimeoutMs: {
    kind: 'int',
    help: 'bound on waiting for a transaction to be mined, in ms',
    default: 180_000,
    min: 100,
  },
} as const satisfies ConfigSpec

/** Where the signing key comes from: the keystore (path, password) or a raw --wallet-key. */
type KeySource = Pick<
  Config<typeof WALLET_CONFIG>,
  'dataDir' | 'wallet' | 'passwordFile' | 'walletPassword'
> &
  Partial<Config<typeof WALLET_KEY_CONFIG>>
type ChainConfig = Config<typeof CHAIN_CONFIG>

export function walletPathOf(config: Pick<KeySource, 'dataDir' | 'wallet'>): string {
  return config.wallet ?? walletFilePath(config.dataDir)
}

export async function passwordOf(config: KeySource): Promise<string> {
  if (config.walletPassword !== undefined) return config.walletPassword
  if (config.passwordFile !== undefined) {
    try {
      return (await readFile(config.passwordFile, 'utf8')).split(/\r?\n/)[0] ?? ''
    } catch (cause) {
      throw new WalletError('ERR_WALLET_FILE', `cannot read the password file ${config.passwordFile}`, {
        cause,
      })
    }
  }
  throw new WalletError(
    'ERR_WALLET_PASSWORD',
    'the wallet password is needed: set FRAMEMESH_WALLET_PASSWORD or pass --password-file <file>',
  )
}

/** --wallet-key checked for shape (a typo must not become "wrong key" deep in ethers). */
function rawKeyOf(config: KeySource): string | undefined {
  const key = config.walletKey
  if (key !== undefined && !isHexString(key, 32)) {
    throw new ConfigError('ERR_CONFIG_INVALID', "'walletKey' must be a 0x-prefixed 32-byte hex private key", {
      details: { key: 'walletKey' },
    })
  }
  return key
}

/** The private key to sign with: --wallet-key, or the keystore unlocked with its password. */
export async function walletKeyOf(ctx: Pick<CliContext, 'signal'>, config: KeySource): Promise<string> {
  const raw = rawKeyOf(config)
  if (raw !== undefined) return raw
  const path = walletPathOf(config)
  let password: string
  try {
    password = await passwordOf(config)
  } catch (err) {
    if (!(err instanceof WalletError) || err.code !== 'ERR_WALLET_PASSWORD') throw err
    throw new WalletError(
      'ERR_WALLET_PASSWORD',
      `the wallet ${path} is locked: set FRAMEMESH_WALLET_PASSWORD or pass --password-file <file> (or --wallet-key on a dev chain)`,
    )
  }
  try {
    return (await loadWalletFile(path, password, { signal: ctx.signal })).privateKey
  } catch (err) {
    if (err instanceof WalletError && err.code === 'ERR_WALLET_NOT_FOUND') {
      throw new WalletError(
        'ERR_WALLET_NOT_FOUND',
        `no wallet at ${path}: create one with \`framemesh wallet new\`, point --wallet at yours, or pass --wallet-key on a dev chain`,
        { cause: err },
      )
    }
    throw err
  }
}

/** The wallet's address without unlocking it (undefined when there is no keystore and no key). */
export async function walletAddressOf(config: KeySource): Promise<Address | undefined> {
  const raw = rawKeyOf(config)
  const address = raw === undefined ? await readWalletAddress(walletPathOf(config)) : new Wallet(raw).address
  return address?.toLowerCase() as Address | undefined
}

export interface OpenedBroker {
  client: TicketBrokerClient
  /** The wallet's address (undefined for a read-only client). */
  address: Address | undefined
}

/** A TicketBrokerClient from --rpc/--broker, with the unlocked wallet when `withWallet`. */
export async function openBroker(
  ctx: CliContext,
  config: ChainConfig,
  withWallet: boolean,
): Promise<OpenedBroker> {
  if (config.rpc === undefined || config.broker === undefined) {
    throw new FramemeshError(
      'ERR_USAGE',
      'this needs the chain: pass --rpc <url> and --broker <address> (or FRAMEMESH_RPC / FRAMEMESH_BROKER)',
    )
  }
  if (!isAddress(config.broker)) {
    throw new FramemeshError(
      'ERR_USAGE',
      `--broker must be a 0x-prefixed 20-byte address; got ${config.broker}`,
    )
  }
  const wallet = withWallet ? new Wallet(await walletKeyOf(ctx, config)) : undefined
  const client = await TicketBrokerClient.connect(
    { wallet },
    {
      rpcUrl: config.rpc,
      contractAddress: config.broker,
      requestTimeoutMs: config.timeoutMs,
      confirmTimeoutMs: config.confirmTimeoutMs,
      pollingIntervalMs: 500,
    },
    ctx.signal,
  )
  try {
    await client.assertDeployed({ signal: ctx.signal })
  } catch (err) {
    client.close()
    throw err
  }
  const address = wallet === undefined ? await walletAddressOf(config) : await client.address()
  return { client, address: address?.toLowerCase() as Address | undefined }
}

/** Parses an amount: plain numbers are ETH ("0.5"); "wei", "gwei" and "eth" suffixes are accepted. */
export function parseAmount(text: string, flag: string): bigint {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(wei|gwei|eth)?\s*$/i.exec(text)
  if (m === null) {
    throw new FramemeshError(
      'ERR_USAGE',
      `--${flag} must be an amount like 0.5 (ETH), 2gwei or 1000wei; got "${text}"`,
    )
  }
  const unit = (m[2] ?? 'eth').toLowerCase()
  const decimals = unit === 'wei' ? 0 : unit === 'gwei' ? 9 : 18
  try {
    return parseUnits(m[1]!, decimals)
  } catch (cause) {
    throw new FramemeshError('ERR_USAGE', `--${flag}: ${m[1]} has more decimals than ${unit} allows`, {
      cause,
    })
  }
}

export function eth(wei: bigint): string {
  return `${formatEther(wei)} ETH`
}

/** Prints `json` as one line, or the text lines. bigints become decimal strings. */
export function print(
  ctx: CliContext,
  asJson: boolean,
  json: Record<string, unknown>,
  lines: string[],
): void {
  if (asJson) ctx.stdout(JSON.stringify(json, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)))
  else for (const line of lines) ctx.stdout(line)
}

export interface ChainCommandDef<S extends ConfigSpec> {
  name: string
  summary: string
  usage: string
  /** Paragraph lines between the usage line and the options. */
  about: string[]
  spec: S
  /** Runs with an opened, wallet-backed broker client (closed afterwards); returns the exit code. */
  action(ctx: CliContext, config: Config<S>, broker: OpenedBroker & { address: Address }): Promise<number>
}

/** A command that takes no positionals and sends transactions from the wallet. */
export function walletChainCommand<S extends typeof CHAIN_CONFIG>(def: ChainCommandDef<S>): CliCommand {
  return {
    name: def.name,
    summary: def.summary,
    help: [def.usage, '', ...def.about, '', configHelp(def.spec)].join('\n'),
    async run(ctx) {
      const { config, positionals } = await loadConfig(def.spec, ctx)
      if (positionals.length > 0) {
        throw new FramemeshError('ERR_USAGE', `unexpected argument ${positionals[0]}; ${def.usage}`)
      }
      const opened = await openBroker(ctx, config as ChainConfig, true)
      try {
        return await def.action(ctx, config, { ...opened, address: opened.address! })
      } finally {
        opened.client.close()
      }
    },
  }
}
