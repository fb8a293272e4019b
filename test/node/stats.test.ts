// node/stats.ts: the node's counters, kept in nested maps by label value and rendered through
// prom-client. What a scrape shows must be what prom-client's own Counter shows for the same
// counts (dashboards and `promtool check metrics` read it): the test counts one random sequence
// into both and compares the text, and checks what get() and snapshot() read back.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Counter, Registry } from 'prom-client'
import { Stats } from '../../node/stats.js'
import { seededRandom } from '../../harness/random.js'

test('stats: counters render as prom-client\'s Counter for the same counts, whatever order the labels are given in; get() sums the series a partial label set matches', { timeout: 60_000 }, async () => {
  const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31))
  console.log(`stats: seed ${seed} (SEED=${seed} repeats it)`)
  const random = seededRandom(seed)
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]
  const stats = new Stats()
  const theirs = new Registry()
  const reference = new Counter({ name: 'messages_total', help: 'x', labelNames: ['direction', 'type', 'status'], registers: [theirs] })
  const joined = new Counter({ name: 'peers_joined_total', help: 'x', registers: [theirs] })
  const sums = new Map<string, number>()
  for (let i = 0; i < 3_000; i++) {
    const direction = pick(['in', 'out'])
    const type = pick(['EVENT', 'REQUEST', 'RESPONSE', 'COMMAND'])
    const status = pick(['ok', 'invalid', 'rate_limited'])
    const by = random() < 0.1 ? 1 + Math.floor(random() * 5) : 1
    // The same series given with its labels in another order.
    stats.inc('messages_total', random() < 0.5 ? { direction, type, status } : { status, type, direction }, by)
    reference.inc({ direction, type, status }, by)
    sums.set(direction, (sums.get(direction) ?? 0) + by)
    if (random() < 0.05) { stats.inc('peers_joined_total'); joined.inc() }
  }
  // The series' order differs (first counted here, prom-client's hash there): compared per family, as sorted lines.
  const lines = (text: string, family: string): string[] => text.split('\n').filter(l => l.startsWith(`${family}{`) || l.startsWith(`${family} `)).sort()
  const ours = (await stats.exposition()).body
  const expected = await theirs.metrics()
  for (const family of ['messages_total', 'peers_joined_total']) {
    const a = lines(expected, family)
    assert.ok(a.length > 0, family)
    assert.deepEqual(lines(ours, family), a, family)
  }
  assert.equal(lines(ours, 'messages_total').length, 24, 'each of the 2 x 4 x 3 series once')
  assert.equal(stats.get('messages_total', { direction: 'in' }), sums.get('in'))
  assert.equal(stats.get('messages_total'), (sums.get('in') ?? 0) + (sums.get('out') ?? 0))
  assert.equal(stats.get('messages_total', { direction: 'in', type: 'nothing' }), 0)
  // A label not given is a series of its own, apart from any value given.
  stats.inc('gossip_rejected_total', {})
  stats.inc('gossip_rejected_total', { reason: 'forged_source' })
  stats.inc('gossip_rejected_total', { reason: 'forged_source' })
  assert.equal(stats.get('gossip_rejected_total', { reason: 'forged_source' }), 2)
  assert.equal(stats.get('gossip_rejected_total'), 3)
  const snap = stats.snapshot().gossip_rejected_total
  assert.deepEqual(snap.map(s => s.value), [1, 2])
  snap[1].labels.reason = 'changed'
  assert.equal(stats.get('gossip_rejected_total', { reason: 'forged_source' }), 2, 'a snapshot is a copy')
})
