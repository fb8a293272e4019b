/**
 * Per-neighbour token buckets of the member view (issue 13): what one neighbour may make this
 * node do with what it sends. Two are kept: signature checks of statements new to this node
 * (STATEMENT_CHECKS_*), and statements handled in full exchanges, known or not
 * (`membership.syncStatementsPerInterval`). Bounded: past MAX_TRACKED neighbours, those whose
 * buckets are full again are forgotten (a full bucket is what a new one starts with).
 */
import { TokenBucket } from '../core/token-bucket.js'

const MAX_TRACKED = 1_024

export class NeighbourBudgets {
  private readonly buckets = new Map<string, TokenBucket>()

  /** `capacity` tokens at most, refilled at `perSec`. */
  constructor (readonly capacity: number, readonly perSec: number) {}

  /** Takes `n` tokens of `peer`'s bucket and returns 0, or takes none and returns the ms until they are there. */
  take (peer: string, n: number, now: number): number {
    let b = this.buckets.get(peer)
    if (b === undefined) {
      if (this.buckets.size >= MAX_TRACKED) for (const [p, x] of this.buckets) if (x.full(now)) this.buckets.delete(p)
      b = new TokenBucket(this.perSec, this.capacity, now)
      this.buckets.set(peer, b)
    }
    return b.take(n, now)
  }

  /** The tokens `peer` has left at `now`, taking none (a neighbour not yet met: a full bucket). */
  room (peer: string, now: number): number {
    return this.buckets.get(peer)?.available(now) ?? this.capacity
  }
}
