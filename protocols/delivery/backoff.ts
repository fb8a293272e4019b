/** The retry schedule of a reliable message: exponential, capped, with jitter (R-REL). */
import { jittered } from '../core/jitter.js'

export interface RetryPolicy {
  /** Retries after the first attempt (so maxRetries + 1 attempts in all). */
  maxRetries: number
  initialDelayMs: number
  maxDelayMs: number
  /** Each delay is drawn within ± this fraction of itself. */
  jitter: number
}

/**
 * The wait before retry number `retry` (1 = the first retry): initialDelayMs doubled per retry,
 * capped at maxDelayMs, then spread by the jitter. Never below 1 ms: a failure that comes back at
 * once (a refused dial) still waits its turn instead of burning the retries in a loop.
 */
export function retryDelay (retry: number, p: RetryPolicy, random: () => number = Math.random): number {
  const base = Math.min(p.maxDelayMs, p.initialDelayMs * 2 ** Math.max(0, retry - 1))
  return Math.max(1, Math.round(jittered(base, p.jitter, random)))
}
