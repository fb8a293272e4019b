/**
 * The token bucket of every rate limit in agentmesh (issue 41: it was written twice, in
 * protocols/rpc/limits.ts and protocols/pubsub/batcher.ts). Tokens refill continuously at `rate`
 * a second up to `capacity`, in fractions (no rounding of the refill; only waits are rounded up
 * to whole ms). Pure: every call is given the time in ms, from whichever clock its caller keeps to
 * (rpc's limits and the member budgets: Date.now; pubsub's batcher: performance.now). Two ways to
 * take:
 * - `take`: all or nothing (rpc's per-peer limits, negotiation's streams, the member budgets);
 * - `spend` and `charge`: into debt (pubsub's batches, which go out whatever they cost once
 *   started, and are paid for by waiting after).
 */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor (readonly rate: number, readonly capacity: number, now: number) {
    this.tokens = capacity
    this.last = now
  }

  /** The whole tokens there at `now`, taking none. */
  available (now: number): number { return Math.floor(this.at(now)) }

  /** The tokens there at `now` (not stored). */
  private at (now: number): number {
    return Math.min(this.capacity, this.tokens + (now - this.last) * this.rate / 1000)
  }

  private refill (now: number): void {
    this.tokens = this.at(now)
    this.last = now
  }

  /** Ms until `n` tokens are there (the bucket just refilled); at least 1 when they are not. */
  private wait (n: number): number {
    return this.tokens >= n ? 0 : Math.max(1, Math.ceil((n - this.tokens) * 1000 / this.rate))
  }

  /**
   * Takes `n` tokens and returns 0, or takes none and returns the ms until `n` are there. More
   * than the bucket holds counts as a full bucket: a weight the limit cannot hold at all (a batch
   * larger than a second's requests) waits for a full bucket instead of being refused for ever.
   */
  take (wanted: number, now: number): number {
    const n = Math.min(wanted, this.capacity)
    this.refill(now)
    if (this.tokens >= n) { this.tokens -= n; return 0 }
    return this.wait(n)
  }

  /** Takes `n` tokens, into debt if they are not there. */
  spend (n: number, now: number): void {
    this.refill(now)
    this.tokens -= n
  }

  /** Takes `n` once a token is there (into debt for the rest): false, taking nothing, while there is none. */
  charge (n: number, now: number): boolean {
    this.refill(now)
    if (this.tokens < 1) return false
    this.tokens -= n
    return true
  }

  /** A token is there to take. */
  ready (now: number): boolean {
    this.refill(now)
    return this.tokens >= 1
  }

  /** Ms until a token is there: 0 if one is. */
  msUntilNext (now: number): number {
    this.refill(now)
    return this.wait(1)
  }

  /** How full the bucket is now, from 0 to 1 (below 0 in debt). */
  level (now: number): number {
    return this.at(now) / this.capacity
  }

  /** Full again: nothing to remember about whoever it limits. */
  full (now: number): boolean {
    return this.at(now) >= this.capacity
  }
}
