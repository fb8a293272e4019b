// harness/flights.ts: the simulators' queue of events in flight. Its order out must be the
// (at, order) order exactly, whatever is pushed while a millisecond is being played, or every
// simulated figure changes: checked against a sort of the same events, over a seeded random
// schedule of pushes and pops.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Flights } from '../../harness/flights.js'
import { seededRandom } from '../../harness/random.js'

test('flights: events come out earliest first, ties in the order pushed, with pushes into the millisecond being played, the past and far ahead', { timeout: 60_000 }, () => {
  const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31))
  console.log(`flights: seed ${seed} (SEED=${seed} repeats it)`)
  const random = seededRandom(seed)
  const q = new Flights<{ at: number, order: number }>()
  const pending: Array<{ at: number, order: number }> = []
  const out: Array<{ at: number, order: number }> = []
  let order = 0
  let now = 0
  const push = (at: number): void => {
    const f = { at, order: order++ }
    q.push(f)
    pending.push(f)
  }
  for (let i = 0; i < 20_000; i++) {
    const r = random()
    if (r < 0.55) {
      // As the simulators push: a message 0.5-5 ms on, a timer up to seconds on, the same ms again, now exactly.
      const kind = random()
      push(kind < 0.5 ? now + 0.5 + random() * 4.5 : kind < 0.8 ? now + random() * 3_000 : kind < 0.9 ? Math.floor(now) + 0.25 : now)
    } else if (r < 0.57) {
      push(Math.max(0, now - random() * 3)) // in the past: out next
    } else {
      assert.equal(q.size, pending.length)
      const f = q.pop()
      if (pending.length === 0) { assert.equal(f, undefined); continue }
      pending.sort((a, b) => a.at - b.at || a.order - b.order)
      const expected = pending.shift()
      assert.equal(f, expected, `pop ${out.length}: ${JSON.stringify(f)} where ${JSON.stringify(expected)}`)
      assert.equal(q.peek(), pending.length === 0 ? undefined : [...pending].sort((a, b) => a.at - b.at || a.order - b.order)[0])
      out.push(f as { at: number, order: number })
      now = Math.max(now, (f as { at: number }).at)
    }
  }
  while (q.size > 0) out.push(q.pop() as { at: number, order: number })
  assert.equal(q.pop(), undefined)
  assert.equal(q.peek(), undefined)
  assert.ok(out.length > 9_000, `${out.length} events played`)
})
