/**
 * How many different sender addresses one peer may name in its quote requests. A quote costs
 * the orchestrator a chain read for every sender it has not seen, and anyone may name any
 * address; an honest broadcaster pays from one wallet (a gateway from a few), so a peer naming
 * many is refused before the chain is asked, with a code saying why.
 */
import { setMostRecent } from '../recent-map.js'
import { JOB_ERROR_CODES, QuoteRefusedError } from './market-errors.js'

export interface SendersPerPeerOptions {
  /** Different senders one peer may name within `windowMs` (default 8). */
  maxSenders?: number
  /** How long a named sender counts against its peer (default 10 minutes). */
  windowMs?: number
  /** Peers tracked at once; the least recently seen are forgotten first (default 10,000). */
  maxPeers?: number
  now?: () => number
}

export class SendersPerPeer {
  readonly #max: number
  readonly #windowMs: number
  readonly #maxPeers: number
  readonly #now: () => number
  /** Peer → sender → when that peer last named it (ms). */
  readonly #named = new Map<string, Map<string, number>>()

  constructor(options: SendersPerPeerOptions = {}) {
    this.#max = options.maxSenders ?? 8
    this.#windowMs = options.windowMs ?? 600_000
    this.#maxPeers = options.maxPeers ?? 10_000
    this.#now = options.now ?? Date.now
    if (!(this.#max >= 1)) throw new RangeError('maxSenders must be at least 1')
  }

  /**
   * Records that `peer` names `sender`, or throws ERR_TOO_MANY_SENDERS when it is a new sender
   * and the peer already named `maxSenders` others within the window. Nothing is recorded then.
   */
  admit(peer: string, sender: string): void {
    const now = this.#now()
    const named = this.#named.get(peer) ?? new Map<string, number>()
    for (const [known, at] of named) if (now - at >= this.#windowMs) named.delete(known)
    if (!named.has(sender) && named.size >= this.#max) {
      const oldest = Math.min(...named.values())
      const retryInS = Math.ceil((oldest + this.#windowMs - now) / 1000)
      throw new QuoteRefusedError(
        JOB_ERROR_CODES.tooManySenders,
        `this peer named ${named.size} different sender addresses in the last ${Math.round(this.#windowMs / 60_000)} min, the most one peer may; pay from a wallet it used already, or retry in ${retryInS} s`,
      )
    }
    named.set(sender, now)
    setMostRecent(this.#named, peer, named, this.#maxPeers)
  }
}
