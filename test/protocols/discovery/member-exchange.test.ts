// Full member exchanges by digest (issue 15; protocols/discovery/member-digest.ts, member-exchange.ts): the
// digest's pure parts; then the exchange between two real libp2p nodes over the rpc protocol
// (each side a store of statements, so what crosses is what the test put there): at rest only
// the sums go, each side gets exactly what it lacked, a set past one exchange's byte limit comes
// over in rounds, and an agent of an older build is exchanged with whole. Then real agents: their
// exchanges at rest are digests, and a newcomer still learns the mesh from them.
import '../../../node/polyfills.js'
import { after, describe, it, test } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import {
  answerAreas, areaOf, Areas, bucketOf, byCells, CELL_AREA, CELLS_FROM, cellOf, cellSumsOf, decodeDigest, differing, digestOf, DIGEST_BUCKETS, encodeDigest,
  fingerprint, listDiffering, reconcile, sumsOf, type Entry, type OwnSums
} from '../../../protocols/discovery/member-digest.js'
import { MemberExchange } from '../../../protocols/discovery/member-exchange.js'
import { MemberCells, MemberDigest, MemberGossip, MemberPatch, MemberSync, MemberSyncIntake, SYNC_MAX_STATEMENTS, type SignedStatement } from '../../../protocols/discovery/member-wire.js'
import { SYNC_MAX_BYTES } from '../../../protocols/discovery/constants.js'
import { RpcService } from '../../../protocols/rpc/index.js'
import { RateLimitedError } from '../../../protocols/core/errors.js'
import { Stats } from '../../../node/stats.js'
import { createLogger } from '../../../node/log.js'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { nodeOptions, seededRandom, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

const ids = (n: number, prefix = 'peer'): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)

test('digest: equal sets have equal sums; one newer statement changes its own bucket only; the text round-trips', { timeout: 3 * 60_000 }, () => {
  const entries: Entry[] = ids(300).map((m, i) => [m, 1_000 + i])
  const a = digestOf(entries)
  assert.deepEqual([...digestOf([...entries].reverse())], [...a], 'order does not matter')
  const changed = entries.map(([m, s]): Entry => m === 'peer-7' ? [m, s + 1] : [m, s])
  assert.deepEqual([...differing(a, digestOf(changed))], [bucketOf('peer-7')])
  assert.equal(differing(a, digestOf(entries)).size, 0)
  assert.deepEqual([...decodeDigest(encodeDigest(a)) ?? []], [...a])
  assert.equal(decodeDigest('zz'.repeat(DIGEST_BUCKETS * 4)), undefined, 'not hex')
  assert.equal(decodeDigest('00'), undefined, 'not the length')
})

test('digest v3: a large bucket that differs is compared by cell when the asker is not far behind; sums by cell list only the cells that differ', { timeout: 3 * 60_000 }, () => {
  // The edges of the rule: at least CELLS_FROM entries in the bucket, and the asker's count at least half the answerer's.
  assert.equal(byCells(CELLS_FROM - 1, 1_000, 1_000), false)
  assert.equal(byCells(CELLS_FROM, 1_000, 500), true)
  assert.equal(byCells(CELLS_FROM, 1_000, 499), false)
  const fp = (m: string, seq: number): [string, ReturnType<typeof fingerprint>] => [m, fingerprint(m, seq)]
  const members = ids(4_000, 'c')
  const ours = new Map(members.map(m => [m, 1]))
  const own = (): OwnSums => ({
    sums: () => sumsOf([...ours].map(([m, s]) => fp(m, s))),
    counts: () => { const c = new Uint32Array(DIGEST_BUCKETS); for (const m of ours.keys()) c[bucketOf(m)]++; return c },
    cellSums: buckets => cellSumsOf([...ours].map(([m, s]) => fp(m, s)), buckets)
  })
  const theirs = new Map(ours)
  theirs.set('c-10', 2)
  theirs.set('c-2000', 2)
  const theirSums = sumsOf([...theirs].map(([m, s]) => fp(m, s)))
  const differs = [...new Set(['c-10', 'c-2000'].map(bucketOf))].sort((x, y) => x - y)
  // Not far behind: nothing listed, the differing buckets named.
  const near = answerAreas(own(), { sums: theirSums, count: 4_000 })
  assert.deepEqual([...near.areas], [])
  assert.deepEqual([...near.split].sort((x, y) => x - y), differs)
  // Far behind (or no count: the second version): the buckets whole.
  assert.deepEqual([...answerAreas(own(), { sums: theirSums, count: 1_999 }).areas].sort((x, y) => x - y), differs)
  assert.deepEqual(answerAreas(own(), { sums: theirSums }).split, [])
  // With their sums by cell (one bucket named twice): the cells of the two members only.
  const theirCells = cellSumsOf([...theirs].map(([m, s]) => fp(m, s)), differs)
  const celled = answerAreas(own(), { sums: theirSums, count: 4_000, cells: { buckets: [...differs, differs[0]], sums: [...theirCells, theirCells[0]] } })
  assert.deepEqual([...celled.areas].sort((x, y) => x - y), [...new Set(['c-10', 'c-2000'].map(m => CELL_AREA + cellOf(m)))].sort((x, y) => x - y))
  assert.deepEqual(celled.split, [])
  // Sums by cell of a bucket that no longer differs add nothing; a cell's area is its bucket's when listed whole.
  ours.set('c-10', 2)
  ours.set('c-2000', 2)
  assert.deepEqual([...answerAreas(own(), { sums: theirSums, count: 4_000, cells: { buckets: differs, sums: theirCells } }).areas], [])
  const areas = new Areas([bucketOf('c-10'), CELL_AREA + cellOf('c-10'), CELL_AREA + cellOf('c-2000')])
  assert.ok(areas.has('c-10') && areas.has('c-2000'))
  assert.equal(areaOf(cellOf('c-10'), areas.whole, areas.cells), bucketOf('c-10'), 'listed under its whole bucket')
})

test('digest v3: an answerer that lists nothing and says there is more holds an exchange two idle rounds at most; buckets to compare by cell are followed once an exchange', { timeout: 3 * 60_000 }, async () => {
  const held = new Map(ids(100).map((m): [string, SignedStatement] => [m, statement(m, 1)]))
  const entries = (): Entry[] => [...held.keys()].map((m): Entry => [m, 1])
  const answers = [
    { name: 'nothing listed, more', answer: { entries: [], buckets: [], split: [], more: true }, asked: 2, cells: 0 },
    { name: 'buckets named every round, more', answer: { entries: [], buckets: [], split: [1, 2, 3], more: true }, asked: 3, cells: 1 },
    { name: 'buckets named every round', answer: { entries: [], buckets: [], split: [1, 2, 3], more: false }, asked: 2, cells: 1 }
  ]
  for (const { name, answer, asked, cells } of answers) {
    const sent: Array<{ count: number, cells?: unknown[] }> = []
    const rpc = {
      handle: () => () => {},
      request: async (_to: string, def: { name: string }, req: { count: number, cells?: unknown[] }) => {
        assert.equal(def.name, '$agentmesh/member-cells', name)
        sent.push(req)
        return answer
      }
    } as unknown as RpcService
    const exchange = new MemberExchange({
      rpc,
      self: 'me',
      passive: false,
      entries,
      sums: salt => sumsOf(entries().map(([m, s]) => [m, fingerprint(m, s)]), salt),
      cells: {
        counts: () => { const c = new Uint32Array(DIGEST_BUCKETS); for (const [m] of entries()) c[bucketOf(m)]++; return c },
        sums: (buckets, salt) => cellSumsOf(entries().map(([m, s]) => [m, fingerprint(m, s)]), buckets, salt)
      },
      gives: () => true,
      held: { get: m => held.get(m), seq: m => held.has(m) ? 1 : undefined, size: held.size, all: () => [...held.values()] },
      receive: () => 0,
      takes: () => true,
      charge: () => {},
      timeoutMs: () => 1_000
    })
    await exchange.sync('them')
    assert.equal(sent.length, asked, `${name}: digests sent`)
    assert.equal(sent.filter(r => r.cells !== undefined).length, cells, `${name}: sums by cell sent`)
    assert.equal(sent[0].count, 100, `${name}: the first round counts what the sums cover`)
    if (cells > 0) assert.ok(sent.slice(1).every(r => r.count === 0), `${name}: after a split was followed, a count of 0 (whole buckets from then on)`)
  }
})

test('digest: the answerer lists whole buckets up to its limit and says when it left some out; reconcile finds what each side lacks', { timeout: 3 * 60_000 }, () => {
  const theirs: Entry[] = ids(200).map((m): Entry => [m, 5])
  const all = new Set(Array.from({ length: DIGEST_BUCKETS }, (_, i) => i))
  const whole = listDiffering(theirs, all, 10_000, () => 0)
  assert.equal(whole.entries.length, 200)
  assert.equal(whole.more, false)
  const cut = listDiffering(theirs, all, 50, seededRandom(3))
  assert.ok(cut.entries.length <= 50 && cut.entries.length > 0)
  assert.equal(cut.more, true)
  for (const b of cut.buckets) {
    const inBucket = theirs.filter(([m]) => bucketOf(m) === b).length
    assert.equal(cut.entries.filter(([m]) => bucketOf(m) === b).length, inBucket, `bucket ${b} listed whole`)
  }
  // The asker holds peer-0 older, peer-1 newer, lacks peer-2, and holds 'mine' the answerer lacks.
  const held = new Map<string, number>([['peer-0', 4], ['peer-1', 9], ['mine', 1], ...theirs.slice(3).map(([m, s]): [string, number] => [m, s])])
  const own: Entry[] = [...held].filter(([m]) => m !== 'peer-0')
  const r = reconcile(own, theirs, whole.buckets, m => held.get(m), 'me')
  assert.deepEqual(r.want.sort(), ['peer-0', 'peer-2'])
  assert.deepEqual(r.give.sort(), ['mine', 'peer-1'])
  // Entries outside the buckets listed are not the answerer's to list; the asker never wants its own.
  const none = reconcile([], [['me', 9], ['peer-2', 5]], [bucketOf('peer-2')].filter(b => b !== bucketOf('me')), () => undefined, 'me')
  assert.ok(!none.want.includes('me'))
})

/** A statement of `member` at `seq`, padded to about `bytes` (the exchange moves them; it does not check them). */
function statement (member: string, seq: number, bytes = 300): SignedStatement {
  const body = JSON.stringify({ peerId: member, seq, pad: 'x'.repeat(Math.max(0, bytes - 60)) })
  return { body, sig: `sig-${member}-${seq}` }
}

interface Side {
  node: Libp2p
  rpc: RpcService
  store: Map<string, SignedStatement>
  exchange?: MemberExchange
  id: string
  /** Units charged to neighbours, entry lists built, statements taken. */
  charged: number
  built: number
  taken: number
}

/**
 * `budget`: units this side lets a neighbour's exchanges charge before it refuses them (RATE001).
 * `checks`: statements new to it that it may take in all (its budget of signature checks).
 */
async function side (opts: { older?: boolean, firstVersion?: boolean, secondVersion?: boolean, budget?: number, checks?: number } = {}): Promise<Side> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify() }
  })
  const id = node.peerId.toString()
  const rpc = new RpcService({ libp2p: node, stats: new Stats(), log: createLogger('silent', { peer_id: id, agent: 'x' }), maxMessageBytes: 1 << 20, window: 64, timeoutMs: 10_000, stallTimeoutMs: 10_000 })
  await rpc.start()
  const s: Side = { node, rpc, store: new Map(), charged: 0, id, built: 0, taken: 0 }
  const seqOf = (m: string): number | undefined => { const st = s.store.get(m); return st === undefined ? undefined : JSON.parse(st.body).seq }
  const receive = (_from: string, statements: SignedStatement[]): number => {
    let taken = 0
    for (const st of statements) {
      const { peerId, seq } = JSON.parse(st.body)
      if ((seqOf(peerId) ?? -1) < seq) { s.store.set(peerId, st); taken++ }
    }
    s.taken += taken
    return taken
  }
  if (opts.older === true) {
    // An older build: only the whole exchange.
    rpc.handle(MemberSyncIntake, (req) => { receive('', MemberSync.request.parse(req).statements); return { statements: [...s.store.values()] } })
    return s
  }
  s.exchange = new MemberExchange({
    rpc,
    self: id,
    passive: false,
    entries: () => { s.built++; return [...s.store.keys()].map((m): Entry => [m, seqOf(m) as number]) },
    // The reference walk (a node keeps them by column: member-digest-sums.ts, tested apart).
    sums: salt => { s.built++; return sumsOf([...s.store.keys()].map(m => [m, fingerprint(m, seqOf(m) as number)]), salt) },
    cells: {
      counts: () => { const c = new Uint32Array(DIGEST_BUCKETS); for (const m of s.store.keys()) c[bucketOf(m)]++; return c },
      sums: (buckets, salt) => { s.built++; return cellSumsOf([...s.store.keys()].map(m => [m, fingerprint(m, seqOf(m) as number)]), buckets, salt) }
    },
    held: {
      get: m => s.store.get(m),
      seq: seqOf,
      get size () { return s.store.size },
      all: (keep = () => true) => [...s.store].filter(([m]) => keep(m)).map(([, st]) => st)
    },
    gives: m => s.store.has(m),
    receive,
    takes: () => true,
    ...(opts.checks !== undefined ? { room: () => (opts.checks as number) - s.taken } : {}),
    charge: (_from, n) => {
      if (s.charged + n > (opts.budget ?? Infinity)) throw new RateLimitedError('over budget: retry after 1000 ms')
      s.charged += n
    },
    timeoutMs: () => 10_000
  })
  const unhandles = s.exchange.handle()
  // A build before the digest's second version: it serves member-digest, member-patch and member-sync only.
  if (opts.firstVersion === true) { unhandles[1](); unhandles[4]() }
  // A build before its third: no member-cells.
  if (opts.secondVersion === true) unhandles[4]()
  return s
}

const count = (s: Side, subject: string, direction: 'in' | 'out'): number =>
  (s.rpc as unknown as { init: { stats: Stats } }).init.stats.get('housekeeping_messages_total', { subject, direction, type: 'REQUEST' })

describe('full exchanges by digest, between two real nodes', () => {
  const sides: Side[] = []
  after(async () => { for (const s of sides) { await s.rpc.stop(); await s.node.stop() } })
  type Opts = { older?: boolean, firstVersion?: boolean, secondVersion?: boolean, budget?: number }
  const pair = async (opts: Opts = {}, asker: { checks?: number } = {}): Promise<[Side, Side]> => {
    const a = await side(asker)
    const b = await side(opts)
    sides.push(a, b)
    await a.node.dial(b.node.getMultiaddrs()[0])
    return [a, b]
  }

  it('at rest only the sums cross; with differences each side gets exactly what it lacked', async () => {
    const [a, b] = await pair()
    for (const m of ids(120)) { const st = statement(m, 10); a.store.set(m, st); b.store.set(m, st) }
    await a.exchange?.sync(b.id)
    assert.equal(count(b, '$agentmesh/member-cells', 'in'), 1, 'the third version of the digest')
    assert.equal(count(b, '$agentmesh/member-sums', 'in') + count(b, '$agentmesh/member-digest', 'in'), 0)
    assert.equal(count(b, '$agentmesh/member-patch', 'in'), 0, 'nothing differed: no statement sent')

    a.store.set('peer-1', statement('peer-1', 11)) // newer at a
    b.store.set('peer-2', statement('peer-2', 12)) // newer at b
    a.store.set('only-a', statement('only-a', 1))
    b.store.set('only-b', statement('only-b', 1))
    a.taken = b.taken = 0
    await a.exchange?.sync(b.id)
    assert.equal(count(b, '$agentmesh/member-patch', 'in'), 1)
    assert.equal(a.taken, 2, 'a took its two, and nothing it held')
    assert.equal(b.taken, 2, 'b took its two, and nothing it held')
    for (const s of [a, b]) {
      assert.equal(JSON.parse(s.store.get('peer-1')?.body ?? '{}').seq, 11)
      assert.equal(JSON.parse(s.store.get('peer-2')?.body ?? '{}').seq, 12)
      assert.ok(s.store.has('only-a') && s.store.has('only-b'))
    }
    assert.deepEqual([...a.store.keys()].sort(), [...b.store.keys()].sort())
    // Charged: a unit per 64 held and per 8 listed, and the patch's 2 statements and 2 wanted.
    assert.ok(b.charged > 4 && b.charged < 40, `charged ${b.charged}`)
  })

  it('a set past one exchange\'s byte limit comes over whole, in rounds', async () => {
    const [a, b] = await pair()
    const n = Math.ceil(3 * SYNC_MAX_BYTES / 4_000)
    for (const m of ids(n, 'big')) b.store.set(m, statement(m, 1, 4_000))
    await a.exchange?.sync(b.id)
    assert.equal(a.store.size, n, 'the newcomer holds every statement after one exchange')
    assert.ok(count(b, '$agentmesh/member-patch', 'in') >= 3, 'over several patches')
  })

  it('an asker wants no more statements than its budget of checks lets it take, and its exchange then ends', async () => {
    // 800 statements of 4 KB: a whole exchange is seven patches of 512 KiB; the asker may check 300.
    const [a, b] = await pair({}, { checks: 300 })
    for (const m of ids(800, 'big')) b.store.set(m, statement(m, 1, 4_000))
    await a.exchange?.sync(b.id)
    assert.equal(a.taken, 300, 'what its budget lets it check')
    const patches = count(b, '$agentmesh/member-patch', 'in')
    assert.equal(patches, Math.ceil(300 * 4_000 / SYNC_MAX_BYTES), 'the patches that 300 such statements need, not the seven that all 800 would')
    assert.equal(count(b, '$agentmesh/member-cells', 'in'), patches, 'and no further round once the budget is spent')
  })

  it('a neighbour over its budget is refused before this node sums, lists or looks anything up', async () => {
    const [a, b] = await pair({ budget: 0 })
    for (const m of ids(500)) b.store.set(m, statement(m, 1))
    await assert.rejects(a.rpc.request(b.id, MemberDigest, { sums: encodeDigest(digestOf([])), salt: '00000000' }), (err: Error & { code?: string }) => err.code === 'RATE001')
    await assert.rejects(a.rpc.request(b.id, MemberPatch, { statements: [], want: ids(500) }), (err: Error & { code?: string }) => err.code === 'RATE001')
    assert.equal(b.built, 0, 'no entries built for a refused neighbour')
  })

  it('a mesh past one listing comes over whole too: the rest of the buckets in the next round', async () => {
    const [a, b] = await pair()
    const n = SYNC_MAX_STATEMENTS + 900
    for (const m of ids(n, 'many')) b.store.set(m, statement(m, 1, 60))
    await a.exchange?.sync(b.id)
    assert.equal(a.store.size, n)
    assert.ok(count(b, '$agentmesh/member-cells', 'in') >= 2, 'listed over two rounds at least')
  })

  /** Two exchanges with an agent of an older version of the digest (`opts`), each side lacking one statement: both get what they lacked in the first. */
  const twoWithOlder = async (opts: Opts): Promise<[Side, Side]> => {
    const [a, b] = await pair(opts)
    for (const m of ids(50)) { const st = statement(m, 10); a.store.set(m, st); b.store.set(m, st) }
    a.store.set('only-a', statement('only-a', 1))
    b.store.set('only-b', statement('only-b', 1))
    await a.exchange?.sync(b.id)
    assert.ok(a.store.has('only-b') && b.store.has('only-a'))
    await a.exchange?.sync(b.id)
    return [a, b]
  }

  it('an agent that knows only the digest\'s first version is asked by it, remembered as such, and both sides get what they lacked', async () => {
    const [a, b] = await twoWithOlder({ firstVersion: true })
    assert.equal(count(a, '$agentmesh/member-cells', 'out'), 1, 'the third version tried once')
    assert.equal(count(a, '$agentmesh/member-sums', 'out'), 1, 'the second version tried once')
    assert.equal(count(a, '$agentmesh/member-digest', 'out'), 2, 'then the first, each exchange')
    assert.equal(count(b, '$agentmesh/member-patch', 'in'), 1, 'the second exchange found nothing to patch: the first version\'s sums agreed')
    assert.equal(count(a, '$agentmesh/member-sync', 'out'), 0, 'never whole')
  })

  it('an agent that knows the digest\'s second version but not its third is asked by it, remembered as such', async () => {
    const [a] = await twoWithOlder({ secondVersion: true })
    assert.equal(count(a, '$agentmesh/member-cells', 'out'), 1, 'the third version tried once')
    assert.equal(count(a, '$agentmesh/member-sums', 'out'), 2, 'then the second, each exchange')
    assert.equal(count(a, '$agentmesh/member-digest', 'out'), 0)
  })

  it('a large bucket that differs a little is compared by cell: the answer names it, and the next round lists only the cells that differ', async () => {
    const [a, b] = await pair()
    // ~62 members a bucket (CELLS_FROM is 32), the same statements on both sides; then a few differ.
    const members = ids(4_000, 'm')
    for (const m of members) { const st = statement(m, 10, 80); a.store.set(m, st); b.store.set(m, st) }
    const newer = [members[5], members[700], members[3_100]]
    for (const m of newer) b.store.set(m, statement(m, 11, 80))
    a.store.set('only-a', statement('only-a', 1, 80))
    const differs = new Set([...newer, 'only-a'].map(bucketOf))
    const sumsAt = (s: Side, salt: string): Uint32Array => sumsOf([...s.store.keys()].map(m => [m, fingerprint(m, JSON.parse(s.store.get(m)?.body ?? '{}').seq)]), salt)
    const cellsAt = (s: Side, buckets: number[], salt: string): Uint32Array[] => cellSumsOf([...s.store.keys()].map(m => [m, fingerprint(m, JSON.parse(s.store.get(m)?.body ?? '{}').seq)]), buckets, salt)
    const salt = '0123456789abcdef'
    // Asked by one not far behind: nothing listed, the differing buckets named.
    const first = await a.rpc.request(b.id, MemberCells, { sums: encodeDigest(sumsAt(a, salt)), salt, count: a.store.size })
    assert.deepEqual(first.entries, [])
    assert.deepEqual([...first.split].sort(), [...differs].sort(), 'the buckets that differ, to compare by cell')
    assert.equal(first.more, false, 'more: areas left out of the listing, none here')
    // Their sums by cell: only the cells that differ are listed, a few entries, not ~47 a bucket.
    const cells = cellsAt(a, first.split, salt).map((sums, i) => ({ bucket: first.split[i], sums: encodeDigest(sums) }))
    const second = await a.rpc.request(b.id, MemberCells, { sums: encodeDigest(sumsAt(a, salt)), salt, count: a.store.size, cells })
    assert.deepEqual(second.split, [])
    assert.deepEqual([...second.buckets].sort((x, y) => x - y), [...new Set([...newer, 'only-a'].map(m => CELL_AREA + cellOf(m)))].sort((x, y) => x - y), 'the cells of the members that differ')
    const listedMembers = second.entries.map(([m]) => m)
    for (const m of newer) assert.ok(listedMembers.includes(m), `${m} listed`)
    assert.ok(second.entries.length < 20, `${second.entries.length} entries listed (a whole bucket is ~62)`)
    // A newcomer (a count far below the answerer's) is listed whole buckets at once, as before.
    const newcomer = await a.rpc.request(b.id, MemberCells, { sums: encodeDigest(sumsOf([], salt)), salt, count: 0 })
    assert.deepEqual(newcomer.split, [])
    assert.equal(newcomer.entries.length, Math.min(b.store.size, SYNC_MAX_STATEMENTS), 'whole buckets, as many as fit')
    // And the exchange itself: both sides end with what they lacked.
    a.taken = b.taken = 0
    const asked = count(b, '$agentmesh/member-cells', 'in')
    await a.exchange?.sync(b.id)
    assert.equal(count(b, '$agentmesh/member-cells', 'in') - asked, 2, 'two rounds: the buckets named, then compared by cell')
    assert.equal(a.taken, 3, 'a took the three newer statements')
    assert.equal(b.taken, 1, 'b took the one it lacked')
    for (const m of newer) assert.equal(JSON.parse(a.store.get(m)?.body ?? '{}').seq, 11)
  })

  it('sums by cell that are not a digest, or of a bucket out of range, are refused as bad input (MSG)', async () => {
    const [a, b] = await pair()
    const salt = '0123456789abcdef'
    const sums = encodeDigest(sumsOf([], salt))
    await assert.rejects(a.rpc.request(b.id, MemberCells, { sums, salt, count: 0, cells: [{ bucket: 3, sums: 'zz'.repeat(256) }] }), (err: Error & { code?: string }) => err.code === 'MSG001')
    await assert.rejects(a.rpc.request(b.id, MemberCells, { sums, salt, count: 0, cells: [{ bucket: 64, sums }] }), (err: Error & { code?: string }) => err.code === 'MSG001')
  })

  it('an agent of an older build is exchanged with whole, and remembered as such (a whole exchange at most every 30 s)', async () => {
    const [a, b] = await pair({ older: true })
    b.store.set('old-1', statement('old-1', 1))
    a.store.set('new-1', statement('new-1', 1))
    await a.exchange?.sync(b.id)
    assert.ok(a.store.has('old-1') && b.store.has('new-1'))
    await a.exchange?.sync(b.id)
    assert.equal(count(a, '$agentmesh/member-cells', 'out'), 1, 'asked by the digest\'s third version once')
    assert.equal(count(a, '$agentmesh/member-sums', 'out'), 1, 'by its second once')
    assert.equal(count(a, '$agentmesh/member-digest', 'out'), 1, 'then by its first, once')
    assert.equal(count(a, '$agentmesh/member-sync', 'out'), 1, 'whole exchanges with one older agent at most every 30 s')
  })
})

describe('agents exchange by digest', () => {
  const nodes: AgentNode[] = []
  after(async () => { await stopAll(nodes) })
  const mesh = uniqueMesh()
  const start = async (name: string): Promise<AgentNode> => {
    const bootstrap = nodes.length > 0 ? [nodes[0].addresses()[0]] : []
    const node = await createAgentNode(nodeOptions(mesh, { name, membership: { syncIntervalMs: 300 }, bootstrap }))
    await node.start()
    nodes.push(node)
    return node
  }

  it('their exchanges are digests, none whole; a newcomer learns every member', async () => {
    for (const name of ['a0', 'a1', 'a2']) await start(name)
    const hk = (n: AgentNode, subject: string): number => n.stats.get('housekeeping_messages_total', { subject, direction: 'out', type: 'REQUEST' })
    const sum = (subject: string): number => nodes.reduce((s, n) => s + hk(n, subject), 0)
    await waitFor(() => nodes.every(n => n.members().filter(m => m.state === 'alive').length === nodes.length - 1), 'every agent alive everywhere')
    const digests = sum('$agentmesh/member-cells')
    await waitFor(() => sum('$agentmesh/member-cells') >= digests + 12, 'a dozen more exchanges')
    assert.equal(sum('$agentmesh/member-digest') + sum('$agentmesh/member-sums'), 0, 'no digest of an older version between agents of this build')
    assert.equal(sum('$agentmesh/member-sync'), 0, 'no whole exchange between agents of this build')
    const late = await start('late')
    await waitFor(() => late.members().filter(m => m.state === 'alive').length === 3, 'the newcomer knows every member')
  })

  it('a gossip message is answered with which statements the receiver held already (its own among them), not one it could not read', async () => {
    const [a, b] = nodes
    const { statements } = await a.request(b.peerId, MemberSync, { statements: [] })
    assert.ok(statements.length >= 2, 'b\'s own statement and others\' (a\'s own is left out)')
    const unreadable = { body: '{"not":"a statement"}', sig: 'AAAA' }
    const answer = await a.request(b.peerId, MemberGossip, { statements: [unreadable, ...statements] })
    assert.equal(answer.known, ((1 << statements.length) - 1) << 1, 'bit 0, the unreadable one, clear; every other set')
    assert.deepEqual(await a.request(b.peerId, MemberGossip, { statements: [unreadable] }), {}, 'nothing held: no mask')
  })
})
