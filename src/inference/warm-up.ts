/**
 * The warm-up's timing loop, shared by the main thread's probe (session.ts) and a session
 * thread's (session-thread.ts). It proves the model runs before it is served and, for runOn
 * 'auto', says how long a small run takes.
 */

/** Most warm-up runs timed for runOn 'auto'. */
export const WARM_UP_TRIES = 5

/**
 * Runs `run` once, or with `timeAgainstMs` > 0 up to WARM_UP_TRIES times, and returns the best
 * time. More than one try because one slow run may be the first run's one-time allocations or the
 * thread being descheduled on a busy machine; it stops at the first run under `timeAgainstMs`, or
 * once two runs show the model is clearly heavy (10× over).
 */
export async function timeWarmUp(run: () => Promise<unknown>, timeAgainstMs: number): Promise<number> {
  let best = Number.POSITIVE_INFINITY
  const tries = timeAgainstMs > 0 ? WARM_UP_TRIES : 1
  for (let i = 0; i < tries; i++) {
    if (i > 0 && (best < timeAgainstMs || (i >= 2 && best >= 10 * timeAgainstMs))) break
    const t0 = performance.now()
    await run()
    best = Math.min(best, performance.now() - t0)
  }
  return best
}
