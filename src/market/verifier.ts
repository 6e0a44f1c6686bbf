/**
 * Verification: a share of a stage's items is also run on a second orchestrator (another peer
 * serving the same model sha256) and the two outputs compared. The built-in models are
 * deterministic on CPU (measured: identical bytes across orchestrators and thread counts), so
 * the default tolerance is exact equality; `minPsnrDb` relaxes it for models that are not.
 *
 * Who is wrong on a mismatch: a third orchestrator (neither of the two) runs the item; whichever
 * of the two it agrees with is right. Without a third opinion (none available, or it agrees with
 * neither), the peer with less history with us (fewer successful jobs in PeerStats) is blamed. On
 * a tie neither can be trusted: both leave the job, the primary's frames are redone elsewhere
 * (a wrong frame delivered costs the buyer more than a frame computed twice), and neither is
 * suspended beyond the job, since nothing says which one lied. Blaming the primary alone let a
 * cheating checker knock an honest newcomer out and, with two sellers, take over the job
 * unchecked. A peer found wrong once is wrong in any later mismatch of the job. A blamed peer
 * (but for a tie) is suspended (PeerStats) and dropped from the job.
 */
import { setTimeout as delay } from 'node:timers/promises'
import type { Frame, TextLine } from '../inference/types.js'
import type { Logger } from '../logger.js'
import { TypedEmitter } from '../peer/events.js'
import { BlameLedger } from './blame-ledger.js'
import type { StageCandidate, StageComponents, StageOptions, StageResult } from './failover.js'
import { Stage } from './failover.js'
import { frameDigest } from './job-protocol.js'
import type { WorkInput } from './job-work.js'
import { blameError, JOB_ERROR_CODES, JobError } from './market-errors.js'
import type { PeerStats } from './peer-stats.js'
import { ResultQueue } from './result-queue.js'
import type { Rng } from './rng.js'

export interface VerifyOptions {
  /** Share of items also run elsewhere and compared, 0..1 (e.g. 0.1). */
  share: number
  /** Frames compare equal at or above this PSNR (dB); default: identical bytes only. */
  minPsnrDb?: number
  /**
   * Most results of one orchestrator held back unverified; past this the newest is checked at
   * once (default ceil(2 / share)). Bounds memory and the wait for a check.
   */
  maxUnchecked?: number
  /**
   * Deliver nothing unchecked: when a check finds no second orchestrator (none serves the same
   * weights, or none is left), the job fails with ERR_UNVERIFIABLE and the results held for that
   * check are not delivered. Default false: they are delivered and counted as unverified.
   */
  strict?: boolean
}

/** Throws ERR_BAD_VERIFY_OPTIONS for options a verifier cannot work with, saying which. */
export function checkVerifyOptions(options: VerifyOptions): void {
  const bad = (why: string): never => {
    throw new JobError('ERR_BAD_VERIFY_OPTIONS', why)
  }
  const { share, minPsnrDb, maxUnchecked, strict } = options
  if (typeof share !== 'number' || !(share >= 0 && share <= 1)) bad(`verify.share must be 0..1, got ${share}`)
  if (minPsnrDb !== undefined && (typeof minPsnrDb !== 'number' || !(minPsnrDb > 0)))
    bad(`verify.minPsnrDb must be a number of dB above 0, got ${minPsnrDb}`)
  if (maxUnchecked !== undefined && (!Number.isInteger(maxUnchecked) || maxUnchecked < 1))
    bad(`verify.maxUnchecked must be a whole number from 1, got ${maxUnchecked}`)
  if (strict !== undefined && typeof strict !== 'boolean')
    bad(`verify.strict must be true or false, got ${strict}`)
}

export interface VerificationBlame {
  peerId: string
  seq: number
  /**
   * 'third-opinion': a third orchestrator sided with the other; 'less-history': no third opinion,
   * and it has less history with us; 'tie': no third opinion and as much history as the other,
   * so both are blamed for this job (and neither suspended for it beyond the job).
   */
  reason: 'third-opinion' | 'less-history' | 'tie'
  /** The peer it disagreed with. */
  against: string
}

export interface VerificationReport {
  /** Items compared with a second orchestrator. */
  checked: number
  mismatches: number
  /** Items that could not be checked (no second orchestrator, or only the same peer). */
  unverified: number
  blamed: VerificationBlame[]
  /** Orchestrators that produced the check outputs. */
  checkers: string[]
  /** Tickets' expected value sent for checks and third opinions (wei), besides the job's own. */
  evSent: bigint
}

/**
 * What a primary claims for an item: its output (a StageResult), or, for a direct workflow's
 * middle stage whose output went on to the next stage, only the output's digest (frameDigest).
 */
export type Claim = StageResult | { seq: number; peerId: string; digest: Uint8Array }

/** `correct`: an output known to be right for the item (the checker's, when it agreed), if any. */
export type Verdict =
  | { kind: 'ok'; correct?: StageResult }
  | { kind: 'unverified' }
  | { kind: 'primary-wrong'; blame: VerificationBlame; correct?: StageResult }
  | { kind: 'checker-wrong'; blame: VerificationBlame; correct?: StageResult }

/** `stage`: the workflow stage (index) a check concerns, set by the job. */
export interface VerifierEvents {
  'verify:checked': { seq: number; peerId: string; checker: string; match: boolean; stage?: number }
  'verify:blamed': VerificationBlame & { stage?: number }
  /** Tickets sent to a checker or a third opinion (the job's own payments are 'payment'). */
  'verify:payment': { peerId: string; tickets: number; ev: bigint; stage?: number }
}

export interface VerifierComponents {
  peer: StageComponents['peer']
  payer: StageComponents['payer']
  /** Candidates for checks: like the job's own choice, never a peer in `exclude`. */
  choose: (exclude: ReadonlySet<string>) => StageCandidate | undefined | Promise<StageCandidate | undefined>
  stats: Pick<PeerStats, 'get' | 'recordMisbehaviour' | 'recordSuccess' | 'recordFailure'>
  rng?: Rng
  logger?: Logger
  /** Shared by the verifiers of one stage's lanes; a verifier of its own otherwise. */
  ledger?: BlameLedger
}

/** Most results of one orchestrator held unchecked (VerifyOptions.maxUnchecked, or its default). */
export function maxUncheckedOf(options: VerifyOptions): number {
  return Math.max(1, options.maxUnchecked ?? Math.ceil(2 / Math.max(options.share, 0.01)))
}

/** A report of no checks yet. */
export function emptyVerificationReport(): VerificationReport {
  return { checked: 0, mismatches: 0, unverified: 0, blamed: [], checkers: [], evSent: 0n }
}

/** PSNR between two same-size frames in dB (Infinity when identical). */
export function psnr(a: Frame, b: Frame): number {
  let se = 0
  for (let i = 0; i < a.data.length; i++) {
    const d = a.data[i]! - b.data[i]!
    se += d * d
  }
  if (se === 0) return Number.POSITIVE_INFINITY
  return 10 * Math.log10((255 * 255) / (se / a.data.length))
}

function sameLines(a: TextLine[] | undefined, b: TextLine[] | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null)
}

export class Verifier {
  readonly events = new TypedEmitter<VerifierEvents>()
  readonly #c: VerifierComponents
  readonly #o: Required<VerifyOptions>
  readonly #stageOptions: StageOptions
  readonly #rng: Rng
  readonly #waiting = new Map<number, (r: StageResult | undefined) => void>()
  readonly #report: VerificationReport = emptyVerificationReport()
  /** Peers found wrong (the job must not use them any more), shared with the stage's other lanes. */
  readonly #ledger: BlameLedger
  /** The primary's current peer. */
  #primary?: string
  #checker?: Stage
  #checkerInput?: ResultQueue<WorkInput>
  #checkerRun?: Promise<unknown>
  #checkerPeer?: string
  /** The check stage numbers its own items: checks may come in any order of the job's seqs. */
  #checkSeq = 0
  /** Aborted by abort(); with the job's own signal, ends any wait of the verifier's. */
  readonly #end = new AbortController()
  readonly #ended: AbortSignal

  constructor(components: VerifierComponents, stageOptions: StageOptions, options: VerifyOptions) {
    checkVerifyOptions(options)
    this.#c = components
    this.#stageOptions = stageOptions
    this.#o = {
      share: options.share,
      minPsnrDb: options.minPsnrDb ?? Number.POSITIVE_INFINITY,
      maxUnchecked: maxUncheckedOf(options),
      strict: options.strict ?? false,
    }
    this.#rng = components.rng ?? Math.random
    this.#ledger = components.ledger ?? new BlameLedger()
    // A peer found wrong (here or in another lane) checks nothing more for us.
    this.#ledger.onBlamed((blame) => this.#checker?.drop(blame.peerId, blameError(blame)))
    const { signal } = stageOptions
    this.#ended = signal === undefined ? this.#end.signal : AbortSignal.any([signal, this.#end.signal])
  }

  get maxUnchecked(): number {
    return this.#o.maxUnchecked
  }

  /** With `strict`, an output that could not be checked fails the job (see unverifiable). */
  get strict(): boolean {
    return this.#o.strict
  }

  /**
   * Why a strict job ends when `peerId`'s output could not be checked; `withheld` results of it
   * are not delivered. `stage` (0-based) names a workflow's stage.
   */
  unverifiable(peerId: string | undefined, withheld: number, stage?: number): JobError {
    const where = stage === undefined ? '' : `stage ${stage + 1}: `
    const whose = peerId === undefined ? 'the' : `${peerId}'s`
    return new JobError(
      JOB_ERROR_CODES.unverifiable,
      `${where}no second orchestrator serving the same model could check ${whose} output, and verification is strict: ${withheld} unchecked result${withheld === 1 ? ' was' : 's were'} not delivered; allow more orchestrators, or verify without strict`,
      {
        details: {
          withheld,
          ...(peerId === undefined ? {} : { peerId }),
          ...(stage === undefined ? {} : { stage }),
        },
      },
    )
  }

  /** Peers blamed so far: the job leaves them out. */
  get banned(): ReadonlySet<string> {
    return this.#ledger.banned
  }

  /** The orchestrator currently running the checks (the job avoids it as primary). */
  get checkerPeer(): string | undefined {
    return this.#checkerPeer
  }

  /** Draws whether an item is checked (share of items). */
  sample(): boolean {
    return this.#o.share > 0 && this.#rng() < this.#o.share
  }

  report(): VerificationReport {
    return { ...this.#report, blamed: [...this.#report.blamed], checkers: [...this.#report.checkers] }
  }

  /** Runs `item` on a second orchestrator and compares with `result` from the primary. */
  async check(item: WorkInput, result: Claim): Promise<Verdict> {
    this.#primary = result.peerId
    const second = await this.#runOnChecker(item)
    if (second === undefined || second.peerId === result.peerId) {
      this.#report.unverified++
      return { kind: 'unverified' }
    }
    this.#report.checked++
    const match = this.#same(result, second)
    this.events.emit('verify:checked', {
      seq: item.seq,
      peerId: result.peerId,
      checker: second.peerId,
      match,
    })
    if (match) return { kind: 'ok', correct: second }
    this.#report.mismatches++
    const { wrong, reason, third } = await this.#judge(item, result, second)
    if (wrong === 'both') return this.#blameBoth(item.seq, result.peerId, second.peerId)
    const [bad, good] = wrong === 'primary' ? [result.peerId, second.peerId] : [second.peerId, result.peerId]
    const blame: VerificationBlame = { peerId: bad, seq: item.seq, reason, against: good }
    const right = wrong === 'primary' ? second : 'frame' in result ? result : third
    const verdict: Verdict = {
      kind: wrong === 'primary' ? 'primary-wrong' : 'checker-wrong',
      blame,
      ...(right === undefined ? {} : { correct: right }),
    }
    this.#record(blame)
    return verdict
  }

  /**
   * Records a blame, once per peer: checks already under way (here or in another lane) may catch
   * the same peer again. Being found wrong suspends a peer mesh-wide; a tie does not.
   */
  #record(blame: VerificationBlame): void {
    if (!this.#ledger.add(blame)) return
    this.#report.blamed.push(blame)
    if (blame.reason === 'tie') {
      this.#c.logger?.warn('verification mismatch with no way to tell who is right: both leave the job', {
        ...blame,
      })
    } else {
      this.#c.stats.recordMisbehaviour(blame.peerId)
      this.#c.logger?.warn('verification mismatch: peer blamed', { ...blame })
    }
    this.events.emit('verify:blamed', blame)
  }

  /**
   * Which of two disagreeing outputs is wrong. One judgement at a time: a cheater's burst of
   * mismatches is settled by the first third opinion, and the rest by who was found wrong
   * meanwhile, rather than by third opinions racing for the same few orchestrators (each of which
   * takes only so many of our streams) and falling back to history when they crowd each other out.
   */
  #judge(
    item: WorkInput,
    result: Claim,
    second: StageResult,
  ): Promise<{
    wrong: 'primary' | 'checker' | 'both'
    reason: VerificationBlame['reason']
    third?: StageResult
  }> {
    return this.#ledger.oneAtATime(async () => {
      this.#ended.throwIfAborted()
      // Found wrong already (in this job): the other one is right.
      for (const [peerId, wrong] of [
        [result.peerId, 'primary'],
        [second.peerId, 'checker'],
      ] as const) {
        const earlier = this.#ledger.blameOf(peerId)
        if (earlier !== undefined) return { wrong, reason: earlier.reason }
      }
      const third = await this.#thirdOpinion(item, [result.peerId, second.peerId])
      if (third !== undefined && this.#same(third, second))
        return { wrong: 'primary', reason: 'third-opinion', third } as const
      if (third !== undefined && this.#same(third, result))
        return { wrong: 'checker', reason: 'third-opinion', third } as const
      // No third opinion: the peer with less history with us; on a tie, both.
      const history = (p: string) => this.#c.stats.get(p)?.successes ?? 0
      const [primary, checker] = [history(result.peerId), history(second.peerId)]
      if (primary === checker) return { wrong: 'both', reason: 'tie' } as const
      return { wrong: primary > checker ? 'checker' : 'primary', reason: 'less-history' } as const
    })
  }

  /** A mismatch nothing settles: both peers leave the job; the primary's work is redone. */
  #blameBoth(seq: number, primary: string, checker: string): Verdict {
    const blames: VerificationBlame[] = [
      { peerId: primary, seq, reason: 'tie', against: checker },
      { peerId: checker, seq, reason: 'tie', against: primary },
    ]
    for (const blame of blames) this.#record(blame)
    return { kind: 'primary-wrong', blame: blames[0]! }
  }

  /** No more checks: ends the check stage and waits for it. */
  async close(): Promise<void> {
    this.#checkerInput?.close()
    await this.#checkerRun
  }

  /** Stops the check stage at once (the job failed or was cancelled). */
  abort(): void {
    const ended = new JobError('ERR_ABORTED', 'the job ended')
    this.#end.abort(ended)
    this.#checkerInput?.fail(ended)
    this.#releaseWaiting()
  }

  /** Checks waiting for the check stage's output get none: they count as unverified. */
  #releaseWaiting(): void {
    for (const resolve of this.#waiting.values()) resolve(undefined)
    this.#waiting.clear()
  }

  /** A check's tickets are the job's spending too: counted in the report and told as they go. */
  #countPayments(stage: Stage): void {
    stage.events.on('payment', (p) => {
      this.#report.evSent += p.ev
      this.events.emit('verify:payment', p)
    })
  }

  #same(a: Claim, b: Claim): boolean {
    // A digest claim (a middle stage's forwarded output) compares exactly: byte-identical or not.
    if (!('frame' in a) || !('frame' in b)) {
      const digest = (c: Claim) => ('frame' in c ? frameDigest(c.frame) : c.digest)
      return Buffer.from(digest(a)).equals(digest(b))
    }
    if (a.lines !== undefined || b.lines !== undefined) return sameLines(a.lines, b.lines)
    if (a.frame.width !== b.frame.width || a.frame.height !== b.frame.height) return false
    if (Buffer.from(a.frame.data).equals(Buffer.from(b.frame.data))) return true
    return psnr(a.frame, b.frame) >= this.#o.minPsnrDb
  }

  /** The long-lived check stage, started on the first check: one job stream to one checker at a time. */
  #runOnChecker(item: WorkInput): Promise<StageResult | undefined> {
    if (this.#ended.aborted) return Promise.resolve(undefined)
    if (this.#checker === undefined) {
      const input = new ResultQueue<WorkInput>(Number.MAX_SAFE_INTEGER)
      const stage = new Stage(
        {
          peer: this.#c.peer,
          payer: this.#c.payer,
          stats: this.#c.stats,
          ...(this.#c.logger === undefined ? {} : { logger: this.#c.logger }),
          choose: (exclude) =>
            this.#c.choose(
              new Set([...exclude, ...this.banned, ...(this.#primary === undefined ? [] : [this.#primary])]),
            ),
        },
        { ...this.#stageOptions, itemCount: 0 },
      )
      stage.events.on('peer:selected', (e) => {
        this.#checkerPeer = e.peerId
      })
      stage.events.on('result', (r) => {
        // Those that produced check outputs, not every one tried (one may have failed at once).
        if (!this.#report.checkers.includes(r.peerId)) this.#report.checkers.push(r.peerId)
        this.#waiting.get(r.seq)?.(r)
        this.#waiting.delete(r.seq)
      })
      this.#countPayments(stage)
      this.#checker = stage
      this.#checkerInput = input
      this.#checkerRun = stage.run(input).catch((err: unknown) => {
        // No checker left for now: what is waiting stays unverified, and the next check starts a
        // check stage afresh (a checker may be back by then). Without a candidate that fails at
        // once, with nothing sent; a long job is not left unchecked for good by one bad patch.
        this.#c.logger?.warn('verification has no orchestrator left to check with', { err })
        this.#checker = undefined
        this.#checkerInput = undefined
        this.#checkerPeer = undefined
        this.#releaseWaiting()
      })
    }
    const seq = this.#checkSeq++
    return new Promise((resolve) => {
      this.#waiting.set(seq, resolve)
      this.#checkerInput!.push({ ...item, seq })
    })
  }

  /**
   * One item on an orchestrator that is neither of the two that disagree. A verified workflow may
   * already hold as many job streams at each candidate as it allows one peer (the stage, checks,
   * replacements); such a refusal is ours, not the candidate's, so it is asked again shortly, up to
   * THIRD_OPINION_ROUNDS times, rather than blaming by history alone.
   */
  async #thirdOpinion(item: WorkInput, exclude: string[]): Promise<StageResult | undefined> {
    for (let round = 1; ; round++) {
      const { result, code } = await this.#oneThirdOpinion(item, exclude)
      if (result !== undefined || code !== JOB_ERROR_CODES.tooManyStreams || round >= THIRD_OPINION_ROUNDS)
        return result
      // Waits with the job: a job that ends meanwhile ends the wait too.
      await delay(250 * round, undefined, { signal: this.#ended })
    }
  }

  async #oneThirdOpinion(
    item: WorkInput,
    exclude: string[],
  ): Promise<{ result?: StageResult; code?: string }> {
    const stage = new Stage(
      {
        peer: this.#c.peer,
        payer: this.#c.payer,
        stats: this.#c.stats,
        choose: (ex) => this.#c.choose(new Set([...ex, ...exclude, ...this.banned])),
      },
      { ...this.#stageOptions, itemCount: 1, maxAttempts: 2 },
    )
    let out: StageResult | undefined
    stage.events.on('result', (r) => {
      out = r
    })
    this.#countPayments(stage)
    async function* one(): AsyncIterable<WorkInput> {
      yield item
    }
    try {
      await stage.run(one())
    } catch (err) {
      // "No orchestrator left" carries the last refusal as its cause.
      const { code, cause } = err as { code?: string; cause?: { code?: string } }
      return { code: code === JOB_ERROR_CODES.noOffers ? (cause?.code ?? code) : code }
    }
    return out === undefined ? {} : { result: out }
  }
}

/** Times a third opinion refused for our too many streams is asked for (see #thirdOpinion). */
const THIRD_OPINION_ROUNDS = 3
