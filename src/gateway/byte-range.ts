/**
 * HTTP byte ranges (RFC 9110 §14) for the files the gateway serves, so a video player can seek in
 * a job's output without downloading all of it. One range only: a request for several gets the
 * whole file, which the RFC allows.
 */

/** Inclusive byte offsets. */
export interface ByteRange {
  start: number
  end: number
}

/**
 * The range a `Range` header asks for in a file of `size` bytes: undefined to send the whole file
 * (no header, another unit, several ranges, or a header we do not read), 'unsatisfiable' when it
 * starts past the end (answer 416).
 */
export function requestedRange(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (match === null) return undefined
  const [, first, last] = match as unknown as [string, string, string]
  if (first === '' && last === '') return undefined
  if (first === '') {
    // A suffix: the last `last` bytes.
    const length = Number(last)
    if (length === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - length), end: size - 1 }
  }
  const start = Number(first)
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1)
  if (start >= size) return 'unsatisfiable'
  if (end < start) return undefined
  return { start, end }
}
