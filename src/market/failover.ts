/**
 * A stage: one pipeline step of a job, run on whichever orchestrator `choose` points it at, with
 * failover. When the orchestrator dies, stalls past the deadline or refuses mid-stream, the items
 * it had not returned move to the next choice and the stage carries on; results leave in input
 * order, each exactly once. A stage knows nothing of how peers are chosen, so a workflow can
 * re-point it, and a verifier can run two stages on the same input and compare.
 */
import { FramemeshError } from '../errors.js'
import type { Frame, PipelineId, TextLine } from '../inference/types.js'
import { type Logger, silentLogger } from '../logger.js'
import { TypedEmitter } from '../peer/events.js'
import type { DialTarget, Peer } from '../peer/peer.js'
import { type Address, MAX_UINT256 } from '../tickets/ticket.js'
import { JobSession, openJobStream, type Payer } from './job-session.js'
import type { WorkInput } from './job-work.js'
import {
  blameError,
  isRetryableElsewhere,
  JOB_ERROR_CODES,
  JobError,
  refusedEverywhere,
} from './market-errors.js'
import type { PeerStats } from './peer-stats.js'
import { FRAME_FORMAT_RGB24, type JobSpec, type Quote } from './quote.js'
import { requestQuote } from './quote-protocol.js'
import { type SpareQuotes, STALE_SPARE_CODES } from './spare-quotes.js'
import type { Verdict, VerificationBlame, VerificationReport } from './verifier.js'

/**
 * Failures that say nothing against the orchestrator: of our own making (too many of our job
 * streams there, or our ticket sender refusing to pay: our funds unreadable or unlocking, or too
 * small for its face value), or a verification tie (a disagreement nothing settled).
 */
const OUR_DOING: ReadonlySet<string> = new Set([
  JOB_ERROR_CODES.verificationTie,
  JOB_ERROR_CODES.tooManyStreams,
  JOB_ERROR_CODES.tooManySenders,
  'ERR_SENDER_INFO',
  'ERR_SENDER_UNLOCKING',
  'ERR_PARAMS_FACE_TOO_HIGH',
])

/**
 * Failures that say the buyer must change something, and what. When every orchestrator tried
 * failed with the same one (codes sharing a remedy count as one), the stage fails with that code
 * and remedy rather than "no orchestrator left".
 */
const TOP_UP = 'add to the deposit and reserve (`framemesh deposit`)'
const BUYER_MUST_ACT: Readonly<Record<string, string>> = {
  // The orchestrator's check: our funds cover less than one of its tickets.
  ERR_SENDER_FUNDS: TOP_UP,
  // Our sender's own check: the ticket's face value is more than our deposit covers.
  ERR_PARAMS_FACE_TOO_HIGH: TOP_UP,
  [JOB_ERROR_CODES.priceTooLow]: 'raise maxPrice',
}

/** Where a stage may run next. */
export interface StageCandidate {
  peerId: string
  modelId: string
  pricePerUnit: bigint
  dial?: DialTarget
}

export interface StageComponents {
  peer: Pick<Peer, 'dialProtocol'>
  payer: Payer
  /**
   * The next orchestrator to try, leaving out `exclude`; undefined when none is left. May wait
   * (e.g. for an address of the only seller that matches) before answering.
   */
  choose: (exclude: ReadonlySet<string>) => StageCandidate | undefined | Promise<StageCandidate | undefined>
  stats?: Pick<PeerStats, 'recordSuccess' | 'recordFailure'>
  logger?: Logger
  /**
   * Back-pressure from whoever reads the results: awaited before each next item is taken, so a
   * slow reader slows the stage (results held unread stay bounded by the reader's buffer plus the
   * window). Absent: results are emitted as fast as they come.
   */
  room?: (signal?: AbortSignal) => Promise<void>
  /**
   * Spare quotes (see spare-quotes.ts): a job of a kind it has a spare for starts from it, and
   * once a job's first result is in, the next spare is asked for. Absent: every job asks for its quote.
   */
  spareQuotes?: Pick<SpareQuotes, 'take' | 'refill'>
  /**
   * Verification (see verifier.ts): results are held back until a check of the same
   * orchestrator's output at or after them passes; a blamed orchestrator's held results are
   * redone elsewhere and its session ends with ERR_VERIFICATION_FAILED.
   */
  verify?: StageVerify
}

/** What a stage needs of a verifier. */
export interface StageVerify {
  /** Whether to check the next result. */
  sample(): boolean
  /** Most results of one orchestrator held unchecked before the newest is checked anyway. */
  readonly maxUnchecked: number
  /** Orchestrators blamed so far; the stage leaves them out. */
  readonly banned: ReadonlySet<string>
  check(item: WorkInput, result: StageResult): Promise<Verdict>
  /** Whether a result that could not be checked fails the stage rather than being delivered. */
  readonly strict: boolean
  /** The stage's failure when `peerId`'s output could not be checked and `withheld` results are held. */
  unverifiable(peerId: string | undefined, withheld: number): FramemeshError
}

export interface StageOptions {
  pipeline: PipelineId
  /** The model the stage asked for, if it named one (its messages say so). */
  modelId?: string
  sender: Address
  width: number
  height: number
  /** Items the stage will get (0 when unknown). */
  itemCount?: number
  maxPricePerUnit: bigint
  window?: number
  quoteTimeoutMs?: number
  openTimeoutMs?: number
  stallTimeoutMs?: number
  /** Orchestrators tried before the stage gives up (default 5). */
  maxAttempts?: number
  signal?: AbortSignal
}

export interface StageResult {
  seq: number
  /** The output frame; for text pipelines (ocr) the input frame the lines were read from. */
  frame: Frame
  /** Text pipelines (ocr): the lines found in the frame. */
  lines?: TextLine[]
  peerId: string
}

export interface PeerUse {
  peerId: string
  modelId: string
  pricePerUnit: bigint
  items: number
  /** Wei the orchestrator debited for delivered items. */
  debited: bigint
  /** Expected value of the tickets sent to it. */
  evSent: bigint
  error?: string
}

export interface StageReport {
  items: number
  peers: PeerUse[]
  debited: bigint
  evSent: bigint
  /** Items sent again after their first orchestrator failed. */
  resent: number
  /** With verification: this stage's checks, mismatches and blame. */
  verification?: VerificationReport
}

export interface StageEvents {
  'peer:selected': { peerId: string; modelId: string; pricePerUnit: bigint; attempt: number }
  'peer:failed': { peerId: string; code: string; message: string; requeued: number }
  'peer:switch': { from: string; to: string; requeued: number }
  'quote:refused': { peerId: string; code: string; message: string }
  result: StageResult
  payment: { peerId: string; tickets: number; ev: bigint }
  'payment:withheld': { peerId: string; gap: bigint }
}

/** A failure of a job's input as the job's error: its own when it has a code, else ERR_INPUT_FAILED. */
export function inputFailure(cause: unknown): FramemeshError {
  return cause instanceof FramemeshError
    ? cause
    : new JobError(
        'ERR_INPUT_FAILED',
        `the job's input failed: ${(cause as Error)?.message ?? String(cause)}`,
        {
          cause,
        },
      )
}

/** Wraps a failure of the stage's input so it is not blamed on an orchestrator. */
class InputError extends Error {
  readonly error: FramemeshError
  constructor(cause: unknown) {
    super('input failed')
    this.error = inputFailure(cause)
  }
}

interface Held {
  item: WorkInput
  result: StageResult
}

export class Stage {
  readonly events = new TypedEmitter<StageEvents>()
  readonly #c: StageComponents
  readonly #o: StageOptions
  readonly #log: Logger
  readonly #dropped = new Set<string>()
  #current?: { peerId: string; session: JobSession }
  /** While running with a verifier: lets go of a dropped peer's results held for checks. */
  #forget?: (peerId: string) => void
  /** While running with a verifier: checks each orchestrator's newest unchecked result now. */
  #checkHeld?: () => void

  constructor(components: StageComponents, options: StageOptions) {
    this.#c = components
    this.#o = options
    this.#log = (components.logger ?? silentLogger).child('stage')
  }

  /**
   * Leaves `peerId` out from now on; if it runs the stage now, its session ends with `error` and
   * its unreturned items move to the next orchestrator (e.g. a verifier caught it cheating).
   */
  drop(peerId: string, error: FramemeshError): void {
    this.#dropped.add(peerId)
    this.#forget?.(peerId)
    if (this.#current?.peerId === peerId) this.#current.session.abort(error)
  }

  /**
   * Verifying: starts a check of each orchestrator's newest result held unchecked, rather than
   * waiting for the draw or `maxUnchecked`, and until the stage's next item, checks again once
   * its last item in flight is back. For lanes (lanes.ts): another lane's results may wait behind
   * ours, and no more items come our way until they are delivered.
   */
  checkHeld(): void {
    this.#checkHeld?.()
  }

  /** Runs every item of `input` (seq numbers in increasing order); resolves with the report. */
  async run(input: AsyncIterable<WorkInput>): Promise<StageReport> {
    const o = this.#o
    const iterator = input[Symbol.asyncIterator]()
    const retry: WorkInput[] = []
    const excluded = new Set<string>()
    const uses: PeerUse[] = []
    const pendingResults = new Map<number, StageResult>()
    const expected: number[] = []
    let inputDone = false
    let delivered = 0
    let resent = 0
    let attempts = 0
    let lastError: FramemeshError | undefined
    /** Every failure's code in this run: when all say the same thing about us, the job says it too. */
    const failureCodes = new Set<string>()
    let previous: string | undefined
    const maxAttempts = o.maxAttempts ?? 5
    const v = this.#c.verify
    /** Verifying: items by seq until delivered, results held per orchestrator until checked. */
    const sent = new Map<number, WorkInput>()
    const held = new Map<string, Held[]>()
    const unchecked = new Map<string, number>()
    const checks = new Set<Promise<void>>()
    /** Set by checkHeld() from outside, cleared by the next item: no more items come until ours are out. */
    let starved = false

    /** The input's next item, being read; kept across sessions so an item read late is not lost. */
    let pulling: Promise<WorkInput | undefined> | undefined
    const pull = async (): Promise<WorkInput | undefined> => {
      let step: IteratorResult<WorkInput>
      try {
        step = await iterator.next()
      } catch (err) {
        // The caller's input failed, not the orchestrator: end the job with the input's error.
        throw new InputError(err)
      }
      if (step.done === true) {
        inputDone = true
        return undefined
      }
      expected.push(step.value.seq)
      if (v !== undefined) sent.set(step.value.seq, step.value)
      return step.value
    }
    /**
     * The next item: one to send again first, else the input's next. While the input is idle the
     * wait also ends when the session fails (`failed` rejects), so a session dropped from outside
     * (verification) moves on even if no more input comes.
     */
    const nextItem = async (failed: Promise<never>): Promise<WorkInput | undefined> => {
      await this.#c.room?.(o.signal)
      const again = retry.shift()
      if (again !== undefined) {
        starved = false
        return again
      }
      if (inputDone && pulling === undefined) return undefined
      if (pulling === undefined) {
        pulling = pull()
        pulling.catch(() => {})
      }
      const item = await Promise.race([pulling, failed])
      pulling = undefined
      starved = false
      return item
    }
    // Results leave in the order items entered; `expected` is that order, first undelivered first.
    const deliver = (result: StageResult) => {
      if (!expected.includes(result.seq) || pendingResults.has(result.seq)) return
      pendingResults.set(result.seq, result)
      while (expected.length > 0 && pendingResults.has(expected[0]!)) {
        const next = pendingResults.get(expected.shift()!)!
        pendingResults.delete(next.seq)
        sent.delete(next.seq)
        delivered++
        this.events.emit('result', next)
      }
    }

    // Verification: a passed check releases the orchestrator's held results up to the checked one.
    const release = (peerId: string, upTo: number) => {
      const list = held.get(peerId) ?? []
      while (list.length > 0 && list[0]!.result.seq <= upTo) deliver(list.shift()!.result)
    }
    const requeue = (items: WorkInput[]): number => {
      const fresh = items.filter(
        (w) => expected.includes(w.seq) && !pendingResults.has(w.seq) && !retry.some((r) => r.seq === w.seq),
      )
      retry.push(...fresh)
      retry.sort((a, b) => a.seq - b.seq)
      resent += fresh.length
      return fresh.length
    }
    /** Lets go of what `peerId` made and is held for checks: it is redone, and no check of it waits. */
    const forget = (peerId: string) => {
      const list = held.get(peerId) ?? []
      held.delete(peerId)
      unchecked.delete(peerId)
      requeue(list.map((h) => h.item))
    }
    // Dropped from outside (found wrong by another lane's checks): what it made is redone too.
    this.#forget = forget
    const blamed = (peerId: string, reason: VerificationBlame['reason']) => {
      forget(peerId)
      excluded.add(peerId)
      if (this.#current?.peerId === peerId) {
        this.#current.session.abort(blameError({ peerId, reason }))
      }
    }
    /** Strict verification: the output a check could not cover ends the stage, held results undelivered. */
    let unverifiable: FramemeshError | undefined
    const uncheckable = (peerId: string) => {
      if (!v!.strict) return false
      if (unverifiable === undefined) {
        const withheld = [...held.values()].reduce((n, list) => n + list.length, 0)
        unverifiable = v!.unverifiable(peerId, withheld)
        held.clear()
        this.#current?.session.abort(unverifiable)
      }
      return true
    }
    const startCheck = (peerId: string, h: Held) => {
      unchecked.set(peerId, 0)
      const check = v!
        .check(h.item, h.result)
        .then(
          (verdict) => {
            if (verdict.kind === 'primary-wrong') return blamed(peerId, verdict.blame.reason)
            if (verdict.kind === 'unverified' && uncheckable(peerId)) return
            release(peerId, h.result.seq)
          },
          () => {
            // A check ends early when the job does (cancelled): nothing to tell then.
            if (o.signal?.aborted === true || !uncheckable(peerId)) release(peerId, h.result.seq)
          },
        )
        .finally(() => checks.delete(check))
      checks.add(check)
    }
    const accept = (result: StageResult) => {
      const item = sent.get(result.seq)
      if (v === undefined || item === undefined) return deliver(result)
      if (unverifiable !== undefined) return
      if (v.banned.has(result.peerId)) return void requeue([item])
      const list = held.get(result.peerId) ?? []
      held.set(result.peerId, list)
      const h = { item, result }
      list.push(h)
      const n = (unchecked.get(result.peerId) ?? 0) + 1
      unchecked.set(result.peerId, n)
      // Starved: the last result in flight is the last for a while, so it is checked now.
      const lastInFlight = starved && this.#current?.session.inFlight().length === 0
      if (v.sample() || n >= v.maxUnchecked || lastInFlight) startCheck(result.peerId, h)
    }
    /** Checks every orchestrator's newest unchecked result. */
    const checkHeld = () => {
      for (const [peerId, list] of held) {
        if (list.length > 0 && (unchecked.get(peerId) ?? 0) > 0) startCheck(peerId, list.at(-1)!)
      }
    }
    this.#checkHeld = () => {
      starved = true
      checkHeld()
    }
    /** Checks every orchestrator's newest unchecked result and waits for all checks. */
    const settle = async () => {
      checkHeld()
      while (checks.size > 0) await Promise.allSettled([...checks])
    }
    // Orchestrators that refused a spare quote in this stage: no more spares for them here.
    const staleSpares = new Set<string>()
    // The one that just refused a stale spare: asked again for a quote before anyone else.
    let askAgain: StageCandidate | undefined
    const exclusions = () =>
      v === undefined && this.#dropped.size === 0
        ? excluded
        : new Set([...excluded, ...this.#dropped, ...(v?.banned ?? [])])

    while (true) {
      o.signal?.throwIfAborted()
      if (unverifiable !== undefined) throw unverifiable
      if (retry.length === 0 && inputDone) {
        if (v === undefined) break
        await settle()
        if (unverifiable !== undefined) throw unverifiable
        if (retry.length === 0) break
      }
      if (attempts >= maxAttempts) {
        throw new JobError(
          lastError?.code ?? JOB_ERROR_CODES.noOffers,
          `gave up after ${attempts} orchestrators; last error: ${lastError?.message ?? 'none'}`,
          { cause: lastError },
        )
      }
      const again = askAgain !== undefined && !exclusions().has(askAgain.peerId) ? askAgain : undefined
      askAgain = undefined
      const candidate = again ?? (await this.#c.choose(exclusions()))
      if (candidate === undefined) {
        const remedies = new Set([...failureCodes].map((code) => BUYER_MUST_ACT[code]))
        const ours = remedies.size === 1 ? [...remedies][0] : undefined
        if (ours !== undefined && lastError !== undefined) {
          throw new JobError(
            lastError.code,
            `every orchestrator tried for ${wanted(o)} failed for the same reason (last: ${lastError.code}, ${lastError.message}); ${ours}`,
            { cause: lastError },
          )
        }
        throw new JobError(
          JOB_ERROR_CODES.noOffers,
          `no orchestrator ${exclusions().size === 0 ? 'offers' : 'left for'} ${wanted(o)}${o.maxPricePerUnit === MAX_UINT256 ? '' : ` at ${o.maxPricePerUnit} wei per unit or less`}${lastError === undefined ? '' : ` (last error: ${lastError.message})`}; ${o.maxPricePerUnit === MAX_UINT256 ? '' : 'raise maxPrice or '}wait for more adverts`,
          { cause: lastError },
        )
      }
      attempts++
      this.events.emit('peer:selected', { ...candidate, attempt: attempts })
      if (previous !== undefined && previous !== candidate.peerId) {
        this.events.emit('peer:switch', { from: previous, to: candidate.peerId, requeued: retry.length })
      }
      previous = candidate.peerId
      const use: PeerUse = { ...candidate, items: 0, debited: 0n, evSent: 0n }
      uses.push(use)
      // The job stream opens while the quote is asked for: negotiating its protocol is a round trip
      // of its own, which then overlaps the quote's instead of following it.
      const stream = openJobStream(this.#c.peer, candidate.dial ?? candidate.peerId, {
        ...(o.signal === undefined ? {} : { signal: o.signal }),
        timeoutMs: o.openTimeoutMs ?? 10_000,
      })
      // A failed dial is the session's to report, when it opens.
      stream.catch(() => {})
      const spec = this.#spec(candidate)
      const spare = staleSpares.has(candidate.peerId)
        ? undefined
        : this.#c.spareQuotes?.take(candidate.peerId, spec)
      let quote: Quote
      try {
        quote =
          spare ??
          (await requestQuote({ peer: this.#c.peer }, candidate, spec, {
            ...(o.signal === undefined ? {} : { signal: o.signal }),
            timeoutMs: o.quoteTimeoutMs ?? 10_000,
          }))
      } catch (err) {
        const error = err instanceof FramemeshError ? err : new JobError('ERR_QUOTE_FAILED', String(err))
        // Closed cleanly: the orchestrator takes an unused job stream for what it is, not a fault.
        void stream.then(
          (s) => s.close({ signal: AbortSignal.timeout(2_000) }).catch((e: Error) => s.abort(e)),
          () => {},
        )
        use.error = error.code
        lastError = error
        failureCodes.add(error.code)
        excluded.add(candidate.peerId)
        this.events.emit('quote:refused', {
          peerId: candidate.peerId,
          code: error.code,
          message: error.message,
        })
        if (error.code === 'ERR_ABORTED' || refusedEverywhere(error.code)) throw error
        continue
      }
      let flowing = false
      const session = new JobSession(
        {
          peer: this.#c.peer,
          payer: this.#c.payer,
          ...(this.#c.logger === undefined ? {} : { logger: this.#c.logger }),
        },
        {
          quote,
          stream,
          // Pipelined opening: tickets and the first items follow JobOpen at once. Four items is
          // what an orchestrator asks for ahead by default (creditAheadItems), so no more is risked.
          prepayItems: 4,
          ...(candidate.dial === undefined ? {} : { dial: candidate.dial }),
          ...(o.window === undefined ? {} : { window: o.window }),
          ...(o.openTimeoutMs === undefined ? {} : { openTimeoutMs: o.openTimeoutMs }),
          ...(o.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: o.stallTimeoutMs }),
          ...(o.signal === undefined ? {} : { signal: o.signal }),
        },
      )
      session.events.on('result', (r) => {
        if (!flowing) {
          flowing = true
          // The next job's quote is asked for once this one flows, not while it is starting.
          this.#c.spareQuotes?.refill(candidate, spec)
        }
        use.items++
        use.debited += r.debited
        accept({
          seq: r.seq,
          frame: r.frame,
          ...(r.lines === undefined ? {} : { lines: r.lines }),
          peerId: candidate.peerId,
        })
      })
      session.events.on('payment', (p) => {
        use.evSent += p.ev
        this.events.emit('payment', { peerId: p.peerId, tickets: p.tickets, ev: p.ev })
      })
      session.events.on('payment:withheld', (p) => this.events.emit('payment:withheld', p))
      let current: WorkInput | undefined
      this.#current = { peerId: candidate.peerId, session }
      // Rejects with the session's failure; never resolves (a finished session is waited for below).
      const failed = session.done.then(() => new Promise<never>(() => {}))
      failed.catch(() => {})
      try {
        await session.open()
        while (true) {
          current = await nextItem(failed)
          if (current === undefined) break
          await session.send(current)
          current = undefined
        }
        await session.end()
        await session.done
        this.#c.stats?.recordSuccess(candidate.peerId)
        // Verifying: the loop's top settles the checks and carries on if any of them blamed someone.
        if (v === undefined) break
      } catch (err) {
        if (err instanceof InputError) {
          session.abort(err.error)
          throw err.error
        }
        // Strict verification found an output it could not check: no orchestrator's fault.
        if (unverifiable !== undefined) throw unverifiable
        const error =
          session.failure ??
          (err instanceof FramemeshError ? err : new JobError('ERR_JOB_FAILED', String(err)))
        const lost = session.inFlight()
        if (current !== undefined && !lost.some((w) => w.seq === current!.seq)) lost.push(current)
        const requeued = requeue(lost)
        use.error = error.code
        if (spare !== undefined && STALE_SPARE_CODES.has(error.code)) {
          // The spare went stale (the orchestrator restarted, or its clock runs ahead of ours): that
          // is no fault of the orchestrator, so it is asked again and not counted as an attempt.
          // Once per orchestrator: after that its jobs here ask for their quotes.
          this.#log.debug('spare quote refused; asking for a quote', {
            peer: candidate.peerId,
            code: error.code,
          })
          staleSpares.add(candidate.peerId)
          attempts--
          askAgain = candidate
          continue
        }
        lastError = error
        failureCodes.add(error.code)
        excluded.add(candidate.peerId)
        const cancelled = o.signal?.aborted === true
        // Only the orchestrator's own failure counts against it (and suspends it for every job of
        // the mesh). A refusal for our too many streams, or our own cancel, says nothing about it:
        // third opinions running side by side used to suspend an honest checker that way, which
        // left a later workflow without the one orchestrator that could replace a dead stage.
        if (!OUR_DOING.has(error.code) && !cancelled) this.#c.stats?.recordFailure(candidate.peerId)
        this.#log.debug('orchestrator failed; moving on', {
          peer: candidate.peerId,
          code: error.code,
          requeued,
        })
        // Our own cancel is no failure of the orchestrator's (its use still records how it ended).
        if (!cancelled) {
          this.events.emit('peer:failed', {
            peerId: candidate.peerId,
            code: error.code,
            message: error.message,
            requeued,
          })
        }
        const withheld = error.details?.paymentWithheld === true
        // Read again: a 'peer:failed' listener may have cancelled the job.
        if (withheld || !isRetryableElsewhere(error.code) || o.signal?.aborted === true) throw error
      }
    }
    return {
      items: delivered,
      peers: uses,
      debited: uses.reduce((s, u) => s + u.debited, 0n),
      evSent: uses.reduce((s, u) => s + u.evSent, 0n),
      resent,
    }
  }

  #spec(candidate: StageCandidate): JobSpec {
    const o = this.#o
    return {
      pipeline: o.pipeline,
      modelId: candidate.modelId,
      width: o.width,
      height: o.height,
      format: FRAME_FORMAT_RGB24,
      frameCount: o.itemCount ?? 0,
      maxPricePerUnit: o.maxPricePerUnit,
      sender: o.sender,
    }
  }
}

/** What a stage asks for, in words: its pipeline, and its model when it named one. */
function wanted(o: StageOptions): string {
  return o.modelId === undefined ? o.pipeline : `${o.pipeline} with model '${o.modelId}'`
}
