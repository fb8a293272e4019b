/**
 * A digest's version-2 sums (member-digest.ts) kept ready, pure: each member's fingerprint in
 * columns by its slot in the member table (`MemberTable.slotOf`), with whether its statement is
 * held and whether it is live (alive or suspect), so a round's sums are one walk of numbers
 * mixed with the round's salt, no map read and no string hashed or built.
 *
 * Why columns: the sums are computed by the asker and the answerer of every exchange, every
 * `syncIntervalMs`, over the whole view. Built from the held statements (`Rumours.entries`:
 * an array of N pairs, N map reads and N salted string hashes), that was a third of the scale
 * simulation's CPU at 1,000 agents, and N² in all. Here it is N integer mixes, and what the
 * columns cost per (agent, member) pair is 9 bytes (two 32-bit words and one byte of bucket and
 * flags).
 *
 * What it sums is what `entries` gave: this node's own statement, and that of each member held
 * live. Its owner keeps the two in step: `hold` when a statement is taken (with its slot),
 * `live` on each change of state the table tells (`MemberTableInit.slots`), `free` when a
 * slot is let go (a reaped member: the slot goes to another peer).
 */
import { bucketOf, DIGEST_BUCKETS, saltWords, share, type Entry, type Fingerprint } from './member-digest.js'

/** The byte per slot: the bucket in the low six bits, then two flags. */
const BUCKET = DIGEST_BUCKETS - 1
const HELD = 64
const LIVE = 128

export class DigestSums {
  private lo = new Uint32Array(0)
  private hi = new Uint32Array(0)
  private meta = new Uint8Array(0)
  /** Slots below it may be in use (the walk's end). */
  private end = 0
  private own?: { bucket: number, fp: Fingerprint }

  /** This node's own statement, always given. */
  setOwn (member: string, fp: Fingerprint): void { this.own = { bucket: bucketOf(member), fp } }

  /** The statement held of the member in `slot` is now the one of `fp` (its seq changed). */
  hold (slot: number, member: string, fp: Fingerprint): void {
    this.room(slot)
    this.lo[slot] = fp.lo
    this.hi[slot] = fp.hi
    this.meta[slot] = (this.meta[slot] & LIVE) | HELD | bucketOf(member)
  }

  /** The member in `slot` became live (alive, suspect) or not (offline, left). */
  live (slot: number, live: boolean): void {
    this.room(slot)
    this.meta[slot] = live ? this.meta[slot] | LIVE : this.meta[slot] & ~LIVE
  }

  /** The slot is let go: nothing of its member is summed, and the next peer in it starts blank. */
  free (slot: number): void { if (slot < this.meta.length) this.meta[slot] = 0 }

  /** The sums under a version-2 salt (member-digest.ts `saltWords`; '' for none). */
  sums (salt = ''): Uint32Array {
    const [s0, s1] = saltWords(salt)
    const out = new Uint32Array(DIGEST_BUCKETS)
    if (this.own !== undefined) out[this.own.bucket] ^= share(this.own.fp.lo, this.own.fp.hi, s0, s1)
    const { lo, hi, meta } = this
    for (let i = 0; i < this.end; i++) {
      const m = meta[i]
      if ((m & (HELD | LIVE)) === (HELD | LIVE)) out[m & BUCKET] ^= share(lo[i], hi[i], s0, s1)
    }
    return out
  }

  /**
   * What the sums cover in `buckets` only, as entries (member, seq): this node's own (`self`) and
   * each member held live whose bucket is listed, in slot order. What an exchange lists and
   * reconciles once some buckets differ: the whole view was walked for it (`Rumours.entries`, an
   * array of every member with a map read each, then filtered by bucket), N per round of every
   * exchange with a difference (a join wave, a crash: ~15-30% of bench:sim's CPU at 1,000 agents).
   * Here the walk is of one byte per slot, and only the members listed are looked up.
   * `peerAt`: the member in a slot (the table's); `seq`: the seq of its statement held.
   */
  entriesIn (buckets: ReadonlySet<number>, self: string, peerAt: (slot: number) => string | undefined, seq: (member: string) => number | undefined): Entry[] {
    const out: Entry[] = []
    if (buckets.size === 0) return out
    if (this.own !== undefined && buckets.has(this.own.bucket)) {
      const own = seq(self)
      if (own !== undefined) out.push([self, own])
    }
    const listed = new Uint8Array(DIGEST_BUCKETS)
    for (const b of buckets) if (b >= 0 && b < DIGEST_BUCKETS) listed[b] = 1
    const meta = this.meta
    for (let i = 0; i < this.end; i++) {
      const m = meta[i]
      if ((m & (HELD | LIVE)) !== (HELD | LIVE) || listed[m & BUCKET] === 0) continue
      const member = peerAt(i)
      const at = member === undefined ? undefined : seq(member)
      if (member !== undefined && at !== undefined) out.push([member, at])
    }
    return out
  }

  /** A quarter more room at a time, as the failure detector's columns grow (it hands out the slots). */
  private room (slot: number): void {
    if (slot >= this.end) this.end = slot + 1
    if (slot < this.meta.length) return
    const capacity = Math.max(16, slot + 1, Math.ceil(this.meta.length * 1.25))
    const lo = new Uint32Array(capacity); lo.set(this.lo); this.lo = lo
    const hi = new Uint32Array(capacity); hi.set(this.hi); this.hi = hi
    const meta = new Uint8Array(capacity); meta.set(this.meta); this.meta = meta
  }
}
