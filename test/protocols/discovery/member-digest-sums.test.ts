// The digest's second version (issue 46): each entry's fingerprint mixed with the round's salt
// (protocols/discovery/member-digest.ts), and the sums kept by the member table's slots
// (member-digest-sums.ts) against the reference walk of what a full exchange gives: this node's
// own statement and each live member's. Random steps from a printed seed: a failure repeats from it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Areas, bucketOf, CELL_AREA, cellOf, cellSumsOf, columns, Cut, differing, DIGEST_BUCKETS, fingerprint, listDiffering, Listing, pairs, share, sumsOf, saltWords, randomSalt2, type Fingerprint } from '../../../protocols/discovery/member-digest.js'
import { DigestSums } from '../../../protocols/discovery/member-digest-sums.js'
import { MemberTable, type Heartbeat } from '../../../protocols/discovery/member-table.js'
import { seededRandom } from '../../../harness/random.js'

const seedOf = (name: string): number => { const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31)); console.log(`${name}: seed ${seed} (SEED=${seed} repeats it)`); return seed }

test('digest v2: sums do not depend on order; one newer statement changes its own bucket only, under any salt; the salt changes every sum', { timeout: 3 * 60_000 }, () => {
  const entries: Array<[string, Fingerprint]> = Array.from({ length: 300 }, (_, i) => [`peer-${i}`, fingerprint(`peer-${i}`, 1_000 + i)])
  const random = seededRandom(seedOf('digest v2 sums'))
  for (let round = 0; round < 50; round++) {
    const salt = randomSalt2(random)
    const a = sumsOf(entries, salt)
    assert.deepEqual([...sumsOf([...entries].reverse(), salt)], [...a], 'order does not matter')
    const changed = entries.map(([m, fp]): [string, Fingerprint] => m === 'peer-7' ? [m, fingerprint(m, 1_008)] : [m, fp])
    assert.deepEqual([...differing(a, sumsOf(changed, salt))], [bucketOf('peer-7')], `salt ${salt}`)
    const other = sumsOf(entries, randomSalt2(random))
    assert.ok(differing(a, other).size > 60, 'another salt, other sums')
  }
  assert.deepEqual(saltWords(''), [0, 0], 'no salt (the simulation draws none)')
  assert.deepEqual(saltWords('0000000100000002'), [1, 2])
  // The fingerprint is the same everywhere for the same (member, seq), and another seq is another fingerprint.
  assert.deepEqual(fingerprint('peer-1', 5), fingerprint('peer-1', 5))
  assert.notDeepEqual(fingerprint('peer-1', 5), fingerprint('peer-1', 6))
})

test('digest v2: a share is not linear in the fingerprint (else a difference masked under one salt would be under all)', { timeout: 3 * 60_000 }, () => {
  const random = seededRandom(seedOf('digest v2 share'))
  let linear = 0
  for (let i = 0; i < 1_000; i++) {
    const w = (): number => Math.floor(random() * 2 ** 32) >>> 0
    const [a, b, s0, s1] = [w(), w(), w(), w()]
    if ((share(a ^ b, 0, s0, s1) ^ share(0, 0, s0, s1)) === (share(a, 0, s0, s1) ^ share(b, 0, s0, s1))) linear++
  }
  assert.ok(linear < 5, `${linear} of 1,000 random pairs behaved linearly`)
})

/** The reference: the columns' sums must equal sumsOf over what they were told is held and live. */
test('DigestSums: kept by slot through random holds, changes of state and slots freed, its sums equal the reference walk\'s', { timeout: 3 * 60_000 }, () => {
  const random = seededRandom(seedOf('DigestSums random steps'))
  const pick = (n: number): number => Math.floor(random() * n)
  const sums = new DigestSums({ keepUnsalted: true }) // the simulation's; salted sums walk, as a node's do
  const slots: Array<{ member?: string, fp?: Fingerprint, seq?: number, live: boolean }> = []
  let own: [string, Fingerprint, number] | undefined
  let fresh = 0
  for (let step = 0; step < 5_000; step++) {
    const r = random()
    const slot = pick(200)
    const at = (slots[slot] ??= { live: false })
    if (r < 0.45) {
      at.member ??= `peer-${fresh++}`
      at.fp = fingerprint(at.member, step)
      at.seq = step
      sums.hold(slot, at.member, at.fp, step)
    } else if (r < 0.85) {
      at.live = random() < 0.6
      sums.live(slot, at.live)
    } else if (r < 0.95) {
      slots[slot] = { live: false }
      sums.free(slot)
    } else {
      own = ['me', fingerprint('me', step), step]
      sums.setOwn(...own)
    }
    if (step % 25 === 0) {
      const salt = random() < 0.2 ? '' : randomSalt2(random)
      const reference: Array<[string, Fingerprint, number]> = own === undefined ? [] : [own]
      for (const s of slots) if (s?.member !== undefined && s.fp !== undefined && s.seq !== undefined && s.live) reference.push([s.member, s.fp, s.seq])
      assert.deepEqual([...sums.sums(salt)], [...sumsOf(reference.map(([m, fp]) => [m, fp]), salt)], `step ${step}, salt '${salt}'`)
      // The third version's: the count of what each bucket's sum covers, and some buckets' sums by cell.
      const perBucket = new Array<number>(DIGEST_BUCKETS).fill(0)
      for (const [m] of reference) perBucket[bucketOf(m)]++
      assert.deepEqual([...sums.counts()], perBucket, `step ${step}, counts`)
      assert.equal(sums.count(), reference.length)
      const byCell = Array.from({ length: pick(4) }, () => pick(DIGEST_BUCKETS))
      assert.deepEqual(sums.cellSums(byCell, salt).map(c => [...c]), cellSumsOf(reference.map(([m, fp]) => [m, fp]), byCell, salt).map(c => [...c]), `step ${step}, sums by cell of ${byCell.join(',')}`)
      // What a listing of some areas gives (whole buckets, and cells alone, some of them in a
      // bucket listed whole too) is what the sums covered in them, each with the seq it was held
      // at (the step its fingerprint was made at).
      const buckets = new Set(Array.from({ length: pick(8) }, () => pick(64)))
      for (let i = pick(6); i > 0 && reference.length > 0; i--) buckets.add(CELL_AREA + cellOf(reference[pick(reference.length)][0]))
      if (buckets.size === 0) buckets.add(pick(64))
      const areas = new Areas(buckets)
      const peerAt = (at: number): string | undefined => slots[at]?.member
      const listed = sums.entriesIn(buckets, 'me', peerAt)
      const expected = reference.filter(([m]) => areas.has(m)).map(([m, , seq]): [string, number] => [m, seq])
      assert.deepEqual(sortEntries(listed), sortEntries(expected), `step ${step}, buckets ${[...buckets].join(',')}`)
      // An answer's listing, counted first, is listDiffering's over that listing: the same entries in the same order, the same buckets, the same `more`.
      const max = pick(40)
      const draw = random()
      const counted = sums.listing(buckets, max, () => draw, 'me', peerAt)
      assert.deepEqual({ entries: pairs(counted), buckets: counted.buckets, more: counted.more }, listDiffering(listed, buckets, max, () => draw), `step ${step}, at most ${max}`)
      // Each entry with its slot: the member in it, or -1 for this node's own.
      assert.deepEqual(counted.members.map((m, i) => counted.slots?.[i] === -1 ? m === 'me' : peerAt(counted.slots?.[i] as number) === m), counted.members.map(() => true), `step ${step}, slots`)
      // An asker's gives, walked from the columns into a patch of a few statements: the first of
      // those the answerer's listing lacks or holds older, in the walk's order (its own first),
      // and the walk stops at the first that does not fit rather than at the end of the view.
      const theirs = expected.filter(() => random() < 0.5).map(([m, seq]): [string, number] => [m, random() < 0.5 ? seq : seq - 1])
      const theirSeq = new Map(theirs)
      const lacked = listed.filter(([m, seq]) => (theirSeq.get(m) ?? -1) < seq)
      const cap = pick(6)
      let visits = 0
      const cut = new Listing(columns(theirs), [...buckets]).give((b, visit) => { sums.eachIn(b, 'me', peerAt, (m, seq) => { visits++; return visit(m, seq) }) }, new Cut(m => m, () => 1, { items: cap, bytes: Infinity }))
      assert.deepEqual(cut.items, lacked.slice(0, cap).map(([m]) => m), `step ${step}, gives`)
      assert.equal(cut.more, lacked.length > cap)
      assert.equal(visits, lacked.length > cap ? listed.indexOf(lacked[cap]) + 1 : listed.length, `step ${step}, entries walked`)
    }
  }
})

test('a listing read by slot (member-digest.ts Listing) says what a map of the listing said: the wanted in the order listed, a member listed twice at its first place with its last seq, the gives', { timeout: 3 * 60_000 }, () => {
  const random = seededRandom(seedOf('listing by slot'))
  const pick = (n: number): number => Math.floor(random() * n)
  for (let round = 0; round < 300; round++) {
    const members = Array.from({ length: 1 + pick(120) }, (_, i) => `peer-${round}-${i}`).concat(['me'])
    // Slots as a table gives them: most members held have one, some not; numbers far apart (a shared directory's).
    const slots = new Map<string, number>()
    for (const m of members) if (random() < 0.8) slots.set(m, pick(4) * 10_000 + slots.size)
    const held = new Map<string, number>()
    for (const m of members) if (random() < 0.6) held.set(m, 1 + pick(5))
    // The answerer's listing: repeats, entries outside the buckets it lists, members the asker never heard of.
    const listed: Array<[string, number]> = []
    for (let i = 0; i < pick(200); i++) listed.push([random() < 0.9 ? members[pick(members.length)] : `stranger-${pick(30)}`, 1 + pick(5)])
    const buckets = random() < 0.3 ? Array.from({ length: 64 }, (_, b) => b) : [...new Set(Array.from({ length: 1 + pick(40) }, () => pick(64)))]
    const inBuckets = new Set(buckets)
    // The reference: the map the listing was read into before.
    const theirs = new Map<string, number>()
    for (const [m, seq] of listed) if (inBuckets.has(bucketOf(m))) theirs.set(m, seq)
    const max = random() < 0.3 ? pick(10) : Infinity
    const want: string[] = []
    for (const [m, seq] of theirs) { if (want.length >= max) break; if (m !== 'me' && (held.get(m) ?? -1) < seq) want.push(m) }
    const own = members.filter(m => held.has(m) && inBuckets.has(bucketOf(m)))
    const gives = own.filter(m => (theirs.get(m) ?? -1) < (held.get(m) as number))

    // Half the time the listing carries the answerer's slots, the asker's too (one directory, the simulation's): read, not looked up.
    const shared = random() < 0.5
    const lookups = { n: 0 }
    const theirSlots = { ...columns(listed), slots: listed.map(([m]) => slots.get(m) ?? -1) }
    const listing = new Listing(shared ? theirSlots : columns(listed), buckets, m => { lookups.n++; return slots.get(m) }, shared)
    if (shared) assert.equal(lookups.n, listed.filter(([m]) => inBuckets.has(bucketOf(m)) && !slots.has(m)).length, 'only members the listing gave no slot are looked up')
    let slotsRead = 0
    assert.deepEqual(listing.wanted((m, slot) => { if (slot !== undefined) { assert.equal(slot, slots.get(m)); slotsRead++ } return held.get(m) }, 'me', max), want, `round ${round}: wanted`)
    const given = listing.give((_, visit) => {
      for (const m of own) if (!visit(m, held.get(m) as number, random() < 0.5 ? slots.get(m) : undefined)) return
    }, new Cut(m => m, () => 1, { items: Infinity, bytes: Infinity }))
    assert.deepEqual(given.items, gives, `round ${round}: gives`)
    if (listed.some(([m]) => m !== 'me' && slots.has(m) && inBuckets.has(bucketOf(m))) && max === Infinity) assert.ok(slotsRead > 0, 'the held seqs were read by slot')
  }
  // A listing is read before the next is made: its seqs are in arrays the next one takes.
  const first = new Listing(columns([['peer-a', 1]]), Array.from({ length: 64 }, (_, b) => b), () => 3)
  const second = new Listing(columns([['peer-a', 2]]), Array.from({ length: 64 }, (_, b) => b), () => 3)
  assert.deepEqual(second.wanted(() => 1, 'me'), ['peer-a'])
  assert.throws(() => first.wanted(() => 1, 'me'), /read after the next was made/)
})

const sortEntries = (xs: Array<[string, number]>): Array<[string, number]> => [...xs].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)

test('DigestSums beside a MemberTable (as MemberView wires them): the sums follow every member\'s state, a leave, a failed probe, an offline verdict, a reap', { timeout: 3 * 60_000 }, () => {
  const random = seededRandom(seedOf('DigestSums with the member table'))
  const sums = new DigestSums()
  const timings = {
    heartbeatIntervalMs: 1_000,
    probeIntervalMs: 1_000,
    probeTimeoutMs: 500,
    silenceMs: 5_000,
    suspicionMinMs: 2_000,
    suspicionMaxMs: 6_000,
    confirmationsForMin: 3
  }
  const self = { peerId: 'me', name: 'me', roles: [], eligible: true }
  const slots = { live: (slot: number, live: boolean) => { sums.live(slot, live) }, free: (slot: number) => { sums.free(slot) } }
  const table = new MemberTable({ ...timings, self, incarnation: 1, random, slots })
  const held = new Map<string, number>() // member -> seq of its statement held (Rumours, in a node)
  const incarnations = new Map<string, number>()
  sums.setOwn('me', fingerprint('me', 1), 1)
  let now = 0
  const peers = Array.from({ length: 60 }, (_, i) => `peer-${i}`)
  for (let step = 0; step < 3_000; step++) {
    now += Math.floor(random() * 200)
    const p = peers[Math.floor(random() * peers.length)]
    const r = random()
    if (r < 0.5) {
      // A statement of p, newer: taken and held (members.ts receive), sometimes a leave.
      const seq = (held.get(p) ?? 0) + 1
      const inc = (incarnations.get(p) ?? 0) + (random() < 0.2 ? 1 : 0)
      incarnations.set(p, inc)
      const hb: Heartbeat = { peerId: p, name: p, roles: [], eligible: true, incarnation: inc, suspects: [], ...(random() < 0.05 ? { leaving: true } : {}) }
      held.set(p, seq)
      table.heartbeat(hb, now, p)
      const slot = table.slotOf(p)
      if (slot !== undefined) sums.hold(slot, p, fingerprint(p, seq), seq)
    } else if (r < 0.75) {
      if (table.state(p) !== undefined && table.probeStarted(p, now)) table.probeFailed(p, now)
    } else if (r < 0.8) {
      table.seen(p, { name: p, roles: [] }, now)
    } else if (r < 0.83) {
      for (const { peer } of table.reap(now, 3_000)) held.delete(peer)
    } else {
      table.tick(now)
    }
    table.drain()
    const reference: Array<[string, Fingerprint]> = [['me', fingerprint('me', 1)]]
    for (const [m, seq] of held) { const s = table.state(m); if (s === 'alive' || s === 'suspect') reference.push([m, fingerprint(m, seq)]) }
    assert.deepEqual([...sums.sums()], [...sumsOf(reference)], `step ${step}`)
    // A listing of a few buckets, from the columns and the table's slots, is the reference's in them.
    const buckets = new Set(Array.from({ length: 1 + Math.floor(random() * 8) }, () => Math.floor(random() * 64)))
    const seqs = new Map<string, number>([['me', 1], ...held])
    const listed = sums.entriesIn(buckets, 'me', at => table.peerAt(at))
    const expected = reference.filter(([m]) => buckets.has(bucketOf(m))).map(([m]): [string, number] => [m, seqs.get(m) as number])
    assert.deepEqual(sortEntries(listed), sortEntries(expected), `step ${step}`)
  }
})

test('DigestSums with the table\'s capacity: its columns grow to it at the first hold, grow again past it, and lose nothing held as they do', { timeout: 3 * 60_000 }, () => {
  let capacity = 1_000
  const sums = new DigestSums({ capacity: () => capacity })
  const columnsOf = (s: DigestSums): number => (s as unknown as { meta: Uint8Array }).meta.length
  const held: Array<[string, Fingerprint]> = []
  const hold = (slot: number): void => {
    const member = `peer-${slot}`
    const fp = fingerprint(member, 1)
    sums.hold(slot, member, fp, 1)
    sums.live(slot, true)
    held.push([member, fp])
  }
  hold(5)
  assert.equal(columnsOf(sums), 1_000, 'the first hold sizes the columns to the table\'s capacity at once')
  for (let slot = 6; slot < 1_000; slot += 7) hold(slot)
  assert.equal(columnsOf(sums), 1_000, 'holds within the capacity do not grow the columns')
  // The table grew (MemberTable.slotCapacity): the next slot past the columns takes them to the new capacity.
  capacity = 4_000
  hold(1_500)
  assert.equal(columnsOf(sums), 4_000)
  // A slot past a capacity that did not grow: a quarter more room, or the slot's.
  hold(9_000)
  assert.equal(columnsOf(sums), 9_001)
  assert.equal(sums.count(), held.length, 'every entry held is counted after each growth')
  const salt = randomSalt2(seededRandom(seedOf('DigestSums capacity salt')))
  assert.deepEqual([...sums.sums(salt)], [...sumsOf(held, salt)], 'the sums are the reference walk\'s after each growth')
})
