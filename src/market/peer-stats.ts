/**
 * What a buyer has learned about each seller: latency (ping and jobs, as an exponential moving
 * average), success rate, and suspension with exponential back-off after failures. Selection reads
 * it through `health()`; the job and ping code write it. Time comes from an injected clock.
 */

import { setMostRecent } from '../recent-map.js'

export interface PeerHealth {
  /** Moving average round-trip in ms; undefined until measured. */
  latencyMs?: number
  /** Moving average of job outcomes, 0..1, starting from the configured prior. */
  successRate: number
  suspended: boolean
}

export interface PeerRecord extends PeerHealth {
  consecutiveFailures: number
  /** Unix ms until which the peer is not offered; 0 when not suspended. */
  suspendedUntil: number
  /**
   * Unix ms until which a peer caught returning wrong work stays suspended (0: never caught, or
   * long ago). A success elsewhere does not lift this one: a cheater is right most of the time.
   */
  caughtUntil: number
  successes: number
  failures: number
}

export interface PeerStatsComponents {
  now?: () => number
}

export interface PeerStatsOptions {
  /** Weight of a new latency sample (0..1]. */
  latencyAlpha?: number
  /** Weight of a new job outcome (0..1]. */
  successAlpha?: number
  /** Success rate assumed for a peer we never used: new peers get a fair chance, not a perfect one. */
  priorSuccessRate?: number
  /** Consecutive failures before the first suspension. */
  failuresBeforeSuspend?: number
  /** First suspension length; each further consecutive failure doubles it. */
  baseSuspendMs?: number
  maxSuspendMs?: number
  /** Most peers remembered; the least recently touched are forgotten past this. */
  maxPeers?: number
}

export class PeerStats {
  readonly #now: () => number
  readonly #latencyAlpha: number
  readonly #successAlpha: number
  readonly #prior: number
  readonly #failuresBeforeSuspend: number
  readonly #baseSuspendMs: number
  readonly #maxSuspendMs: number
  readonly #maxPeers: number
  readonly #peers = new Map<string, PeerRecord>()

  constructor(components: PeerStatsComponents = {}, options: PeerStatsOptions = {}) {
    this.#now = components.now ?? Date.now
    this.#latencyAlpha = options.latencyAlpha ?? 0.3
    this.#successAlpha = options.successAlpha ?? 0.2
    this.#prior = options.priorSuccessRate ?? 0.9
    this.#failuresBeforeSuspend = options.failuresBeforeSuspend ?? 1
    this.#baseSuspendMs = options.baseSuspendMs ?? 5_000
    this.#maxSuspendMs = options.maxSuspendMs ?? 5 * 60_000
    this.#maxPeers = options.maxPeers ?? 10_000
  }

  /**
   * A network round trip (a ping, or the connection monitor's). Job times do not count: they
   * measure the model and the frame size, so a seller that just served a large frame would look
   * slow for every small job after it, and sellers never used would look fastest.
   */
  recordLatency(peerId: string, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return
    const r = this.#touch(peerId)
    r.latencyMs = r.latencyMs === undefined ? ms : r.latencyMs + this.#latencyAlpha * (ms - r.latencyMs)
  }

  /**
   * A job (or job step) finished well: clears the failure streak and a suspension for failures,
   * not one for being caught returning wrong work (recordMisbehaviour).
   */
  recordSuccess(peerId: string): void {
    const r = this.#touch(peerId)
    r.successes++
    r.successRate += this.#successAlpha * (1 - r.successRate)
    r.consecutiveFailures = 0
    r.suspendedUntil = r.caughtUntil > this.#now() ? r.caughtUntil : 0
  }

  /** A job failed (error, timeout, bad result): lowers the rate and may suspend the peer. */
  recordFailure(peerId: string): void {
    const r = this.#touch(peerId)
    r.failures++
    r.successRate -= this.#successAlpha * r.successRate
    r.consecutiveFailures++
    if (r.consecutiveFailures >= this.#failuresBeforeSuspend) {
      r.suspendedUntil = this.#now() + this.suspensionMs(r.consecutiveFailures)
    }
  }

  /**
   * The peer was caught returning wrong work (verification): success rate to 0 and suspended for
   * the longest back-off at once, not after a streak: a cheater gets no second chance soon.
   */
  recordMisbehaviour(peerId: string): void {
    const r = this.#touch(peerId)
    r.failures++
    r.successRate = 0
    r.consecutiveFailures = Math.max(r.consecutiveFailures + 1, this.#failuresBeforeSuspend)
    r.caughtUntil = this.#now() + this.#maxSuspendMs
    r.suspendedUntil = r.caughtUntil
  }

  /** How long the n-th consecutive failure suspends for (0 below the threshold). */
  suspensionMs(consecutiveFailures: number): number {
    const over = consecutiveFailures - this.#failuresBeforeSuspend
    if (over < 0) return 0
    // 2^over overflows to Infinity for huge streaks; min() keeps it at the cap.
    return Math.min(this.#maxSuspendMs, this.#baseSuspendMs * 2 ** over)
  }

  isSuspended(peerId: string): boolean {
    const r = this.#peers.get(peerId)
    return r !== undefined && r.suspendedUntil > this.#now()
  }

  health(peerId: string): PeerHealth {
    const r = this.#peers.get(peerId)
    if (r === undefined) return { successRate: this.#prior, suspended: false }
    return { latencyMs: r.latencyMs, successRate: r.successRate, suspended: r.suspendedUntil > this.#now() }
  }

  get(peerId: string): PeerRecord | undefined {
    const r = this.#peers.get(peerId)
    return r === undefined ? undefined : { ...r, suspended: r.suspendedUntil > this.#now() }
  }

  forget(peerId: string): void {
    this.#peers.delete(peerId)
  }

  #touch(peerId: string): PeerRecord {
    let r = this.#peers.get(peerId)
    if (r === undefined) {
      r = {
        successRate: this.#prior,
        suspended: false,
        consecutiveFailures: 0,
        suspendedUntil: 0,
        caughtUntil: 0,
        successes: 0,
        failures: 0,
      }
    }
    // Re-inserting keeps the map in least-recently-touched order for eviction.
    setMostRecent(this.#peers, peerId, r, this.#maxPeers)
    return r
  }
}
