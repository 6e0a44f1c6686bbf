/**
 * Keeps recently used models loaded within a memory budget. Loading is on demand and deduplicated
 * (concurrent requests share one load); when a load would exceed the budget the least recently used
 * warm model that is neither pinned nor running is unloaded first. Models in use are never unloaded
 * under a caller: a lease holds them until released.
 *
 * The pool is generic over what a "loaded model" is (an onnxruntime session in the engine), so its
 * bookkeeping is independent of how loading works.
 */
import { type Logger, silentLogger } from '../logger.js'
import { BudgetExhaustedError, BudgetTooSmallError, EngineClosedError } from './errors.js'
import { TypedEmitter, type TypedEvents } from './events.js'
import type { ModelState } from './types.js'
import { throwIfAborted, waitFor } from './wait.js'

export interface WarmPoolComponents<T> {
  /** Load (and warm up) a model. Shared by every caller waiting on it, so it takes no caller's signal. */
  load(id: string): Promise<T>
  unload(id: string, value: T): Promise<void>
  /** Estimated resident bytes of a model when warm. */
  sizeOf(id: string): number
  logger?: Logger
  now?: () => number
}

export interface WarmPoolOptions {
  budgetBytes: number
  /** Longest a caller waits for busy models to free room in the budget. */
  waitTimeoutMs?: number
  /**
   * Unload an unpinned model nobody has used for this long, even without memory pressure, so an
   * orchestrator gives memory back after a burst. Default: never (only the budget evicts).
   */
  idleUnloadMs?: number
}

export interface ModelStateEvent {
  id: string
  state: ModelState
  previous: ModelState
  bytes: number
  error?: Error
}

export interface WarmPoolEvents {
  'model:state': ModelStateEvent
}

export interface Lease<T> {
  readonly value: T
  /** Give the model back; it stays warm until evicted. Idempotent. */
  release(): void
}

export interface WarmModelReport {
  id: string
  bytes: number
  pinned: boolean
  inUse: number
  lastUsed: number
}

export interface WarmPoolReport {
  budgetBytes: number
  /** Bytes of warm and loading models. */
  usedBytes: number
  warm: WarmModelReport[]
  loading: string[]
}

export interface PoolModelStatus {
  state: ModelState
  pinned: boolean
  lastUsed?: number
  error?: Error
}

export interface WarmPool<T> extends TypedEvents<WarmPoolEvents> {
  acquire(id: string, options?: { signal?: AbortSignal }): Promise<Lease<T>>
  /** A lease on a model that is warm now, without waiting; undefined when it is not warm. */
  tryAcquire(id: string): Lease<T> | undefined
  /** Load a model without using it (e.g. before advertising it). */
  warm(id: string, options?: { signal?: AbortSignal }): Promise<void>
  /** Never evict this model. Throws BudgetExhaustedError when pinned models would exceed the budget. */
  pin(id: string): void
  unpin(id: string): void
  /** Unload now if warm and idle; returns false when busy or not warm. */
  unload(id: string): Promise<boolean>
  status(id: string): PoolModelStatus
  report(): WarmPoolReport
  close(): Promise<void>
}

interface Entry<T> {
  id: string
  state: 'loading' | 'warm' | 'failed'
  bytes: number
  inUse: number
  /** When the model was loaded or a use of it last ended (ms since the epoch). */
  lastUsed: number
  /** Recency order; a counter, because several uses can fall in one clock millisecond. */
  useSeq: number
  /** Callers waiting on this entry's load; it is not evictable until they have their leases. */
  waiting: number
  idleTimer?: NodeJS.Timeout
  value?: T
  loading?: Promise<T>
  error?: Error
}

/** A class rather than a closure per lease: one is made for every run, and must stay cheap. */
class PoolLease<T> implements Lease<T> {
  #released = false
  readonly value: T

  constructor(
    private readonly entry: Entry<T>,
    private readonly giveBack: (entry: Entry<T>) => void,
  ) {
    this.value = entry.value as T
  }

  release(): void {
    if (this.#released) return
    this.#released = true
    this.giveBack(this.entry)
  }
}

export function createWarmPool<T>(components: WarmPoolComponents<T>, options: WarmPoolOptions): WarmPool<T> {
  const log = (components.logger ?? silentLogger).child('warm-pool')
  const now = components.now ?? Date.now
  const budget = options.budgetBytes
  const waitTimeoutMs = options.waitTimeoutMs ?? 120_000
  const entries = new Map<string, Entry<T>>()
  const pins = new Set<string>()
  const events = new TypedEmitter<WarmPoolEvents>()
  /** Callers waiting for room: woken whenever a lease is released or a model changes state. */
  let roomWaiters: Array<() => void> = []
  let closed = false
  let seq = 0

  const wakeRoomWaiters = () => {
    // Called on every lease given back; nothing to allocate when nobody waits (the usual case).
    if (roomWaiters.length === 0) return
    const ws = roomWaiters
    roomWaiters = []
    for (const w of ws) w()
  }

  const setState = (
    entry: Entry<T> | { id: string; bytes: number },
    state: ModelState,
    previous: ModelState,
  ) => {
    const error = 'error' in entry ? entry.error : undefined
    events.emit('model:state', {
      id: entry.id,
      state,
      previous,
      bytes: entry.bytes,
      ...(error ? { error } : {}),
    })
    wakeRoomWaiters()
  }

  /** A pinned id may have been removed from the registry since; it then holds nothing. */
  const sizeOrZero = (id: string) => {
    try {
      return components.sizeOf(id)
    } catch {
      return 0
    }
  }

  const usedBytes = () => {
    let used = 0
    for (const e of entries.values()) if (e.state !== 'failed') used += e.bytes
    return used
  }

  const stopIdle = (entry: Entry<T>) => {
    clearTimeout(entry.idleTimer)
    entry.idleTimer = undefined
  }

  const unloadEntry = async (entry: Entry<T>) => {
    stopIdle(entry)
    entries.delete(entry.id)
    setState(entry, 'available', 'warm')
    try {
      await components.unload(entry.id, entry.value as T)
    } catch (err) {
      log.warn('unloading a model failed', { id: entry.id, error: err })
    }
  }

  /**
   * Start the idle countdown of a warm, unused, unpinned model, unless one runs already. One timer
   * per idle spell, not one per run: when it fires it looks at when the model was last used and,
   * if that was too recent, waits out the rest (a busy model would otherwise set and clear a
   * timer on every run).
   */
  const armIdle = (entry: Entry<T>) => {
    const idleMs = options.idleUnloadMs
    if (idleMs === undefined || closed || entry.idleTimer !== undefined) return
    if (entry.inUse > 0 || pins.has(entry.id)) return
    const check = () => {
      entry.idleTimer = undefined
      if (closed || entries.get(entry.id) !== entry || entry.state !== 'warm') return
      // In use, waited on or pinned: giving the lease back (or unpinning) arms it again.
      if (entry.inUse > 0 || entry.waiting > 0 || pins.has(entry.id)) return
      const left = entry.lastUsed + idleMs - now()
      if (left > 0) {
        entry.idleTimer = setTimeout(check, left)
        entry.idleTimer.unref()
        return
      }
      log.debug('unloading idle model', { id: entry.id, idleMs })
      void unloadEntry(entry)
    }
    entry.idleTimer = setTimeout(check, idleMs)
    // An idle countdown must never keep the process alive.
    entry.idleTimer.unref()
  }

  /**
   * Free budget for `bytes` by unloading idle, unpinned warm models, least recently used first.
   * Returns true when there is room; false when only busy models stand in the way (wait and retry).
   */
  const makeRoom = (id: string, bytes: number): boolean => {
    let used = usedBytes()
    if (used + bytes <= budget) return true
    // Pinned models are never evicted: if they alone leave too little room, say so before evicting anything.
    let pinnedBytes = 0
    for (const e of entries.values()) if (e.state !== 'failed' && pins.has(e.id)) pinnedBytes += e.bytes
    if (budget - pinnedBytes < bytes) throw new BudgetExhaustedError(id, bytes, budget - pinnedBytes, budget)
    const idle = [...entries.values()]
      .filter((e) => e.state === 'warm' && e.inUse === 0 && e.waiting === 0 && !pins.has(e.id))
      .sort((a, b) => a.useSeq - b.useSeq)
    for (const e of idle) {
      log.debug('evicting least recently used model', { id: e.id, for: id })
      void unloadEntry(e)
      used -= e.bytes
      if (used + bytes <= budget) return true
    }
    return false
  }

  const waitForRoom = (signal: AbortSignal | undefined, id: string) =>
    waitFor(new Promise<void>((resolve) => roomWaiters.push(resolve)), {
      signal,
      timeoutMs: waitTimeoutMs,
      what: `waiting for memory to load model "${id}"`,
    })

  const startLoad = (id: string, bytes: number): Entry<T> => {
    const previous: ModelState = entries.get(id)?.state === 'failed' ? 'failed' : 'available'
    const entry: Entry<T> = {
      id,
      state: 'loading',
      bytes,
      inUse: 0,
      lastUsed: now(),
      useSeq: ++seq,
      waiting: 0,
    }
    entry.loading = components.load(id).then(
      (value) => {
        entry.value = value
        entry.loading = undefined
        if (closed) {
          entries.delete(id)
          void components.unload(id, value).catch(() => {})
          return value
        }
        entry.state = 'warm'
        entry.lastUsed = now()
        entry.useSeq = ++seq
        setState(entry, 'warm', 'loading')
        armIdle(entry)
        return value
      },
      (err: Error) => {
        entry.loading = undefined
        entry.state = 'failed'
        entry.error = err
        setState(entry, 'failed', 'loading')
        throw err
      },
    )
    // Waiters attach their own handlers; this one only keeps a failed load from being "unhandled".
    entry.loading.catch(() => {})
    entries.set(id, entry)
    setState(entry, 'loading', previous)
    return entry
  }

  const giveBack = (entry: Entry<T>) => {
    entry.inUse--
    entry.lastUsed = now()
    entry.useSeq = ++seq
    if (closed && entry.inUse === 0) void unloadEntry(entry)
    else if (entry.inUse === 0) armIdle(entry)
    wakeRoomWaiters()
  }

  const leaseOf = (entry: Entry<T>): Lease<T> => {
    // A running idle countdown stays: it finds the model in use, or used too recently, and waits on.
    // No clock read here: lastUsed is when a use ended (giveBack), and a model in use is never
    // idle, so the recency order (useSeq) is all a lease needs (for blend, ~50 µs a run, every
    // step of the engine's path counts).
    entry.inUse++
    entry.useSeq = ++seq
    return new PoolLease(entry, giveBack)
  }

  /**
   * Wait for a load and take the lease in the same turn it completes. While callers wait on a load
   * the entry counts as spoken for, so another caller's makeRoom cannot evict it in between (two
   * models sharing a small budget would otherwise evict each other's fresh load for ever).
   */
  const leaseWhenLoaded = async (
    entry: Entry<T>,
    signal: AbortSignal | undefined,
  ): Promise<Lease<T> | undefined> => {
    entry.waiting++
    try {
      await waitFor(entry.loading as Promise<T>, {
        signal,
        timeoutMs: waitTimeoutMs,
        what: `loading model "${entry.id}"`,
      })
    } finally {
      entry.waiting--
    }
    return entry.state === 'warm' && entries.get(entry.id) === entry ? leaseOf(entry) : undefined
  }

  const acquire = async (id: string, signal?: AbortSignal): Promise<Lease<T>> => {
    for (;;) {
      if (closed) throw new EngineClosedError()
      throwIfAborted(signal, `loading model "${id}"`)
      const entry = entries.get(id)
      if (entry?.state === 'warm') return leaseOf(entry)
      if (entry?.state === 'loading') {
        const lease = await leaseWhenLoaded(entry, signal)
        if (lease !== undefined) return lease
        continue
      }
      const bytes = components.sizeOf(id)
      if (bytes > budget) throw new BudgetTooSmallError(id, bytes, budget)
      if (!makeRoom(id, bytes)) {
        await waitForRoom(signal, id)
        continue
      }
      const lease = await leaseWhenLoaded(startLoad(id, bytes), signal)
      if (lease !== undefined) return lease
    }
  }

  return {
    on: (name, listener) => events.on(name, listener),
    off: (name, listener) => events.off(name, listener),
    acquire: (id, opts) => acquire(id, opts?.signal),
    tryAcquire(id) {
      const entry = entries.get(id)
      return !closed && entry?.state === 'warm' ? leaseOf(entry) : undefined
    },
    async warm(id, opts) {
      const lease = await acquire(id, opts?.signal)
      lease.release()
    },
    pin(id) {
      if (pins.has(id)) return
      const bytes = components.sizeOf(id)
      if (bytes > budget) throw new BudgetTooSmallError(id, bytes, budget)
      let pinnedBytes = 0
      for (const p of pins) pinnedBytes += sizeOrZero(p)
      if (pinnedBytes + bytes > budget)
        throw new BudgetExhaustedError(id, bytes, budget - pinnedBytes, budget)
      pins.add(id)
      const entry = entries.get(id)
      if (entry !== undefined) stopIdle(entry)
    },
    unpin(id) {
      pins.delete(id)
      const entry = entries.get(id)
      if (entry?.state === 'warm') armIdle(entry)
      wakeRoomWaiters()
    },
    async unload(id) {
      const entry = entries.get(id)
      if (entry?.state !== 'warm' || entry.inUse > 0 || entry.waiting > 0) return false
      await unloadEntry(entry)
      return true
    },
    status(id) {
      const e = entries.get(id)
      const pinned = pins.has(id)
      if (e === undefined) return { state: 'available', pinned }
      return { state: e.state, pinned, lastUsed: e.lastUsed, ...(e.error ? { error: e.error } : {}) }
    },
    report() {
      const warm: WarmModelReport[] = []
      const loading: string[] = []
      for (const e of entries.values()) {
        if (e.state === 'warm') {
          warm.push({
            id: e.id,
            bytes: e.bytes,
            pinned: pins.has(e.id),
            inUse: e.inUse,
            lastUsed: e.lastUsed,
          })
        } else if (e.state === 'loading') loading.push(e.id)
      }
      return { budgetBytes: budget, usedBytes: usedBytes(), warm, loading }
    },
    async close() {
      if (closed) return
      closed = true
      wakeRoomWaiters()
      const idle = [...entries.values()].filter((e) => e.state === 'warm' && e.inUse === 0)
      await Promise.all(idle.map((e) => unloadEntry(e)))
    },
  }
}
