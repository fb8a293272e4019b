/** protocols/discovery/newcomers.ts: which members are new to the mesh, for the views' `newcomer`. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Newcomers, RETURN_AFTER } from '../../../protocols/discovery/newcomers.js'

test('newcomers: first heard of, or back from offline or left long after its last coming, a member is new for the window; a refuted suspicion, or a return soon after, makes nobody new', { timeout: 60_000 }, () => {
  const n = new Newcomers(60_000)
  n.change('a', 'unknown', 'alive', 0)
  assert.ok(n.isNew('a', 59_999))
  assert.ok(!n.isNew('a', 60_000))
  assert.ok(!n.isNew('never-heard', 0), 'a member this node never saw come is not new')
  // An insider lets a probe go unanswered and refutes: still its first coming, not a new one.
  n.change('a', 'alive', 'suspect', 70_000)
  n.change('a', 'suspect', 'alive', 71_000)
  assert.ok(!n.isNew('a', 71_000), 'suspect -> alive is no return')
  // Offline, then back (a restart, a healed partition), long after its last coming: new again.
  const later = RETURN_AFTER * 60_000
  n.change('a', 'suspect', 'offline', later)
  n.change('a', 'offline', 'alive', later + 1_000)
  assert.ok(n.isNew('a', later + 1_000))
  // But not back again soon after: a signed leave and the next incarnation are the member's own.
  n.change('a', 'alive', 'left', later + 70_000)
  n.change('a', 'left', 'alive', later + 70_100)
  assert.ok(!n.isNew('a', later + 70_100), 'a return within RETURN_AFTER windows of the last coming is no newcomer')
  n.change('b', 'unknown', 'alive', later)
  n.change('b', 'alive', 'left', later + 1_000)
  n.change('b', 'left', 'alive', later + 1_100)
  assert.ok(n.isNew('b', later + 1_100), 'still new from its first coming')
  assert.ok(!n.isNew('b', later + 60_000), 'but only for the window of its first coming')
  // First heard of as a suspect (an older statement) is a coming too.
  n.change('c', 'unknown', 'suspect', later)
  assert.ok(n.isNew('c', later))
})

test('newcomers: what is held is pruned as it ages', { timeout: 60_000 }, () => {
  const n = new Newcomers(1_000)
  for (let i = 0; i < 1_000; i++) n.change(`p${i}`, 'unknown', 'alive', i)
  const far = RETURN_AFTER * 1_000 + 500
  n.change('p0', 'offline', 'alive', far)
  n.change('late', 'unknown', 'alive', far + 900)
  assert.ok(n.isNew('p0', far + 900), 'a return long after is counted from its own time')
  assert.ok(!n.isNew('p999', far + 900))
  const held = n as unknown as { came: Map<string, number>, last: Map<string, number> }
  assert.equal(held.came.size, 2, 'the aged newcomers are gone')
  assert.equal(held.last.size, 2, 'and the aged comings')
})
