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
 * columns cost per (agent, member) pair is 18 bytes (two 32-bit words of the fingerprint, the
 * statement's seq, one byte of bucket and flags, and one of its place in the bucket: the
 * digest's third version sums a bucket by cell).
 *
 * The seq is kept beside its fingerprint so that a listing (`entriesIn`) reads no map: with a
 * map read of the held statements per entry listed, the listings of a join wave (a newcomer's
 * first exchange lists its neighbour's whole view) were a fifth of bench:sim's CPU in the join's
 * first seconds at 3,000 agents, `Rumours.seq` alone a tenth.
 *
 * What it sums is what `entries` gave: this node's own statement, and that of each member held
 * live. Its owner keeps the two in step: `hold` when a statement is taken (with its slot),
 * `live` on each change of state the table tells (`MemberTableInit.slots`), `free` when a
 * slot is let go (a reaped member: the slot goes to another peer).
 */
import { areaOf, Areas, AREAS, BUCKET_CELLS, cellOf, chooseBuckets, DIGEST_BUCKETS, saltWords, share, type Entry, type Fingerprint, type Listed } from './member-digest.js'

/** The byte per slot: the bucket in the low six bits, then two flags. */
const BUCKET = DIGEST_BUCKETS - 1
const HELD = 64
const LIVE = 128

/** A listing's count of entries by area, and each listed area's next place. */
const listingScratch = { counts: new Uint32Array(AREAS), next: new Int32Array(AREAS) }

export class DigestSums {
  private lo = new Uint32Array(0)
  private hi = new Uint32Array(0)
  private meta = new Uint8Array(0)
  /** Each slot's place in its bucket (member-digest.ts `cellOf`, the bits above the bucket's): its cell is `sub << 6 | bucket`. */
  private sub = new Uint8Array(0)
  /**
   * What each bucket's sum covers, counted (this node's own statement too): an answerer compares
   * by cell only buckets this large, and an asker's total tells it how far behind the asker is
   * (member-digest.ts `byCells`).
   */
  private readonly counted = new Uint32Array(DIGEST_BUCKETS)
  /** The seq of the statement held in each slot (a seq may pass 2^32: a node's are milliseconds). */
  private seqs = new Float64Array(0)
  /** Slots below it may be in use (the walk's end). */
  private end = 0
  /**
   * The sums with no salt, kept as slots change (each change XORs its share out and in), without
   * this node's own, when asked for (`keepUnsalted`): the simulation draws no salt, and walking
   * 10,000 members for each of the exchanges' sums was 3.5% of bench:sim's CPU in a 10,000-agent
   * join (issue 46). A node's rounds are salted, and walk: it keeps none, and a statement it takes
   * costs it no share computed for them.
   */
  private readonly plain?: Uint32Array

  /** The room the table's columns have (`MemberTable.slotCapacity`): these grow to it at once. */
  private readonly capacity?: () => number

  constructor (options: { keepUnsalted?: boolean, capacity?: () => number } = {}) {
    if (options.keepUnsalted === true) this.plain = new Uint32Array(DIGEST_BUCKETS)
    if (options.capacity !== undefined) this.capacity = options.capacity
  }

  private own?: { bucket: number, cell: number, fp: Fingerprint, seq: number }

  /** This node's own statement (numbered `seq`), always given. */
  setOwn (member: string, fp: Fingerprint, seq: number): void {
    if (this.own !== undefined) this.counted[this.own.bucket]--
    const cell = cellOf(member)
    this.own = { bucket: cell & BUCKET, cell, fp, seq }
    this.counted[this.own.bucket]++
  }

  /** The statement held of the member in `slot` is now the one numbered `seq`, of fingerprint `fp`. */
  hold (slot: number, member: string, fp: Fingerprint, seq: number): void {
    this.room(slot)
    this.xorShare(slot, -1)
    const cell = (this.meta[slot] & HELD) !== 0 ? -1 : cellOf(member)
    this.lo[slot] = fp.lo
    this.hi[slot] = fp.hi
    this.seqs[slot] = seq
    // A slot's member is the same until it is freed: its cell is hashed once.
    if (cell >= 0) { this.meta[slot] = (this.meta[slot] & LIVE) | HELD | (cell & BUCKET); this.sub[slot] = cell >>> 6 }
    this.xorShare(slot, 1)
  }

  /** The member in `slot` became live (alive, suspect) or not (offline, left). */
  live (slot: number, live: boolean): void {
    this.room(slot)
    this.xorShare(slot, -1)
    this.meta[slot] = live ? this.meta[slot] | LIVE : this.meta[slot] & ~LIVE
    this.xorShare(slot, 1)
  }

  /** The slot is let go: nothing of its member is summed, and the next peer in it starts blank. */
  free (slot: number): void {
    if (slot >= this.meta.length) return
    this.xorShare(slot, -1)
    this.meta[slot] = 0
    this.sub[slot] = 0
  }

  /** The slot's share taken out of the kept unsalted sums and its bucket's count (-1), or put back (an XOR, +1), if it is summed. */
  private xorShare (slot: number, sign: 1 | -1): void {
    const m = this.meta[slot]
    if ((m & (HELD | LIVE)) !== (HELD | LIVE)) return
    this.counted[m & BUCKET] += sign
    if (this.plain !== undefined) this.plain[m & BUCKET] ^= share(this.lo[slot], this.hi[slot], 0, 0)
  }

  /** How many entries each bucket's sum covers (a copy). */
  counts (): Uint32Array { return Uint32Array.from(this.counted) }

  /** How many entries the sums cover in all. */
  count (): number {
    let n = 0
    for (const c of this.counted) n += c
    return n
  }

  /**
   * The sums of `buckets` by cell under a version-2 salt, 64 a bucket in `buckets`' order: what
   * an asker sends of the buckets its answerer would not list whole, and what the answerer
   * compares them with (member-exchange.ts). One walk of the view for all of them.
   */
  cellSums (buckets: readonly number[], salt = ''): Uint32Array[] {
    const [s0, s1] = saltWords(salt)
    const out = buckets.map(() => new Uint32Array(BUCKET_CELLS))
    const at = new Int8Array(DIGEST_BUCKETS).fill(-1)
    buckets.forEach((b, i) => { if (b >= 0 && b < DIGEST_BUCKETS && at[b] < 0) at[b] = i })
    const own = this.own
    if (own !== undefined && at[own.bucket] >= 0) out[at[own.bucket]][own.cell >>> 6] ^= share(own.fp.lo, own.fp.hi, s0, s1)
    const { lo, hi, meta, sub } = this
    for (let i = 0; i < this.end; i++) {
      const m = meta[i]
      if ((m & (HELD | LIVE)) !== (HELD | LIVE)) continue
      const k = at[m & BUCKET]
      if (k >= 0) out[k][sub[i]] ^= share(lo[i], hi[i], s0, s1)
    }
    return out
  }

  /** The sums under a version-2 salt (member-digest.ts `saltWords`; '' for none). */
  sums (salt = ''): Uint32Array {
    const [s0, s1] = saltWords(salt)
    if (s0 === 0 && s1 === 0 && this.plain !== undefined) {
      const out = Uint32Array.from(this.plain)
      if (this.own !== undefined) out[this.own.bucket] ^= share(this.own.fp.lo, this.own.fp.hi, 0, 0)
      return out
    }
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
   * Here the walk is of one byte per slot, and each member listed is one read of the table's
   * slots (`peerAt`: the member in a slot) and none of a map.
   */
  entriesIn (areas: ReadonlySet<number>, self: string, peerAt: (slot: number) => string | undefined): Entry[] {
    const out: Entry[] = []
    this.eachIn(new Areas(areas), self, peerAt, (member, seq) => { out.push([member, seq]); return true })
    return out
  }

  /**
   * `entriesIn`'s entries given one at a time to `visit`, until it answers false (member-digest.ts
   * `EntryWalk`): an asker's gives are found by walking its view, and a newcomer's neighbour has
   * all of it to give where one patch carries ~1,500. Made as a list, the asker's walk (with its
   * garbage) was a fifth of bench:sim's CPU in a 10,000-agent join's first seconds.
   */
  eachIn (
    areas: Areas, self: string, peerAt: (slot: number) => string | undefined, visit: (member: string, seq: number, slot?: number) => boolean
  ): void {
    if (areas.size === 0) return
    if (this.own !== undefined && areas.hasCell(this.own.cell) && !visit(self, this.own.seq)) return
    const { whole, cells } = areas
    const { meta, seqs, sub } = this
    for (let i = 0; i < this.end; i++) {
      const m = meta[i]
      if ((m & (HELD | LIVE)) !== (HELD | LIVE) || (whole[m & BUCKET] === 0 && cells[(sub[i] << 6) | (m & BUCKET)] === 0)) continue
      const member = peerAt(i)
      if (member !== undefined && !visit(member, seqs[i], i)) return
    }
  }

  /**
   * The seq of the statement held in `slot`, if one is (what `Rumours.seq` says of its member, read
   * from a column rather than a map: an asker reads it for each entry a listing names, member-digest.ts
   * `Listing.wanted`).
   */
  seqAt (slot: number): number | undefined {
    return slot >= 0 && slot < this.meta.length && (this.meta[slot] & HELD) !== 0 ? this.seqs[slot] : undefined
  }

  /**
   * What an answer to a digest lists (member-digest.ts `listDiffering` over `entriesIn(buckets)`,
   * the same entries in the same order, with the same draw of `random`), as two columns (each
   * entry's member and seq, `Listed`): whole areas of `buckets` (buckets, and cells alone:
   * member-digest.ts `Areas`), at most `max` entries. The areas are counted first, by one walk
   * of two bytes per slot, and only the entries of those taken are placed, each at its area's
   * next place. A join wave's listing is of every bucket (a
   * newcomer's sums differ in all), and at 10,000 agents a view is over SYNC_MAX_STATEMENTS (4,096):
   * listing all and keeping what fitted made 10,000 entries for ~4,000 kept, and `entriesIn` with
   * its garbage was half of bench:sim's CPU in the join's first seconds. As columns, a listing is
   * two arrays, not an array per entry (the node makes the wire's pairs from them as it answers).
   */
  listing (
    buckets: ReadonlySet<number>, max: number, random: () => number, self: string, peerAt: (slot: number) => string | undefined
  ): Listed & { buckets: number[], more: boolean } {
    if (buckets.size === 0) return { members: [], seqs: new Float64Array(0), slots: new Int32Array(0), buckets: [], more: false }
    // Kept from one listing to the next (a listing is made within one turn): two arrays of AREAS a listing were garbage.
    const { counts, next } = listingScratch
    counts.fill(0)
    next.fill(-1)
    const { whole, cells } = new Areas(buckets)
    const ownArea = this.own === undefined ? -1 : areaOf(this.own.cell, whole, cells)
    const own = ownArea >= 0 ? this.own : undefined
    if (own !== undefined) counts[ownArea]++
    const { meta, seqs, sub } = this
    for (let i = 0; i < this.end; i++) {
      const m = meta[i]
      if ((m & (HELD | LIVE)) !== (HELD | LIVE)) continue
      const area = areaOf((sub[i] << 6) | (m & BUCKET), whole, cells)
      if (area >= 0 && peerAt(i) !== undefined) counts[area]++
    }
    const { listed, more } = chooseBuckets(b => b >= 0 && b < AREAS ? counts[b] : 0, buckets, max, random)
    // Each listed area's entries from its place on, in the order entriesIn gives them (this
    // node's own first, then by slot), the areas in `listed`'s order.
    let total = 0
    for (const b of listed) if (b >= 0 && b < AREAS) { next[b] = total; total += counts[b] }
    const out = { members: new Array<string>(total), seqs: new Float64Array(total), slots: new Int32Array(total) }
    const place = (bucket: number, member: string, seq: number, slot: number): void => {
      const at = next[bucket]++
      out.members[at] = member
      out.seqs[at] = seq
      out.slots[at] = slot
    }
    if (own !== undefined && next[ownArea] >= 0) place(ownArea, self, own.seq, -1)
    for (let i = 0; i < this.end; i++) {
      const m = meta[i]
      if ((m & (HELD | LIVE)) !== (HELD | LIVE)) continue
      const area = areaOf((sub[i] << 6) | (m & BUCKET), whole, cells)
      if (area < 0 || next[area] < 0) continue
      const member = peerAt(i)
      if (member !== undefined) place(area, member, seqs[i], i)
    }
    return { ...out, buckets: listed, more }
  }

  /** A quarter more room at a time, or the table's (`capacity`), as the failure detector's columns grow (it hands out the slots). */
  private room (slot: number): void {
    if (slot >= this.end) this.end = slot + 1
    if (slot < this.meta.length) return
    const capacity = Math.max(16, slot + 1, Math.ceil(this.meta.length * 1.25), this.capacity?.() ?? 0)
    const lo = new Uint32Array(capacity); lo.set(this.lo); this.lo = lo
    const hi = new Uint32Array(capacity); hi.set(this.hi); this.hi = hi
    const meta = new Uint8Array(capacity); meta.set(this.meta); this.meta = meta
    const sub = new Uint8Array(capacity); sub.set(this.sub); this.sub = sub
    const seqs = new Float64Array(capacity); seqs.set(this.seqs); this.seqs = seqs
  }
}
