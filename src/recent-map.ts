/**
 * Bounded caches kept in a Map's insertion order: the first key is the least recently set, so
 * dropping it is dropping the oldest. One place for what several caches do per entry.
 */

/** Sets `key` as the most recent entry of `map`, then drops the oldest while there are more than `max`. */
export function setMostRecent<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  while (map.size > max) map.delete(map.keys().next().value as K)
}
