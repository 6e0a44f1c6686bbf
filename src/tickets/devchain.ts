/**
 * A local EVM chain for tests and the demo: ganache in-process behind a JSON-RPC endpoint on 127.0.0.1,
 * funded accounts with known keys, and a freshly deployed TicketBroker. Production nodes never
 * use this; they take any JSON-RPC URL and broker address.
 */
import { ContractFactory, getAddress, JsonRpcProvider, Wallet } from 'ethers'
import { FramemeshError } from '../errors.js'
import { type Logger, silentLogger } from '../logger.js'
import { abortable, withTimeout } from './abortable.js'
import type { TicketBrokerClientOptions } from './broker.js'
import { ticketBrokerArtifact } from './broker-artifact.generated.js'
import { gateRequests, type RawRequestProvider } from './devchain-requests.js'
import { serveJsonRpc } from './devchain-rpc.js'

export interface DevChainOptions {
  /** Funded accounts to create (default 10). Account 0 deploys the broker. */
  accounts?: number
  /** Starting balance of each account in ETH (default 1000). */
  balanceEth?: number
  /** TCP port; 0 (default) picks a free one. */
  port?: number
  chainId?: number
  /** Mine a block every this many seconds as well as on every transaction (default: only on transactions). */
  blockTimeSeconds?: number
  /** Broker deployment parameters (see contracts/TicketBroker.sol). */
  roundLength?: number
  unlockPeriod?: number
  ticketValidityPeriod?: number
  reserveRecipients?: number
  /** Bound on startup (server + deployment), default 30 s. */
  timeoutMs?: number
  /** stop() waits at most this long for the requests the chain is still answering (default 5 s). */
  stopTimeoutMs?: number
  /** Largest JSON-RPC request body the endpoint takes (default 16 MiB); larger ones get HTTP 413. */
  maxRequestBytes?: number
}

export interface DevChainComponents {
  logger?: Logger
}

export interface DevAccount {
  address: string
  privateKey: string
}

export interface DevChain {
  rpcUrl: string
  chainId: number
  contractAddress: string
  /** Block the broker was deployed in. */
  deployBlock: number
  accounts: DevAccount[]
  /** Options for a TicketBrokerClient on this chain (fast polling: blocks are mined instantly). */
  clientOptions: TicketBrokerClientOptions
  roundLength: number
  unlockPeriod: number
  ticketValidityPeriod: number
  reserveRecipients: number
  /** Mines `blocks` empty blocks at once (moves rounds forward in tests). */
  mine(blocks?: number): Promise<void>
  /** Stops or restarts mining: while stopped, sent transactions stay pending (tests of stuck sends). */
  setMining(on: boolean): Promise<void>
  stop(): Promise<void>
}

export class DevChainError extends FramemeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DEVCHAIN', message, options)
  }
}

/** The part of ganache's in-process EthereumProvider the dev chain uses. */
type GanacheProvider = RawRequestProvider & {
  getInitialAccounts(): Record<string, { secretKey: string }>
  request(args: { method: string; params?: unknown[] }): Promise<unknown>
  disconnect(): Promise<void>
}

export async function startDevChain(
  options: DevChainOptions = {},
  components: DevChainComponents = {},
  signal?: AbortSignal,
): Promise<DevChain> {
  const log = (components.logger ?? silentLogger).child('devchain')
  const chainId = options.chainId ?? 1337
  const roundLength = options.roundLength ?? 20
  const unlockPeriod = options.unlockPeriod ?? 2
  const ticketValidityPeriod = options.ticketValidityPeriod ?? 2
  const reserveRecipients = options.reserveRecipients ?? 1
  const wait = withTimeout(signal, options.timeoutMs ?? 30_000)

  let ganache: Awaited<ReturnType<typeof importGanacheQuietly>>
  try {
    ganache = await importGanacheQuietly()
  } catch (cause) {
    throw new DevChainError(
      'ganache is not installed; the dev chain is for tests and the demo: run `npm install --save-dev ganache`',
      { cause },
    )
  }
  // ganache in-process, behind our own JSON-RPC endpoint (devchain-rpc.ts says why not its server).
  const ganacheProvider = ganache.provider({
    logging: { quiet: true },
    wallet: {
      totalAccounts: options.accounts ?? 10,
      defaultBalance: options.balanceEth ?? 1000,
      deterministic: true,
    },
    chain: { chainId, networkId: chainId },
    miner: options.blockTimeSeconds === undefined ? {} : { blockTime: options.blockTimeSeconds },
  }) as unknown as GanacheProvider
  // ganache closes its database under the requests it is still serving (see devchain-requests.ts).
  const requests = gateRequests(
    ganacheProvider,
    () => new DevChainError('the dev chain is stopping; it takes no more requests'),
  )
  // ganache starts up in the background and takes requests once it is done. Disconnecting it
  // before then makes its own start-up throw where nothing catches it ("Cannot resume processing
  // requests"), which ends the process: on Ctrl-C early in `npm start`. This request is answered
  // only once it is up, and the gate's close waits for it like for any other.
  ganacheProvider.request({ method: 'eth_chainId', params: [] }).catch(() => {})

  let provider: JsonRpcProvider | undefined
  const serving = serveJsonRpc(ganacheProvider, {
    host: '127.0.0.1',
    port: options.port ?? 0,
    ...(options.maxRequestBytes === undefined ? {} : { maxBodyBytes: options.maxRequestBytes }),
  })
  try {
    const endpoint = await abortable(serving, wait, 'starting the dev chain')
    const rpcUrl = endpoint.url
    const initial = ganacheProvider.getInitialAccounts()
    const accounts = Object.entries(initial).map(([addr, a]) => ({
      address: getAddress(addr),
      privateKey: a.secretKey,
    }))

    provider = new JsonRpcProvider(rpcUrl, chainId, { staticNetwork: true, pollingInterval: 50 })
    const deployer = new Wallet(accounts[0].privateKey, provider)
    const factory = new ContractFactory(ticketBrokerArtifact.abi, ticketBrokerArtifact.bytecode, deployer)
    const contract = await abortable(
      factory.deploy(roundLength, unlockPeriod, ticketValidityPeriod, reserveRecipients),
      wait,
      'deploying the TicketBroker',
    )
    const receipt = await abortable(
      contract.deploymentTransaction()!.wait(),
      wait,
      'deploying the TicketBroker',
    )
    const contractAddress = await contract.getAddress()
    provider.destroy()
    provider = undefined
    log.info('dev chain up', { rpcUrl, contractAddress, accounts: accounts.length })

    let stopped = false
    return {
      rpcUrl,
      chainId,
      contractAddress,
      deployBlock: receipt?.blockNumber ?? 0,
      accounts,
      clientOptions: { rpcUrl, contractAddress, chainId, pollingIntervalMs: 20 },
      roundLength,
      unlockPeriod,
      ticketValidityPeriod,
      reserveRecipients,
      async mine(blocks = 1) {
        await ganacheProvider.request({ method: 'evm_mine', params: [{ blocks }] })
      },
      async setMining(on: boolean) {
        await ganacheProvider.request({ method: on ? 'miner_start' : 'miner_stop', params: [] })
      },
      async stop() {
        if (stopped) return
        stopped = true
        const stopTimeoutMs = options.stopTimeoutMs ?? 5_000
        if (!(await requests.close(stopTimeoutMs))) {
          log.warn('closing the dev chain with requests still running', {
            inFlight: requests.inFlight(),
            waitedMs: stopTimeoutMs,
          })
        }
        await endpoint.close()
        await ganacheProvider.disconnect()
        log.info('dev chain stopped', { rpcUrl })
      },
    }
  } catch (err) {
    provider?.destroy()
    // A start that timed out may have left its deployment running in ganache.
    await requests.close(options.stopTimeoutMs ?? 5_000)
    // The endpoint, even when the abort came before it was listening: it must not stay open.
    await (await serving.catch(() => undefined))?.close()
    await ganacheProvider.disconnect().catch(() => {})
    if (err instanceof FramemeshError) throw err
    throw new DevChainError(`could not start the local dev chain: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * ganache's bundled µWS has no binary for Node 22 and prints a two-line warning before falling
 * back to Node's http server (which is all we need). Drop only those lines while it loads.
 */
async function importGanacheQuietly(): Promise<typeof import('ganache').default> {
  const warn = console.warn
  console.warn = (...args: unknown[]) => {
    const first = String(args[0] ?? '')
    if (first.includes('µWS') || first.startsWith('Falling back to a NodeJS implementation')) return
    warn(...args)
  }
  try {
    return (await import('ganache')).default
  } finally {
    console.warn = warn
  }
}
