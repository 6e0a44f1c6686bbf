import { type Logger, silentLogger } from '../logger.js'
import { withDeadline } from './abortable.js'
import type { Address, Hex } from './bytes.js'
import { bytesToHex, ZERO_ADDRESS } from './bytes.js'
import type { ChainClock, SenderInfo, SenderInfoSource } from './chain.js'
import { TicketError } from './errors.js'
import { type FundsRead, freshRead, standIn } from './funds-read.js'
import { decryptSenderKey } from './keystore.js'
import { normalizeTicketParams } from './params.js'
import { defaultBackend, type Secp256k1Backend } from './secp256k1.js'
import {
  addressOfPrivateKey,
  expectedValue,
  MAX_WIN_PROB,
  parsePrivateKey,
  signMessage32,
  type TicketBatch,
  type TicketParams,
  ticketFromParams,
  ticketHashOfNormalized,
} from './ticket.js'

export interface TicketSenderComponents {
  /** The sender's Ethereum private key (32 bytes, hex or raw); see `TicketSender.fromKeystore`. */
  key: Hex | Uint8Array
  /** Where the sender reads its own deposit and reserve. */
  senderInfo: SenderInfoSource
  clock: ChainClock
  logger?: Logger
  secp256k1?: Secp256k1Backend
}

export interface TicketSenderOptions {
  /** Most expected value (wei) the sender accepts per ticket. */
  maxTicketEV: bigint
  /** Most expected value (wei) the sender puts in one batch. */
  maxBatchEV: bigint
  /** A face value may be at most deposit ÷ this (default 1), so many wins stay covered. */
  depositMultiplier?: bigint
  /** Tickets the sender makes under one set of params before it needs fresh ones (default 600, the recipient's cap). */
  maxNoncesPerParams?: number
  /** How long the sender trusts its own fetched funds (default 5,000 ms). */
  senderInfoTtlMs?: number
  /** Bound on reading its own funds (default 10,000 ms). */
  senderInfoTimeoutMs?: number
  /**
   * While the chain cannot be read, the last funds read stand in for this long after they were
   * read (default 300,000 ms), so a short RPC outage does not stop payments: the funds only
   * shrink by redeemed wins, and each recipient checks them on its own chain view anyway.
   */
  senderInfoStaleMs?: number
}

interface NonceRecord {
  next: number
  expirationBlock: bigint
}

/**
 * The broadcaster's side of ticket payments: checks the params a recipient quotes against its
 * own limits and funds, numbers tickets, signs them and packs them as batches.
 */
export class TicketSender {
  readonly address: Address
  private readonly key: Uint8Array
  private readonly senderInfoSource: SenderInfoSource
  private readonly clock: ChainClock
  private readonly log: Logger
  private readonly backend: Secp256k1Backend
  private readonly opts: Required<TicketSenderOptions>
  private readonly nonces = new Map<Hex, NonceRecord>()
  private ownInfo: FundsRead | undefined
  private lastPruneBlock = -1n

  constructor(components: TicketSenderComponents, options: TicketSenderOptions) {
    this.backend = components.secp256k1 ?? defaultBackend
    this.key = parsePrivateKey(components.key)
    this.address = addressOfPrivateKey(this.key, this.backend)
    this.senderInfoSource = components.senderInfo
    this.clock = components.clock
    this.log = components.logger ?? silentLogger
    this.opts = {
      maxTicketEV: options.maxTicketEV,
      maxBatchEV: options.maxBatchEV,
      depositMultiplier: options.depositMultiplier ?? 1n,
      maxNoncesPerParams: options.maxNoncesPerParams ?? 600,
      senderInfoTtlMs: options.senderInfoTtlMs ?? 5_000,
      senderInfoTimeoutMs: options.senderInfoTimeoutMs ?? 10_000,
      senderInfoStaleMs: options.senderInfoStaleMs ?? 300_000,
    }
    if (this.opts.maxTicketEV <= 0n || this.opts.maxBatchEV <= 0n || this.opts.depositMultiplier <= 0n) {
      throw new TicketError(
        'ERR_TICKET_FIELD',
        'maxTicketEV, maxBatchEV and depositMultiplier must be positive',
      )
    }
  }

  /** A sender whose key comes from an Ethereum JSON keystore. */
  static async fromKeystore(
    input: { json: string; password: string; signal?: AbortSignal },
    components: Omit<TicketSenderComponents, 'key'>,
    options: TicketSenderOptions,
  ): Promise<TicketSender> {
    const key = await decryptSenderKey(input.json, input.password, { signal: input.signal })
    return new TicketSender({ ...components, key }, options)
  }

  /**
   * Checks quoted params: they must not make every ticket win, must stay under the sender's EV
   * cap, be unexpired, and ask no more face value than its deposit covers. Returns them normalized.
   */
  async checkParams(params: TicketParams, options: { signal?: AbortSignal } = {}): Promise<TicketParams> {
    const p = normalizeTicketParams(params)
    if (p.recipient === ZERO_ADDRESS || p.faceValue === 0n || p.winProb === 0n) {
      throw new TicketError(
        'ERR_PARAMS_INVALID',
        'the params name no recipient or carry no value; ask for a new quote',
      )
    }
    const ev = expectedValue(p.faceValue, p.winProb)
    if (ev === 0n) {
      throw new TicketError(
        'ERR_PARAMS_INVALID',
        'a ticket with these params is worth less than 1 wei; ask for a new quote',
      )
    }
    if (p.winProb >= MAX_WIN_PROB) {
      throw new TicketError(
        'ERR_PARAMS_EV_ABOVE_FACE',
        'the params make every ticket win (EV equals faceValue): that is an on-chain payment per ticket; refuse the quote',
      )
    }
    if (ev > this.opts.maxTicketEV) {
      throw new TicketError(
        'ERR_PARAMS_EV_TOO_HIGH',
        `a ticket would be worth ${ev} wei, above this sender's cap of ${this.opts.maxTicketEV}; pick a cheaper recipient or raise maxTicketEV`,
        { details: { ev, maxTicketEV: this.opts.maxTicketEV } },
      )
    }
    if (this.clock.blockNumber > p.expirationBlock) {
      throw new TicketError(
        'ERR_PARAMS_EXPIRED',
        `the params expired at block ${p.expirationBlock} (now ${this.clock.blockNumber}); ask for a new quote`,
      )
    }
    const info = await this.fundsInfo(options.signal)
    if (info.withdrawRound !== 0n) {
      throw new TicketError(
        'ERR_SENDER_UNLOCKING',
        'this sender is unlocking its funds, so recipients refuse its tickets; cancel the unlock first',
      )
    }
    const maxFace = info.deposit / this.opts.depositMultiplier
    if (p.faceValue > maxFace) {
      throw new TicketError(
        'ERR_PARAMS_FACE_TOO_HIGH',
        `the face value ${p.faceValue} is above what this sender's deposit covers (${maxFace}); deposit more or pick another recipient`,
        { details: { faceValue: p.faceValue, maxFaceValue: maxFace } },
      )
    }
    return p
  }

  /** Makes `count` signed tickets under `params`, numbered after any made before. */
  async createBatch(
    params: TicketParams,
    count: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<TicketBatch> {
    if (!Number.isInteger(count) || count < 1) {
      throw new TicketError('ERR_TICKET_FIELD', `a batch holds at least one ticket; asked for ${count}`)
    }
    const p = await this.checkParams(params, options)
    const total = expectedValue(p.faceValue, p.winProb) * BigInt(count)
    if (total > this.opts.maxBatchEV) {
      throw new TicketError(
        'ERR_PARAMS_BATCH_TOO_LARGE',
        `${count} tickets are worth ${total} wei, above this sender's batch cap of ${this.opts.maxBatchEV}; send fewer or raise maxBatchEV`,
        { details: { count, total, maxBatchEV: this.opts.maxBatchEV } },
      )
    }
    const first = this.reserveNonces(p, count)
    const tickets = []
    for (let nonce = first; nonce < first + count; nonce++) {
      // p is normalized by checkParams, so the per-ticket field checks of signTicket can be skipped
      const hash = ticketHashOfNormalized(ticketFromParams(this.address, p, nonce))
      tickets.push({ senderNonce: nonce, signature: bytesToHex(signMessage32(hash, this.key, this.backend)) })
    }
    this.log.debug('tickets created', { recipient: p.recipient, count, firstNonce: first })
    return { sender: this.address, params: p, tickets }
  }

  /** Tickets enough to close a credit gap: ⌈gap ÷ EV⌉ of them; undefined when there is no gap. */
  async ticketsForCredit(
    params: TicketParams,
    gap: bigint,
    options: { signal?: AbortSignal } = {},
  ): Promise<TicketBatch | undefined> {
    if (gap <= 0n) return undefined
    const ev = expectedValue(params.faceValue, params.winProb)
    if (ev <= 0n) {
      throw new TicketError(
        'ERR_PARAMS_INVALID',
        'a ticket with these params is worth less than 1 wei; ask for a new quote',
      )
    }
    // Params near their nonce cap carry what they still can; the recipient asks again, with
    // fresh params, for the rest (a refusal here would end a long job).
    const left = this.opts.maxNoncesPerParams - (this.nonces.get(params.recipientRandHash)?.next ?? 0)
    const wanted = ticketsNeeded(gap, ev)
    return this.createBatch(params, left > 0 && left < wanted ? left : wanted, options)
  }

  private reserveNonces(params: TicketParams, count: number): number {
    this.prune()
    const record = this.nonces.get(params.recipientRandHash) ?? {
      next: 0,
      expirationBlock: params.expirationBlock,
    }
    if (record.next + count > this.opts.maxNoncesPerParams) {
      throw new TicketError(
        'ERR_TICKET_NONCE_CAP',
        `these params have carried ${record.next} tickets; ${count} more would pass the cap of ${this.opts.maxNoncesPerParams}; ask for fresh params`,
      )
    }
    const first = record.next
    record.next += count
    this.nonces.set(params.recipientRandHash, record)
    return first
  }

  private prune(): void {
    const block = this.clock.blockNumber
    if (block === this.lastPruneBlock) return
    this.lastPruneBlock = block
    for (const [hash, record] of this.nonces) if (record.expirationBlock < block) this.nonces.delete(hash)
  }

  private async fundsInfo(signal?: AbortSignal): Promise<SenderInfo> {
    const known = this.ownInfo
    if (known !== undefined && Date.now() < known.freshUntil) return known.info
    let info: SenderInfo
    try {
      info = await withDeadline(
        (bounded) => this.senderInfoSource.getSenderInfo(this.address, { signal: bounded }),
        {
          signal,
          timeoutMs: this.opts.senderInfoTimeoutMs,
          what: 'reading own funds',
        },
      )
    } catch (cause) {
      if (signal?.aborted === true) throw cause
      const standing = standIn(known, this.opts.senderInfoStaleMs, this.opts.senderInfoTtlMs)
      if (standing !== undefined) {
        this.log.warn('cannot read own funds from the chain; paying on the last read', {
          ageMs: standing.ageMs,
          error: (cause as Error).message,
        })
        return standing.info
      }
      const last =
        known === undefined
          ? 'none read yet'
          : `the last read is ${Math.round((Date.now() - known.readAt) / 1000)} s old`
      throw new TicketError(
        'ERR_SENDER_INFO',
        `could not read this sender’s own funds from the chain (${(cause as Error).message}; ${last}); check the RPC endpoint`,
        { cause },
      )
    }
    this.ownInfo = freshRead(info, this.opts.senderInfoTtlMs)
    return info
  }
}

/** ⌈gap ÷ ev⌉: how many tickets of `ev` wei close a credit gap. */
export function ticketsNeeded(gap: bigint, ev: bigint): number {
  if (ev <= 0n) throw new TicketError('ERR_PARAMS_INVALID', 'a ticket must be worth at least 1 wei')
  if (gap <= 0n) return 0
  return Number((gap + ev - 1n) / ev)
}
