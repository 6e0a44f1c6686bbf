/**
 * TicketBrokerClient: everything a node does with the TicketBroker contract, over any JSON-RPC
 * endpoint. Reads (sender info, chain clock, used tickets) need no key; writes (funding, unlock,
 * withdraw, redemption) need a wallet. Every contract revert becomes a BrokerError with a code.
 */

import { setTimeout as delay } from 'node:timers/promises'
import {
  Contract,
  FetchRequest,
  formatEther,
  type Interface,
  isAddress,
  JsonRpcProvider,
  type Log,
  type Signer,
  Transaction,
  type TransactionReceipt,
  type TransactionRequest,
} from 'ethers'
import { FramemeshError } from '../errors.js'
import { type Logger, silentLogger } from '../logger.js'
import { abortable, withDeadline, withTimeout } from './abortable.js'
import { ticketBrokerArtifact } from './broker-artifact.generated.js'
import { BrokerError, contractRevertError } from './broker-errors.js'
import { type Address, bytesToHex, type Hex } from './bytes.js'
import type { SenderInfoSource } from './chain.js'
import { type Ticket, ticketAuxData, ticketHashHex, type WinningTicket } from './ticket.js'

export { BrokerError, type BrokerErrorCode, isBrokerError } from './broker-errors.js'

export interface OnChainSenderInfo {
  deposit: bigint
  /** Funds left in the reserve. */
  reserve: bigint
  /** 0 while locked; otherwise the round from which the sender may withdraw. */
  withdrawRound: bigint
  reserveClaimedInCurrentRound: bigint
}

export interface RoundInfo {
  round: bigint
  /** The hash of the block before the round's first block: what tickets put in auxData. */
  blockHash: Hex
  blockNumber: bigint
}

export interface TxResult {
  hash: Hex
  blockNumber: number
  gasUsed: bigint
  /** What the transaction cost in wei (gasUsed × effective gas price). */
  fee: bigint
}

/** A signed transaction not yet broadcast: its hash is final, so it can be recorded first. */
export interface PreparedTx {
  hash: Hex
  raw: Hex
  nonce: number
  gasLimit: bigint
  /** Upper bound of the fee in wei (gasLimit × max fee per gas). */
  maxFee: bigint
}

export interface RedeemCostEstimate {
  gas: bigint
  gasPrice: bigint
  /** gas × gasPrice, in wei. */
  cost: bigint
}

export interface RedeemResult extends TxResult {
  /** Wei the recipient received: faceValue, or less when the sender's deposit and reserve share fell short. */
  paid: bigint
}

export interface BatchRedeemResult extends TxResult {
  /** One entry per ticket, in input order: redeemed (and what it paid), or why the contract skipped it. */
  outcomes: { ticketHash: Hex; redeemed: boolean; paid: bigint; error?: BrokerError }[]
}

export interface TicketBrokerClientComponents {
  /** Signs writes. Connected to this client's provider when it has none. */
  wallet?: Signer
  logger?: Logger
}

export interface TicketBrokerClientOptions {
  rpcUrl: string
  contractAddress: string
  /** Skips network detection when given (saves a request and a failure mode at startup). */
  chainId?: number
  /** Bound on one JSON-RPC read or broadcast (default 15 s). */
  requestTimeoutMs?: number
  /** Bound on waiting for a transaction to be mined (default 120 s). */
  confirmTimeoutMs?: number
  /** How often ethers polls for new blocks/receipts (default 1000 ms; the dev chain wants ~50). */
  pollingIntervalMs?: number
  /** Extra gas on top of the estimate, in percent (default 20): state can move between estimate and mining. */
  gasLimitMarginPercent?: number
}

export interface CallOptions {
  signal?: AbortSignal
}

export interface SendOptions extends CallOptions {
  /** Runs with the signed transaction before it is broadcast (e.g. to record its hash durably). */
  onPrepared?: (tx: PreparedTx) => void | Promise<void>
  /**
   * Replace this still-pending transaction: same nonce, fees raised by at least 12.5 %, so at most
   * one of the two is ever mined (nodes refuse a replacement paying less than +10 %).
   */
  replace?: { raw: string }
}

/** What a node says about a transaction right now. */
export type TxState =
  | { state: 'mined'; receipt: TransactionReceipt }
  | { state: 'pending' }
  | { state: 'unknown' }

/** The EVM's BLOCKHASH opcode sees only the last 256 blocks. */
const BLOCKHASH_WINDOW = 256n

export class TicketBrokerClient implements SenderInfoSource {
  readonly contractAddress: string
  readonly provider: JsonRpcProvider
  private readonly contract: Contract
  private readonly iface: Interface
  private readonly wallet: Signer | undefined
  private readonly log: Logger
  private readonly requestTimeoutMs: number
  private readonly confirmTimeoutMs: number
  private readonly gasMargin: bigint
  private readonly pollingIntervalMs: number
  private roundLength: bigint | undefined
  // Writes from one wallet go out one at a time so nonces never collide.
  private sendChain: Promise<unknown> = Promise.resolve()
  private nextNonce = 0

  constructor(components: TicketBrokerClientComponents, options: TicketBrokerClientOptions) {
    this.log = (components.logger ?? silentLogger).child('broker')
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000
    this.confirmTimeoutMs = options.confirmTimeoutMs ?? 120_000
    this.gasMargin = BigInt(100 + (options.gasLimitMarginPercent ?? 20))
    this.pollingIntervalMs = options.pollingIntervalMs ?? 1000
    checkRpcUrl(options.rpcUrl)
    if (!isAddress(options.contractAddress)) {
      throw new BrokerError(
        'ERR_BROKER_CONFIG',
        `the broker address must be 0x followed by 40 hex digits; got "${options.contractAddress}"`,
      )
    }
    const request = new FetchRequest(options.rpcUrl)
    request.timeout = this.requestTimeoutMs
    this.provider = new JsonRpcProvider(request, options.chainId, {
      staticNetwork: options.chainId !== undefined,
      pollingInterval: this.pollingIntervalMs,
      // ethers shares identical reads for 250 ms by default, which serves a stale block number,
      // balance or nonce right after our own transaction; and batching adds a 10 ms stall.
      cacheTimeout: -1,
      batchMaxCount: 1,
      batchStallTime: 0,
    })
    this.contractAddress = options.contractAddress
    this.wallet =
      components.wallet === undefined
        ? undefined
        : components.wallet.provider === null
          ? components.wallet.connect(this.provider)
          : components.wallet
    this.contract = new Contract(
      options.contractAddress,
      ticketBrokerArtifact.abi,
      this.wallet ?? this.provider,
    )
    this.iface = this.contract.interface
  }

  /**
   * A client whose chain id is known before its first request: given, or read once with
   * eth_chainId. Prefer it to the constructor when the chain id is not configured: without one,
   * ethers probes the network in the background and logs every second while the RPC is down.
   */
  static async connect(
    components: TicketBrokerClientComponents,
    options: TicketBrokerClientOptions,
    signal?: AbortSignal,
  ): Promise<TicketBrokerClient> {
    if (options.chainId !== undefined) return new TicketBrokerClient(components, options)
    checkRpcUrl(options.rpcUrl)
    const chainId = await readChainId(options.rpcUrl, withTimeout(signal, options.requestTimeoutMs ?? 15_000))
    return new TicketBrokerClient(components, { ...options, chainId })
  }

  /** The wallet's address, or undefined for a read-only client. */
  async address(): Promise<string | undefined> {
    return this.wallet?.getAddress()
  }

  close(): void {
    this.provider.destroy()
  }

  // ---------------------------------------------------------------- reads

  /** Checks there is a contract at the address (a typo'd address otherwise reads as all zeros). */
  async assertDeployed(opts: CallOptions = {}): Promise<void> {
    const code = await this.read(
      () => this.provider.getCode(this.contractAddress),
      'reading the broker code',
      opts,
    )
    if (code === '0x') {
      throw new BrokerError(
        'ERR_BROKER_NOT_FOUND',
        `no contract at ${this.contractAddress} on this chain; check --broker and --rpc`,
      )
    }
  }

  async getSenderInfo(sender: Address | string, opts: CallOptions = {}): Promise<OnChainSenderInfo> {
    const [s, r] = await this.view<[[bigint, bigint], [bigint, bigint]]>('getSenderInfo', [sender], opts)
    return { deposit: s[0], withdrawRound: s[1], reserve: r[0], reserveClaimedInCurrentRound: r[1] }
  }

  /** How much `recipient` may still draw from `sender`'s reserve this round. */
  async claimableReserve(sender: string, recipient: string, opts: CallOptions = {}): Promise<bigint> {
    return await this.view<bigint>('claimableReserve', [sender, recipient], opts)
  }

  async isTicketUsed(ticketHash: string, opts: CallOptions = {}): Promise<boolean> {
    return await this.view<boolean>('usedTickets', [ticketHash], opts)
  }

  async getBalance(address: string, opts: CallOptions = {}): Promise<bigint> {
    return this.read(() => this.provider.getBalance(address), 'reading a balance', opts)
  }

  async getBlockNumber(opts: CallOptions = {}): Promise<bigint> {
    return BigInt(await this.read(() => this.provider.getBlockNumber(), 'reading the block number', opts))
  }

  async getRoundLength(opts: CallOptions = {}): Promise<bigint> {
    if (this.roundLength === undefined) {
      // immutable in the contract, so one read is enough
      this.roundLength = await this.view<bigint>('roundLength', [], opts)
    }
    return this.roundLength
  }

  async getUnlockPeriod(opts: CallOptions = {}): Promise<bigint> {
    return await this.view<bigint>('unlockPeriod', [], opts)
  }

  async getTicketValidityPeriod(opts: CallOptions = {}): Promise<bigint> {
    return await this.view<bigint>('ticketValidityPeriod', [], opts)
  }

  async getCurrentRound(opts: CallOptions = {}): Promise<bigint> {
    const [blockNumber, roundLength] = await Promise.all([
      this.getBlockNumber(opts),
      this.getRoundLength(opts),
    ])
    return blockNumber / roundLength
  }

  /**
   * The current round and its block hash, as a sender needs them for auxData. The hash comes
   * from the contract's view so it is exactly what redemption will check.
   */
  async getRoundInfo(opts: CallOptions = {}): Promise<RoundInfo> {
    const [blockNumber, roundLength] = await Promise.all([
      this.getBlockNumber(opts),
      this.getRoundLength(opts),
    ])
    const round = blockNumber / roundLength
    const stored = await this.view<string>('blockHashForRound', [round], opts)
    if (!/^0x0*$/.test(stored)) return { round, blockHash: stored.toLowerCase() as Hex, blockNumber }
    // The view reads zero in the genesis block (the EVM does not know the current block's hash);
    // the node does, and any later block will too.
    const hashBlock = round === 0n ? 0n : round * roundLength - 1n
    if (blockNumber - hashBlock < BLOCKHASH_WINDOW) {
      const block = await this.read(
        () => this.provider.getBlock(hashBlock),
        'reading the round hash block',
        opts,
      )
      if (block?.hash != null) return { round, blockHash: block.hash.toLowerCase() as Hex, blockNumber }
    }
    // Tickets carrying a hash the contract cannot check would never redeem: refuse instead.
    throw new BrokerError(
      'ERR_TICKET_ROUND_UNKNOWN',
      `the broker has no block hash for round ${round}; call initializeRound() early in each round when rounds are longer than 256 blocks`,
      { details: { round: round.toString() } },
    )
  }

  // ---------------------------------------------------------------- writes

  fundDeposit(amount: bigint, opts: CallOptions = {}): Promise<TxResult> {
    return this.send('fundDeposit', [], amount, 'fundDeposit', opts)
  }

  fundReserve(amount: bigint, opts: CallOptions = {}): Promise<TxResult> {
    return this.send('fundReserve', [], amount, 'fundReserve', opts)
  }

  fundDepositAndReserve(deposit: bigint, reserve: bigint, opts: CallOptions = {}): Promise<TxResult> {
    return this.send(
      'fundDepositAndReserve',
      [deposit, reserve],
      deposit + reserve,
      'fundDepositAndReserve',
      opts,
    )
  }

  unlock(opts: CallOptions = {}): Promise<TxResult> {
    return this.send('unlock', [], 0n, 'unlock', opts)
  }

  cancelUnlock(opts: CallOptions = {}): Promise<TxResult> {
    return this.send('cancelUnlock', [], 0n, 'cancelUnlock', opts)
  }

  withdraw(opts: CallOptions = {}): Promise<TxResult> {
    return this.send('withdraw', [], 0n, 'withdraw', opts)
  }

  /** Whether the current round's block hash is stored on chain (see initializeRound). */
  async isCurrentRoundInitialized(opts: CallOptions = {}): Promise<boolean> {
    return await this.view<boolean>('currentRoundInitialized', [], opts)
  }

  /** Stores the current round's block hash on chain (needed only for rounds longer than 256 blocks). */
  initializeRound(opts: CallOptions = {}): Promise<TxResult> {
    return this.send('initializeRound', [], 0n, 'initializeRound', opts)
  }

  /**
   * Simulates redeeming `t` (a revert becomes its typed error, costing no gas) and returns the
   * gas it needs and what that costs at the current gas price.
   */
  async estimateRedeem(t: WinningTicket, opts: CallOptions = {}): Promise<RedeemCostEstimate> {
    const args = redeemArgs(t)
    const from = await this.requireWallet().getAddress()
    await this.simulate('redeemWinningTicket', args, 0n, from, 'redeemWinningTicket', opts)
    const [gas, gasPrice] = await Promise.all([
      this.read(
        () => this.contract.redeemWinningTicket.estimateGas(...args, { from }),
        'estimating redemption gas',
        opts,
      ),
      this.getGasPrice(opts),
    ])
    return { gas, gasPrice, cost: gas * gasPrice }
  }

  /** Broadcasts a prepared transaction. Re-broadcasting one the node already has is not an error. */
  async broadcast(tx: PreparedTx, opts: CallOptions = {}): Promise<void> {
    try {
      await withDeadline(() => this.provider.broadcastTransaction(tx.raw), {
        signal: opts.signal,
        timeoutMs: this.requestTimeoutMs,
        what: 'broadcasting a transaction',
      })
    } catch (err) {
      const msg = String((err as Error).message ?? '')
      if (/already known|already imported|known transaction/i.test(msg)) return
      throw this.mapError(err, 'broadcasting a transaction')
    }
  }

  /**
   * Waits for `hash` to be mined. Returns the receipt, or undefined when the node no longer
   * knows the transaction (dropped before mining). A mined revert is returned, not thrown.
   */
  async waitForReceipt(hash: string, opts: CallOptions = {}): Promise<TransactionReceipt | undefined> {
    // Polls the receipt directly: ethers' waitForTransaction only looks on *new* blocks, so a
    // transaction mined before it subscribes waits for the next block, which may never come.
    const signal = withTimeout(opts.signal, this.confirmTimeoutMs)
    const read = { signal }
    for (;;) {
      const receipt = await this.read(
        () => this.provider.getTransactionReceipt(hash),
        'reading a receipt',
        read,
      )
      if (receipt !== null) return receipt
      const known = await this.read(
        () => this.provider.getTransaction(hash),
        'looking up a transaction',
        read,
      )
      if (known === null) {
        // Unknown to the node: dropped or never sent, unless it was mined between the two reads.
        const late = await this.read(
          () => this.provider.getTransactionReceipt(hash),
          'reading a receipt',
          read,
        )
        return late ?? undefined
      }
      const tick = delay(this.pollingIntervalMs, undefined, { signal }).catch(() => {})
      await abortable(tick, signal, 'waiting for a transaction to be mined')
    }
  }

  /** Looks a transaction up without waiting: mined (with its receipt), pending, or unknown. */
  async getTxState(hash: string, opts: CallOptions = {}): Promise<TxState> {
    const receipt = await this.read(
      () => this.provider.getTransactionReceipt(hash),
      'reading a receipt',
      opts,
    )
    if (receipt !== null) return { state: 'mined', receipt }
    const known = await this.read(() => this.provider.getTransaction(hash), 'looking up a transaction', opts)
    if (known !== null) return { state: 'pending' }
    const late = await this.read(() => this.provider.getTransactionReceipt(hash), 'reading a receipt', opts)
    return late === null ? { state: 'unknown' } : { state: 'mined', receipt: late }
  }

  /**
   * Redeems one winning ticket and waits for it to be mined. `onPrepared` runs with the signed
   * transaction before it is broadcast, so a caller can record its hash first (crash safety).
   */
  async redeemWinningTicket(t: WinningTicket, opts: SendOptions = {}): Promise<RedeemResult> {
    const tx = await this.sendPrepared('redeemWinningTicket', redeemArgs(t), 0n, 'redeemWinningTicket', opts)
    const receipt = await this.waitForReceipt(tx.hash, opts)
    return this.settleRedeem(receipt, tx.hash, t)
  }

  /** settle() for a single redemption, adding what it paid. */
  settleRedeem(receipt: TransactionReceipt | undefined, hash: string, t: WinningTicket): RedeemResult {
    const result = this.settle(receipt, hash, 'redeemWinningTicket')
    return { ...result, paid: this.paidPerTicket(receipt!.logs).get(redemptionKey(t)) ?? 0n }
  }

  /** Redeems several tickets in one transaction; a ticket that fails is skipped, not fatal. */
  async batchRedeemWinningTickets(
    tickets: WinningTicket[],
    opts: SendOptions = {},
  ): Promise<BatchRedeemResult> {
    const what = 'batchRedeemWinningTickets'
    const tx = await this.sendPrepared(what, batchArgs(tickets), 0n, what, opts)
    const receipt = await this.waitForReceipt(tx.hash, opts)
    const result = this.settle(receipt, tx.hash, what)
    return { ...result, outcomes: this.batchOutcomes(tickets, receipt!.logs) }
  }

  /**
   * Per-ticket outcome of a mined redemption (single or batch), read from its events: redeemed
   * when its WinningTicketRedeemed is there, else the reason from TicketRedemptionFailed.
   */
  batchOutcomes(tickets: WinningTicket[], logs: readonly Log[]): BatchRedeemResult['outcomes'] {
    const failed = new Map<string, BrokerError>()
    for (const log of logs) {
      if (log.address.toLowerCase() !== this.contractAddress.toLowerCase()) continue
      const parsed = this.iface.parseLog(log)
      if (parsed?.name !== 'TicketRedemptionFailed') continue
      failed.set(
        String(parsed.args[0]).toLowerCase(),
        this.decodeRevert(parsed.args[1] as string, 'redeeming a ticket'),
      )
    }
    const paid = this.paidPerTicket(logs)
    return tickets.map((t) => {
      const ticketHash = ticketHashHex(t.ticket)
      const error = failed.get(ticketHash)
      const amount = paid.get(redemptionKey(t))
      if (error !== undefined) return { ticketHash, redeemed: false, paid: 0n, error }
      if (amount === undefined) {
        const missing = new BrokerError(
          'ERR_CONTRACT_REVERT',
          `transaction did not redeem ticket ${ticketHash}`,
        )
        return { ticketHash, redeemed: false, paid: 0n, error: missing }
      }
      return { ticketHash, redeemed: true, paid: amount }
    })
  }

  /**
   * What each redeemed ticket paid, keyed by redemptionKey. A redemption logs its transfer (if
   * any) and then WinningTicketRedeemed, so transfers are summed up to each Redeemed event.
   */
  private paidPerTicket(logs: readonly Log[]): Map<string, bigint> {
    const out = new Map<string, bigint>()
    let transferred = 0n
    for (const log of logs) {
      if (log.address.toLowerCase() !== this.contractAddress.toLowerCase()) continue
      const parsed = this.iface.parseLog(log)
      if (parsed?.name === 'WinningTicketTransfer') transferred += parsed.args[2] as bigint
      if (parsed?.name === 'WinningTicketRedeemed') {
        const [sender, recipient, faceValue, winProb, senderNonce, recipientRand, auxData] = parsed.args
        const key = [sender, recipient, faceValue, winProb, senderNonce, recipientRand, auxData]
          .map((v) => String(v).toLowerCase())
          .join('|')
        out.set(key, transferred)
        transferred = 0n
      }
    }
    return out
  }

  /** Turns a mined receipt into a TxResult, or throws the reason it reverted / went missing. */
  settle(receipt: TransactionReceipt | undefined, hash: string, what: string): TxResult {
    if (receipt === undefined) {
      throw new BrokerError(
        'ERR_TX_DROPPED',
        `${what} transaction ${hash} was dropped before it was mined; resend it`,
        {
          retryable: true,
          details: { hash },
        },
      )
    }
    const result: TxResult = {
      hash: receipt.hash as Hex,
      blockNumber: receipt.blockNumber,
      gasUsed: receipt.gasUsed,
      fee: receipt.gasUsed * receipt.gasPrice,
    }
    if (receipt.status !== 1) {
      throw new BrokerError(
        'ERR_CONTRACT_REVERT',
        `${what} transaction ${receipt.hash} reverted on chain (state changed after it was simulated); check the ticket and retry`,
        { details: { hash: receipt.hash, blockNumber: receipt.blockNumber } },
      )
    }
    return result
  }

  /** Decodes contract revert data (from eth_call or a TicketRedemptionFailed event). */
  decodeRevert(data: string, what: string, cause?: unknown): BrokerError {
    try {
      const parsed = this.iface.parseError(data)
      if (parsed !== null) return contractRevertError(parsed.name, [...parsed.args], what, cause)
    } catch {
      // not one of ours: fall through
    }
    return new BrokerError('ERR_CONTRACT_REVERT', `${what} reverted (data ${data.slice(0, 74)})`, { cause })
  }

  // ---------------------------------------------------------------- internals

  private requireWallet(): Signer {
    if (this.wallet === undefined) {
      throw new BrokerError(
        'ERR_NO_WALLET',
        'this needs a wallet to sign transactions; create one with `framemesh wallet new`',
      )
    }
    return this.wallet
  }

  private async send(
    method: string,
    args: unknown[],
    value: bigint,
    what: string,
    opts: CallOptions,
  ): Promise<TxResult> {
    const tx = await this.sendPrepared(method, args, value, what, opts)
    const receipt = await this.waitForReceipt(tx.hash, opts)
    const result = this.settle(receipt, tx.hash, what)
    this.log.info('transaction mined', { what, hash: result.hash, gasUsed: result.gasUsed })
    return result
  }

  /** Simulate, sign, hand to onPrepared, broadcast: one wallet's sends go one at a time. */
  private sendPrepared(
    method: string,
    args: unknown[],
    value: bigint,
    what: string,
    opts: SendOptions,
  ): Promise<PreparedTx> {
    const run = this.sendChain.then(async () => {
      const tx = await this.prepare(method, args, value, what, opts)
      await opts.onPrepared?.(tx)
      await this.broadcast(tx, opts)
      this.nextNonce = Math.max(this.nextNonce, tx.nonce + 1)
      return tx
    })
    this.sendChain = run.catch(() => {})
    return run
  }

  private async prepare(
    method: string,
    args: unknown[],
    value: bigint,
    what: string,
    opts: SendOptions,
  ): Promise<PreparedTx> {
    const wallet = this.requireWallet()
    const from = await wallet.getAddress()
    await this.simulate(method, args, value, from, what, opts)
    const data = this.iface.encodeFunctionData(method, args)
    const request: TransactionRequest = { to: this.contractAddress, from, data, value }
    const estimate = await this.read(
      () => this.provider.estimateGas(request),
      `estimating gas for ${what}`,
      opts,
    )
    const gasLimit = (estimate * this.gasMargin) / 100n
    // A node's pending count can lag our own last send (load-balanced RPC endpoints do).
    const pending = await this.read(
      () => this.provider.getTransactionCount(from, 'pending'),
      'reading the nonce',
      opts,
    )
    const old = opts.replace === undefined ? undefined : Transaction.from(opts.replace.raw)
    const nonce = old?.nonce ?? Math.max(pending, this.nextNonce)
    const populated = await this.read(
      () => wallet.populateTransaction({ ...request, gasLimit, nonce }),
      `preparing ${what}`,
      opts,
    )
    if (old !== undefined) bumpFees(populated, old)
    const raw = (await wallet.signTransaction(populated)) as Hex
    const signed = Transaction.from(raw)
    const perGas = signed.maxFeePerGas ?? signed.gasPrice ?? 0n
    return { hash: signed.hash as Hex, raw, nonce: signed.nonce, gasLimit, maxFee: gasLimit * perGas }
  }

  /** eth_call first: it carries revert data (estimateGas on some nodes does not). */
  private async simulate(
    method: string,
    args: unknown[],
    value: bigint,
    from: string,
    what: string,
    opts: CallOptions,
  ): Promise<void> {
    try {
      await this.read(
        () => this.contract.getFunction(method).staticCall(...args, { from, value }),
        what,
        opts,
      )
    } catch (err) {
      // Some nodes (ganache) refuse a call sending more than the balance as a bare revert, which
      // would read as a wrong contract; geth's own "insufficient funds" is mapped in mapError.
      if (value > 0n && err instanceof BrokerError && err.code === 'ERR_CONTRACT_REVERT') {
        const balance = await this.getBalance(from, opts).catch(() => undefined)
        if (balance !== undefined && balance < value) {
          throw new BrokerError(
            'ERR_INSUFFICIENT_FUNDS',
            `${what}: the wallet ${from.toLowerCase()} holds ${formatEther(balance)} ETH but this sends ${formatEther(value)} ETH (plus gas); send ETH to it or send less`,
            { cause: err },
          )
        }
      }
      throw err
    }
  }

  /** What one unit of gas costs now (max fee per gas under EIP-1559, else the gas price). */
  async getGasPrice(opts: CallOptions = {}): Promise<bigint> {
    const fee = await this.read(() => this.provider.getFeeData(), 'reading the gas price', opts)
    return fee.maxFeePerGas ?? fee.gasPrice ?? 0n
  }

  /** Calls a view function of the broker. */
  private view<T>(method: string, args: unknown[], opts: CallOptions): Promise<T> {
    return this.read(
      () => this.contract.getFunction(method).staticCall(...args) as Promise<T>,
      `reading ${method}`,
      opts,
    )
  }

  private async read<T>(fn: () => Promise<T>, what: string, opts: CallOptions): Promise<T> {
    try {
      return await withDeadline(fn, { signal: opts.signal, timeoutMs: this.requestTimeoutMs, what })
    } catch (err) {
      throw this.mapError(err, what)
    }
  }

  private mapError(err: unknown, what: string): Error {
    if (err instanceof FramemeshError) return err
    const e = err as { code?: string; data?: string; shortMessage?: string; message?: string }
    if (e.code === 'CALL_EXCEPTION') {
      if (typeof e.data === 'string' && e.data.length >= 10) return this.decodeRevert(e.data, what, err)
      return new BrokerError(
        'ERR_CONTRACT_REVERT',
        `${what} reverted without a reason; check --broker points at a TicketBroker`,
        {
          cause: err,
        },
      )
    }
    if (e.code === 'INSUFFICIENT_FUNDS') {
      return new BrokerError(
        'ERR_INSUFFICIENT_FUNDS',
        `${what}: the wallet cannot pay for value + gas; send ETH to it and retry`,
        { cause: err },
      )
    }
    const inner = (err as { error?: { message?: string } }).error?.message
    return new BrokerError(
      'ERR_CHAIN_UNAVAILABLE',
      `${what} failed: ${inner ?? e.shortMessage ?? e.message ?? String(err)}; check the RPC endpoint (--rpc) and retry`,
      { cause: err, retryable: true },
    )
  }
}

function checkRpcUrl(url: string): void {
  if (!/^https?:\/\/\S+$/i.test(url)) {
    throw new BrokerError('ERR_BROKER_CONFIG', `the RPC URL must be http(s)://…; got "${url}"`)
  }
}

/** eth_chainId over plain fetch, bounded by `signal`. */
async function readChainId(rpcUrl: string, signal: AbortSignal): Promise<number> {
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal,
    })
    const body = (await response.json()) as { result?: string }
    const chainId = Number(body.result)
    if (!Number.isSafeInteger(chainId) || chainId <= 0)
      throw new Error(`eth_chainId answered ${JSON.stringify(body)}`)
    return chainId
  } catch (cause) {
    throw new BrokerError(
      'ERR_CHAIN_UNAVAILABLE',
      `cannot read the chain id from ${rpcUrl}: ${(cause as Error).message}; check the RPC endpoint (--rpc) and retry`,
      { cause, retryable: true },
    )
  }
}

/** Raises a replacement's fees to at least 112.5 % of the transaction it replaces. */
function bumpFees(tx: TransactionRequest, old: Transaction): void {
  const bump = (v: bigint | null | undefined) => (v == null ? 0n : (v * 1125n + 999n) / 1000n)
  const atLeast = (mine: unknown, floor: bigint) => {
    const v = mine == null ? 0n : BigInt(mine as bigint)
    return v > floor ? v : floor
  }
  if (old.maxFeePerGas !== null) {
    tx.maxFeePerGas = atLeast(tx.maxFeePerGas, bump(old.maxFeePerGas))
    tx.maxPriorityFeePerGas = atLeast(tx.maxPriorityFeePerGas, bump(old.maxPriorityFeePerGas))
  } else {
    tx.gasPrice = atLeast(tx.gasPrice, bump(old.gasPrice))
  }
}

/** The contract's Ticket struct, field order as in the contract; auxData exactly as hashed. */
export function ticketTuple(t: Ticket): unknown[] {
  return [
    t.recipient,
    t.sender,
    t.faceValue,
    t.winProb,
    BigInt(t.senderNonce),
    t.recipientRandHash,
    bytesToHex(ticketAuxData(t)),
  ]
}

/** Matches a ticket to its WinningTicketRedeemed event (same fields, same order). */
function redemptionKey(t: WinningTicket): string {
  const [recipient, sender, faceValue, winProb, senderNonce, , auxData] = ticketTuple(t.ticket)
  return [sender, recipient, faceValue, winProb, senderNonce, t.recipientRand, auxData]
    .map((v) => String(v).toLowerCase())
    .join('|')
}

function redeemArgs(t: WinningTicket): unknown[] {
  return [ticketTuple(t.ticket), t.signature, t.recipientRand]
}

function batchArgs(tickets: WinningTicket[]): unknown[] {
  return [
    tickets.map((t) => ticketTuple(t.ticket)),
    tickets.map((t) => t.signature),
    tickets.map((t) => t.recipientRand),
  ]
}
