/** Verification's record of blames, in a module of its own: no one verifier owns it. */
import type { VerificationBlame } from './verifier.js'

/**
 * Who a job's checks found wrong, shared by the verifiers of one stage's lanes (lanes.ts): a peer
 * blamed in one lane is left out by every lane and checker, and is the wrong one in any later
 * mismatch. Mismatches are judged through it one at a time (see Verifier's #judge).
 */
export class BlameLedger {
  readonly #blames = new Map<string, VerificationBlame>()
  readonly #banned = new Set<string>()
  readonly #listeners: Array<(blame: VerificationBlame) => void> = []
  #judging: Promise<unknown> = Promise.resolve()

  get banned(): ReadonlySet<string> {
    return this.#banned
  }

  /** The blame that first found `peerId` wrong, if any. */
  blameOf(peerId: string): VerificationBlame | undefined {
    return this.#blames.get(peerId)
  }

  /** Records a blame unless its peer was blamed already (then false); listeners hear of a new one. */
  add(blame: VerificationBlame): boolean {
    if (this.#blames.has(blame.peerId)) return false
    this.#blames.set(blame.peerId, blame)
    this.#banned.add(blame.peerId)
    for (const listener of this.#listeners) listener(blame)
    return true
  }

  onBlamed(listener: (blame: VerificationBlame) => void): void {
    this.#listeners.push(listener)
  }

  /** Runs `judge` after every judgement started before it has settled. */
  oneAtATime<T>(judge: () => Promise<T>): Promise<T> {
    const judged = this.#judging.then(judge)
    this.#judging = judged.catch(() => {})
    return judged
  }
}
