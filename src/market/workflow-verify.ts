/**
 * Verification of a direct workflow (frames flow stage to stage, so the broadcaster sees a middle
 * stage's output only as the digest in its acks, see feed-gate.ts). A check of stage k runs one
 * of its items on another orchestrator serving the same model (a Verifier per stage) and compares
 * the output with what stage k committed for it: the digest of the output it forwarded, or for the
 * last stage the output itself.
 *
 * Inputs for the checks: stage 1's are the broadcaster's own items. Stage k + 1's are stage k's
 * outputs, taken from stage k's passed checks (the checker's output, equal to what stage k
 * committed and, by the confirmed feed, exactly what stage k + 1 got). So a sampled item is
 * checked through every stage in turn: its stage-1 item, then the stage-2 item made from the
 * verified output, and so on (an interpolating stage needs two neighbouring verified outputs, so a
 * sample covers 1 + the number of later interpolating stages consecutive stage-1 items). No
 * orchestrator is asked to send anything extra, and none learns which items are checked.
 *
 * Holding back: final result j depends on stage k's items j … j + (interpolating stages after k);
 * it is released when every stage has passed a check at or after the last of those, so a cheater
 * caught at its first check has delivered nothing through the job. More than `maxUnchecked`
 * results held, or the end of the input, checks the newest held result's items at once.
 *
 * A primary found wrong fails the run (`failed` rejects with ERR_VERIFICATION_FAILED naming it);
 * what is held is dropped, and the job goes on elsewhere from the first undelivered result.
 */
import type { Frame, PipelineId } from '../inference/types.js'
import type { StageResult } from './failover.js'
import type { WorkInput } from './job-work.js'
import { JOB_ERROR_CODES, JobError } from './market-errors.js'
import type { Claim, VerificationReport, Verifier } from './verifier.js'

/** Forced checks of the held results at the end before they are released unverified. */
const FINAL_ATTEMPTS = 3

export interface WorkflowVerifierComponents {
  /** One per stage, in stage order: its checks run on orchestrators serving that stage's model. */
  verifiers: Verifier[]
  /** Hands a final result on once released (called in order). */
  release: (result: StageResult) => void
}

export interface WorkflowVerifierOptions {
  /** Each stage's pipeline, in order. */
  pipelines: PipelineId[]
}

type Waiter = (claim: Claim | undefined) => void

export class WorkflowVerifier {
  /** Rejects with the first blame (ERR_VERIFICATION_FAILED, `peerId` the culprit); never resolves. */
  readonly failed: Promise<never>
  readonly #v: Verifier[]
  readonly #release: (result: StageResult) => void
  readonly #pipelines: PipelineId[]
  /** Interpolating stages after stage k: final result j needs stage k's items j … j + after[k]. */
  readonly #after: number[]
  readonly #claims: Array<Map<number, Claim>>
  readonly #waiters: Array<Map<number, Waiter[]>>
  readonly #closed: boolean[]
  readonly #started: Array<Set<number>>
  /** Right outputs of stage k (from checks), the next stage's check inputs. */
  readonly #verified: Array<Map<number, Frame>>
  /** Highest item of stage k whose check passed. */
  readonly #passed: number[]
  readonly #inputs = new Map<number, WorkInput>()
  readonly #held: StageResult[] = []
  readonly #checks = new Set<Promise<void>>()
  /** Items before this are delivered (or dropped): claims and inputs below it are let go. */
  #floor = 0
  #forced = false
  #unreleased = 0
  #failure?: JobError
  #reject!: (err: JobError) => void

  constructor(components: WorkflowVerifierComponents, options: WorkflowVerifierOptions) {
    this.#v = components.verifiers
    this.#release = components.release
    this.#pipelines = options.pipelines
    const n = options.pipelines.length
    this.#after = options.pipelines.map(
      (_, k) => options.pipelines.slice(k + 1).filter((p) => p === 'interpolate').length,
    )
    this.#claims = Array.from({ length: n }, () => new Map())
    this.#waiters = Array.from({ length: n }, () => new Map())
    this.#closed = Array.from({ length: n }, () => false)
    this.#started = Array.from({ length: n }, () => new Set())
    this.#verified = Array.from({ length: n }, () => new Map())
    this.#passed = Array.from({ length: n }, () => -1)
    this.failed = new Promise<never>((_, reject) => {
      this.#reject = reject
    })
    this.failed.catch(() => {})
  }

  /** A stage-1 item as it goes out; a share of them start a check through every stage. */
  input(item: WorkInput): void {
    this.#inputs.set(item.seq, item)
    // The sample ends at this item: it starts `after[0]` items back, all of which are here now.
    const start = item.seq - this.#after[0]!
    if (start >= this.#floor && this.#v[0]!.sample()) this.#sample(start, false)
  }

  /** Stage k's commitment for an item: its ack's digest, or (last stage) its result. */
  committed(stage: number, claim: Claim): void {
    const waiters = this.#waiters[stage]!.get(claim.seq)
    this.#waiters[stage]!.delete(claim.seq)
    for (const w of waiters ?? []) w(claim)
    if (claim.seq >= this.#floor) this.#claims[stage]!.set(claim.seq, claim)
  }

  /** Stage k will commit nothing more (its session ended): checks waiting on it give up. */
  closed(stage: number): void {
    this.#closed[stage] = true
    for (const ws of this.#waiters[stage]!.values()) for (const w of ws) w(undefined)
    this.#waiters[stage]!.clear()
  }

  /** Stage k runs on a replacement: its commitments come again. */
  reopened(stage: number): void {
    this.#closed[stage] = false
  }

  /** A final result: held until the checks cover it. */
  result(result: StageResult): void {
    if (this.#failure !== undefined) return
    this.committed(this.#pipelines.length - 1, result)
    this.#held.push(result)
    this.#releaseCovered()
    if (!this.#forced && this.#held.length >= this.#v.at(-1)!.maxUnchecked) {
      this.#forced = true
      this.#sample(result.seq, true)
    }
  }

  /**
   * Every stage finished: checks the newest held result's items (again, up to FINAL_ATTEMPTS
   * times while a check could not reach every stage), waits for the checks, and releases what is
   * left as unverified. Rejects with the blame if a primary was found wrong.
   */
  async finish(): Promise<void> {
    for (let attempt = 0; attempt < FINAL_ATTEMPTS && this.#held.length > 0; attempt++) {
      if (this.#failure !== undefined) break
      this.#sample(this.#held.at(-1)!.seq, true)
      await this.#settle()
    }
    await this.#settle()
    if (this.#failure === undefined && this.#held.length > 0 && this.#v.some((v) => v.strict)) {
      // Strict: what the final checks could not cover through every stage is not delivered.
      const stage = this.#passed.findIndex((p, k) => p < this.#held.at(-1)!.seq + this.#after[k]!)
      this.#fail(this.#unverifiable(Math.max(0, stage), undefined))
    }
    if (this.#failure !== undefined) throw this.#failure
    this.#unreleased += this.#held.length
    for (const r of this.#held.splice(0)) this.#release(r)
    await Promise.all(this.#v.map((v) => v.close()))
  }

  /** The blame that failed the run, if any. */
  get failure(): JobError | undefined {
    return this.#failure
  }

  /** Stops every check (the run failed or was cancelled). */
  abort(): void {
    for (const v of this.#v) v.abort()
    for (let k = 0; k < this.#pipelines.length; k++) this.closed(k)
  }

  /** Each stage's verification so far. Results released unchecked at the end count as unverified. */
  reports(): VerificationReport[] {
    return this.#v.map((v, k) => {
      const r = v.report()
      return k === this.#v.length - 1 ? { ...r, unverified: r.unverified + this.#unreleased } : r
    })
  }

  /** Checks stage-1 items start … start + after[0] (and from them every later stage). */
  #sample(start: number, again: boolean): void {
    for (let seq = start; seq <= start + this.#after[0]!; seq++) {
      const item = this.#inputs.get(seq)
      if (item === undefined) return
      // Once more (the end, or too much held): items a check may not have carried through before.
      if (again) for (const started of this.#started) started.delete(seq)
      this.#start(0, item)
    }
  }

  #start(stage: number, item: WorkInput): void {
    if (this.#failure !== undefined || this.#started[stage]!.has(item.seq)) return
    this.#started[stage]!.add(item.seq)
    const check = this.#check(stage, item)
      .catch(() =>
        this.#v[stage]!.strict
          ? this.#fail(this.#unverifiable(stage, undefined))
          : this.#pass(stage, item.seq),
      )
      .finally(() => {
        this.#checks.delete(check)
        if (this.#checks.size === 0) this.#forced = false
      })
    this.#checks.add(check)
  }

  async #check(stage: number, item: WorkInput): Promise<void> {
    const claim = await this.#claim(stage, item.seq)
    // Never committed (the stage ended first) or already delivered past: nothing to hold back.
    if (claim === undefined || this.#failure !== undefined) return
    const verdict = await this.#v[stage]!.check(item, claim)
    if (verdict.kind === 'primary-wrong') {
      const { blame } = verdict
      this.#fail(
        new JobError(
          JOB_ERROR_CODES.verificationFailed,
          `stage ${stage + 1}: ${blame.peerId} returned output for item ${blame.seq} that ${blame.against} contradicted (${blame.reason}); the job goes on without it`,
          { peerId: blame.peerId, details: { stage, blame } },
        ),
      )
      return
    }
    if (verdict.kind === 'unverified') {
      if (this.#v[stage]!.strict) return this.#fail(this.#unverifiable(stage, claim.peerId))
      // No orchestrator to check with: as for a one-stage job, the results go out unverified
      // (counted so), here for every stage the sample would have reached.
      for (let k = stage; k < this.#pipelines.length; k++) this.#pass(k, item.seq)
      return
    }
    this.#pass(stage, item.seq)
    if (verdict.correct !== undefined) this.#cascade(stage, item.seq, verdict.correct.frame)
  }

  /** Stage `stage`'s commitment for `seq`, waiting for it; undefined once it can no longer come. */
  #claim(stage: number, seq: number): Promise<Claim | undefined> {
    const claim = this.#claims[stage]!.get(seq)
    if (claim !== undefined || this.#closed[stage] || seq < this.#floor) return Promise.resolve(claim)
    return new Promise((resolve) => {
      const list = this.#waiters[stage]!.get(seq) ?? []
      list.push(resolve)
      this.#waiters[stage]!.set(seq, list)
    })
  }

  /** A right output of stage k: the next stage's items made from it can be checked now. */
  #cascade(stage: number, seq: number, frame: Frame): void {
    const next = stage + 1
    if (next >= this.#pipelines.length) return
    const outputs = this.#verified[stage]!
    outputs.set(seq, frame)
    if (this.#pipelines[next] !== 'interpolate') {
      outputs.delete(seq)
      this.#start(next, { seq, frames: [frame], t: 0 })
      return
    }
    // Pairs: item c of the next stage is (output c, output c + 1), as the forwarder sends them.
    for (const c of [seq - 1, seq]) {
      const a = outputs.get(c)
      const b = outputs.get(c + 1)
      if (a !== undefined && b !== undefined) this.#start(next, { seq: c, frames: [a, b], t: 0.5 })
    }
    for (const s of outputs.keys()) if (s < seq - 1) outputs.delete(s)
  }

  #pass(stage: number, seq: number): void {
    this.#passed[stage] = Math.max(this.#passed[stage]!, seq)
    this.#releaseCovered()
  }

  #releaseCovered(): void {
    const covered = (j: number) => this.#passed.every((p, k) => p >= j + this.#after[k]!)
    let released = false
    while (this.#held.length > 0 && covered(this.#held[0]!.seq)) {
      const r = this.#held.shift()!
      this.#floor = r.seq + 1
      released = true
      this.#release(r)
    }
    if (!released) return
    this.#forced = false
    for (const seq of this.#inputs.keys()) if (seq < this.#floor) this.#inputs.delete(seq)
    for (const claims of this.#claims)
      for (const seq of claims.keys()) if (seq < this.#floor) claims.delete(seq)
  }

  async #settle(): Promise<void> {
    while (this.#checks.size > 0) await Promise.allSettled([...this.#checks])
  }

  /** Strict verification could not check stage `stage` (of `peerId`, when known): the held results stay here. */
  #unverifiable(stage: number, peerId: string | undefined): JobError {
    return this.#v[stage]!.unverifiable(peerId, this.#held.length, stage)
  }

  #fail(error: JobError): void {
    if (this.#failure !== undefined) return
    this.#failure = error
    this.#held.length = 0
    this.#reject(error)
  }
}
