// What a node says when it has no coordinator (`/coordinator`, `agentmesh start`, the live page).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { situationReason, type SituationFacts } from '../../../protocols/coordination/situation.js'

const facts = (over: Partial<SituationFacts>): SituationFacts => ({
  situation: 'no-voter-set', term: 0, eligible: true, client: false, bootstrapExpect: 3, eligibleSeen: 0, quorum: { size: 0, needed: 0, reachable: 0 }, ...over
})

test('no voter set: short of bootstrapExpect it counts the agents seen; with enough seen it says it waits for the set, not for more agents', { timeout: 10_000 }, () => {
  assert.equal(situationReason(facts({ eligibleSeen: 1 })), 'waiting for 3 eligible agents to see each other (coordination.bootstrapExpect), 2 seen')
  assert.match(situationReason(facts({ eligibleSeen: 1, eligible: false })) ?? '', /1 seen; this node does not vote$/)
  // A node meeting a mesh elected long ago sees five: "waiting for 3 ..., 5 seen" contradicted itself.
  const enough = situationReason(facts({ eligibleSeen: 4 })) ?? ''
  assert.match(enough, /^no voter set yet: 5 eligible agents seen/)
  assert.doesNotMatch(enough, /waiting for 3/)
  assert.equal(situationReason(facts({ situation: 'following' })), null)
  assert.equal(situationReason(facts({ situation: 'no-quorum', quorum: { size: 3, needed: 2, reachable: 1 } })), 'no quorum: 1 of 3 voters reachable, 2 needed')
})
