/**
 * What the long-running node commands (orchestrator, gateway) share: the chain and wallet keys,
 * a preflight that says exactly what to fix when the chain cannot be used, and the libp2p options
 * from PEER_CONFIG. The wallet settings become a signing key in chain-options.ts, as for the
 * payment commands.
 */
import { isAddress } from 'ethers'
import { FramemeshError } from '../errors.js'
import type { ChainOptions } from '../node/chain.js'
import type { PeerOptions } from '../peer/peer.js'
import { TicketBrokerClient } from '../tickets/broker.js'
import type { CliContext } from './command.js'
import { WALLET_CONFIG, WALLET_KEY_CONFIG, walletKeyOf } from './commands/chain-options.js'
import { type Config, ConfigError, type ConfigSpec, PEER_CONFIG } from './config.js'
import { type DataDirLock, lockDataDir } from './data-dir-lock.js'

export const NODE_CHAIN_CONFIG = {
  rpc: { kind: 'string', help: 'JSON-RPC URL of the chain, e.g. http://127.0.0.1:8545' },
  broker: { kind: 'string', help: 'address of the TicketBroker contract' },
  chainId: { kind: 'int', help: 'expected chain id; the node refuses a chain with another', min: 1 },
  chainPollMs: {
    kind: 'int',
    help: 'how often to read the block, round and gas price, in ms',
    default: 2000,
    min: 50,
    max: 600_000,
  },
  chainTimeoutMs: {
    kind: 'int',
    help: 'bound on reaching the chain at start, in ms',
    default: 10_000,
    min: 100,
    max: 600_000,
  },
} as const satisfies ConfigSpec

export const NODE_WALLET_CONFIG = {
  wallet: WALLET_CONFIG.wallet,
  passwordFile: WALLET_CONFIG.passwordFile,
  walletPassword: WALLET_CONFIG.walletPassword,
  ...WALLET_KEY_CONFIG,
} as const satisfies ConfigSpec

/** Every key the node commands share; each adds its own. */
export const NODE_CONFIG = {
  ...PEER_CONFIG,
  ...NODE_CHAIN_CONFIG,
  ...NODE_WALLET_CONFIG,
} as const satisfies ConfigSpec

type ChainConfig = Config<typeof NODE_CHAIN_CONFIG>
type PeerConfig = Config<typeof PEER_CONFIG>

export class ChainUnreachableError extends FramemeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CHAIN_UNREACHABLE', message, options)
  }
}

/**
 * Checks the chain before any node part starts: the RPC answers, has the expected chain id and
 * has a contract at --broker. Returns the options for `connectChain`.
 */
export async function checkChain(
  ctx: Pick<CliContext, 'signal'>,
  config: ChainConfig,
): Promise<ChainOptions> {
  if (config.rpc === undefined) {
    throw new ConfigError(
      'ERR_CONFIG_INVALID',
      "'rpc' is not set: pass --rpc <url> (or FRAMEMESH_RPC) with the JSON-RPC URL of the chain that holds the TicketBroker",
      { details: { key: 'rpc' } },
    )
  }
  if (config.broker === undefined || !isAddress(config.broker)) {
    throw new ConfigError(
      'ERR_CONFIG_INVALID',
      config.broker === undefined
        ? "'broker' is not set: pass --broker <address> (or FRAMEMESH_BROKER) with the TicketBroker's address"
        : `'broker' must be a 0x-prefixed 20-byte address, got ${JSON.stringify(config.broker)}`,
      { details: { key: 'broker' } },
    )
  }
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(config.chainTimeoutMs)])
  let chainId: number
  try {
    const res = await fetch(config.rpc, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal,
    })
    const body = (await res.json()) as { result?: string }
    if (typeof body.result !== 'string') throw new Error(`HTTP ${res.status} without a chain id`)
    chainId = Number(BigInt(body.result))
  } catch (cause) {
    if (ctx.signal.aborted) throw cause
    const why =
      cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : String(cause)
    throw new ChainUnreachableError(
      `no chain answers at --rpc ${config.rpc} (${why}); start the chain node or fix --rpc / FRAMEMESH_RPC`,
      { cause },
    )
  }
  if (config.chainId !== undefined && config.chainId !== chainId) {
    throw new ConfigError(
      'ERR_CONFIG_INVALID',
      `'chainId' is ${config.chainId} but the chain at ${config.rpc} is chain ${chainId}; fix --chain-id or --rpc`,
      { details: { key: 'chainId' } },
    )
  }
  const client = new TicketBrokerClient(
    {},
    { rpcUrl: config.rpc, contractAddress: config.broker, chainId, requestTimeoutMs: config.chainTimeoutMs },
  )
  try {
    await client.assertDeployed({ signal: ctx.signal })
  } finally {
    client.close()
  }
  return { rpcUrl: config.rpc, contractAddress: config.broker, chainId, pollIntervalMs: config.chainPollMs }
}

/** libp2p options from the PEER_CONFIG keys (identity comes from the data dir, not from here). */
export function peerOptionsOf(config: PeerConfig): Omit<PeerOptions, 'dataDir' | 'privateKey'> {
  return {
    listen: config.listen,
    ...(config.announce === undefined ? {} : { announce: config.announce }),
    bootstrap: config.bootstrap ?? [],
    mdns: config.mdns,
    maxConnections: config.maxConnections,
  }
}

export interface NodeAccess {
  chain: ChainOptions
  walletKey: string
  /** This process's hold on the data dir; release it once the node has stopped. */
  lock: DataDirLock
}

/**
 * What every node command checks before it starts anything, cheapest first: no stray arguments,
 * someone to find, the command's own settings (`check`), the chain, the wallet, and that no other
 * node runs on the data dir.
 */
export async function prepareNode(
  command: string,
  ctx: Pick<CliContext, 'signal'>,
  loaded: { config: Config<typeof NODE_CONFIG> & { dataDir: string }; positionals: string[] },
  check: () => unknown = () => {},
): Promise<NodeAccess> {
  if (loaded.positionals.length > 0) {
    throw new FramemeshError('ERR_USAGE', `unexpected argument '${loaded.positionals[0]}'; see --help`)
  }
  requireBootstrap(loaded.config)
  await check()
  const chain = await checkChain(ctx, loaded.config)
  const walletKey = await walletKeyOf(ctx, loaded.config)
  return { chain, walletKey, lock: await lockDataDir(loaded.config.dataDir, command) }
}

/** Refuses a node that could find nobody. */
function requireBootstrap(config: PeerConfig): void {
  if ((config.bootstrap ?? []).length === 0 && !config.mdns) {
    throw new ConfigError(
      'ERR_CONFIG_INVALID',
      "'bootstrap' is empty and mdns is off, so this node would find nobody: pass --bootstrap <multiaddr> (printed by `framemesh bootstrap`) or --mdns",
      { details: { key: 'bootstrap' } },
    )
  }
}
