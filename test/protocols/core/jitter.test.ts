/** protocols/core/jitter.ts: the one jitter formula of the timers and retries, and the bootstrap's equal jitter. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { equalJitter, jittered } from '../../../protocols/core/jitter.js'
import { retryDelay } from '../../../protocols/delivery/backoff.js'

test('jittered: within ± the fraction of the value, evenly; the ends at random() 0 and 1', { timeout: 3 * 60_000 }, () => {
  assert.equal(jittered(1_000, 0.1, () => 0), 900)
  assert.equal(jittered(1_000, 0.1, () => 0.5), 1_000)
  assert.equal(jittered(1_000, 0.5, () => 0), 500)
  assert.equal(jittered(1_000, 0.5, () => 1), 1_500)
  assert.equal(jittered(1_000, 0, () => 0.9), 1_000)
  // The formulas it replaces give the same waits: ms·(0.9 + r·0.2) (repeat.ts, monitoring) and ms·(0.5 + r) (reconnect, voter links).
  for (const r of [0, 0.123, 0.5, 0.77, 0.999]) {
    assert.ok(Math.abs(jittered(4_321, 0.1, () => r) - 4_321 * (0.9 + r * 0.2)) < 1e-9)
    assert.equal(Math.round(jittered(4_321, 0.5, () => r)), Math.round(4_321 * (0.5 + r)))
  }
  let lo = Infinity
  let hi = -Infinity
  // random() swept over [0, 1) (no randomness in this test: nothing to seed).
  for (let i = 0; i < 10_000; i++) { const v = jittered(100, 0.2, () => i / 10_000); lo = Math.min(lo, v); hi = Math.max(hi, v) }
  assert.ok(lo === 80 && hi < 120 && hi > 119.99, `${lo}..${hi}`)
})

test('equalJitter: between half the value and the value (the bootstrap\'s backoff)', { timeout: 3 * 60_000 }, () => {
  assert.equal(equalJitter(1_000, () => 0), 500)
  assert.equal(equalJitter(1_000, () => 1), 1_000)
  assert.equal(equalJitter(1_000, () => 0.5), 750)
})

test('retryDelay keeps its schedule through jittered (delivery\'s ±jitter, never below 1 ms)', { timeout: 3 * 60_000 }, () => {
  const p = { maxRetries: 3, initialDelayMs: 1_000, maxDelayMs: 30_000, jitter: 0.2 }
  assert.equal(retryDelay(1, p, () => 0.5), 1_000)
  assert.equal(retryDelay(2, p, () => 0), 1_600)
  assert.equal(retryDelay(3, p, () => 1), 4_800)
  assert.equal(retryDelay(10, p, () => 0.5), 30_000)
  assert.equal(retryDelay(1, { ...p, initialDelayMs: 0 }, () => 0), 1)
})
