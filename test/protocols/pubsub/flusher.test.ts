// The flusher's rules (protocols/pubsub/flusher.ts), on a clock passed in: a batch goes at the
// end of the turn on an idle link, gathers while a write is under way, is sealed when full or
// after the window while busy, and waits for the node's and (by gossip) the topic's budgets.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Flusher, type FlushStep } from '../../../protocols/pubsub/flusher.js'
import { TokenBucket } from '../../../protocols/core/token-bucket.js'

const limits = { maxEnvelopes: 50, maxBytes: 256 * 1024, windowMs: 10 }

test('idle link: a lone envelope goes at the end of its turn, as a batch of one', { timeout: 60_000 }, () => {
  const f = new Flusher({ ...limits, holdFactor: 0, gossipPerSec: 40, now: 0 })
  assert.deepEqual(f.add(100, 0), { do: 'turn' })
  assert.deepEqual(f.step(0, true), { do: 'seal' })
  assert.equal(f.open, 1)
  f.sealed()
  assert.equal(f.open, 0)
  assert.ok(f.busy)
  assert.deepEqual(f.step(0), { do: 'wait' }, 'nothing open: nothing to do')
})

test('what one turn publishes travels together; a full batch is sealed at once', { timeout: 60_000 }, () => {
  const f = new Flusher({ ...limits, holdFactor: 0, gossipPerSec: 40, now: 0 })
  for (let i = 0; i < 49; i++) assert.deepEqual(f.add(100, 0), { do: 'turn' })
  assert.deepEqual(f.add(100, 0), { do: 'seal' }, 'the 50th: R-REL\'s count')
  const bytes = new Flusher({ ...limits, holdFactor: 0, gossipPerSec: 40, now: 0 })
  assert.deepEqual(bytes.add(1000, 0), { do: 'turn' })
  assert.deepEqual(bytes.add(limits.maxBytes, 0), { do: 'seal' }, 'or its bytes')
})

test('busy link: envelopes gather until the write completes, or the window closes', { timeout: 60_000 }, () => {
  const f = new Flusher({ ...limits, holdFactor: 0, gossipPerSec: 1000, now: 0 })
  f.add(100, 0)
  f.sealed() // written from now on
  assert.deepEqual(f.add(100, 1), { do: 'at', at: 11 }, 'the window counts from the first envelope waiting')
  assert.deepEqual(f.add(100, 3), { do: 'at', at: 11 })
  // The write completes: the link is idle and what gathered goes at the end of the turn.
  assert.deepEqual(f.written('direct', 4), { do: 'turn' })
  assert.equal(f.open, 2)
  f.sealed()
  // A write that takes longer than the window: the batch is sealed (queued behind it) at the window.
  assert.deepEqual(f.add(100, 5), { do: 'at', at: 15 })
  assert.deepEqual(f.step(14), { do: 'at', at: 15 })
  assert.deepEqual(f.step(15), { do: 'seal' })
  f.sealed()
  // Two in flight: one written leaves the link busy.
  f.add(100, 16)
  assert.deepEqual(f.written('direct', 17), { do: 'at', at: 26 })
  assert.deepEqual(f.written('direct', 18), { do: 'turn' })
})

test('by gossip, the topic\'s budget holds batches to its rate; over the fan-out streams it does not', { timeout: 60_000 }, () => {
  // 15.625 a second (a token every 64 ms, exact in binary fractions), a burst of 1.
  const rate = 1000 / 64
  const f = new Flusher({ ...limits, holdFactor: 0, gossipPerSec: rate, gossipBurst: 1, now: 0 })
  assert.deepEqual(f.add(100, 0), { do: 'turn' })
  f.sealed()
  assert.deepEqual(f.written('gossip', 1), { do: 'wait' })
  // The budget is spent: the next batch grows until the token comes.
  assert.deepEqual(f.add(100, 2), { do: 'at', at: 65 })
  assert.deepEqual(f.add(100, 33), { do: 'at', at: 65 })
  assert.deepEqual(f.step(65, true), { do: 'seal' })
  assert.equal(f.open, 2)
  f.sealed()
  // A batch that went directly: the gossip budget no longer holds the next one back.
  assert.deepEqual(f.written('direct', 66), { do: 'wait' })
  assert.deepEqual(f.add(100, 67), { do: 'turn' })
  f.sealed()
  f.written('direct', 68)
  assert.deepEqual(f.add(100, 69), { do: 'turn' })
  // A full batch goes whatever the budget (and is paid for after, in debt).
  const full = new Flusher({ ...limits, holdFactor: 0, maxEnvelopes: 2, gossipPerSec: rate, gossipBurst: 1, now: 0 })
  full.add(1, 0); full.sealed(); full.written('gossip', 0)
  assert.deepEqual(full.add(1, 1), { do: 'at', at: 64 })
  assert.deepEqual(full.add(1, 2), { do: 'seal' })
})

test('the node\'s budget, shared by every topic, holds batches whatever their way; a batch is charged one per unit', { timeout: 60_000 }, () => {
  // 125 a second (a token every 8 ms, exact in binary fractions), a burst of 2.
  const shared = new TokenBucket(125, 2, 0)
  const a = new Flusher({ ...limits, holdFactor: 0, gossipPerSec: 1000, shared, sharedUnit: 50, now: 0 })
  const b = new Flusher({ ...limits, holdFactor: 0, gossipPerSec: 1000, shared, sharedUnit: 50, now: 0 })
  a.add(100, 0); a.sealed(); assert.equal(a.admit(1, 0), 0); a.written('direct', 0)
  b.add(100, 0); b.sealed(); assert.equal(b.admit(1, 0), 0); b.written('direct', 0)
  // Both tokens gone (one each): either topic's next batch waits for the next token, and grows meanwhile.
  const step: FlushStep = a.add(100, 1)
  assert.deepEqual(step, { do: 'at', at: 8 })
  assert.deepEqual(b.add(100, 1), { do: 'at', at: 8 })
  assert.deepEqual(a.step(8, true), { do: 'seal' })
  a.sealed()
  assert.equal(a.admit(1, 8), 0)
  // b was told the same time, but a took the token: b waits on.
  assert.deepEqual(b.step(8, true), { do: 'at', at: 16 })
  // A sealed batch of 120 envelopes costs three units, into debt, once a token is there.
  const c = new Flusher({ ...limits, holdFactor: 0, maxEnvelopes: 200, gossipPerSec: 1000, shared, sharedUnit: 50, now: 0 })
  assert.equal(c.admit(120, 12), 4, 'half a token at 12 ms: 4 ms to wait')
  assert.equal(c.admit(120, 16), 0)
  assert.equal(c.admit(1, 16), 24, 'two units of debt: 24 ms until a token again')
})

test('a batch that goes directly is charged the direct weight; one charged so that went by gossip pays the rest', { timeout: 60_000 }, () => {
  // 100 a second (a token every 10 ms), a burst of 2.
  const shared = new TokenBucket(100, 2, 0)
  const f = new Flusher({ ...limits, holdFactor: 0, gossipPerSec: 1000, shared, sharedUnit: 50, sharedDirectWeight: 0.5, now: 0 })
  // The first batch's way is not known yet: a full unit.
  f.add(100, 0); f.sealed(); assert.equal(f.admit(1, 0), 0); f.written('direct', 0)
  // After a direct one, half: of the one token left, half is.
  f.add(100, 0); f.sealed(); assert.equal(f.admit(1, 0), 0); f.written('direct', 0)
  f.add(100, 0); f.sealed(); assert.equal(f.admit(1, 0), 5, 'half a token left: 5 ms until a whole one')
  assert.equal(f.admit(1, 5), 0, 'a whole token there: charged half')
  // That one went by gossip after all: the other half is paid, and the bucket is empty.
  f.written('gossip', 5)
  assert.deepEqual(f.add(100, 5), { do: 'at', at: 15 }, 'a token again 10 ms on')
  // After a gossip batch, a full unit again: a batch of 120 envelopes is three.
  f.sealed()
  assert.equal(f.admit(120, 15), 0)
  // Written directly, one receiver charging it in full (an older build): a unit each, nothing more owed.
  f.written('direct-full', 15)
  assert.equal(shared.available(15), -2)
  // And the next is guessed full too; one guessed half that a receiver charged in full pays the rest.
  const g = new Flusher({ ...limits, holdFactor: 0, gossipPerSec: 1000, shared: new TokenBucket(100, 2, 0), sharedUnit: 50, sharedDirectWeight: 0.5, now: 0 })
  g.add(100, 0); g.sealed(); assert.equal(g.admit(1, 0), 0); g.written('direct', 0)
  g.add(100, 0); g.sealed(); assert.equal(g.admit(1, 0), 0); g.written('direct-full', 0)
  assert.deepEqual(g.add(100, 0), { do: 'at', at: 10 }, 'two whole tokens spent: 10 ms until one')
  // A batch is charged by its envelopes before it goes; one whose bytes weigh more pays the rest after.
  const h = new Flusher({ ...limits, holdFactor: 0, gossipPerSec: 1000, shared: new TokenBucket(100, 2, 0), sharedUnit: 50, sharedUnitBytes: 1000, now: 0 })
  h.add(100, 0); h.sealed(); assert.equal(h.admit(1, 0), 0)
  h.written('gossip', 0, 2500)
  assert.deepEqual(h.add(100, 0), { do: 'at', at: 15 }, '2,500 bytes weigh 2.5 units: half a token in debt, a token again in 15 ms')
  assert.equal(f.admit(1, 15), 30, 'three units from one token: two of debt, 30 ms until a token')
})

test('just written: the link stays busy as long again as the write took, never longer than the window', { timeout: 60_000 }, () => {
  const f = new Flusher({ ...limits, holdFactor: 1, gossipPerSec: 1000, now: 0 })
  f.add(100, 0)
  f.sealed()
  assert.equal(f.admit(1, 0), 0)
  assert.deepEqual(f.written('direct', 3), { do: 'wait' }, 'a write of 3 ms')
  assert.deepEqual(f.add(100, 4), { do: 'at', at: 6 }, 'held until 3 ms after it')
  assert.deepEqual(f.step(6, true), { do: 'seal' })
  f.sealed()
  assert.equal(f.admit(1, 6), 0)
  f.written('direct', 106) // a write of 100 ms: a stream waited to drain
  assert.deepEqual(f.add(100, 107), { do: 'at', at: 116 }, 'held the window, not another 100 ms')
  // Without the hold the same batch would go at the end of its turn.
  const none = new Flusher({ ...limits, holdFactor: 0, gossipPerSec: 1000, now: 0 })
  none.add(100, 0); none.sealed(); none.admit(1, 0); none.written('direct', 3)
  assert.deepEqual(none.add(100, 4), { do: 'turn' })
})
