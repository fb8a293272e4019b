// A leader announces soon when its announcements reach an agent they did not reach before
// (Election.audienceGrew, driven by ElectionService from the coordinator topic's subscribers):
// a newcomer's subscription can reach the leader after the member view named it, when the
// announcement made on the join has gone, and the next periodic one may be minutes away. Pure.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Election } from '../../../protocols/coordination/election.js'
import { LONE_TIMINGS, fakeKeys } from '../../../harness/election-fakes.js'

const HEARTBEAT_MS = LONE_TIMINGS.heartbeatIntervalMs
const TIMINGS = LONE_TIMINGS

/** `a`, the only voter, in office: its win's announcement drained. */
function leader (): { a: Election, now: number } {
  const a = new Election({ self: 'a', eligible: true, ...TIMINGS, random: () => 0.5, now: 0, keys: fakeKeys('a') })
  a.setMembers([])
  let now = 0
  for (let i = 0; i < 100 && a.currentRole !== 'leader'; i++) { now = Math.max(now + 1, a.nextWakeup()); a.tick(now); a.drain() }
  assert.equal(a.currentRole, 'leader', 'a alone elects itself')
  // Past the announcements of the win.
  for (let i = 0; i < 10; i++) { now = a.nextWakeup(); a.tick(now); a.drain() }
  return { a, now }
}

/** Ticks `a` through `ms` of its wakeups: whether it announced. */
function announcesWithin (a: Election, from: number, ms: number): boolean {
  let now = from
  let announced = false
  while (now < from + ms) {
    now = Math.max(now + 1, Math.min(a.nextWakeup(), from + ms))
    a.tick(now)
    if (a.drain().announce !== undefined) announced = true
  }
  return announced
}

test('a leader whose announcements reach a new agent announces within two heartbeats, not at its ten-minute interval', { timeout: 10_000 }, () => {
  const { a, now } = leader()
  assert.equal(announcesWithin(a, now, 5_000), false, 'nothing new: no announcement for minutes')
  a.audienceGrew()
  assert.equal(announcesWithin(a, now + 5_000, 3 * HEARTBEAT_MS), true, 'announced soon after the audience grew')
  assert.equal(announcesWithin(a, now + 5_000 + 3 * HEARTBEAT_MS, 5_000), false, 'once')
})

test('an agent not in office ignores that its audience grew', { timeout: 10_000 }, () => {
  const n = new Election({ self: 'n', eligible: false, ...TIMINGS, random: () => 0.5, now: 0, keys: fakeKeys('n') })
  n.audienceGrew()
  n.tick(1_000)
  assert.equal(n.drain().announce, undefined)
})
