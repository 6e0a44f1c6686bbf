/**
 * A job's input on the broadcaster: the checked list of stages, frames turned into work items
 * (pairs for interpolate), a workflow stage's outputs as the next stage's frames, and the input
 * kept for a replay after a failed direct workflow.
 */
import type { Frame } from '../inference/types.js'
import type { StageResult } from './failover.js'
import { cutWindow, type Window } from './frame-windows.js'
import type { WorkInput } from './job-work.js'
import { JOB_ERROR_CODES, JobError } from './market-errors.js'
import type { StageSpec, SubmitOptions } from './mesh-types.js'
import { checkVerifyOptions } from './verifier.js'

/** Outputs held between two stages of a workflow before the earlier one waits. */
export const STAGE_BUFFER = 8
const MAX_STAGES = 8
/** Orchestrators one stage may run on at once (SubmitOptions.parallel). */
export const MAX_PARALLEL = 16

/** The job's stages, checked: one pipeline or a list, OCR (text out) only last. */
export function stageSpecs(s: SubmitOptions): StageSpec[] {
  const bad = (why: string): never => {
    throw new JobError('ERR_BAD_JOB', why)
  }
  if (
    s.parallel !== undefined &&
    (!Number.isInteger(s.parallel) || s.parallel < 1 || s.parallel > MAX_PARALLEL)
  ) {
    bad(`parallel is ${s.parallel}; spread a stage over 1 to ${MAX_PARALLEL} orchestrators`)
  }
  // At submit, not when the first check starts: a job with options no check could use never runs.
  if (s.verify !== undefined) checkVerifyOptions(s.verify)
  if ((s.pipeline === undefined) === (s.stages === undefined)) {
    bad('give either `pipeline` (one stage) or `stages` (a workflow), not both or neither')
  }
  const specs = s.stages ?? [{ pipeline: s.pipeline!, ...(s.model === undefined ? {} : { model: s.model }) }]
  if (specs.length === 0 || specs.length > MAX_STAGES)
    bad(`a workflow has 1..${MAX_STAGES} stages, got ${specs.length}`)
  for (const [i, spec] of specs.entries()) {
    if (spec.pipeline === 'ocr' && i < specs.length - 1) {
      bad(`stage ${i + 1} is ocr, whose output is text: ocr can only be the last stage`)
    }
    if (spec.doubleRate === true && spec.pipeline !== 'interpolate') {
      bad(`stage ${i + 1} is ${spec.pipeline}: only an interpolate stage can double the frame rate`)
    }
  }
  return specs
}

/**
 * The job's input, keeping the frames a fallback may have to send again: every frame from the
 * first whose output is not delivered yet (`release` moves that point on).
 */
export class ReplayInput implements AsyncIterator<Frame> {
  readonly #source: AsyncIterator<Frame> | Iterator<Frame>
  readonly #kept: Frame[] = []
  #base = 0

  constructor(source: AsyncIterator<Frame> | Iterator<Frame>) {
    this.#source = source
  }

  async next(): Promise<IteratorResult<Frame>> {
    const step = await this.#source.next()
    if (step.done !== true) this.#kept.push(step.value)
    return step
  }

  /** Frames before input index `index` are no longer needed. */
  release(index: number): void {
    while (this.#base < index && this.#kept.length > 0) {
      this.#kept.shift()
      this.#base++
    }
  }

  /** The input again from index `index`: the frames kept, then the rest of the source (no longer kept). */
  from(index: number): AsyncIterator<Frame> {
    const again = this.#kept.slice(Math.max(0, index - this.#base))
    this.#kept.length = 0
    const source = this.#source
    return (async function* () {
      yield* again
      while (true) {
        const step = await source.next()
        if (step.done === true) return
        yield step.value
      }
    })()
  }
}

/** A stage's outputs as the next stage's input frames. */
export async function* framesOf(results: AsyncIterable<StageResult>): AsyncIterable<Frame> {
  for await (const r of results) yield r.frame
}

/**
 * Frames → work items: one per frame, or one per neighbouring pair (interpolate, t = 0.5), or with
 * `windows` one per window of each frame (frame-windows.ts).
 */
export async function* workItems(
  first: Frame,
  rest: AsyncIterator<Frame> | Iterator<Frame>,
  pairs: boolean,
  signal: AbortSignal,
  windows?: readonly Window[],
): AsyncIterable<WorkInput> {
  let seq = 0
  // The items a frame makes; `before` is the frame before it (none for the first).
  const itemsOf = (frame: Frame, before: Frame | undefined): WorkInput[] => {
    if (windows !== undefined)
      return windows.map((w) => ({ seq: seq++, frames: [cutWindow(frame, w)], t: 0 }))
    if (!pairs) return [{ seq: seq++, frames: [frame], t: 0 }]
    return before === undefined ? [] : [{ seq: seq++, frames: [before, frame], t: 0.5 }]
  }
  yield* itemsOf(first, undefined)
  let previous = first
  for (let index = 1; ; index++) {
    signal.throwIfAborted()
    const next = await rest.next()
    if (next.done === true) return
    const frame = next.value
    if (frame.width !== first.width || frame.height !== first.height) {
      throw new JobError(
        JOB_ERROR_CODES.frameSizeMismatch,
        `frame ${index} is ${frame.width}x${frame.height}, the job's first frame ${first.width}x${first.height}; submit one job per frame size`,
      )
    }
    yield* itemsOf(frame, previous)
    previous = frame
  }
}
