/**
 * Frame-rate doubling around an interpolate stage, done where the stage's input frames are (the
 * broadcaster): each input frame, then the stage's frame halfway to the next, and the last input
 * frame twice, so that the output at twice the rate lasts as long as the input (the same frames
 * `framemesh run interpolate` writes).
 */
import type { Frame } from '../inference/types.js'
import type { StageResult } from './failover.js'

export class RateDoubler {
  readonly #deliver: (result: StageResult) => void
  /** Input frames read for the stage whose own turn in the output has not come yet. */
  readonly #waiting: Frame[] = []
  #seq = 0
  #lastPeer = ''

  constructor(deliver: (result: StageResult) => void) {
    this.#deliver = deliver
  }

  /** `input` as it is, each frame kept until the output reaches it. */
  async *keep(input: AsyncIterator<Frame> | Iterator<Frame>, first: Frame): AsyncGenerator<Frame> {
    this.#waiting.push(first)
    while (true) {
      const step = await input.next()
      if (step.done === true) return
      this.#waiting.push(step.value)
      yield step.value
    }
  }

  /**
   * The stage's result for the pair (n, n+1), in order: input frame n goes out before it. Input
   * frames carry the peer id of the result beside them.
   */
  result(result: StageResult): void {
    const before = this.#waiting.shift()
    if (before === undefined) throw new Error('an interpolated frame came back for a pair never sent')
    this.#lastPeer = result.peerId
    this.#deliver({ seq: this.#seq++, frame: before, peerId: result.peerId })
    this.#deliver({ ...result, seq: this.#seq++ })
  }

  /** After the stage's last result: the last input frame, twice. */
  end(): void {
    const last = this.#waiting.shift()
    if (last === undefined) return
    for (let i = 0; i < 2; i++) this.#deliver({ seq: this.#seq++, frame: last, peerId: this.#lastPeer })
  }
}
