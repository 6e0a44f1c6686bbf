import { randomBytes } from 'node:crypto'
import { type Logger, silentLogger } from '../logger.js'
import { setMostRecent } from '../recent-map.js'
import { abortable, withDeadline } from './abortable.js'
import { type Address, asBuffer, bytesToHex, toAddress, ZERO_ADDRESS, ZERO_BYTES32 } from './bytes.js'
import type { ChainClock, GasPriceSource, RedemptionQueue, SenderInfo, SenderInfoSource } from './chain.js'
import { TicketError } from './errors.js'
import { type FundsRead, freshRead, standIn } from './funds-read.js'
import {
  assertPrice,
  costOf,
  deriveRecipientRand,
  faceValueFor,
  issueTicketParams,
  normalizeTicketParams,
  RECIPIENT_SECRET_LENGTH,
  randInputOf,
} from './params.js'
import { defaultBackend, type Secp256k1Backend } from './secp256k1.js'
import {
  addressOfPublicKey,
  assertSenderNonce,
  decodeSignature,
  expectedValue,
  isWinningTicket,
  type Price,
  recipientRandHash,
  recoverMessage32PublicKey,
  type SignedTicket,
  type Ticket,
  type TicketBatch,
  type TicketParams,
  ticketFromParams,
  ticketHashOfNormalized,
  winProbForExpectedValue,
  wrongSignerError,
} from './ticket.js'

export interface TicketRecipientComponents {
  clock: ChainClock
  senderInfo: SenderInfoSource
  gasPrice: GasPriceSource
  redemptionQueue: RedemptionQueue
  logger?: Logger
  /** secp256k1 implementation (default: libsecp256k1 when it loads, else noble). */
  secp256k1?: Secp256k1Backend
}

export interface TicketRecipientOptions {
  /** This recipient's Ethereum address: tickets must name it. */
  address: Address
  /** 32-byte HMAC key behind recipientRand; random per process when omitted (outstanding params then die with it). */
  secret?: Uint8Array
  /** Gas one redemption costs (default 350,000). */
  redeemGas?: bigint
  /** faceValue = redeemGas × gasPrice × this, so redemption gas stays a small share of a win (default 100). */
  faceValueMultiplier?: bigint
  /** Expected value each ticket should carry, in wei. When omitted: the price of `unitsPerTicket` units. */
  ticketEV?: bigint
  /** Units of work one ticket pays for when `ticketEV` is not set (default 100). */
  unitsPerTicket?: bigint
  /** Blocks for which issued params stay valid (default 40). */
  paramsValidityBlocks?: bigint
  /** Rounds after its creation round within which TicketBroker still redeems a ticket (default 2). */
  ticketValidityRounds?: bigint
  /** Tickets a sender may send under one recipientRand (default 600). */
  maxNoncesPerRand?: number
  /** Share of a sender's reserve this recipient counts on (reserve ÷ this; default 1). */
  reserveShares?: bigint
  /** How long a fetched SenderInfo is trusted (default 5,000 ms). */
  senderInfoTtlMs?: number
  /** Bound on one SenderInfo fetch (default 10,000 ms). */
  senderInfoTimeoutMs?: number
  /**
   * While the chain cannot be read, a sender's last read funds stand in for this long after they
   * were read (default 300,000 ms): a short RPC outage does not stop paid work. The risk is the
   * recipient's: wins redeemed by others meanwhile may leave a ticket unpaid. 0 turns it off.
   */
  senderInfoStaleMs?: number
  /** Most tickets accepted in one batch (default 1,000). */
  maxBatchSize?: number
  /**
   * Senders whose funds and public key are remembered (default 10,000; the least recently seen
   * go first). Anyone can ask for a quote naming any address, so this must not grow without end.
   */
  maxRememberedSenders?: number
  /**
   * Chain reads of senders' funds in flight at once (default 32). Past it, a sender read before
   * is checked on its last read (within senderInfoStaleMs) and an unseen one is refused with
   * ERR_SENDER_READS_BUSY: quotes naming many made-up senders must not flood the RPC endpoint.
   */
  maxSenderReadsInFlight?: number
}

export interface TicketRejection {
  senderNonce: number
  error: TicketError
}

export interface BatchResult {
  /** Tickets that passed every check and were credited. */
  accepted: number
  /** Wei credited for this batch (sum of the accepted tickets' EV). */
  credited: bigint
  /** The (sender, session) balance after crediting. */
  balance: bigint
  /** Accepted tickets that won and went to the redemption queue. */
  winners: number
  rejected: TicketRejection[]
}

interface RandRecord {
  expirationBlock: bigint
  nonces: Set<number>
}

/**
 * The orchestrator's side of ticket payments: issues TicketParams, validates the tickets
 * senders send back, credits their expected value to a balance per (sender, session), debits it
 * per unit of work, and hands winning tickets to the redemption queue. Every rejection has a
 * TicketError code and never credits.
 */
export class TicketRecipient {
  readonly address: Address
  private readonly secret: Uint8Array
  private readonly clock: ChainClock
  private readonly senderInfoSource: SenderInfoSource
  private readonly gasPriceSource: GasPriceSource
  private readonly queue: RedemptionQueue
  private readonly log: Logger
  private readonly backend: Secp256k1Backend
  private readonly opts: Required<Omit<TicketRecipientOptions, 'address' | 'secret' | 'ticketEV'>> & {
    ticketEV?: bigint
  }
  private readonly rands = new Map<string, RandRecord>()
  private readonly balances = new Map<string, bigint>()
  private readonly senderInfoCache = new Map<Address, FundsRead>()
  private readonly senderKeys = new Map<Address, Uint8Array>()
  private readonly senderInfoInFlight = new Map<Address, Promise<SenderInfo>>()
  private lastPruneBlock = -1n

  constructor(components: TicketRecipientComponents, options: TicketRecipientOptions) {
    this.address = toAddress(options.address, 'recipient address')
    if (this.address === ZERO_ADDRESS) {
      throw new TicketError(
        'ERR_TICKET_FIELD',
        'the recipient address must not be zero; configure the node wallet',
      )
    }
    this.secret = options.secret ?? randomBytes(RECIPIENT_SECRET_LENGTH)
    if (this.secret.length !== RECIPIENT_SECRET_LENGTH) {
      throw new TicketError(
        'ERR_KEY_INVALID',
        `the recipient secret must be ${RECIPIENT_SECRET_LENGTH} bytes`,
      )
    }
    this.clock = components.clock
    this.senderInfoSource = components.senderInfo
    this.gasPriceSource = components.gasPrice
    this.queue = components.redemptionQueue
    this.log = components.logger ?? silentLogger
    this.backend = components.secp256k1 ?? defaultBackend
    this.opts = {
      redeemGas: options.redeemGas ?? 350_000n,
      faceValueMultiplier: options.faceValueMultiplier ?? 100n,
      ticketEV: options.ticketEV,
      unitsPerTicket: options.unitsPerTicket ?? 100n,
      paramsValidityBlocks: options.paramsValidityBlocks ?? 40n,
      ticketValidityRounds: options.ticketValidityRounds ?? 2n,
      maxNoncesPerRand: options.maxNoncesPerRand ?? 600,
      reserveShares: options.reserveShares ?? 1n,
      senderInfoTtlMs: options.senderInfoTtlMs ?? 5_000,
      senderInfoTimeoutMs: options.senderInfoTimeoutMs ?? 10_000,
      senderInfoStaleMs: options.senderInfoStaleMs ?? 300_000,
      maxBatchSize: options.maxBatchSize ?? 1_000,
      maxRememberedSenders: options.maxRememberedSenders ?? 10_000,
      maxSenderReadsInFlight: options.maxSenderReadsInFlight ?? 32,
    }
    if (this.opts.reserveShares <= 0n) throw new TicketError('ERR_TICKET_FIELD', 'reserveShares must be ≥ 1')
  }

  /**
   * Issues ticket parameters for `sender` at `price`. Refuses a sender whose funds are
   * unlocking or cannot cover one ticket's expected value.
   */
  async issueParams(input: { sender: Address; price: Price; signal?: AbortSignal }): Promise<TicketParams> {
    const sender = toAddress(input.sender, 'sender')
    if (sender === ZERO_ADDRESS)
      throw new TicketError('ERR_TICKET_SENDER_ZERO', 'the sender address must not be zero')
    const price = assertPrice(input.price)
    const { blockNumber, currentRound, roundBlockHash } = this.clock
    if (currentRound === 0n && roundBlockHash === ZERO_BYTES32) {
      throw new TicketError(
        'ERR_TICKET_ROUND',
        'the chain clock reports round 0 with a zero block hash; wait for the round to be initialized',
      )
    }
    const info = await this.senderInfo(sender, input.signal)
    this.assertNotUnlocking(sender, info)
    const maxFloat = this.maxFloat(sender, info)
    const ev = this.opts.ticketEV ?? costOf(price, this.opts.unitsPerTicket)
    if (ev <= 0n) {
      throw new TicketError(
        'ERR_TICKET_FIELD',
        'a ticket must carry a positive expected value; set ticketEV or a price',
      )
    }
    const faceValue = faceValueFor({
      redeemGas: this.opts.redeemGas,
      gasPrice: this.gasPriceSource.gasPrice,
      multiplier: this.opts.faceValueMultiplier,
      maxFloat,
    })
    if (faceValue < ev) {
      throw new TicketError(
        'ERR_SENDER_FUNDS',
        `sender ${sender} can cover ${maxFloat} wei, less than one ticket's expected value ${ev}; the sender must fund its deposit and reserve`,
        { details: { sender, maxFloat, ticketEV: ev } },
      )
    }
    const { params } = issueTicketParams(this.secret, {
      recipient: this.address,
      sender,
      faceValue,
      winProb: winProbForExpectedValue(ev, faceValue),
      expirationBlock: blockNumber + this.opts.paramsValidityBlocks,
      price,
      creationRound: currentRound,
      creationRoundBlockHash: roundBlockHash,
    })
    return params
  }

  /** Validates and credits one ticket; throws the TicketError of its rejection. */
  async receiveTicket(
    signed: SignedTicket,
    params: TicketParams,
    options: { sessionId: string; signal?: AbortSignal },
  ): Promise<BatchResult> {
    const result = await this.receiveBatch(
      {
        sender: signed.ticket.sender,
        params,
        tickets: [{ senderNonce: signed.ticket.senderNonce, signature: signed.signature }],
      },
      options,
    )
    const rejected = result.rejected[0]
    if (rejected !== undefined) throw rejected.error
    return result
  }

  /**
   * Validates a batch. Checks of the shared parameters (recipient, sender, recipientRand,
   * expiry, round, sender funds) reject the whole batch by throwing; per-ticket checks
   * (signature, nonce) reject single tickets, listed in `rejected`. Only accepted tickets credit.
   */
  async receiveBatch(
    batch: TicketBatch,
    options: { sessionId: string; signal?: AbortSignal },
  ): Promise<BatchResult> {
    const { sender, params, tickets } = this.normalizeBatch(batch)
    this.checkSharedParams(sender, params)
    const recipientRand = this.checkRand(sender, params)
    const info = await this.senderInfo(sender, options.signal)
    this.assertNotUnlocking(sender, info)
    const ev = expectedValue(params.faceValue, params.winProb)
    const record = this.randRecord(params)
    const key = balanceKey(sender, options.sessionId)
    const result: BatchResult = { accepted: 0, credited: 0n, balance: 0n, winners: 0, rejected: [] }
    for (const { senderNonce, signature } of tickets) {
      const ticket = ticketFromParams(sender, params, senderNonce)
      let sig: Uint8Array
      try {
        this.assertFundsCover(sender, info, params.faceValue)
        sig = decodeSignature(signature)
        this.verifySignature(ticket, sig)
        this.recordNonce(record, senderNonce, params)
      } catch (err) {
        if (!(err instanceof TicketError)) throw err
        result.rejected.push({ senderNonce, error: err })
        continue
      }
      result.accepted++
      result.credited += ev
      this.balances.set(key, (this.balances.get(key) ?? 0n) + ev)
      if (isWinningTicket(sig, recipientRand, params.winProb)) {
        result.winners++
        this.log.info('winning ticket', { sender, senderNonce, faceValue: params.faceValue })
        // Credited first: the sender paid correctly even if storing the win fails below.
        await this.queue.enqueue({ ticket, signature: bytesToHex(sig), recipientRand })
      }
    }
    result.balance = this.balances.get(key) ?? 0n
    if (result.rejected.length > 0) {
      this.log.debug('tickets rejected', {
        sender,
        codes: result.rejected.map((r) => r.error.code),
      })
    }
    return result
  }

  /** Tickets these params may still carry before their nonce cap (maxNoncesPerRand). */
  noncesLeft(params: TicketParams): number {
    const used = this.rands.get(params.recipientRandHash)?.nonces.size ?? 0
    return Math.max(0, this.opts.maxNoncesPerRand - used)
  }

  /** The credit a (sender, session) holds, in wei. */
  balance(sender: Address, sessionId: string): bigint {
    return this.balances.get(balanceKey(toAddress(sender, 'sender'), sessionId)) ?? 0n
  }

  /** How much more credit (wei) the session needs before `units` more units of work at `price`. */
  creditGap(input: { sender: Address; sessionId: string; units: bigint; price: Price }): bigint {
    const gap = costOf(assertPrice(input.price), input.units) - this.balance(input.sender, input.sessionId)
    return gap > 0n ? gap : 0n
  }

  /**
   * Pays for `units` units of work from the session's credit; refuses with
   * ERR_INSUFFICIENT_CREDIT (taking nothing) when the balance does not cover them.
   */
  debit(input: { sender: Address; sessionId: string; units: bigint; price: Price }): bigint {
    const key = balanceKey(toAddress(input.sender, 'sender'), input.sessionId)
    const cost = costOf(assertPrice(input.price), input.units)
    const balance = this.balances.get(key) ?? 0n
    if (balance < cost) {
      throw new TicketError(
        'ERR_INSUFFICIENT_CREDIT',
        `the session has ${balance} wei of credit, ${cost} wei is needed for ${input.units} units; send ${cost - balance} wei more in tickets`,
        { details: { balance, cost, gap: cost - balance } },
      )
    }
    const left = balance - cost
    this.balances.set(key, left)
    return left
  }

  /** Forgets a finished session's balance. */
  closeSession(sender: Address, sessionId: string): void {
    this.balances.delete(balanceKey(toAddress(sender, 'sender'), sessionId))
  }

  private normalizeBatch(batch: TicketBatch): TicketBatch {
    if (batch === null || typeof batch !== 'object' || !Array.isArray(batch.tickets)) {
      throw new TicketError('ERR_TICKET_FIELD', 'a ticket batch is { sender, params, tickets: [...] }')
    }
    if (batch.tickets.length === 0 || batch.tickets.length > this.opts.maxBatchSize) {
      throw new TicketError(
        'ERR_TICKET_FIELD',
        `a batch holds 1 to ${this.opts.maxBatchSize} tickets; got ${batch.tickets.length}`,
      )
    }
    for (const t of batch.tickets) {
      assertSenderNonce(t?.senderNonce)
      if (typeof t.signature !== 'string') {
        throw new TicketError('ERR_SIGNATURE_LENGTH', 'each ticket needs a 65-byte hex signature')
      }
    }
    return {
      sender: toAddress(batch.sender, 'sender'),
      params: normalizeTicketParams(batch.params),
      tickets: batch.tickets,
    }
  }

  /**
   * Strict signature check. The sender's public key is remembered once an address check passed,
   * so later tickets compare 65 bytes instead of hashing the key again.
   */
  private verifySignature(ticket: Ticket, sig: Uint8Array): void {
    const publicKey = recoverMessage32PublicKey(ticketHashOfNormalized(ticket), sig, this.backend)
    const known = this.senderKeys.get(ticket.sender)
    if (known !== undefined && asBuffer(publicKey).equals(known)) return
    const signer = addressOfPublicKey(publicKey)
    if (signer !== ticket.sender) throw wrongSignerError(signer, ticket.sender)
    setMostRecent(this.senderKeys, ticket.sender, publicKey, this.opts.maxRememberedSenders)
  }

  private checkSharedParams(sender: Address, params: TicketParams): void {
    if (params.recipient !== this.address) {
      throw new TicketError(
        'ERR_TICKET_RECIPIENT',
        `the tickets are for ${params.recipient}, not this recipient ${this.address}; use params this node issued`,
        { details: { recipient: params.recipient } },
      )
    }
    if (sender === ZERO_ADDRESS) {
      throw new TicketError('ERR_TICKET_SENDER_ZERO', 'the ticket sender must not be the zero address')
    }
    const { blockNumber, currentRound } = this.clock
    if (blockNumber > params.expirationBlock) {
      throw new TicketError(
        'ERR_TICKET_EXPIRED',
        `the ticket params expired at block ${params.expirationBlock} (now ${blockNumber}); ask for fresh params`,
        { details: { expirationBlock: params.expirationBlock, blockNumber } },
      )
    }
    const created = params.expirationParams.creationRound
    if (created + this.opts.ticketValidityRounds <= currentRound || created > currentRound) {
      throw new TicketError(
        'ERR_TICKET_ROUND',
        `tickets from round ${created} cannot be redeemed in round ${currentRound}; ask for fresh params`,
        { details: { creationRound: created, currentRound } },
      )
    }
  }

  private checkRand(sender: Address, params: TicketParams): bigint {
    const rand = deriveRecipientRand(this.secret, randInputOf(sender, params))
    if (recipientRandHash(rand) !== params.recipientRandHash) {
      throw new TicketError(
        'ERR_TICKET_PARAMS_TAMPERED',
        'the ticket params do not match what this recipient issued (faceValue, winProb, seed, price, expiry, round or sender changed); use the params as issued',
      )
    }
    return rand
  }

  private randRecord(params: TicketParams): RandRecord {
    this.pruneRands()
    let record = this.rands.get(params.recipientRandHash)
    if (record === undefined) {
      record = { expirationBlock: params.expirationBlock, nonces: new Set() }
      this.rands.set(params.recipientRandHash, record)
    }
    return record
  }

  /** Forgets nonces of params that can no longer be used: expired params fail before the nonce check. */
  private pruneRands(): void {
    const block = this.clock.blockNumber
    if (block === this.lastPruneBlock) return
    this.lastPruneBlock = block
    for (const [hash, record] of this.rands) if (record.expirationBlock < block) this.rands.delete(hash)
  }

  private recordNonce(record: RandRecord, nonce: number, params: TicketParams): void {
    if (record.nonces.has(nonce)) {
      throw new TicketError(
        'ERR_TICKET_NONCE_REPLAYED',
        `nonce ${nonce} was already used with these params; number each ticket afresh`,
        {
          details: { senderNonce: nonce, recipientRandHash: params.recipientRandHash },
        },
      )
    }
    if (record.nonces.size >= this.opts.maxNoncesPerRand) {
      throw new TicketError(
        'ERR_TICKET_NONCE_CAP',
        `these params already carried ${this.opts.maxNoncesPerRand} tickets; ask for fresh params`,
        { details: { recipientRandHash: params.recipientRandHash } },
      )
    }
    record.nonces.add(nonce)
  }

  private assertNotUnlocking(sender: Address, info: SenderInfo): void {
    if (info.withdrawRound !== 0n) {
      throw new TicketError(
        'ERR_SENDER_UNLOCKING',
        `sender ${sender} is unlocking its funds (withdraw round ${info.withdrawRound}); it must cancel the unlock to pay`,
        { details: { sender, withdrawRound: info.withdrawRound } },
      )
    }
  }

  /** What the sender's funds still cover for this recipient: deposit + its reserve share − queued wins. */
  private maxFloat(sender: Address, info: SenderInfo): bigint {
    const pending = this.queue.pendingFaceValue?.(sender) ?? 0n
    const float = info.deposit + info.reserve / this.opts.reserveShares - pending
    return float > 0n ? float : 0n
  }

  private assertFundsCover(sender: Address, info: SenderInfo, faceValue: bigint): void {
    const maxFloat = this.maxFloat(sender, info)
    if (faceValue > maxFloat) {
      throw new TicketError(
        'ERR_SENDER_FUNDS',
        `sender ${sender} can cover ${maxFloat} wei, less than the face value ${faceValue}; the sender must add to its deposit`,
        { details: { sender, maxFloat, faceValue } },
      )
    }
  }

  private async senderInfo(sender: Address, signal?: AbortSignal): Promise<SenderInfo> {
    const cached = this.senderInfoCache.get(sender)
    if (cached !== undefined && Date.now() < cached.freshUntil) return cached.info
    let pending = this.senderInfoInFlight.get(sender)
    if (pending === undefined && this.senderInfoInFlight.size >= this.opts.maxSenderReadsInFlight) {
      const last = standIn(cached, this.opts.senderInfoStaleMs, 0)
      if (last !== undefined) return last.info
      throw new TicketError(
        'ERR_SENDER_READS_BUSY',
        `${this.senderInfoInFlight.size} reads of senders' funds are in flight, the most this orchestrator makes at once; retry shortly or try another orchestrator`,
        { details: { sender } },
      )
    }
    if (pending === undefined) {
      pending = this.fetchSenderInfo(sender).finally(() => this.senderInfoInFlight.delete(sender))
      this.senderInfoInFlight.set(sender, pending)
    }
    return abortable(pending, signal, 'reading the sender funds')
  }

  private async fetchSenderInfo(sender: Address): Promise<SenderInfo> {
    let info: SenderInfo
    try {
      info = await withDeadline((signal) => this.senderInfoSource.getSenderInfo(sender, { signal }), {
        timeoutMs: this.opts.senderInfoTimeoutMs,
        what: 'reading the sender funds',
      })
    } catch (cause) {
      const last = standIn(
        this.senderInfoCache.get(sender),
        this.opts.senderInfoStaleMs,
        this.opts.senderInfoTtlMs,
      )
      if (last !== undefined) {
        this.log.warn('cannot read a sender’s funds from the chain; checking its tickets on the last read', {
          sender,
          ageMs: last.ageMs,
          error: (cause as Error).message,
        })
        return last.info
      }
      throw new TicketError(
        'ERR_SENDER_INFO',
        `could not read sender ${sender}'s funds from the chain (${(cause as Error).message}); check the chain connection and retry`,
        { cause, details: { sender } },
      )
    }
    setMostRecent(
      this.senderInfoCache,
      sender,
      freshRead(info, this.opts.senderInfoTtlMs),
      this.opts.maxRememberedSenders,
    )
    return info
  }
}

function balanceKey(sender: Address, sessionId: string): string {
  return `${sender}/${sessionId}`
}
