/**
 * Waiting, with a bound, for work already under way: a stop that lets in-flight requests or
 * handlers finish, but not for ever.
 */

/**
 * Resolves true once every promise in `pending` has settled, or false after `timeoutMs` if some
 * have not. Rejections count as settled. A Set passed in is read when called: promises added to it
 * later are not waited for.
 */
export async function settledWithin(
  pending: Iterable<Promise<unknown>>,
  timeoutMs: number,
): Promise<boolean> {
  const all = [...pending]
  if (all.length === 0) return true
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([
      Promise.allSettled(all).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
