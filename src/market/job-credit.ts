/**
 * One job's credit on the orchestrator: what the broadcaster has paid (the recipient's session
 * balance), what running items have reserved, and when to ask for more. Kept apart from the job
 * loop so the rule "no item starts unless its cost is covered" lives in one place.
 */
import { FramemeshError } from '../errors.js'
import type { TypedEmitter } from '../peer/events.js'
import type { TicketRecipient } from '../tickets/recipient.js'
import { ticketsNeeded } from '../tickets/sender.js'
import { type Address, expectedValue, type Price, type TicketParams } from '../tickets/ticket.js'
import type { JobHandlerEvents } from './job-handler.js'
import type { Notifier } from './job-notify.js'
import { ticketBatchFromPb } from './job-protocol.js'
import { JOB_ERROR_CODES, JobError } from './market-errors.js'
import type { JobClientMessage } from './pb/job.js'
import { encodeTicketParams } from './quote.js'
import type { ResultOutbox } from './result-outbox.js'

export interface JobCreditComponents {
  recipient: Pick<TicketRecipient, 'receiveBatch' | 'balance' | 'debit' | 'issueParams' | 'noncesLeft'>
  /** Credit requests and receipts go out beside held results; held results go before a wait. */
  outbox: Pick<ResultOutbox, 'send' | 'flush'>
  /** Notified when tickets arrive; waited on while the credit does not cover the next item. */
  wake: Notifier
  events: TypedEmitter<JobHandlerEvents>
}

export interface JobCreditOptions {
  jobId: string
  /** The quoted sender: only its tickets count. */
  sender: Address
  price: Price
  /** Micro-units one item costs (what is debited per result). */
  units: bigint
  /** Wei one item costs at the quoted price. */
  itemCost: bigint
  /** Items of credit asked for ahead of the work: the most a broadcaster prepays. */
  aheadItems: bigint
  /** Longest wait for tickets after a credit request before ERR_PAYMENT_REQUIRED (ms). */
  paymentTimeoutMs: number
  /** Ticket params of the quote; fresh ones replace them when they age out. */
  params: TicketParams
  signal: AbortSignal
}

export class JobCredit {
  readonly #c: JobCreditComponents
  readonly #o: JobCreditOptions
  #params: TicketParams
  /** A credit request is in flight: no second one until tickets come. */
  #outstanding = false
  /** Cost of items started but not yet debited (they are debited when their result goes out). */
  #reserved = 0n
  #debited = 0n
  #items = 0

  constructor(components: JobCreditComponents, options: JobCreditOptions) {
    this.#c = components
    this.#o = options
    this.#params = options.params
  }

  balance(): bigint {
    return this.#c.recipient.balance(this.#o.sender, this.#o.jobId)
  }

  /** Wei debited so far. */
  get debited(): bigint {
    return this.#debited
  }

  /** Items whose cost was debited (their results went out). */
  get items(): number {
    return this.#items
  }

  /** An item starts: its cost is held against the balance until its result goes out. */
  reserveItem(): void {
    this.#reserved += this.#o.itemCost
  }

  /** An item's result goes out: its cost leaves the balance. */
  chargeItem(): void {
    const { sender, jobId, units, price, itemCost } = this.#o
    this.#c.recipient.debit({ sender, sessionId: jobId, units, price })
    this.#reserved -= itemCost
    this.#debited += itemCost
    this.#items++
  }

  /** Top up early, so tickets arrive while the engine works instead of stalling the next item. */
  runningLow(): boolean {
    const { itemCost, aheadItems } = this.#o
    return this.balance() < this.#reserved + itemCost * (aheadItems / 2n + 1n)
  }

  /** Asks for enough to cover the items ahead, unless a request is in flight or nothing is missing. */
  async request(): Promise<void> {
    if (this.#outstanding) return
    const gap = this.#o.itemCost * this.#o.aheadItems + this.#reserved - this.balance()
    if (gap <= 0n) return
    this.#outstanding = true
    const tickets = ticketsNeeded(gap, expectedValue(this.#params.faceValue, this.#params.winProb))
    if (tickets >= this.#c.recipient.noncesLeft(this.#params)) {
      // A long job (or a high price) outgrows one set of params' nonce cap: without fresh ones
      // the broadcaster could not pay the rest. They go out with this request.
      const { sender, price, signal } = this.#o
      try {
        this.#params = await this.#c.recipient.issueParams({ sender, price, signal })
      } catch (err) {
        this.#outstanding = false
        throw err
      }
    }
    this.#c.events.emit('job:credit-requested', { jobId: this.#o.jobId, gap })
    await this.#c.outbox.send({
      credit: { gapWei: gap.toString(10), params: encodeTicketParams(this.#params) },
    })
  }

  /** A ticket batch from the broadcaster: credited, answered with a receipt, waiters woken. */
  async receive(message: NonNullable<JobClientMessage['tickets']>): Promise<void> {
    const { sender, jobId, price, signal } = this.#o
    const batch = ticketBatchFromPb(message)
    if (batch.sender !== sender) {
      throw new JobError(
        JOB_ERROR_CODES.paymentRejected,
        `tickets from ${batch.sender} on a job quoted for ${sender}; pay with the quoted sender's key`,
      )
    }
    let accepted = 0
    let rejected = batch.tickets.length
    let credited = 0n
    let rejectCode = ''
    try {
      const result = await this.#c.recipient.receiveBatch(batch, { sessionId: jobId, signal })
      accepted = result.accepted
      rejected = result.rejected.length
      credited = result.credited
      rejectCode = result.rejected[0]?.error.code ?? ''
    } catch (err) {
      if (!(err instanceof FramemeshError)) throw err
      rejectCode = err.code
    }
    if (
      rejectCode === 'ERR_TICKET_EXPIRED' ||
      rejectCode === 'ERR_TICKET_ROUND' ||
      rejectCode === 'ERR_TICKET_NONCE_CAP'
    ) {
      // The params aged out: issue fresh ones; the next credit request carries them.
      this.#params = await this.#c.recipient.issueParams({ sender, price, signal })
    }
    this.#outstanding = false
    const now = this.balance()
    this.#c.events.emit('job:payment', { jobId, accepted, rejected, credited, balance: now })
    await this.#c.outbox.send({
      receipt: {
        accepted,
        rejected,
        creditedWei: credited.toString(10),
        balanceWei: now.toString(10),
        rejectCode,
      },
    })
    this.#c.wake.notify()
  }

  /** Waits until the credit covers one more item beyond those in progress. */
  async awaitRoomForItem(): Promise<void> {
    const { itemCost, paymentTimeoutMs, signal } = this.#o
    const deadline = Date.now() + paymentTimeoutMs
    while (this.balance() < this.#reserved + itemCost) {
      // Nothing done is kept back while we wait to be paid.
      await this.#c.outbox.flush()
      await this.request()
      const left = deadline - Date.now()
      await this.#c.wake.wait({
        signal,
        timeoutMs: Math.max(1, left),
        onTimeout: () =>
          new JobError(
            JOB_ERROR_CODES.paymentRequired,
            `no payment for ${paymentTimeoutMs} ms after a credit request; send tickets to go on`,
          ),
      })
    }
  }
}
