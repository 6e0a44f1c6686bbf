/**
 * RedemptionService: takes winning tickets from the recipient (RedemptionQueue), keeps them in
 * a sqlite file, and redeems them on chain with retries, a gas check and crash recovery.
 *
 * Never twice: the signed transaction's hash is committed before it is broadcast. After a crash
 * or a failed send, a ticket is only sent again once none of its recorded transactions was
 * mined successfully and the contract says the ticket is unused.
 */
import { AbortedError, FramemeshError, TimeoutError } from '../errors.js'
import { type Logger, silentLogger } from '../logger.js'
import type { PreparedTx, TicketBrokerClient } from './broker.js'
import type { BrokerError } from './broker-errors.js'
import type { Address } from './bytes.js'
import type { RedemptionQueue } from './chain.js'
import { type RedemptionMetrics, weiToEth } from './redemption-metrics.js'
import { type RedemptionRecord, RedemptionStore, type RedemptionTotals } from './redemption-store.js'
import type { WinningTicket } from './ticket.js'

export {
  type RedemptionRecord,
  type RedemptionStatus,
  type RedemptionTotals,
  redemptionDbPath,
} from './redemption-store.js'

/** What the service needs from the chain; TicketBrokerClient provides it. */
export type RedemptionBroker = Pick<
  TicketBrokerClient,
  | 'estimateRedeem'
  | 'redeemWinningTicket'
  | 'batchRedeemWinningTickets'
  | 'isTicketUsed'
  | 'getTxState'
  | 'address'
  | 'batchOutcomes'
  | 'getSenderInfo'
  | 'claimableReserve'
  | 'getBalance'
>

export interface RedemptionServiceComponents {
  broker: RedemptionBroker
  logger?: Logger
  metrics?: RedemptionMetrics
  /** Clock for scheduling (default Date.now). */
  now?: () => number
}

export interface RedemptionServiceOptions {
  /** The sqlite file; created when missing. */
  dbPath: string
  /** Redeem only when the expected payout ≥ gas cost × this (default 3). */
  gasMargin?: number
  /** Retry delay after the n-th failure: min(retryBaseMs × 2^(n−1), retryMaxMs) (default 2 s, 5 min). */
  retryBaseMs?: number
  retryMaxMs?: number
  /** Failures after which a ticket is given up (default 8). */
  maxAttempts?: number
  /** How long to wait before re-checking a ticket not yet worth its gas (default 60 s). */
  gasRecheckMs?: number
  /**
   * Most tickets per transaction (default 10): due tickets go out together through
   * batchRedeemWinningTickets, about a third less gas each; 1 sends each on its own.
   */
  maxBatch?: number
}

export type RedemptionEvent =
  | { type: 'queued'; ticketHash: string }
  | { type: 'redeemed'; ticketHash: string; txHash: string; paid: bigint }
  | { type: 'deferred'; ticketHash: string; reason: string; until: number }
  | { type: 'failed'; ticketHash: string; code: string; message: string }

/** The idle loop re-checks the queue at least this often (a ticket made due by another process). */
const IDLE_WAKE_MS = 60_000

/** Contract refusals a later attempt may get past (everything else is final). */
const RETRYABLE_CODES = new Set([
  'ERR_SENDER_UNFUNDED',
  'ERR_TX_DROPPED',
  'ERR_CHAIN_UNAVAILABLE',
  'ERR_TIMEOUT',
])

/**
 * The chain (or the way to it) was not there: no verdict on the ticket, so these never use up
 * its attempts. It is retried, at most every retryMaxMs, until the chain answers; a ticket that
 * expired meanwhile then fails on its own (ERR_TICKET_EXPIRED).
 */
const OUTAGE_CODES = new Set(['ERR_CHAIN_UNAVAILABLE', 'ERR_TIMEOUT'])

export class RedemptionService implements RedemptionQueue {
  private readonly store: RedemptionStore
  private readonly broker: RedemptionBroker
  private readonly log: Logger
  private readonly metrics: RedemptionMetrics | undefined
  private readonly now: () => number
  private readonly gasMargin: bigint
  private readonly retryBaseMs: number
  private readonly retryMaxMs: number
  private readonly maxAttempts: number
  private readonly gasRecheckMs: number
  private readonly maxBatch: number
  private readonly pending: Map<Address, bigint>
  private readonly listeners = new Set<(e: RedemptionEvent) => void>()
  private loop: Promise<void> | undefined
  private controller: AbortController | undefined
  private wake: (() => void) | undefined
  private closed = false
  private passes: Promise<void> = Promise.resolve()
  /** When the next "wallet cannot pay the gas" warning may be logged. */
  private unfundedWarnedUntil = 0

  constructor(components: RedemptionServiceComponents, options: RedemptionServiceOptions) {
    this.broker = components.broker
    this.log = (components.logger ?? silentLogger).child('redemption')
    this.metrics = components.metrics
    this.now = components.now ?? Date.now
    this.gasMargin = BigInt(Math.round((options.gasMargin ?? 3) * 1000))
    this.retryBaseMs = options.retryBaseMs ?? 2000
    this.retryMaxMs = options.retryMaxMs ?? 5 * 60_000
    this.maxAttempts = options.maxAttempts ?? 8
    this.gasRecheckMs = options.gasRecheckMs ?? 60_000
    this.maxBatch = Math.max(1, options.maxBatch ?? 10)
    this.store = new RedemptionStore(options.dbPath)
    this.pending = this.store.pendingBySender()
  }

  // ---------------------------------------------------------------- RedemptionQueue

  /** Stores the ticket durably (returns once it is on disk) and wakes the worker. */
  async enqueue(ticket: WinningTicket): Promise<void> {
    if (this.closed) {
      throw new FramemeshError(
        'ERR_REDEMPTION_CLOSED',
        'the redemption service is closed; open a new one to queue tickets',
      )
    }
    const ticketHash = this.store.insert(ticket, this.now())
    if (ticketHash === undefined) return
    const sender = ticket.ticket.sender.toLowerCase() as Address
    this.pending.set(sender, (this.pending.get(sender) ?? 0n) + ticket.ticket.faceValue)
    this.emit({ type: 'queued', ticketHash })
    this.wake?.()
  }

  pendingFaceValue(sender: Address): bigint {
    return this.pending.get(sender.toLowerCase() as Address) ?? 0n
  }

  // ---------------------------------------------------------------- lifecycle

  /** Finishes what a previous run left mid-redemption, then redeems in the background until stop(). */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.loop !== undefined) return
    this.controller = new AbortController()
    const run =
      signal === undefined ? this.controller.signal : AbortSignal.any([signal, this.controller.signal])
    await this.recover(run)
    this.loop = this.work(run)
  }

  /** Stops the worker after the step it is in (a sent transaction is waited for or left to recovery). */
  async stop(): Promise<void> {
    this.controller?.abort()
    this.wake?.()
    await this.loop
    this.loop = undefined
  }

  /** stop() and close the database. */
  async close(): Promise<void> {
    this.closed = true
    await this.stop()
    this.store.close()
  }

  totals(): RedemptionTotals {
    return this.store.totals()
  }

  get(ticketHash: string): RedemptionRecord | undefined {
    return this.store.get(ticketHash)
  }

  on(listener: (e: RedemptionEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Resolves with the first event `match` accepts; rejects on abort or after timeoutMs (default 30 s). */
  waitFor(
    match: (e: RedemptionEvent) => boolean,
    opts: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<RedemptionEvent> {
    return new Promise((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? 30_000
      const done = () => {
        off()
        clearTimeout(timer)
        opts.signal?.removeEventListener('abort', onAbort)
      }
      const off = this.on((e) => {
        if (!match(e)) return
        done()
        resolve(e)
      })
      const timer = setTimeout(() => {
        done()
        reject(new TimeoutError(`no matching redemption event within ${timeoutMs} ms`))
      }, timeoutMs)
      const onAbort = () => {
        done()
        reject(new AbortedError('stopped waiting for a redemption event', { cause: opts.signal?.reason }))
      }
      opts.signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /**
   * Redeems every ticket that is due now, then returns (the background loop calls this too).
   * Passes run one at a time, so a ticket is never picked up by two at once.
   */
  runOnce(signal?: AbortSignal): Promise<void> {
    const pass = this.passes.then(() => this.pass(signal))
    this.passes = pass.catch(() => {})
    return pass
  }

  private async pass(signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (signal?.aborted) return
      const due = this.store.due(this.now(), this.maxBatch)
      if (due.length === 0) return
      await this.redeem(due, signal)
    }
  }

  // ---------------------------------------------------------------- internals

  private async work(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let delay: number
      try {
        await this.runOnce(signal)
        const next = this.store.nextDueAt()
        delay = next === undefined ? IDLE_WAKE_MS : Math.max(0, next - this.now())
      } catch (err) {
        // e.g. the database went away: back off instead of spinning on the same error.
        this.log.error('redemption pass failed', { err })
        delay = this.retryBaseMs
      }
      await this.sleep(Math.min(delay, IDLE_WAKE_MS), signal)
    }
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve()
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', finish)
        this.wake = undefined
        resolve()
      }
      const timer = setTimeout(finish, ms)
      signal.addEventListener('abort', finish, { once: true })
      this.wake = finish
    })
  }

  /**
   * For each ticket left 'redeeming': settle it from its recorded transactions, or queue it
   * again (one still pending is then replaced at the same nonce, so it cannot also be mined).
   */
  private async recover(signal: AbortSignal): Promise<void> {
    for (const record of this.store.inFlight()) {
      if (signal.aborted) return
      try {
        if ((await this.settleFromHistory(record, signal)) === 'settled') continue
        this.store.reschedule(record.ticketHash, this.now(), this.now())
        this.log.info('re-queued a ticket interrupted before its transaction was mined', {
          ticket: record.ticketHash,
        })
      } catch (err) {
        // The chain is unreachable: leave it 'redeeming' for the next start rather than guess.
        this.log.warn('could not recover a ticket; will retry on next start', {
          ticket: record.ticketHash,
          err,
        })
      }
    }
  }

  /**
   * Settles a ticket from the transactions recorded for it, without waiting: 'settled' when one
   * of ours redeemed it or the contract reports it used by someone else; 'pending' when one of
   * ours may still be mined; 'free' when it may be sent again.
   */
  private async settleFromHistory(
    record: RedemptionRecord,
    signal?: AbortSignal,
  ): Promise<'settled' | 'pending' | 'free'> {
    let pending = false
    for (const { txHash } of this.store.txsOf(record.ticketHash)) {
      const tx = await this.broker.getTxState(txHash, { signal })
      if (tx.state === 'pending') pending = true
      if (tx.state !== 'mined' || tx.receipt.status !== 1) continue
      const [outcome] = this.broker.batchOutcomes([record.ticket], tx.receipt.logs)
      if (outcome.redeemed) {
        const gasUsed = tx.receipt.gasUsed
        this.succeed(record, { txHash, paid: outcome.paid, gasUsed, fee: gasUsed * tx.receipt.gasPrice })
        return 'settled'
      }
    }
    if (await this.broker.isTicketUsed(record.ticketHash, { signal })) {
      this.fail(record, {
        code: 'ERR_TICKET_USED',
        message:
          'the contract reports this ticket as redeemed by a transaction this node did not record; not sent again',
      })
      return 'settled'
    }
    return pending ? 'pending' : 'free'
  }

  /** The newest transaction sent for this ticket if the node still holds it unmined. */
  private async pendingTx(
    record: RedemptionRecord,
    signal?: AbortSignal,
  ): Promise<{ raw: string } | undefined> {
    const [latest] = this.store.txsOf(record.ticketHash)
    if (latest === undefined) return undefined
    const tx = await this.broker.getTxState(latest.txHash, { signal })
    return tx.state === 'pending' ? { raw: latest.raw } : undefined
  }

  private async redeem(due: RedemptionRecord[], signal?: AbortSignal): Promise<void> {
    const fresh: RedemptionRecord[] = []
    for (const record of due) {
      if (!(await this.precheck(record, signal))) continue
      // A ticket sent before goes on its own, replacing its transaction if that is still pending.
      if (this.store.txsOf(record.ticketHash).length === 0) fresh.push(record)
      else await this.send([record], signal)
    }
    if (fresh.length > 0) await this.send(fresh, signal)
  }

  private async send(records: RedemptionRecord[], signal?: AbortSignal): Promise<void> {
    const hashes = records.map((r) => r.ticketHash)
    const onPrepared = (tx: PreparedTx) => this.store.recordTx(hashes, tx.hash, tx.raw, this.now())
    try {
      const replace = records.length === 1 ? await this.pendingTx(records[0], signal) : undefined
      this.store.markRedeeming(hashes, this.now())
      if (records.length === 1) {
        const result = await this.broker.redeemWinningTicket(records[0].ticket, {
          signal,
          onPrepared,
          replace,
        })
        const { hash: txHash, paid, gasUsed, fee } = result
        this.succeed(records[0], { txHash, paid, gasUsed, fee })
        return
      }
      const tickets = records.map((r) => r.ticket)
      const result = await this.broker.batchRedeemWinningTickets(tickets, { signal, onPrepared })
      // The batch's gas is charged to the tickets it redeemed, evenly; the first of them takes
      // the remainder so the books add up to exactly what the transaction cost.
      const n = BigInt(result.outcomes.filter((o) => o.redeemed).length)
      const firstRedeemed = result.outcomes.findIndex((o) => o.redeemed)
      for (const [i, outcome] of result.outcomes.entries()) {
        if (outcome.redeemed) {
          const first = i === firstRedeemed
          const share = {
            gasUsed: result.gasUsed / n + (first ? result.gasUsed % n : 0n),
            fee: result.fee / n + (first ? result.fee % n : 0n),
          }
          this.succeed(records[i], { txHash: result.hash, paid: outcome.paid, ...share })
        } else {
          await this.afterFailure(records[i], outcome.error!, signal)
        }
      }
    } catch (err) {
      for (const record of records) await this.afterFailure(record, err, signal)
    }
  }

  /**
   * Simulates the redemption and checks it pays for its gas. Returns true when it should be
   * sent now; otherwise the ticket has been failed or rescheduled.
   */
  private async precheck(record: RedemptionRecord, signal?: AbortSignal): Promise<boolean> {
    const t = record.ticket.ticket
    try {
      // Redeeming someone else's ticket would spend our gas to pay them.
      const self = (await this.broker.address())?.toLowerCase()
      if (self !== undefined && t.recipient.toLowerCase() !== self) {
        const message = `the ticket pays ${t.recipient}, not this node's wallet ${self}; it is not redeemed from here`
        this.fail(record, { code: 'ERR_TICKET_RECIPIENT', message })
        return false
      }
      const [estimate, info, claimable, balance] = await Promise.all([
        this.broker.estimateRedeem(record.ticket, { signal }),
        this.broker.getSenderInfo(t.sender, { signal }),
        this.broker.claimableReserve(t.sender, t.recipient, { signal }),
        self === undefined ? undefined : this.broker.getBalance(self, { signal }),
      ])
      if (balance !== undefined && balance < estimate.cost) {
        this.deferUnfunded(
          record,
          `the wallet ${self} holds ${balance} wei and redeeming costs ~${estimate.cost} wei in gas; send ETH to it`,
        )
        return false
      }
      const available = info.deposit + claimable
      // biome-ignore lint/complexity/useMathMinMax: Math.min does not take bigints
      const payout = t.faceValue < available ? t.faceValue : available
      if (payout * 1000n < estimate.cost * this.gasMargin) {
        const until = this.now() + this.gasRecheckMs
        const reason = `pays ${payout} wei but redeeming costs ~${estimate.cost} wei (margin ${Number(this.gasMargin) / 1000}x); waiting for cheaper gas or more sender funds`
        this.store.reschedule(record.ticketHash, until, this.now(), {
          code: 'ERR_NOT_WORTH_GAS',
          message: reason,
        })
        this.emit({ type: 'deferred', ticketHash: record.ticketHash, reason, until })
        return false
      }
      return true
    } catch (err) {
      await this.afterFailure(record, err, signal)
      return false
    }
  }

  /** Decides what a failed attempt means: already redeemed, retry later, or give up. */
  private async afterFailure(record: RedemptionRecord, err: unknown, signal?: AbortSignal): Promise<void> {
    // Stopping: leave the ticket as it is; a 'redeeming' one is settled by recovery on next start.
    if (signal?.aborted) return
    const e = err as Partial<BrokerError> & { message?: string }
    const code = e.code ?? 'ERR_UNKNOWN'
    const message = e.message ?? String(err)
    let history: 'settled' | 'pending' | 'free' = 'free'
    try {
      // A used ticket, a revert after mining or a lost send may all hide a success of ours.
      history = await this.settleFromHistory(record, signal)
      if (history === 'settled') return
    } catch (checkErr) {
      this.log.warn('could not check the chain after a failed redemption', {
        ticket: record.ticketHash,
        checkErr,
      })
    }
    const attempts = record.attempts + 1
    if (history === 'pending') {
      // One of our transactions may still be mined: never give up on the ticket while it can;
      // the next attempt replaces it at the same nonce with a higher fee.
      const until = this.now() + Math.min(this.retryBaseMs * 2 ** (attempts - 1), this.retryMaxMs)
      this.store.reschedule(record.ticketHash, until, this.now(), { code, message }, attempts)
      this.emit({
        type: 'deferred',
        ticketHash: record.ticketHash,
        reason: `transaction still pending: ${message}`,
        until,
      })
      return
    }
    if (code === 'ERR_INSUFFICIENT_FUNDS') {
      const self = await this.broker.address().catch(() => undefined)
      const wallet = self === undefined ? 'the wallet' : `the wallet ${self}`
      this.deferUnfunded(record, `${wallet} cannot pay the gas: send ETH to it (${message})`)
      return
    }
    const retryable = e.retryable === true || RETRYABLE_CODES.has(code) || code === 'ERR_CONTRACT_REVERT'
    if (!retryable || (attempts >= this.maxAttempts && !OUTAGE_CODES.has(code))) {
      const final = retryable ? `gave up after ${attempts} attempts: ${message}` : message
      this.fail(record, { code, message: final }, attempts)
      return
    }
    const delay = Math.min(this.retryBaseMs * 2 ** (attempts - 1), this.retryMaxMs)
    const until = this.now() + delay
    this.store.reschedule(record.ticketHash, until, this.now(), { code, message }, attempts)
    this.log.info('redemption will be retried', { ticket: record.ticketHash, code, inMs: delay })
    this.emit({ type: 'deferred', ticketHash: record.ticketHash, reason: message, until })
  }

  /**
   * A wallet that cannot pay the gas is the operator's to fix, not the ticket's fault: the ticket
   * waits (no attempt counted) and is tried again every gasRecheckMs until it is redeemed or the
   * chain says it has expired. One warning per recheck period, however many tickets wait.
   */
  private deferUnfunded(record: RedemptionRecord, reason: string): void {
    const until = this.now() + this.gasRecheckMs
    this.store.reschedule(record.ticketHash, until, this.now(), {
      code: 'ERR_INSUFFICIENT_FUNDS',
      message: reason,
    })
    if (this.now() >= this.unfundedWarnedUntil) {
      this.unfundedWarnedUntil = until
      this.log.warn('winning tickets wait: the wallet cannot pay the gas to redeem them', { reason })
    }
    this.emit({ type: 'deferred', ticketHash: record.ticketHash, reason, until })
  }

  private succeed(
    record: RedemptionRecord,
    result: { txHash: string; paid: bigint; gasUsed: bigint; fee: bigint },
  ): void {
    this.store.markRedeemed(record.ticketHash, result, this.now())
    this.metrics?.gasEth.inc(weiToEth(result.fee))
    this.release(record)
    this.log.info('ticket redeemed', { ticket: record.ticketHash, tx: result.txHash, paid: result.paid })
    this.emit({ type: 'redeemed', ticketHash: record.ticketHash, txHash: result.txHash, paid: result.paid })
  }

  private fail(record: RedemptionRecord, error: { code: string; message: string }, attempts?: number): void {
    this.store.markFailed(record.ticketHash, error, this.now(), attempts)
    this.release(record)
    this.log.warn('ticket not redeemed', { ticket: record.ticketHash, ...error })
    this.emit({ type: 'failed', ticketHash: record.ticketHash, ...error })
  }

  private release(record: RedemptionRecord): void {
    const sender = record.ticket.ticket.sender.toLowerCase() as Address
    const left = (this.pending.get(sender) ?? 0n) - record.ticket.ticket.faceValue
    if (left > 0n) this.pending.set(sender, left)
    else this.pending.delete(sender)
  }

  private emit(e: RedemptionEvent): void {
    if (this.metrics !== undefined) {
      const code = e.type === 'failed' ? e.code : ''
      this.metrics.tickets.inc({ event: e.type, code })
      if (e.type === 'redeemed') this.metrics.paidEth.inc(weiToEth(e.paid))
      this.metrics.pending.set(this.store.countPending())
    }
    for (const listener of [...this.listeners]) {
      try {
        listener(e)
      } catch (err) {
        this.log.warn('redemption listener threw', { err })
      }
    }
  }
}
