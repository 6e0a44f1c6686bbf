/**
 * Shared input buffers for worker sessions (worker-session.ts). Posting a typed array to a thread
 * copies it twice (serialised on this thread, copied again into a fresh buffer on the other) and
 * allocates a fresh buffer for every run; a slot here is a SharedArrayBuffer both threads see, so an
 * input costs one copy into memory that is already mapped, and the thread reads it in place.
 *
 * A run holds its slot from the hand-off until its thread reports that it is done with the run
 * (answered, failed or skipped), so a run waiting in a thread behind another never has its input
 * overwritten. Slots are made on demand (one per run in flight at once) and grown when an input
 * outgrows them; an input larger than `maxSlotBytes` gets no slot (the caller copies it the old
 * way), so what stays allocated is bounded by that times the runs in flight.
 */
import type * as ort from 'onnxruntime-node'

export interface StagingSlot {
  /** Stable while the slot lives; the thread keeps the slot's buffer under it. */
  readonly index: number
  /** Replaced (never resized) when the slot grows, so a thread knows to take the new one. */
  buffer: SharedArrayBuffer
}

export interface StagingOptions {
  /** Largest input set (all of a run's staged inputs together) a slot takes; bigger go unstaged. */
  maxSlotBytes: number
}

/** 4 MiB holds a 512×512 RGB float32 input; bigger inputs run long enough for a copy not to matter. */
export const DEFAULT_MAX_SLOT_BYTES = 4 * 1024 * 1024

/** Smallest buffer a slot gets, so small inputs of growing size do not regrow it run after run. */
const MIN_SLOT_BYTES = 64 * 1024

/** Where each staged tensor starts: cache-line aligned, which also suits every element size. */
export const STAGING_ALIGN = 64

export class StagingArea {
  private readonly free: StagingSlot[] = []
  private slots = 0

  constructor(private readonly options: StagingOptions) {}

  /** A slot of at least `bytes`, held until `release`; undefined when `bytes` is over the cap. */
  acquire(bytes: number): StagingSlot | undefined {
    if (bytes > this.options.maxSlotBytes) return undefined
    const fits = this.free.findIndex((s) => s.buffer.byteLength >= bytes)
    const size = Math.min(
      this.options.maxSlotBytes,
      Math.max(MIN_SLOT_BYTES, 2 ** Math.ceil(Math.log2(bytes))),
    )
    if (fits !== -1) return this.free.splice(fits, 1)[0]
    const slot = this.free.pop()
    if (slot === undefined) return { index: this.slots++, buffer: new SharedArrayBuffer(size) }
    slot.buffer = new SharedArrayBuffer(size)
    return slot
  }

  release(slot: StagingSlot): void {
    this.free.push(slot)
  }
}

type ViewConstructor = new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => ArrayBufferView

/** ort type → the typed array it is held in; only these are staged (strings and others go as they are). */
export const STAGED_ARRAYS: Record<StagedType, ViewConstructor> = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  float16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
}

export type StagedType =
  | 'float32'
  | 'float64'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'float16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool'

/** The typed array of a tensor the staging area can hold, or undefined. */
export function stageable(tensor: ort.Tensor): ArrayBufferView | undefined {
  const ctor = (STAGED_ARRAYS as Partial<Record<string, ViewConstructor>>)[tensor.type]
  return ctor !== undefined && tensor.data instanceof ctor ? tensor.data : undefined
}

/** Offset of the next tensor after one of `bytes` at `offset`. */
export function nextOffset(offset: number, bytes: number): number {
  return Math.ceil((offset + bytes) / STAGING_ALIGN) * STAGING_ALIGN
}

/** Copy `data` into `buffer` at `offset` (one native memcpy). */
export function stageInto(buffer: SharedArrayBuffer, offset: number, data: ArrayBufferView): void {
  new Uint8Array(buffer, offset, data.byteLength).set(
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  )
}
