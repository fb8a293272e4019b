/**
 * How long a peer (or a host) refused admission is kept out (issue 43): REFUSAL_COOLDOWN_MS after
 * its first refusal, doubled at each refusal after it, up to REFUSAL_COOLDOWN_MAX_MS; refusals
 * are forgotten REFUSAL_MEMORY_MS after the last one. Pure: the caller gives the time and applies
 * the answer (node/admission.ts, through the connection gate). At most MAX_REFUSALS_KEPT keys are
 * held, the oldest dropped first, so a flood of new peer ids costs bounded memory.
 */
import { MAX_REFUSALS_KEPT, REFUSAL_COOLDOWN_MAX_MS, REFUSAL_COOLDOWN_MS, REFUSAL_MEMORY_MS } from './constants.js'

interface Strikes { count: number, last: number }

export class RefusalBackoff {
  private readonly strikes = new Map<string, Strikes>()

  constructor (
    private readonly first = REFUSAL_COOLDOWN_MS,
    private readonly max = REFUSAL_COOLDOWN_MAX_MS,
    private readonly memory = REFUSAL_MEMORY_MS,
    private readonly keep = MAX_REFUSALS_KEPT
  ) {}

  /** One more refusal of `key` at `now`: how long it is kept out from now. */
  strike (key: string, now: number): number {
    const known = this.strikes.get(key)
    const count = known !== undefined && now - known.last < this.memory ? known.count + 1 : 1
    // Re-inserted, so the map's order stays oldest-refused first for the bound.
    this.strikes.delete(key)
    this.strikes.set(key, { count, last: now })
    if (this.strikes.size > this.keep) this.strikes.delete(this.strikes.keys().next().value as string)
    return Math.min(this.max, this.first * 2 ** Math.min(count - 1, 30))
  }

  /** Refusals of `key` remembered now (0: none, or forgotten). */
  count (key: string, now: number): number {
    const known = this.strikes.get(key)
    return known !== undefined && now - known.last < this.memory ? known.count : 0
  }
}
