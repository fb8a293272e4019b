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
 */

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
 * The answerer's entries in the buckets that differ, whole buckets only, up to `max` entries:
 * `more` when buckets were left out (the asker exchanges again for them). Buckets are taken from
 * a random one on, so that a mesh too large for one answer is not always listed from the same end.
 */
export function listDiffering (
  entries: Iterable<Entry>, buckets: ReadonlySet<number>, max: number, random: () => number
): { entries: Entry[], buckets: number[], more: boolean } {
  if (buckets.size === 0) return { entries: [], buckets: [], more: false }
  const byBucket = new Map<number, Entry[]>()
  for (const e of entries) {
    const b = bucketOf(e[0])
    if (!buckets.has(b)) continue
    let list = byBucket.get(b)
    if (list === undefined) { list = []; byBucket.set(b, list) }
    list.push(e)
  }
  const order = [...buckets].sort((a, b) => a - b)
  const start = Math.floor(random() * order.length)
  const out: Entry[] = []
  const listed: number[] = []
  let more = false
  for (let i = 0; i < order.length; i++) {
    const b = order[(start + i) % order.length]
    const list = byBucket.get(b) ?? []
    if (out.length + list.length > max) { more = true; continue }
    out.push(...list)
    listed.push(b)
  }
  return { entries: out, buckets: listed, more }
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
  const items: T[] = []
  let bytes = 0
  for (const m of ordered) {
    const item = get(m)
    if (item === undefined) continue
    bytes += size(item)
    if (items.length >= max.items || bytes > max.bytes) return { items, more: true }
    items.push(item)
  }
  return { items, more: false }
}

/**
 * From the answerer's entries of the buckets it listed: the members whose statements the asker
 * lacks or holds older (`want`; never `self`, the asker), and, of the asker's own entries in
 * those buckets, those the answerer lacks or holds older (`give`). Entries outside the listed
 * buckets are not the answerer's to list, and are ignored.
 */
export function reconcile (
  own: Iterable<Entry>, theirs: readonly Entry[], listedBuckets: readonly number[], held: (member: string) => number | undefined, self: string
): { want: string[], give: string[] } {
  const buckets = new Set(listedBuckets)
  const listed = new Map<string, number>()
  for (const [member, seq] of theirs) if (buckets.has(bucketOf(member))) listed.set(member, seq)
  const want: string[] = []
  for (const [member, seq] of listed) if (member !== self && (held(member) ?? -1) < seq) want.push(member)
  const give: string[] = []
  for (const [member, seq] of own) {
    if (!buckets.has(bucketOf(member))) continue
    if ((listed.get(member) ?? -1) < seq) give.push(member)
  }
  return { want, give }
}
