/**
 * The chain side every node shares: a TicketBroker client on a JSON-RPC URL and a watcher that
 * keeps the block, round and gas price fresh so ticket checks never wait on the network.
 */
import type { Signer } from 'ethers'
import type { Logger } from '../logger.js'
import { TicketBrokerClient } from '../tickets/broker.js'
import { ChainWatcher } from '../tickets/broker-watcher.js'

export interface ChainOptions {
  rpcUrl: string
  /** The TicketBroker's address. */
  contractAddress: string
  chainId?: number
  /** How often to poll the chain (ms). Default 2000; a dev chain mines instantly and wants ~200. */
  pollIntervalMs?: number
}

export interface ChainAccess {
  broker: TicketBrokerClient
  watcher: ChainWatcher
  close(): void
}

export async function connectChain(
  components: { logger?: Logger; wallet?: Signer },
  options: ChainOptions,
  signal?: AbortSignal,
): Promise<ChainAccess> {
  const pollIntervalMs = options.pollIntervalMs ?? 2000
  const broker = new TicketBrokerClient(
    { logger: components.logger, wallet: components.wallet },
    {
      rpcUrl: options.rpcUrl,
      contractAddress: options.contractAddress,
      chainId: options.chainId,
      pollingIntervalMs: Math.min(pollIntervalMs, 1000),
    },
  )
  const watcher = new ChainWatcher({ broker, logger: components.logger }, { pollIntervalMs })
  try {
    await watcher.start(signal)
  } catch (err) {
    broker.close()
    throw err
  }
  return {
    broker,
    watcher,
    close() {
      watcher.stop()
      broker.close()
    },
  }
}
