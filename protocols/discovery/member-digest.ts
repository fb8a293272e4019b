/**
 * What a full member exchange compares before it sends any statement, pure (no I/O, no time).
 * Each side sums what it would give in an exchange, (member, seq) for its own statement and each
 * live member's, into DIGEST_BUCKETS buckets by member: each bucket the XOR of its entries'
 * 32-bit hashes. Two agents that hold the same statements send each other 64 sums and nothing
 * more; where a bucket differs, the answerer lists its (member, seq) entries of that bucket, and
 * only the statements one side lacks or holds older go across (members.ts, member-exchange.ts).
 *
 * Why: a full exchange carried every statement held (~350 B each, ~690 B with a closed mesh's
 * credential), so anti-entropy cost every agent bytes in proportion to the mesh (the simulation:
 * 4.6 KB/s per agent at 100 agents, ~35 KB/s from ~760 on), and a closed mesh past ~760 agents
 * did not fit one exchange. memberlist's push/pull has the same linear term and stretches its
 * interval by log N; a digest removes it where nothing differs, which is a mesh at rest.
 * A sum misses a difference when the XORs happen to agree (2^-32 a bucket, under a salt the asker
 * draws for each round): the next round shows it, and gossip carries news meanwhile.
 *
 * Two versions of the sums. The first (`$agentmesh/member-digest`) hashes each entry's text with
 * the salt, so every sum walks and hashes the whole view: at 1,000 agents a third of the scale
 * simulation's CPU, and N² in all since each of N agents does it every exchange. The second
 * (`$agentmesh/member-sums`, issue 46) hashes each (member, seq) once, when the statement is
 * taken (`fingerprint`, 64 bits of SHA-256), and a round mixes each kept fingerprint with its
 * salt by a few integer operations (`share`): still a walk of the view, but over two columns of
 * numbers (member-digest-sums.ts), no string built or hashed. The salt still matters: with no
 * salt, sums of XORs can be aimed (an agent picks its own seqs so that their share cancels
 * another's difference in the same bucket); the fingerprint is cryptographic so that aiming under
 * an unknown salt needs equal fingerprints. Two of an agent's own statements with equal ones cost
 * it a birthday search (~2^32 hashes each), and hide only its own statements, which it can also
 * hide by signing two bodies at one seq (neither version sums bodies); hitting an honest member's
 * fingerprint costs ~2^64 over the seqs that member could be at (seqs follow the clock, so a
 * window of them is guessable). A review of member-sums weighed both as low.
 *
 * The third version (`$agentmesh/member-cells`, issue 46) keeps the second's sums and adds a
 * second level: a large bucket that differs a little is summed again by cell and only the cells
 * that differ are listed (`answerAreas`, below).
 */

import { createHash } from 'node:crypto'

/** Buckets of a digest: 64 sums are 512 hex characters on the wire. */
export const DIGEST_BUCKETS = 64
/** A digest's sums on the wire: DIGEST_BUCKETS 32-bit sums, 8 hex digits each. */
export const DIGEST_TEXT_LENGTH = DIGEST_BUCKETS * 8

/** 32-bit FNV-1a of a string's UTF-16 code units: stable across builds and platforms, no crypto needed. */
function fnv1a (text: string, seed = 0x811c9dc5): number {
  let h = seed
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The bucket a member's entries fall in. */
export function bucketOf (member: string): number { return fnv1a(member) % DIGEST_BUCKETS }

/**
 * Cells of a bucket: a bucket too large to list whole when little in it differs is compared
 * again by cell (member-exchange.ts, the third version), 64 sums of it, and only the cells that
 * differ are listed. Why: a bucket holds N/64 members, and late in a join wave, or at a crash,
 * two neighbours' views differ by a few members in most buckets: at 1,000 agents three quarters
 * of the entries a join's answers listed were held by the asker at the same seq already
 * (bench:sim, issue 46), and the share grows with N (a bucket of 156 members at 10,000).
 */
export const BUCKET_CELLS = 64
/** Cells in all: a cell's number holds its bucket in the low six bits and its place in the bucket above them. */
export const DIGEST_CELLS = DIGEST_BUCKETS * BUCKET_CELLS
/**
 * What a listing covers, by area: 0-63 a whole bucket, CELL_AREA + a cell's number that cell
 * alone (a bucket compared by cell). An answer of the first two versions lists buckets only.
 */
export const CELL_AREA = DIGEST_BUCKETS
/** Area numbers are below it. */
export const AREAS = CELL_AREA + DIGEST_CELLS

/**
 * A member's cell: its bucket (`bucketOf`) in the low six bits, and above them six bits of the
 * same hash mixed again (murmur3's finaliser): FNV-1a's low bits barely depend on its high
 * ones, so its next six bits would split a bucket unevenly.
 */
export function cellOf (member: string): number {
  const h = fnv1a(member)
  let x = h
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b)
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35)
  x ^= x >>> 16
  return ((x >>> 26) << 6) | (h % DIGEST_BUCKETS)
}

/**
 * Entries a differing bucket holds, at least, for it to be compared by cell rather than listed
 * whole (a mesh of about 2,000 agents on). Comparing by cell costs a round trip and 64 sums a
 * bucket (~520 bytes, what ~7 entries listed cost): at 16, bench:sim at 1,000 agents (~16 a
 * bucket) sent as many bytes of exchange in its join as whole buckets did (957 KB an agent
 * against 937), and saw all 1.1 s later.
 */
export const CELLS_FROM = 32

/**
 * Whether an answerer has its asker compare a differing bucket by cell rather than listing it
 * whole: the bucket is large (`inBucket` entries here, at least CELLS_FROM) and the asker's sums
 * cover at least half as many entries in all as this node's (`theirs`, the count its digest
 * gave, against `ours`), so that little in it likely differs. A newcomer, far behind in every
 * bucket, is listed them whole, as before: comparing by cell would cost it a round trip and 64
 * sums a bucket to be listed nearly the same. One count for all buckets, not one each: a bucket's
 * share of a view is about the same everywhere (a hash of the member), and a digest at rest
 * carries it too (64 counts were 30% more bytes of exchange at rest, bench:sim at 1,000: 232 B/s an
 * agent against 179).
 */
export function byCells (inBucket: number, ours: number, theirs: number): boolean { return inBucket >= CELLS_FROM && theirs * 2 >= ours }

/** The areas of the cells that differ in each of `buckets` (CELL_AREA + cell), given both sides' sums by cell in `buckets`' order. */
export function differingCells (buckets: readonly number[], ours: readonly Uint32Array[], theirs: readonly Uint32Array[]): number[] {
  const out: number[] = []
  buckets.forEach((b, i) => {
    for (let c = 0; c < BUCKET_CELLS; c++) if (ours[i][c] !== theirs[i]?.[c]) out.push(CELL_AREA + ((c << 6) | b))
  })
  return out
}

/** A digest's sums as the answerer compares them (the third version adds the first two fields; the second and first send `sums` only). */
export interface Digest {
  readonly sums: Uint32Array
  /** How many entries the asker's sums cover in all. */
  readonly count?: number
  /** Buckets the answerer had compared by cell, with the asker's sums of each by cell (64 a bucket), in the same order. */
  readonly cells?: { readonly buckets: readonly number[], readonly sums: readonly Uint32Array[] }
}

/** The answerer's side of a comparison, under the round's salt (member-digest-sums.ts `DigestSums`). */
export interface OwnSums {
  sums: () => Uint32Array
  counts: () => Uint32Array
  cellSums: (buckets: readonly number[]) => Uint32Array[]
}

/**
 * What an answer to `theirs` lists, as areas (`Areas`): the buckets that differ, whole; of those
 * the asker sent by cell, the cells that differ; and the buckets it has the asker compare by cell
 * next round instead (`split`: `byCells`, given the asker's counts; none without counts, as the
 * second version answers).
 */
export function answerAreas (ours: OwnSums, theirs: Digest): { areas: Set<number>, split: number[] } {
  const areas = differing(ours.sums(), theirs.sums)
  const split: number[] = []
  if (areas.size === 0) return { areas, split }
  const cells = theirs.cells
  if (cells !== undefined) {
    const asked: number[] = []
    const sent: Uint32Array[] = []
    cells.buckets.forEach((b, i) => { if (areas.has(b) && !asked.includes(b)) { asked.push(b); sent.push(cells.sums[i]) } })
    if (asked.length > 0) {
      for (const b of asked) areas.delete(b)
      for (const a of differingCells(asked, ours.cellSums(asked), sent)) areas.add(a)
    }
  }
  if (theirs.count !== undefined) {
    const counts = ours.counts()
    let total = 0
    for (const n of counts) total += n
    for (const b of areas) {
      if (b < CELL_AREA && byCells(counts[b], total, theirs.count)) { areas.delete(b); split.push(b) }
    }
  }
  return { areas, split }
}

/** The area a cell is listed under in a listing of `wholeBuckets` and `cells` (two masks: a byte per bucket, a byte per cell), or -1. */
export function areaOf (cell: number, wholeBuckets: Uint8Array, cells: Uint8Array): number {
  if (wholeBuckets[cell & (DIGEST_BUCKETS - 1)] === 1) return cell & (DIGEST_BUCKETS - 1)
  return cells[cell] === 1 ? CELL_AREA + cell : -1
}

/**
 * Areas as two masks, a byte per bucket listed whole and a byte per cell listed alone (a cell
 * of a bucket listed whole is the bucket's): what a walk over the view reads per member or slot,
 * rather than a Set's lookup. Numbers outside the areas are ignored.
 */
export class Areas {
  readonly whole = new Uint8Array(DIGEST_BUCKETS)
  readonly cells = new Uint8Array(DIGEST_CELLS)
  /** Every bucket whole: nothing is left out. */
  readonly all: boolean
  readonly size: number

  constructor (areas: Iterable<number>) {
    let wholes = 0
    let size = 0
    for (const a of areas) {
      if (!Number.isInteger(a) || a < 0 || a >= AREAS) continue
      if (a < CELL_AREA) {
        if (this.whole[a] === 0) { this.whole[a] = 1; wholes++; size++ }
      } else if (this.cells[a - CELL_AREA] === 0) {
        this.cells[a - CELL_AREA] = 1
        size++
      }
    }
    this.all = wholes === DIGEST_BUCKETS
    this.size = size
  }

  /** Whether `member`'s entry is in these areas. */
  has (member: string): boolean { return this.all || this.hasCell(cellOf(member)) }

  /** Whether a member of cell `cell` is. */
  hasCell (cell: number): boolean { return areaOf(cell, this.whole, this.cells) >= 0 }
}

/**
 * One entry's share of its bucket's sum, under the asker's `salt` (fresh each round): with a fixed
 * hash, an agent could pick the seq of its own statements so that their share cancels another's
 * difference in the same bucket, and anti-entropy would never repair that one.
 */
export function entryHash (member: string, seq: number, salt = ''): number { return fnv1a(`${salt} ${member} ${seq}`) }

/** A salt for one round's sums: 8 hex digits. */
export function randomSalt (random: () => number): string {
  return Math.floor(random() * 0x100000000).toString(16).padStart(8, '0')
}

export type Entry = [member: string, seq: number]

/** The sums of `entries` (each member at most once) under `salt`. */
export function digestOf (entries: Iterable<Entry>, salt = ''): Uint32Array {
  const sums = new Uint32Array(DIGEST_BUCKETS)
  for (const [member, seq] of entries) sums[bucketOf(member)] ^= entryHash(member, seq, salt)
  return sums
}

export function encodeDigest (sums: Uint32Array): string {
  let out = ''
  for (const s of sums) out += s.toString(16).padStart(8, '0')
  return out
}

/**
 * Version 2: an entry's fingerprint, kept while its statement is held (computed once per
 * statement taken, beside the signature check it rides with). 64 bits of SHA-256 of the same
 * text version 1 hashes: not invertible, so no agent can pick a seq whose fingerprint equals an
 * honest member's (a 2^64 search per seq guessed), which is what cancelling that member's
 * difference under every salt would need.
 */
export function fingerprint (member: string, seq: number): Fingerprint {
  const d = createHash('sha256').update(`${member} ${seq}`).digest()
  return { lo: d.readUInt32LE(0), hi: d.readUInt32LE(4) }
}

export interface Fingerprint { readonly lo: number, readonly hi: number }

/** A version-2 salt: 16 hex digits, fresh each round (two 32-bit words for `share`). */
export const SALT2_TEXT_LENGTH = 16

export function randomSalt2 (random: () => number): string { return randomSalt(random) + randomSalt(random) }

/** A version-2 salt's two words; [0, 0] for none (the simulation, which draws none). */
export function saltWords (salt: string): [number, number] {
  if (salt.length !== SALT2_TEXT_LENGTH) return [0, 0]
  return [Number.parseInt(salt.slice(0, 8), 16) >>> 0, Number.parseInt(salt.slice(8), 16) >>> 0]
}

/**
 * Version 2: a fingerprint's share of its bucket's sum under a round's salt. Not linear in the
 * fingerprint (multiplications and shifts, after murmur3's finaliser): were it, XOR of shares
 * would be the share of the XOR, and a difference masked under one salt would be masked under all.
 */
export function share (lo: number, hi: number, s0: number, s1: number): number {
  let x = (lo ^ s0) | 0
  let y = (hi ^ s1) | 0
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b)
  y = Math.imul(y ^ (y >>> 15), 0xcc9e2d51)
  x ^= y ^ (y >>> 13)
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35)
  x ^= x >>> 16
  return x >>> 0
}

/** Version 2's sums of entries with their fingerprints, walked (what member-digest-sums.ts keeps by column): the reference, and a node's test. */
export function sumsOf (entries: Iterable<[member: string, fp: Fingerprint]>, salt = ''): Uint32Array {
  const [s0, s1] = saltWords(salt)
  const sums = new Uint32Array(DIGEST_BUCKETS)
  for (const [member, fp] of entries) sums[bucketOf(member)] ^= share(fp.lo, fp.hi, s0, s1)
  return sums
}

/** Version 2's sums of `buckets`' entries by cell (64 sums a bucket, in `buckets`' order), walked: the reference for DigestSums.cellSums. */
export function cellSumsOf (entries: Iterable<[member: string, fp: Fingerprint]>, buckets: readonly number[], salt = ''): Uint32Array[] {
  const [s0, s1] = saltWords(salt)
  const out = buckets.map(() => new Uint32Array(BUCKET_CELLS))
  for (const [member, fp] of entries) {
    const cell = cellOf(member)
    const i = buckets.indexOf(cell & (DIGEST_BUCKETS - 1))
    if (i >= 0) out[i][cell >>> 6] ^= share(fp.lo, fp.hi, s0, s1)
  }
  return out
}

/** The sums of a digest's text; undefined when it is not one (the schema checks its form first). */
export function decodeDigest (text: string): Uint32Array | undefined {
  if (text.length !== DIGEST_TEXT_LENGTH || !/^[0-9a-f]+$/.test(text)) return undefined
  const sums = new Uint32Array(DIGEST_BUCKETS)
  for (let i = 0; i < DIGEST_BUCKETS; i++) sums[i] = Number.parseInt(text.slice(i * 8, i * 8 + 8), 16)
  return sums
}

/** The buckets whose sums differ. */
export function differing (ours: Uint32Array, theirs: Uint32Array): Set<number> {
  const out = new Set<number>()
  for (let i = 0; i < DIGEST_BUCKETS; i++) if (ours[i] !== theirs[i]) out.add(i)
  return out
}

/**
 * The answerer's entries in the areas that differ (buckets, and cells of buckets compared by
 * cell: `Areas`), whole areas only, up to `max` entries: `more` when areas were left out (the
 * asker exchanges again for them). Areas are taken from a random one on, so that a mesh too large
 * for one answer is not always listed from the same end.
 */
export function listDiffering (
  entries: Iterable<Entry>, buckets: ReadonlySet<number>, max: number, random: () => number
): { entries: Entry[], buckets: number[], more: boolean } {
  if (buckets.size === 0) return { entries: [], buckets: [], more: false }
  const areas = new Areas(buckets)
  const byBucket = new Map<number, Entry[]>()
  for (const e of entries) {
    const b = areaOf(cellOf(e[0]), areas.whole, areas.cells)
    if (b < 0) continue
    let list = byBucket.get(b)
    if (list === undefined) { list = []; byBucket.set(b, list) }
    list.push(e)
  }
  const { listed, more } = chooseBuckets(b => byBucket.get(b)?.length ?? 0, buckets, max, random)
  const out: Entry[] = []
  for (const b of listed) out.push(...(byBucket.get(b) ?? []))
  return { entries: out, buckets: listed, more }
}

/**
 * Which of `buckets` a listing of at most `max` entries takes whole, in the order listed, given
 * each bucket's count: from a random one on, in bucket order, each that still fits (`more` when
 * one did not). `listDiffering` lists them from the entries; DigestSums.listing counts first and
 * lists only those taken.
 */
export function chooseBuckets (
  count: (bucket: number) => number, buckets: ReadonlySet<number>, max: number, random: () => number
): { listed: number[], more: boolean } {
  const order = [...buckets].sort((a, b) => a - b)
  const start = Math.floor(random() * order.length)
  const listed: number[] = []
  let total = 0
  let more = false
  for (let i = 0; i < order.length; i++) {
    const b = order[(start + i) % order.length]
    const n = count(b)
    if (total + n > max) { more = true; continue }
    total += n
    listed.push(b)
  }
  return { listed, more }
}

/**
 * What a patch or its answer carries, filled one member at a time: each member's statement
 * (`get`) while it fits in `max` statements and bytes. `add` says false once one did not fit
 * (`more`), so that a walk feeding it stops there: an asker's gives are found by walking its
 * view (`Listing`), and at 10,000 agents a newcomer's neighbour has ~10,000 to give it where
 * a patch carries ~1,500 (bench:sim, issue 46).
 */
export class Cut<T> {
  readonly items: T[] = []
  more = false
  private bytes = 0
  private readonly get: (member: string) => T | undefined
  private readonly size: (item: T) => number
  private readonly max: { items: number, bytes: number }

  constructor (get: (member: string) => T | undefined, size: (item: T) => number, max: { items: number, bytes: number }) {
    this.get = get
    this.size = size
    this.max = max
  }

  /** `member`'s statement, if held and it fits: false once the cut is full (a member not held is skipped). */
  add (member: string): boolean {
    const item = this.get(member)
    if (item === undefined) return true
    this.bytes += this.size(item)
    if (this.items.length >= this.max.items || this.bytes > this.max.bytes) { this.more = true; return false }
    this.items.push(item)
    return true
  }
}

/**
 * What a patch or its answer carries: the statements of `members` (`first`'s, this node's own, at
 * the head: a newcomer must learn who its neighbour is), up to `max` statements and bytes;
 * `more` when some were left out.
 */
export function cutWithin<T> (
  members: readonly string[], first: string, get: (member: string) => T | undefined, size: (item: T) => number, max: { items: number, bytes: number }
): { items: T[], more: boolean } {
  const ordered = members.includes(first) ? [first, ...members.filter(m => m !== first)] : members
  const cut = new Cut(get, size, max)
  for (const m of ordered) if (!cut.add(m)) break
  return { items: cut.items, more: cut.more }
}

/**
 * This node's own entries in `buckets` only (its own statement's first, then the rest in a
 * stable order), each given to `visit` until it answers false: what the asker walks to find what
 * it gives. member-digest-sums.ts `eachIn` walks its columns, and gives each member's slot (the
 * number `Listing` keeps the answerer's seqs under); `entriesWalk` a list of entries, no slot.
 */
export type EntryWalk = (areas: Areas, visit: (member: string, seq: number, slot?: number) => boolean) => void

/** An EntryWalk over `entries` (each member at most once), `self`'s first: where no columns are kept (a test, the first version's exchange). */
export function entriesWalk (entries: Iterable<Entry>, self: string): EntryWalk {
  return (areas, visit) => {
    let own: Entry | undefined
    const rest: Entry[] = []
    for (const e of entries) {
      if (!areas.has(e[0])) continue
      if (e[0] === self) own = e
      else rest.push(e)
    }
    if (own !== undefined && !visit(own[0], own[1])) return
    for (const [member, seq] of rest) if (!visit(member, seq)) return
  }
}

/**
 * A listing's entries as two columns, each entry's member and its seq: how a listing is made
 * (member-digest-sums.ts `listing`) and read (`Listing`), an array per entry only on the wire.
 */
export interface Listed {
  readonly members: readonly string[]
  readonly seqs: ArrayLike<number>
  /**
   * The answerer's slot of each (-1: its own statement), when its listing was made from its
   * columns (member-digest-sums.ts `listing`). Not on the wire: a slot means something only to a
   * table sharing the answerer's directory (the simulation's, slot-directory.ts), whose asker
   * then reads it in place of its own lookup of each member (`Listing`'s `shared`).
   */
  readonly slots?: ArrayLike<number>
}

/** The wire's entries as columns. */
export function columns (entries: readonly Entry[]): Listed {
  return { members: entries.map(e => e[0]), seqs: entries.map(e => e[1]) }
}

/** Columns as the wire's entries. */
export function pairs (listed: Listed): Entry[] {
  return listed.members.map((m, i): Entry => [m, listed.seqs[i]])
}

/**
 * A member's slot in the asker's table (member-table.ts `slotOf`: a number no other member has
 * while it is held), under which `Listing` keeps the answerer's seq of it; none for a member the
 * asker does not hold (then a map keeps it).
 */
export type SlotOf = (member: string) => number | undefined

/**
 * The answerer's seqs of the members one listing names, by the asker's slot of each, for the one
 * `Listing` read at a time (a listing is read as it arrives, within one turn of the event loop:
 * member-exchange.ts, harness/sim-model.ts). `stamp[slot]` is the listing's generation when the
 * slot's seq (and its first place in the listing, `first`) are this listing's; `at[i]`, entry i's
 * slot (-1: none; -2: outside the listed buckets). Arrays kept from one listing to the next, not a
 * map made for each: the map of a listing of up to 4,096 entries, a read of it per give walked,
 * and a map read per entry listed of the statements held were a quarter of bench:sim's CPU in a
 * 10,000-agent join's first seconds (issue 46).
 */
const scratch = {
  generation: 0,
  stamp: new Uint32Array(0),
  first: new Int32Array(0),
  seq: new Float64Array(0),
  at: new Int32Array(0)
}

/** Room in `scratch` for slots below `slots` and a listing of `entries`. */
function scratchRoom (slots: number, entries: number): void {
  if (slots > scratch.stamp.length) {
    const capacity = Math.max(slots, Math.ceil(scratch.stamp.length * 1.5), 64)
    const stamp = new Uint32Array(capacity); stamp.set(scratch.stamp); scratch.stamp = stamp
    const first = new Int32Array(capacity); first.set(scratch.first); scratch.first = first
    const seq = new Float64Array(capacity); seq.set(scratch.seq); scratch.seq = seq
  }
  if (entries > scratch.at.length) scratch.at = new Int32Array(Math.max(entries, Math.ceil(scratch.at.length * 1.5), 64))
}

/** A fresh generation: every slot's stamp is older (wrapped: all cleared). */
function nextGeneration (): number {
  if (scratch.generation >= 0xfffffffe) { scratch.stamp.fill(0); scratch.generation = 0 }
  return ++scratch.generation
}

const noSlots: SlotOf = () => undefined

/**
 * An answer's listing as the asker reads it: the answerer's seq of each member it listed, in the
 * buckets it listed (entries outside them are not the answerer's to list, and are ignored: with
 * every bucket listed, none can be, and no member is hashed to tell). A member listed twice counts
 * at its first place with its last seq. Kept by the asker's slots (`slotOf`, `scratch`): read it
 * (`wanted`, `lacks`, `give`) before the next one is made, or it throws.
 */
export class Listing {
  readonly areas: Areas
  private readonly theirs: Listed
  private readonly slotOf: SlotOf
  private readonly generation: number
  /** The seqs of listed members with no slot here (a member the asker does not hold), by member. */
  private unslotted: Map<string, number> | undefined

  /**
   * `shared`: the asker's slots are the answerer's (one directory for both, the simulation's),
   * so the listing's `slots` are read rather than looked up.
   */
  constructor (theirs: Listed, listedBuckets: readonly number[], slotOf: SlotOf = noSlots, shared = false) {
    this.areas = new Areas(listedBuckets)
    this.theirs = theirs
    this.slotOf = slotOf
    const { all } = this.areas
    const { members, seqs } = theirs
    const theirSlots = shared ? theirs.slots : undefined
    this.generation = nextGeneration()
    scratchRoom(0, members.length)
    for (let i = 0; i < members.length; i++) {
      const member = members[i]
      if (!all && !this.areas.has(member)) { scratch.at[i] = -2; continue }
      const slot = theirSlots !== undefined && theirSlots[i] >= 0 ? theirSlots[i] : slotOf(member)
      if (slot === undefined || slot < 0) {
        scratch.at[i] = -1
        this.unslotted ??= new Map()
        this.unslotted.set(member, seqs[i])
        continue
      }
      scratch.at[i] = slot
      scratchRoom(slot + 1, 0)
      if (scratch.stamp[slot] !== this.generation) { scratch.stamp[slot] = this.generation; scratch.first[slot] = i }
      scratch.seq[slot] = seqs[i]
    }
  }

  /**
   * The members whose statements the asker lacks or holds older (never `self`, the asker), in the
   * order listed; at most `max` (a patch asks for no more than the asker may check, plus one to
   * tell that some were left: member-exchange.ts `asked`). `held`: the asker's seq of a member
   * (given its slot, when it has one).
   */
  wanted (held: (member: string, slot: number | undefined) => number | undefined, self: string, max = Infinity): string[] {
    this.current()
    const want: string[] = []
    const { members } = this.theirs
    let named: Set<string> | undefined
    for (let i = 0; i < members.length && want.length < max; i++) {
      const slot = scratch.at[i]
      if (slot === -2) continue
      const member = members[i]
      let seq: number
      if (slot === -1) {
        named ??= new Set()
        if (named.has(member)) continue
        named.add(member)
        seq = (this.unslotted as Map<string, number>).get(member) as number
      } else {
        if (scratch.first[slot] !== i) continue
        seq = scratch.seq[slot]
      }
      if (member !== self && (held(member, slot < 0 ? undefined : slot) ?? -1) < seq) want.push(member)
    }
    return want
  }

  /**
   * Whether the asker gives its statement of `member` (numbered `seq`, in a listed bucket; `slot`:
   * its slot, when the walk knows it): the answerer lacks it or holds it older.
   */
  lacks (member: string, seq: number, slot?: number): boolean {
    this.current()
    const at = slot ?? this.slotOf(member)
    if (at === undefined || at < 0) return (this.unslotted?.get(member) ?? -1) < seq
    return at >= scratch.stamp.length || scratch.stamp[at] !== this.generation || scratch.seq[at] < seq
  }

  /** The asker's gives, walked (`own`) into `cut` until it is full: the walk stops there, not at the end of the view. */
  give<T> (own: EntryWalk, cut: Cut<T>): Cut<T> {
    own(this.areas, (member, seq, slot) => !this.lacks(member, seq, slot) || cut.add(member))
    return cut
  }

  /** The scratch arrays hold this listing's seqs still: a listing read after the next was made would read that one's. */
  private current (): void {
    if (scratch.generation !== this.generation) throw new Error('a member listing was read after the next was made (member-digest.ts Listing)')
  }
}

/**
 * From the answerer's entries of the buckets it listed: the members whose statements the asker
 * lacks or holds older (`want`; never `self`, the asker), and, of the asker's own entries in
 * those buckets, those the answerer lacks or holds older (`give`). Entries outside the listed
 * buckets are not the answerer's to list, and are ignored. `Listing` does the same a member at a
 * time, as the exchange runs it; this is the whole of it at once (a test's reference).
 */
export function reconcile (
  own: Iterable<Entry>, theirs: readonly Entry[], listedBuckets: readonly number[], held: (member: string) => number | undefined, self: string
): { want: string[], give: string[] } {
  const listing = new Listing(columns(theirs), listedBuckets)
  const give: string[] = []
  entriesWalk(own, self)(listing.areas, (member, seq) => { if (listing.lacks(member, seq)) give.push(member); return true })
  return { want: listing.wanted(held, self), give }
}
