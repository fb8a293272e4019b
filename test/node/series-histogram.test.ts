// node/series-histogram.ts: the latency histograms kept by us, rendered by prom-client's registry.
// Its text must be prom-client's Histogram's for the same observations (dashboards and `promtool check metrics`
// read it), so the test renders both from one random sequence and compares them line for line.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Histogram, Registry } from 'prom-client'
import { SeriesHistogram } from '../../node/series-histogram.js'
import { seededRandom } from '../../harness/random.js'

test('series histogram: the same exposition as prom-client\'s Histogram for the same observations, series in first-observed order', { timeout: 60_000 }, async () => {
  const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31))
  console.log(`series histogram: seed ${seed} (SEED=${seed} repeats it)`)
  const random = seededRandom(seed)
  const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
  const theirs = new Registry()
  const ours = new Registry()
  const init = { name: 'message_latency_seconds', help: 'Latency by operation', labelNames: ['operation', 'type'] as const, buckets }
  const reference = new Histogram({ ...init, labelNames: [...init.labelNames], registers: [theirs] })
  const mine = new SeriesHistogram(init).register(ours)
  const operations = ['request', 'handle', 'deliver']
  const types = ['EVENT', 'REQUEST', 'COMMAND']
  for (let i = 0; i < 2_000; i++) {
    const labels = { operation: operations[Math.floor(random() * 3)], type: types[Math.floor(random() * 3)] }
    // Values on the bounds too: a bucket's bound is inclusive (le).
    const value = random() < 0.2 ? buckets[Math.floor(random() * buckets.length)] : random() ** 4 * 20
    reference.observe(labels, value)
    mine.observe(labels, value)
  }
  const text = async (r: Registry): Promise<string[]> => (await r.metrics()).trim().split('\n')
  const a = await text(theirs)
  const b = await text(ours)
  assert.ok(a.length > 100, `${a.length} lines`)
  assert.deepEqual(b, a)
  // Not a number: not counted (prom-client throws); reset empties it.
  mine.observe({ operation: 'deliver', type: 'EVENT' }, Number.NaN)
  assert.deepEqual(await text(ours), a)
  ours.resetMetrics()
  assert.deepEqual(await text(ours), ['# HELP message_latency_seconds Latency by operation', '# TYPE message_latency_seconds histogram'])
})
