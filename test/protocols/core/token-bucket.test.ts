/** protocols/core/token-bucket.ts: the one token bucket of rpc's limits, negotiation, the member budgets and pubsub's batcher. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TokenBucket } from '../../../protocols/core/token-bucket.js'
import { BatchBudget } from '../../../protocols/pubsub/batcher.js'
import { NeighbourBudgets } from '../../../protocols/discovery/member-budgets.js'

test('token bucket: starts full, refills continuously in fractions, never above its capacity', { timeout: 3 * 60_000 }, () => {
  const b = new TokenBucket(10, 5, 1_000)
  assert.equal(b.level(1_000), 1)
  assert.ok(b.full(1_000))
  for (let i = 0; i < 5; i++) assert.equal(b.take(1, 1_000), 0)
  assert.equal(b.level(1_000), 0)
  // 10 a second: 0.5 tokens in 50 ms, not rounded.
  assert.equal(b.level(1_050), 0.1)
  assert.ok(!b.full(1_499))
  assert.ok(b.full(1_500))
  assert.equal(b.level(60_000), 1, 'capped at the capacity however long it waited')
})

test('token bucket: available counts the whole tokens there, taking none; a neighbour\'s budget has room for a full bucket before it is met', { timeout: 3 * 60_000 }, () => {
  const b = new TokenBucket(10, 5, 0)
  assert.equal(b.take(4, 0), 0)
  assert.equal(b.available(0), 1)
  assert.equal(b.available(150), 2, '2.5 tokens: two whole ones')
  assert.equal(b.available(150), 2, 'and looking took none')
  const budgets = new NeighbourBudgets(1_024, 128)
  assert.equal(budgets.room('p', 0), 1_024)
  assert.equal(budgets.take('p', 1_000, 0), 0)
  assert.equal(budgets.room('p', 0), 24)
  assert.equal(budgets.room('p', 500), 88, 'refilled at 128 a second')
  assert.equal(budgets.room('q', 500), 1_024)
})

test('token bucket: take is all or nothing, and says how long until the tokens are there (rounded up to whole ms)', { timeout: 3 * 60_000 }, () => {
  const b = new TokenBucket(3, 3, 0)
  assert.equal(b.take(2, 0), 0)
  // One left; two more wanted: a third of a second for one token, 333.3 ms rounded up.
  assert.equal(b.take(2, 0), 334)
  assert.equal(b.level(0), 1 / 3, 'a refused take takes nothing')
  assert.equal(b.take(2, 334), 0)
  // More than the bucket holds waits for a full bucket, not for ever.
  assert.equal(b.take(100, 334), 1_000)
  assert.equal(b.take(100, 1_334), 0)
  assert.equal(b.level(1_334), 0)
})

test('token bucket: spend and charge run into debt; ready and msUntilNext see it', { timeout: 3 * 60_000 }, () => {
  const b = new TokenBucket(20, 2, 0)
  b.spend(1, 0)
  assert.ok(b.ready(0))
  assert.equal(b.charge(5, 0), true, 'one token there: the whole charge goes, into debt')
  assert.equal(b.level(0), -2)
  assert.equal(b.charge(1, 0), false)
  assert.ok(!b.ready(0))
  // From -4 to 1 token: 5 tokens at 20 a second.
  assert.equal(b.msUntilNext(0), 250)
  assert.equal(b.msUntilNext(249.99), 1, 'at least 1 ms while short')
  assert.ok(b.ready(251))
  assert.equal(b.msUntilNext(251), 0)
})

test('batch budget (pubsub): the core bucket on performance.now, a tenth of a second\'s burst, at least one', { timeout: 3 * 60_000 }, () => {
  const b = new BatchBudget(40)
  for (let i = 0; i < 4; i++) { assert.ok(b.ready()); b.take() }
  assert.ok(!b.ready())
  assert.ok(b.msUntilNext() > 0 && b.msUntilNext() <= 25)
  const slow = new BatchBudget(1)
  assert.ok(slow.charge(3))
  assert.ok(!slow.charge(1))
})
