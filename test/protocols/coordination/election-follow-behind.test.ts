// A non-voter ahead of its leader's term follows it in the leader's term (Election's
// followBehind): what it then admits as that leader's directives, and what it reports once it
// campaigns itself. Pure; both cases came from long runs of the election simulation (seed 1726
// of SIM_SEEDS=8000).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Election, type VoterConfig } from '../../../protocols/coordination/election.js'
import { certificate, fakeKeys } from '../../../harness/election-fakes.js'

const TIMINGS = { heartbeatIntervalMs: 100, electionTimeoutMinMs: 400, electionTimeoutMaxMs: 800, voterRemoveAfterMs: 60_000, bootstrapExpect: 3 }
const SET: VoterConfig = { version: 2, term: 1, voters: ['a', 'b', 'c'] }

/** Non-voter `n` at term 3, following `a`, the leader of term 1, on a's announcement. */
function behind (): Election {
  const n = new Election({ self: 'n', eligible: true, ...TIMINGS, random: () => 0.5, now: 0, persisted: { term: 3, config: SET }, keys: fakeKeys('n') })
  n.setMembers(['a', 'b', 'c'].map(peer => ({ peer, eligible: true })))
  n.announcement('a', { term: 1, leader: 'a', config: SET, cert: certificate(1, 'a', SET, ['a', 'b']) }, 10)
  n.drain()
  assert.deepEqual([n.currentLeader, n.leaderTerm, n.currentTerm], ['a', 1, 3], 'follows a in a\'s term, its own kept')
  return n
}

test('fencing behind: a non-voter following its leader a term behind takes that leader\'s directives of that term only, until the leader\'s newer term is announced', { timeout: 3 * 60_000 }, () => {
  const n = behind()
  assert.equal(n.admits(1, 'a'), 'ok')
  assert.equal(n.admits(3, 'a'), 'not-coordinator', 'a directive of the node\'s own term: not yet announced as a\'s')
  assert.equal(n.admits(0, 'a'), 'stale-term')
  assert.equal(n.admits(1, 'b'), 'not-coordinator')
  // a renewed its election in office (term 3) and says so.
  const renewed: VoterConfig = { version: 3, term: 3, voters: ['a', 'b', 'c'] }
  n.announcement('a', { term: 3, leader: 'a', config: renewed, cert: certificate(3, 'a', SET, ['a', 'b']) }, 20)
  assert.deepEqual([n.currentLeader, n.leaderTerm], ['a', 3])
  assert.equal(n.admits(3, 'a'), 'ok')
  assert.equal(n.admits(1, 'a'), 'stale-term', 'a late directive of the term before is refused once one of the newer was taken')
})

test('a node that followed a leader a term behind and then campaigns reports its own term, not the leader\'s', { timeout: 3 * 60_000 }, () => {
  const n = behind()
  // Added to the voters (two of three voters tell the same newer set), it campaigns once its wait runs out.
  const added: VoterConfig = { version: 4, term: 1, voters: ['a', 'b', 'c', 'n'] }
  for (const v of ['a', 'b']) n.receive(v, { type: 'config-reply', term: 1, config: added }, 30)
  assert.deepEqual(n.status(30).voters, added.voters)
  n.tick(n.nextWakeup())
  assert.equal(n.currentRole, 'pre-candidate')
  assert.deepEqual([n.currentLeader, n.leaderTerm], [undefined, 3])
})
