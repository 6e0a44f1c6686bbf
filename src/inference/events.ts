/** A minimal typed event emitter: `on` returns its own unsubscribe, listeners never break the emitter. */
export type Listener<T> = (event: T) => void

export interface TypedEvents<M extends object> {
  on<K extends keyof M>(name: K, listener: Listener<M[K]>): () => void
  off<K extends keyof M>(name: K, listener: Listener<M[K]>): void
}

export class TypedEmitter<M extends object> implements TypedEvents<M> {
  private readonly listeners = new Map<keyof M, Set<Listener<never>>>()

  on<K extends keyof M>(name: K, listener: Listener<M[K]>): () => void {
    let set = this.listeners.get(name)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(name, set)
    }
    set.add(listener as Listener<never>)
    return () => this.off(name, listener)
  }

  off<K extends keyof M>(name: K, listener: Listener<M[K]>): void {
    this.listeners.get(name)?.delete(listener as Listener<never>)
  }

  emit<K extends keyof M>(name: K, event: M[K]): void {
    for (const l of this.listeners.get(name) ?? []) {
      try {
        ;(l as Listener<M[K]>)(event)
      } catch {
        // A faulty listener must not stop the engine or the other listeners.
      }
    }
  }
}
