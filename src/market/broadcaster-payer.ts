/**
 * The broadcaster's payer for one job: answers credit requests with tickets from its TicketSender
 * (⌈gap ÷ EV⌉ of them) until the job's budget is spent, then withholds payment, which the
 * orchestrator answers by cutting the job off with ERR_PAYMENT_REQUIRED.
 */
import type { TicketSender } from '../tickets/sender.js'
import { expectedValue, type TicketParams } from '../tickets/ticket.js'
import type { PaidBatch, Payer } from './job-session.js'

export class BudgetPayer implements Payer {
  readonly #sender: Pick<TicketSender, 'ticketsForCredit'>
  readonly #budget: bigint | undefined
  #spent = 0n

  /** `budgetWei`: most expected value this job may send in tickets (undefined: no cap). */
  constructor(sender: Pick<TicketSender, 'ticketsForCredit'>, budgetWei?: bigint) {
    this.#sender = sender
    this.#budget = budgetWei
  }

  /** Expected value sent so far (wei). */
  get spent(): bigint {
    return this.#spent
  }

  async pay(
    params: TicketParams,
    gap: bigint,
    options: { signal: AbortSignal },
  ): Promise<PaidBatch | undefined> {
    const ev = expectedValue(params.faceValue, params.winProb)
    if (ev <= 0n) return undefined
    let wanted = (gap + ev - 1n) / ev
    if (this.#budget !== undefined) {
      // Pay what the budget still allows; nothing left means withholding.
      const affordable = (this.#budget - this.#spent) / ev
      if (affordable < wanted) wanted = affordable
    }
    if (wanted <= 0n) return undefined
    const batch = await this.#sender.ticketsForCredit(params, wanted * ev, options)
    if (batch === undefined) return undefined
    const paid = ev * BigInt(batch.tickets.length)
    this.#spent += paid
    return { batch, ev: paid }
  }
}
