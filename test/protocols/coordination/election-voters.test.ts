// The election's voter-set rules (protocols/coordination/voter-set.ts), pure, and the machine
// removing a voter that announced it leaves at once rather than after voterRemoveAfterMs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Election, type ElectionMessage, type VoterConfig } from '../../../protocols/coordination/election.js'
import { bootstrapProposal, nextVoters, wins } from '../../../protocols/coordination/voter-set.js'
import { MAX_TERM_STEP, voteStatement } from '../../../protocols/coordination/election-proof.js'
import { LOST_AFTER_TIMEOUTS } from '../../../protocols/coordination/constants.js'
import { fakeKeys } from '../../../harness/election-fakes.js'

const TIMINGS = { heartbeatIntervalMs: 100, electionTimeoutMinMs: 400, electionTimeoutMaxMs: 800, voterRemoveAfterMs: 60_000, bootstrapExpect: 3 }

test('voter set: one change at a time; a voter that left goes at once, a silent one only after voterRemoveAfterMs; never below bootstrapExpect', { timeout: 3 * 60_000 }, () => {
  const config: VoterConfig = { version: 3, term: 2, voters: ['a', 'b', 'c', 'd'] }
  const lastHeard = new Map([['a', 0], ['b', 0], ['c', 0], ['d', 0]])
  const base = { self: 'a', config, lastHeard, now: 1_000, bootstrapExpect: 3, voterRemoveAfterMs: 60_000, maxVoters: 5, lostAfterMs: 800 }
  const alive = [{ peer: 'b', eligible: true }, { peer: 'c', eligible: true }, { peer: 'd', eligible: true }]
  assert.equal(nextVoters({ ...base, members: alive }), undefined, 'nothing to change')
  assert.deepEqual(nextVoters({ ...base, members: [...alive, { peer: 'e', eligible: true }] }), ['a', 'b', 'c', 'd', 'e'], 'an eligible agent is added')
  assert.equal(nextVoters({ ...base, members: [...alive, { peer: 'e', eligible: false }] }), undefined, 'a non-eligible one is not')
  const left = [alive[0], alive[1], { peer: 'd', eligible: true, left: true }]
  assert.deepEqual(nextVoters({ ...base, members: left }), ['a', 'b', 'c'], 'a voter that left is removed at once')
  assert.equal(nextVoters({ ...base, members: [...alive.slice(0, 2)] }), undefined, 'a silent one waits for voterRemoveAfterMs')
  const heard = new Map([['a', 0], ['b', 59_000], ['c', 59_000], ['d', 0]])
  assert.deepEqual(nextVoters({ ...base, lastHeard: heard, now: 60_000, members: [...alive.slice(0, 2)] }), ['a', 'b', 'c'], 'then goes')
  const three = { ...base, config: { ...config, voters: ['a', 'b', 'c'] } }
  assert.equal(nextVoters({ ...three, members: [alive[0], { peer: 'c', eligible: true, left: true }] }), undefined, 'never below bootstrapExpect')
  assert.equal(nextVoters({ ...base, members: [{ peer: 'a', eligible: true, left: true }, ...alive] }), undefined, 'the leader never removes itself')
})

test('voter set: bootstrap proposals need bootstrapExpect eligible agents, and every proposed vote to win', { timeout: 3 * 60_000 }, () => {
  assert.equal(bootstrapProposal('a', [{ peer: 'b', eligible: true }, { peer: 'c', eligible: false }], 3), undefined)
  assert.deepEqual(bootstrapProposal('b', [{ peer: 'c', eligible: true }, { peer: 'a', eligible: true }, { peer: 'd', eligible: true, left: true }], 3),
    { version: 1, term: 0, voters: ['a', 'b', 'c'] })
  const proposal = { version: 1, term: 0, voters: ['a', 'b', 'c'] }
  assert.equal(wins(proposal, new Set(['a', 'b'])), false, 'a bootstrap proposal needs every vote')
  assert.equal(wins(proposal, new Set(['a', 'b', 'c'])), true)
  const set = { version: 2, term: 1, voters: ['a', 'b', 'c'] }
  assert.equal(wins(set, new Set(['a'])), false)
  assert.equal(wins(set, new Set(['a', 'c'])), true, 'a majority wins an established set')
  assert.equal(wins({ ...set, voters: ['a', 'b', 'c', 'd'] }, new Set(['a', 'b'])), false, 'half is not a majority')
})

/** Drive a leader with four voters; returns it with the voter set it holds once committed. */
function leaderOfFour (): { e: Election, now: number } {
  const config: VoterConfig = { version: 1, term: 1, voters: ['a', 'b', 'c', 'd'] }
  let now = 0
  const e = new Election({ self: 'a', eligible: true, ...TIMINGS, random: () => 0, now, persisted: { term: 1, config }, keys: fakeKeys('a') })
  const members = ['b', 'c', 'd'].map(peer => ({ peer, eligible: true }))
  e.setMembers(members)
  // Past the start-up stickiness, campaign; every voter grants.
  now = Math.max(now + 1, e.nextWakeup())
  e.tick(now)
  for (let i = 0; i < 4 && e.currentRole !== 'leader'; i++) {
    for (const { to, msg } of e.drain().messages) {
      if (msg.type === 'vote') {
        const sig = msg.pre ? {} : { sig: fakeKeys(to).sign(voteStatement(msg.term, 'a')) }
        e.receive(to, { type: 'vote-reply', term: msg.term, granted: true, pre: msg.pre, ...sig }, now)
      }
    }
  }
  assert.equal(e.currentRole, 'leader')
  ack(e, now)
  return { e, now }
}

/** Every heartbeat the leader has queued is acked by its target, holding the set it carries. */
function ack (e: Election, now: number): void {
  for (let round = 0; round < 4; round++) {
    const hbs = e.drain().messages.filter((m): m is { to: string, msg: Extract<ElectionMessage, { type: 'heartbeat' }> } => m.msg.type === 'heartbeat')
    if (hbs.length === 0) return
    for (const { to, msg } of hbs) e.receive(to, { type: 'heartbeat-ack', term: msg.term, seq: msg.seq, success: true, configVersion: msg.config.version }, now)
  }
}

test('election: the leader removes a voter that announced it leaves at once, without waiting voterRemoveAfterMs', { timeout: 3 * 60_000 }, () => {
  const { e, now } = leaderOfFour()
  assert.deepEqual(e.status(now).voters, ['a', 'b', 'c', 'd'])
  e.setMembers([{ peer: 'b', eligible: true }, { peer: 'c', eligible: true }, { peer: 'd', eligible: true, left: true }])
  e.reviewVoters(now + 1)
  assert.deepEqual(e.status(now + 1).voters, ['a', 'b', 'c'], 'removed at once')
  // A voter only silent stays until voterRemoveAfterMs.
  const other = leaderOfFour()
  other.e.setMembers([{ peer: 'b', eligible: true }, { peer: 'c', eligible: true }])
  other.e.reviewVoters(other.now + 1)
  assert.deepEqual(other.e.status(other.now + 1).voters, ['a', 'b', 'c', 'd'], 'a silent voter is kept for now')
})

test('bounded terms: two live voters more than MAX_TERM_STEP behind the two ahead catch up when the fifth voter is silent and not alive; not while it is heard or alive, and never on one voter\'s word', { timeout: 3 * 60_000 }, () => {
  // Found at 200 agents on a saturated machine: voters at terms 15, 15, 23, 23 and the fifth (the
  // coordinator) dead. Counting the dead one as able to form a majority without the two ahead,
  // the two behind never moved, and each pair refused the other's campaigns for good.
  const config: VoterConfig = { version: 1, term: 1, voters: ['a', 'b', 'c', 'd', 'e'] }
  const at15 = (): Election => new Election({ self: 'a', eligible: true, ...TIMINGS, random: () => 0, now: 0, persisted: { term: 15, config }, keys: fakeKeys('a') })
  const says = (e: Election, from: string, term: number, now: number): void => { e.receive(from, { type: 'config-reply', term }, now) }
  const now = 5_000 // past the start-up stickiness (a restart: the minimum and the largest slack)

  const silentFifth = at15()
  says(silentFifth, 'b', 15, now)
  says(silentFifth, 'c', 23, now)
  says(silentFifth, 'd', 23, now)
  assert.equal(silentFifth.currentTerm, 23, 'with e silent, a and b cannot make a majority without c or d: a moves to their term')

  const heardFifth = at15()
  says(heardFifth, 'e', 14, now)
  says(heardFifth, 'b', 15, now)
  says(heardFifth, 'c', 23, now)
  says(heardFifth, 'd', 23, now)
  assert.equal(heardFifth.currentTerm, 15, 'a, b and e can make a majority without c and d: no move')

  // Silent to this node but alive in its member view (a follower hears little but its leader):
  // it still counts, so two voters' claims alone move nothing.
  const aliveFifth = at15()
  aliveFifth.setMembers([{ peer: 'e', eligible: true }])
  says(aliveFifth, 'b', 15, now)
  says(aliveFifth, 'c', 23, now)
  says(aliveFifth, 'd', 23, now)
  assert.equal(aliveFifth.currentTerm, 15, 'e alive in the member view: a, b and e could make a majority')

  const oneWord = at15()
  says(oneWord, 'c', 40, now)
  assert.equal(oneWord.currentTerm, 15, 'one voter\'s word, the others silent, moves nothing')
  says(oneWord, 'd', 40, now)
  assert.equal(oneWord.currentTerm, 15 + MAX_TERM_STEP, 'two voters ahead, the rest silent: at most MAX_TERM_STEP at a time')

  // A voter silent for LOST_AFTER_TIMEOUTS maximum timeouts no longer counts.
  const wentSilent = at15()
  says(wentSilent, 'e', 14, now)
  says(wentSilent, 'b', 15, now)
  const later = now + LOST_AFTER_TIMEOUTS * TIMINGS.electionTimeoutMaxMs + 1
  says(wentSilent, 'b', 15, later)
  says(wentSilent, 'c', 23, later)
  says(wentSilent, 'd', 23, later)
  assert.equal(wentSilent.currentTerm, 23, 'e, last heard long ago, no longer counts')
})

test('bounded terms: a leader whose voters moved a term past it before its heartbeats reached them steps down and catches up on the terms they told it while it led', { timeout: 3 * 60_000 }, () => {
  // Found at 50 agents on a loaded machine (the live-page-scale test, in CI): a coordinator won
  // term 2 with a bootstrap proposal, and its other voters moved to term 3 (another bootstrap
  // candidacy's vote, refused but caught up to) before its first heartbeat came. They refused its
  // heartbeats as stale; it heard their term while it led, when a claim moves nothing, stepped
  // down, and then took their denials of its pre-votes, in the same term, for news it had
  // already recorded: it stayed at term 2, they at 3, for good, with no coordinator.
  const { e, now: won } = leaderOfFour()
  const term = e.currentTerm
  e.setMembers(['b', 'c', 'd'].map(peer => ({ peer, eligible: true })))
  let now = won + 1
  for (const v of ['b', 'c', 'd']) e.receive(v, { type: 'heartbeat-ack', term: term + 1, seq: 1, success: false, configVersion: 0 }, now)
  assert.equal(e.currentRole, 'leader', 'a leader in office moves for no unproven term')
  assert.equal(e.currentTerm, term)
  // No majority acks from now on: check-quorum steps it down.
  for (let i = 0; i < 50 && e.currentRole === 'leader'; i++) {
    now = Math.max(now + 1, e.nextWakeup())
    e.tick(now)
    e.drain()
  }
  assert.equal(e.currentRole, 'follower', 'stepped down without a majority')
  // Its campaigns are denied in the term the voters told it already.
  for (let i = 0; i < 20 && e.currentTerm === term; i++) {
    now = Math.max(now + 1, e.nextWakeup())
    e.tick(now)
    for (const { to, msg } of e.drain().messages) {
      if (msg.type === 'vote') e.receive(to, { type: 'vote-reply', term: term + 1, granted: false, pre: msg.pre, reason: 'stale-term' }, now)
    }
  }
  assert.equal(e.currentTerm, term + 1, 'three voters of four at the next term: it moves there, and can campaign past it')
})
