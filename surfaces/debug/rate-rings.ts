/**
 * Counts per key over the last few minutes, in fixed buckets (by default 60 buckets of 5 s: the
 * last 5 minutes): what the live page draws as a sparkline per agent and per
 * topic. Pure: the clock is passed in. Bounded whatever the traffic: `buckets` numbers per key and
 * at most `maxKeys` keys (past it, new keys share one series under OTHER_KEYS), and a key whose
 * buckets are all zero again is dropped at the next `prune`.
 */

/** Where keys past the cap are counted together. */
export const OTHER_KEYS = '(others)'

interface Ring { counts: Float64Array, last: number }

export class RateRings {
  private readonly rings = new Map<string, Ring>()

  constructor (readonly bucketMs = 5_000, readonly buckets = 60, readonly maxKeys = 1_024) {}

  /** Count `n` for `key` at `now` (n may be fractional: a rate times the seconds it held). */
  add (key: string, n: number, now: number): void {
    if (n <= 0 || !Number.isFinite(n)) return
    let ring = this.rings.get(key)
    if (ring === undefined) {
      const k = this.rings.size < this.maxKeys ? key : OTHER_KEYS
      ring = this.rings.get(k)
      if (ring === undefined) {
        ring = { counts: new Float64Array(this.buckets), last: this.bucketOf(now) }
        this.rings.set(k, ring)
      }
    }
    this.advance(ring, now)
    ring.counts[ring.last % this.buckets] += n
  }

  /**
   * The key's rates per second over the complete buckets before `now`, oldest first (`buckets`
   * numbers, one decimal). The bucket still filling is left out: it would always dip at the end.
   */
  series (key: string, now: number): number[] {
    const out = new Array<number>(this.buckets).fill(0)
    const ring = this.rings.get(key)
    if (ring === undefined) return out
    const current = this.bucketOf(now)
    const perSec = 1_000 / this.bucketMs
    for (let i = 0; i < this.buckets; i++) {
      // out[i] is bucket current - buckets + i: the last one is current - 1.
      const b = current - this.buckets + i
      if (b > ring.last || b <= ring.last - this.buckets) continue
      out[i] = Math.round(ring.counts[b % this.buckets] * perSec * 10) / 10
    }
    return out
  }

  /** Sum of the key's counts in the complete buckets kept (for sorting busiest first). */
  total (key: string, now: number): number {
    return this.series(key, now).reduce((s, x) => s + x, 0)
  }

  keys (): string[] { return [...this.rings.keys()] }

  forget (key: string): void { this.rings.delete(key) }

  /** Drops the keys with nothing counted in the buckets kept, so gone agents and topics free their place. */
  prune (now: number): void {
    const current = this.bucketOf(now)
    for (const [key, ring] of this.rings) if (ring.last <= current - this.buckets) this.rings.delete(key)
  }

  private bucketOf (now: number): number { return Math.floor(now / this.bucketMs) }

  /** Moves the ring to `now`'s bucket, zeroing the buckets skipped (at most all of them). */
  private advance (ring: Ring, now: number): void {
    const b = this.bucketOf(now)
    if (b <= ring.last) return
    const skip = Math.min(b - ring.last, this.buckets)
    for (let i = 1; i <= skip; i++) ring.counts[(ring.last + i) % this.buckets] = 0
    ring.last = b
  }
}
