// The reorder buffer and sequencer of protocols/delivery/ordering.ts: pure, so driven with
// chosen arrival orders and times, and with a seeded random channel that reorders, duplicates
// and loses messages.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { seededRandom } from '../../helpers.js'
import { ReorderBuffer, Sequencer, type GapReport } from '../../../protocols/delivery/ordering.js'

test('in order: each arrival is delivered at once', { timeout: 3 * 60_000 }, () => {
  const buf = new ReorderBuffer<string>({ reorderBuffer: 8, gapTimeoutMs: 100 })
  for (let seq = 1; seq <= 5; seq++) assert.deepEqual(buf.accept('a', seq, `m${seq}`, 0), { outcome: 'delivered', items: [`m${seq}`] })
  assert.equal(buf.expected('a'), 6)
  assert.deepEqual(buf.expire(1_000), [])
  assert.equal(buf.stats().delivered, 5)
})

test('out of order: later ones wait, the missing one releases them in order', { timeout: 3 * 60_000 }, () => {
  const buf = new ReorderBuffer<number>({ reorderBuffer: 8, gapTimeoutMs: 100 })
  assert.deepEqual(buf.accept('a', 3, 3, 0), { outcome: 'buffered', items: [] }, 'the first arrivals of a stream may be reordered too')
  assert.deepEqual(buf.accept('a', 2, 2, 1), { outcome: 'buffered', items: [] })
  assert.equal(buf.stats().buffered, 2)
  assert.deepEqual(buf.accept('a', 1, 1, 2), { outcome: 'delivered', items: [1, 2, 3] })
  assert.deepEqual(buf.accept('a', 5, 5, 3), { outcome: 'buffered', items: [] })
  assert.deepEqual(buf.accept('a', 4, 4, 4), { outcome: 'delivered', items: [4, 5] })
  assert.equal(buf.stats().buffered, 0)
  assert.equal(buf.stats().delivered, 5)
})

test('streams are independent: a gap on one holds back nothing on another', { timeout: 3 * 60_000 }, () => {
  const buf = new ReorderBuffer<string>({ reorderBuffer: 8, gapTimeoutMs: 100 })
  assert.equal(buf.accept('peer-a', 2, 'a2', 0).outcome, 'buffered')
  assert.deepEqual(buf.accept('peer-b', 1, 'b1', 0).items, ['b1'])
  assert.deepEqual(buf.accept('peer-a/topic', 1, 'at1', 0).items, ['at1'], 'a sender and a topic is a stream of its own')
  assert.equal(buf.stats().streams, 3)
})

test('duplicates are dropped and counted: delivered ones, and ones already waiting', { timeout: 3 * 60_000 }, () => {
  const buf = new ReorderBuffer<string>({ reorderBuffer: 8, gapTimeoutMs: 100 })
  buf.accept('a', 1, 'one', 0)
  assert.deepEqual(buf.accept('a', 1, 'one again', 1), { outcome: 'duplicate', items: [] })
  assert.equal(buf.accept('a', 3, 'three', 2).outcome, 'buffered')
  assert.deepEqual(buf.accept('a', 3, 'three again', 3), { outcome: 'duplicate', items: [] })
  assert.deepEqual(buf.accept('a', 2, 'two', 4).items, ['two', 'three'], 'the first copy is the one delivered')
  assert.equal(buf.stats().duplicates, 2)
})

test('a seq from the future beyond the buffer is dropped and counted; the edge of the buffer is kept', { timeout: 3 * 60_000 }, () => {
  const buf = new ReorderBuffer<number>({ reorderBuffer: 4, gapTimeoutMs: 100 })
  buf.accept('a', 1, 1, 0)
  assert.equal(buf.accept('a', 2 + 4, 6, 0).outcome, 'buffered', 'next + reorderBuffer is the last seq that may wait')
  assert.deepEqual(buf.accept('a', 2 + 5, 7, 0), { outcome: 'beyond', items: [] })
  assert.equal(buf.accept('a', Number.MAX_SAFE_INTEGER, 0, 0).outcome, 'beyond')
  assert.equal(buf.stats().beyond, 2)
  assert.equal(buf.stats().buffered, 1)
  for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 53]) assert.equal(buf.accept('a', bad, 0, 0).outcome, 'invalid', `seq ${bad}`)
  assert.equal(buf.stats().invalid, 5)
})

test('a stream first seen far from 1 starts where it is seen (a late joiner); near 1 it waits for the start', { timeout: 3 * 60_000 }, () => {
  const buf = new ReorderBuffer<number>({ reorderBuffer: 10, gapTimeoutMs: 100 })
  assert.deepEqual(buf.accept('late', 500, 500, 0), { outcome: 'delivered', items: [500] })
  assert.equal(buf.accept('late', 499, 499, 0).outcome, 'duplicate')
  assert.equal(buf.accept('near', 7, 7, 0).outcome, 'buffered')
  const [gap] = buf.expire(100)
  assert.deepEqual(gap, { key: 'near', from: 1, to: 6, openedAt: 0, initial: true, items: [7] }, 'a start never seen is a gap, marked initial')
})

test('a gap open past gapTimeoutMs is reported once, with its range, and delivery goes on past it', { timeout: 3 * 60_000 }, () => {
  const buf = new ReorderBuffer<number>({ reorderBuffer: 16, gapTimeoutMs: 100 })
  buf.accept('a', 1, 1, 0)
  buf.accept('a', 3, 3, 10)
  buf.accept('a', 4, 4, 20)
  buf.accept('a', 7, 7, 30)
  assert.equal(buf.nextExpiry(), 110)
  assert.deepEqual(buf.expire(109), [], 'not before the timeout')
  const reports = buf.expire(110)
  assert.deepEqual(reports, [{ key: 'a', from: 2, to: 2, openedAt: 10, initial: false, items: [3, 4] }], 'the second gap opened later')
  assert.equal(buf.expected('a'), 5)
  assert.equal(buf.nextExpiry(), 130)
  assert.deepEqual(buf.expire(129), [])
  assert.deepEqual(buf.expire(130), [{ key: 'a', from: 5, to: 6, openedAt: 30, initial: false, items: [7] }])
  assert.deepEqual(buf.expire(10_000), [], 'each gap is reported once')
  assert.equal(buf.nextExpiry(), undefined)
  assert.equal(buf.accept('a', 2, 2, 200).outcome, 'duplicate', 'a skipped seq that comes late is not delivered out of order')
  assert.deepEqual(buf.accept('a', 8, 8, 200).items, [8])
  const s = buf.stats()
  assert.equal(s.gaps, 2)
  assert.equal(s.skipped, 3)
})

test('gaps of one stream that have all timed out are reported together, in order', { timeout: 3 * 60_000 }, () => {
  const buf = new ReorderBuffer<number>({ reorderBuffer: 16, gapTimeoutMs: 50 })
  buf.accept('a', 1, 1, 0)
  for (const seq of [3, 5, 9]) buf.accept('a', seq, seq, 0)
  const reports = buf.expire(50)
  assert.deepEqual(reports.map(r => [r.from, r.to, r.items]), [[2, 2, [3]], [4, 4, [5]], [6, 8, [9]]])
  assert.equal(buf.stats().buffered, 0)
})

test('memory is bounded: the least recently used stream is forgotten past maxStreams, items past maxBuffered are refused', { timeout: 3 * 60_000 }, () => {
  const buf = new ReorderBuffer<number>({ reorderBuffer: 100, gapTimeoutMs: 100, maxStreams: 3, maxBuffered: 5 })
  buf.accept('a', 1, 1, 0)
  buf.accept('b', 3, 3, 0)
  buf.accept('c', 1, 1, 0)
  buf.accept('a', 2, 2, 0) // a is now the most recently used: b goes first.
  buf.accept('d', 1, 1, 0)
  assert.equal(buf.expected('b'), undefined)
  assert.equal(buf.expected('a'), 3)
  const { streams, evictedStreams, evictedItems, buffered } = buf.stats()
  assert.deepEqual({ streams, evictedStreams, evictedItems, buffered }, { streams: 3, evictedStreams: 1, evictedItems: 1, buffered: 0 })
  for (const seq of [5, 6, 7, 8, 9]) assert.equal(buf.accept('a', seq, seq, 0).outcome, 'buffered')
  assert.deepEqual(buf.accept('a', 10, 10, 0), { outcome: 'overflow', items: [] })
  assert.equal(buf.accept('c', 3, 3, 0).outcome, 'overflow', 'the bound is across streams')
  assert.deepEqual(buf.accept('c', 2, 2, 0).items, [2], 'delivering needs no room')
  assert.equal(buf.stats().overflow, 2)
  buf.forget('a')
  assert.equal(buf.stats().buffered, 0, 'forget lets its waiting items go')
  assert.equal(buf.accept('c', 3, 3, 0).outcome, 'delivered')
})

test('options are checked', { timeout: 3 * 60_000 }, () => {
  assert.throws(() => new ReorderBuffer({ reorderBuffer: 0 }), RangeError)
  assert.throws(() => new ReorderBuffer({ maxStreams: 1.5 }), RangeError)
  assert.throws(() => new ReorderBuffer({ gapTimeoutMs: -1 }), RangeError)
  const defaults = new ReorderBuffer()
  assert.equal(defaults.reorderBuffer, 1_000)
  assert.equal(defaults.gapTimeoutMs, 5_000)
})

test('the sequencer hands out 1, 2, 3... per stream', { timeout: 3 * 60_000 }, () => {
  const seq = new Sequencer()
  assert.deepEqual([seq.next('a'), seq.next('a'), seq.next('b'), seq.next('a')], [1, 2, 1, 3])
  assert.equal(seq.last('a'), 3)
  assert.equal(seq.last('c'), 0)
  assert.equal(seq.size, 2)
  seq.forget('a')
  assert.equal(seq.next('a'), 1)
})

const random = seededRandom

interface Item { key: string, seq: number }
interface Run { delivered: Map<string, number[]>, gaps: Array<GapReport<Item>>, lost: Map<string, Set<number>>, sent: number, buf: ReorderBuffer<Item> }

/**
 * Three streams of `count` items each through a channel that delays each copy by up to
 * `maxDelay` (so reorders), sends a second copy of 10% and loses 3%; the receiver expires gaps
 * every 5 time units. Returns what it delivered, per stream in delivery order.
 */
function channelRun (seed: number, count: number, maxDelay: number, reorderBuffer: number): Run {
  const rnd = random(seed)
  const sequencer = new Sequencer()
  const buf = new ReorderBuffer<{ key: string, seq: number }>({ reorderBuffer, gapTimeoutMs: maxDelay + 10 })
  const keys = ['peer-a', 'peer-b', 'peer-a/jobs']
  const arrivals: Array<{ at: number, key: string, seq: number }> = []
  const lost = new Map(keys.map(k => [k, new Set<number>()]))
  for (let t = 0; t < count * keys.length; t++) {
    const key = keys[Math.floor(rnd() * keys.length)]!
    const seq = sequencer.next(key)
    const copies = rnd() < 0.1 ? 2 : 1
    if (rnd() < 0.03) { lost.get(key)!.add(seq); continue }
    for (let c = 0; c < copies; c++) arrivals.push({ at: t + rnd() * maxDelay, key, seq })
  }
  arrivals.sort((x, y) => x.at - y.at)
  const delivered = new Map(keys.map(k => [k, [] as number[]]))
  const gaps: Run['gaps'] = []
  const take = (items: Array<{ key: string, seq: number }>): void => { for (const i of items) delivered.get(i.key)!.push(i.seq) }
  let lastExpire = 0
  for (const a of arrivals) {
    while (lastExpire + 5 <= a.at) {
      lastExpire += 5
      for (const g of buf.expire(lastExpire)) { gaps.push(g); take(g.items) }
    }
    take(buf.accept(a.key, a.seq, { key: a.key, seq: a.seq }, a.at).items)
  }
  for (const g of buf.expire(Infinity)) { gaps.push(g); take(g.items) }
  const sent = keys.reduce((n, k) => n + sequencer.last(k), 0)
  return { delivered, gaps, lost, sent, buf }
}

const SEED = Number(process.env.AGENTMESH_TEST_ORDERING_SEED ?? 20_261_123)

test(`seeded random reordering, duplication and loss: every item exactly once and in order, or inside a reported gap (seed ${SEED})`, { timeout: 3 * 60_000 }, () => {
  for (let run = 0; run < 20; run++) {
    const seed = SEED + run
    const { delivered, gaps, lost, sent, buf } = channelRun(seed, 2_000, 40, 200)
    const where = `seed ${seed}`
    let accounted = 0
    for (const [key, seqs] of delivered) {
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `${where} ${key}: ${seqs[i]} after ${seqs[i - 1]}`)
      const skipped = new Set(gaps.filter(g => g.key === key).flatMap(g => Array.from({ length: g.to - g.from + 1 }, (_, i) => g.from + i)))
      const got = new Set(seqs)
      const last = seqs.at(-1) ?? 0
      for (let seq = 1; seq <= last; seq++) {
        assert.ok(got.has(seq) !== skipped.has(seq), `${where} ${key} seq ${seq}: delivered ${got.has(seq)}, in a gap ${skipped.has(seq)}`)
        if (skipped.has(seq)) assert.ok(lost.get(key)!.has(seq), `${where} ${key}: seq ${seq} was reported missing but was sent`)
      }
      // After the last delivered one, only lost items: a loss at the very end leaves no later item to show a gap.
      for (const seq of lost.get(key)!) assert.ok(seq < last ? skipped.has(seq) : !got.has(seq), `${where} ${key}: lost seq ${seq}`)
      accounted += got.size + [...lost.get(key)!].length
    }
    const stats = buf.stats()
    assert.equal(accounted, sent, `${where}: every item delivered or lost`)
    assert.equal(stats.beyond, 0, `${where}: the buffer covers the channel's reordering`)
    assert.equal(stats.buffered, 0, `${where}: nothing left waiting`)
    assert.ok(stats.duplicates > 0 && stats.gaps > 0, `${where}: the run exercised duplicates (${stats.duplicates}) and gaps (${stats.gaps})`)
    assert.ok(gaps.every(g => !g.initial), `${where}: every stream saw its start`)
  }
})

test(`seeded random run with a buffer smaller than the reordering: what is delivered is still in order and once (seed ${SEED})`, { timeout: 3 * 60_000 }, () => {
  const { delivered, lost, sent, buf } = channelRun(SEED, 2_000, 400, 20)
  const stats = buf.stats()
  assert.ok(stats.beyond > 0, 'some arrivals came from beyond the buffer')
  let count = 0
  for (const [key, seqs] of delivered) {
    assert.equal(new Set(seqs).size, seqs.length, `${key}: delivered once`)
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `${key}: in order`)
    for (const seq of seqs) assert.ok(!lost.get(key)!.has(seq), `${key}: ${seq} was lost, not delivered`)
    count += seqs.length
  }
  assert.equal(count, stats.delivered)
  assert.ok(count < sent)
})
