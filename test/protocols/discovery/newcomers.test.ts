/** protocols/discovery/newcomers.ts: which members are new to the mesh, for the views' `newcomer`. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Newcomers } from '../../../protocols/discovery/newcomers.js'

test('newcomers: first heard of, or back from offline or left, a member is new for the window; a refuted suspicion makes nobody new', { timeout: 60_000 }, () => {
  const n = new Newcomers(60_000)
  n.change('a', 'unknown', 'alive', 0)
  assert.ok(n.isNew('a', 59_999))
  assert.ok(!n.isNew('a', 60_000))
  assert.ok(!n.isNew('never-heard', 0), 'a member this node never saw come is not new')
  // An insider lets a probe go unanswered and refutes: still its first coming, not a new one.
  n.change('a', 'alive', 'suspect', 70_000)
  n.change('a', 'suspect', 'alive', 71_000)
  assert.ok(!n.isNew('a', 71_000), 'suspect -> alive is no return')
  // Offline, then back (a restart, a healed partition): new again.
  n.change('a', 'suspect', 'offline', 80_000)
  n.change('a', 'offline', 'alive', 90_000)
  assert.ok(n.isNew('a', 90_000))
  n.change('b', 'left', 'alive', 91_000)
  assert.ok(n.isNew('b', 91_000))
  // First heard of as a suspect (an older statement) is a coming too.
  n.change('c', 'unknown', 'suspect', 92_000)
  assert.ok(n.isNew('c', 92_000))
})

test('newcomers: what is held is pruned as it ages, a return counted from its own time', { timeout: 60_000 }, () => {
  const n = new Newcomers(1_000)
  for (let i = 0; i < 1_000; i++) n.change(`p${i}`, 'unknown', 'alive', i)
  n.change('p0', 'offline', 'alive', 1_500)
  n.change('late', 'unknown', 'alive', 2_400)
  assert.ok(n.isNew('p0', 2_400), 'the return moved it on')
  assert.ok(!n.isNew('p999', 2_400))
  assert.equal((n as unknown as { came: Map<string, number> }).came.size, 2, 'the aged ones are gone')
})
