// Before a node bootstraps a first voter set, it asks the agents it met first whether a set
// exists (protocols/coordination/election-join.ts). Pure: the machine is fed messages and times.
// The election simulation's join wave (seed 5) shows why: newcomers with the lowest ids elected a
// second coordinator beside the seeds' before the first one's announcement reached them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Election, type ElectionMessage, type VoterConfig } from '../../../protocols/coordination/election.js'
import { BOOTSTRAP_CHECK_MISSES } from '../../../protocols/coordination/constants.js'
import { certificate, fakeKeys } from '../../../harness/election-fakes.js'

const TIMINGS = { heartbeatIntervalMs: 100, electionTimeoutMinMs: 400, electionTimeoutMaxMs: 800, voterRemoveAfterMs: 60_000, bootstrapExpect: 3, maxVoters: 3 }
/** The set the seeds made: y leads term 4 with the votes of y and z. */
const seedsSet: VoterConfig = { version: 2, term: 3, voters: ['x', 'y', 'z'] }

/** 'b', with no set yet, met the seeds y and z first, then the newcomers a and c: its proposal is a, b, c (the lowest ids). */
function newcomer (connected?: (peer: string) => boolean): Election {
  const e = new Election({ self: 'b', eligible: true, ...TIMINGS, random: () => 0.5, now: 0, keys: fakeKeys('b'), ...(connected !== undefined ? { connected } : {}) })
  e.setMembers([{ peer: 'y', eligible: true }, { peer: 'z', eligible: true }])
  e.setMembers([{ peer: 'y', eligible: true }, { peer: 'z', eligible: true }, { peer: 'a', eligible: true }, { peer: 'c', eligible: true }])
  return e
}

/** Tick at the next wake-up; what went out. */
function round (e: Election, after: number): { now: number, sent: Array<{ to: string, msg: ElectionMessage }> } {
  const now = Math.max(after + 1, e.nextWakeup())
  e.tick(now)
  return { now, sent: e.drain().messages }
}

const queried = (sent: Array<{ to: string, msg: ElectionMessage }>): string[] => sent.filter(m => m.msg.type === 'config-query').map(m => m.to).sort()
const votes = (sent: Array<{ to: string, msg: ElectionMessage }>): string[] => sent.filter(m => m.msg.type === 'vote').map(m => m.to).sort()

test('bootstrap check: the agents met first are asked before a bootstrap; a leader\'s certificate in an answer means no bootstrap, ever, and no vote for one', { timeout: 3 * 60_000 }, () => {
  const e = newcomer()
  const { now, sent } = round(e, 0)
  assert.deepEqual(queried(sent), ['y', 'z'], 'the seeds, met first and outside the proposal, are asked')
  assert.deepEqual(votes(sent), [], 'no campaign before they answer')
  e.receive('y', { type: 'config-reply', term: 4, config: seedsSet, proof: certificate(4, 'y', seedsSet, ['y', 'z']) }, now + 5)
  assert.equal(e.currentTerm, 4, 'moved to the proven term')
  let t = now + 5
  for (let i = 0; i < 10; i++) {
    const r = round(e, t)
    t = r.now
    assert.deepEqual(votes(r.sent), [], 'never campaigns with a bootstrap proposal')
  }
  // Nor grants one: a newcomer's pre-vote for the proposal a, b, c.
  e.receive('a', { type: 'vote', term: 5, candidate: 'a', config: { version: 1, term: 0, voters: ['a', 'b', 'c'] }, pre: true }, t + 1)
  const reply = e.drain().messages.find(m => m.msg.type === 'vote-reply')?.msg as Extract<ElectionMessage, { type: 'vote-reply' }>
  assert.equal(reply.granted, false)
})

test('bootstrap check: when all asked know of no set, the campaign starts at once; a forged certificate blocks nothing', { timeout: 3 * 60_000 }, () => {
  const e = newcomer()
  const { now, sent } = round(e, 0)
  assert.deepEqual(queried(sent), ['y', 'z'])
  // y forges: a certificate of its own vote alone (no majority of the set it names).
  e.receive('y', { type: 'config-reply', term: 9, config: seedsSet, proof: certificate(9, 'y', seedsSet, ['y']) }, now + 5)
  assert.deepEqual(votes(e.drain().messages), [], 'z has not answered yet')
  e.receive('z', { type: 'config-reply', term: 0 }, now + 6)
  assert.deepEqual(votes(e.drain().messages), ['a', 'c'], 'the pre-vote goes to the proposal at once')
  assert.equal(e.currentTerm, 0, 'the forged term moved nothing')
})

test('bootstrap check: an agent that leaves the question unanswered is asked no more after a few rounds, so it cannot hold the bootstrap off', { timeout: 3 * 60_000 }, () => {
  const e = newcomer()
  let t = 0
  let campaigned = -1
  for (let i = 1; i <= BOOTSTRAP_CHECK_MISSES + 2 && campaigned < 0; i++) {
    const r = round(e, t)
    t = r.now
    if (votes(r.sent).length > 0) { campaigned = i; break }
    // y answers that it knows of no set; z stays silent.
    if (queried(r.sent).includes('y')) e.receive('y', { type: 'config-reply', term: 0 }, t + 5)
    if (votes(e.drain().messages).length > 0) campaigned = i
  }
  assert.equal(campaigned, BOOTSTRAP_CHECK_MISSES + 1, `campaigned in round ${campaigned}: z was asked ${BOOTSTRAP_CHECK_MISSES} times, then left out`)
})

test('bootstrap check: a pre-vote grant that comes late while the next question is out starts no election; a certificate that comes after the answers ends the campaign', { timeout: 3 * 60_000 }, () => {
  const e = newcomer()
  let { now, sent } = round(e, 0)
  for (const to of queried(sent)) e.receive(to, { type: 'config-reply', term: 0 }, now + 1)
  assert.deepEqual(votes(e.drain().messages), ['a', 'c'], 'the pre-vote went out')
  e.receive('a', { type: 'vote-reply', term: 1, granted: true, pre: true }, now + 2)
  // c's grant is slow: the round times out, and the next one asks the seeds again first.
  ;({ now, sent } = round(e, now + 2))
  assert.deepEqual(queried(sent), ['y', 'z'])
  e.receive('c', { type: 'vote-reply', term: 1, granted: true, pre: true }, now + 1)
  assert.equal(e.currentRole, 'follower', 'stood down while the question is out')
  assert.equal(e.drain().messages.filter(m => m.msg.type === 'vote' && !m.msg.pre).length, 0, 'no election from a grant of the round before')

  // The answers come, the pre-vote goes out again, and then y, which holds the set by now, answers with its certificate.
  for (const to of ['y', 'z']) e.receive(to, { type: 'config-reply', term: 0 }, now + 2)
  assert.deepEqual(votes(e.drain().messages), ['a', 'c'])
  e.receive('y', { type: 'config-reply', term: 4, config: seedsSet, proof: certificate(4, 'y', seedsSet, ['y', 'z']) }, now + 3)
  assert.equal(e.currentRole, 'follower', 'the campaign ended')
  assert.equal(e.currentTerm, 4)
  let t = now + 3
  for (let i = 0; i < 10; i++) {
    const r = round(e, t)
    t = r.now
    assert.deepEqual(votes(r.sent), [], 'no bootstrap campaign again')
  }
})

test('bootstrap check: a certificate whose voters are all gone from the view holds no bootstrap off', { timeout: 3 * 60_000 }, () => {
  const e = newcomer()
  const { now, sent } = round(e, 0)
  assert.deepEqual(queried(sent), ['y', 'z'])
  e.receive('y', { type: 'config-reply', term: 4, config: seedsSet, proof: certificate(4, 'y', seedsSet, ['y', 'z']) }, now + 1)
  e.drain()
  // The seeds' set is gone (x, y and z left the mesh): a new set among those left is the only way on.
  e.setMembers([{ peer: 'a', eligible: true }, { peer: 'c', eligible: true }])
  let t = now + 1
  let campaigned = false
  for (let i = 0; i < 5 && !campaigned; i++) {
    const r = round(e, t)
    t = r.now
    campaigned = votes(r.sent).length > 0
  }
  assert.ok(campaigned, 'it proposes a set of those it sees')
})

test('bootstrap check: the connected agents are asked first (no dial); only when they know of none are the agents met first asked, before any campaign', { timeout: 3 * 60_000 }, () => {
  const e = newcomer(p => p === 'z')
  const { now, sent } = round(e, 0)
  assert.deepEqual(queried(sent), ['z'], 'z, its seed, is connected; y would take a dial')
  e.receive('z', { type: 'config-reply', term: 0 }, now + 1)
  const next = e.drain().messages
  assert.deepEqual(votes(next), [], 'no campaign on the connected agents\' word alone')
  assert.deepEqual(queried(next), ['y', 'z'], 'the agents met first, as without connections')
  for (const to of ['y', 'z']) e.receive(to, { type: 'config-reply', term: 0 }, now + 2)
  assert.deepEqual(votes(e.drain().messages), ['a', 'c'], 'all of them know of none: the campaign starts')

  // Connected to y, which holds the set: its certificate, and nobody dialled.
  const f = newcomer(p => p === 'y')
  let r = round(f, 0)
  assert.deepEqual(queried(r.sent), ['y'])
  f.receive('y', { type: 'config-reply', term: 4, config: seedsSet, proof: certificate(4, 'y', seedsSet, ['y', 'z']) }, r.now + 1)
  let t = r.now + 1
  for (let i = 0; i < 10; i++) {
    r = round(f, t)
    t = r.now
    assert.deepEqual(votes(r.sent), [], 'no bootstrap campaign after the certificate')
    assert.deepEqual(queried(r.sent), [], 'and no question to z')
  }
})

test('bootstrap check: a connected agent that never answers leaves the agents met first to be asked, not nobody', { timeout: 3 * 60_000 }, () => {
  const e = newcomer(p => p === 'z')
  let t = 0
  for (let i = 0; i < 10; i++) {
    const r = round(e, t)
    t = r.now
    assert.deepEqual(votes(r.sent), [], `round ${i}: no campaign before y is asked`)
    if (queried(r.sent).includes('y')) {
      e.receive('y', { type: 'config-reply', term: 4, config: seedsSet, proof: certificate(4, 'y', seedsSet, ['y', 'z']) }, t + 1)
      break
    }
    assert.ok(i < BOOTSTRAP_CHECK_MISSES, `round ${i}: y asked once z left ${BOOTSTRAP_CHECK_MISSES} questions unanswered`)
  }
  for (let i = 0; i < 10; i++) {
    const r = round(e, t)
    t = r.now
    assert.deepEqual(votes(r.sent), [], 'never a bootstrap campaign after the certificate')
  }
})

test('bootstrap check: newcomers handed on by the seeds that hold the set, linked only to each other, ask the seeds before any bootstrap (a second coordinator otherwise)', { timeout: 3 * 60_000 }, () => {
  // A reviewer's scenario: x, y, z hold the set (y leads term 4); a, b, c, d joined through them,
  // met them first, and are now connected only to each other. Each newcomer's proposal is a, b, c.
  const newcomers = ['a', 'b', 'c', 'd']
  const nodes = new Map<string, Election>()
  for (const id of newcomers) {
    const e = new Election({ self: id, eligible: true, ...TIMINGS, random: () => id === 'b' ? 0 : 0.99, now: 0, keys: fakeKeys(id), connected: p => newcomers.includes(p) })
    e.setMembers([{ peer: 'y', eligible: true }, { peer: 'z', eligible: true }])
    e.setMembers(['x', 'y', 'z', ...newcomers].filter(p => p !== id).map(peer => ({ peer, eligible: true })))
    nodes.set(id, e)
  }
  let queue: Array<{ from: string, to: string, msg: ElectionMessage, at: number }> = []
  const drain = (id: string, now: number): void => {
    for (const m of (nodes.get(id) as Election).drain().messages) queue.push({ from: id, to: m.to, msg: m.msg, at: now + 2 })
  }
  const askedSeeds = new Set<string>()
  for (let now = 0; now < 10_000; now++) {
    for (const [id, e] of nodes) { if (e.nextWakeup() <= now) e.tick(now); drain(id, now) }
    const due = queue.filter(m => m.at <= now)
    queue = queue.filter(m => m.at > now)
    for (const m of due) {
      const to = nodes.get(m.to)
      if (to !== undefined) { to.receive(m.from, m.msg, now); drain(m.to, now); continue }
      // The seeds answer a bootstrap question with the certificate; votes for a bootstrap set they refuse (no answer here).
      if (m.msg.type === 'config-query' && m.msg.bootstrap === true) {
        askedSeeds.add(m.from)
        queue.push({ from: m.to, to: m.from, msg: { type: 'config-reply', term: 4, config: seedsSet, proof: certificate(4, 'y', seedsSet, ['y', 'z']) }, at: now + 2 })
      }
    }
    const office = [...nodes].filter(([, e]) => e.inOffice(now)).map(([id]) => id)
    assert.deepEqual(office, [], `at ${now} ms: ${office.join(', ')} in office beside y`)
  }
  assert.ok(askedSeeds.size > 0, 'the seeds were asked')
})

test('bootstrap check: a node outside its own proposal asks only the agents met first that it is connected to (no dial), never campaigns, and shows the certificate it got to a newcomer that asks it', { timeout: 60_000 }, () => {
  // 'd' sees a, b, c, y, z (met y and z first): its proposal (the three lowest ids) is a, b, c, without itself.
  const outside = (connected?: (peer: string) => boolean): Election => {
    const e = new Election({ self: 'd', eligible: true, ...TIMINGS, random: () => 0.5, now: 0, keys: fakeKeys('d'), ...(connected !== undefined ? { connected } : {}) })
    e.setMembers([{ peer: 'y', eligible: true }, { peer: 'z', eligible: true }])
    e.setMembers(['y', 'z', 'a', 'b', 'c'].map(peer => ({ peer, eligible: true })))
    return e
  }
  const alone = outside(() => false)
  let t = 0
  for (let i = 0; i < 5; i++) {
    const r = round(alone, t)
    t = r.now
    assert.deepEqual(queried(r.sent), [], `round ${i}: nobody connected, nobody asked (a question would dial)`)
    assert.deepEqual(votes(r.sent), [], `round ${i}: no campaign`)
  }
  const e = outside(p => p === 'y')
  const { now, sent } = round(e, 0)
  assert.deepEqual(queried(sent), ['y'], 'the connected seed alone')
  assert.deepEqual(votes(sent), [])
  e.receive('y', { type: 'config-reply', term: 4, config: seedsSet, proof: certificate(4, 'y', seedsSet, ['y', 'z']) }, now + 5)
  e.drain()
  // A newcomer that met d first asks it before its own bootstrap: it is shown the certificate.
  e.receive('a', { type: 'config-query', bootstrap: true }, now + 10)
  const reply = e.drain().messages.find(m => m.to === 'a')?.msg as Extract<ElectionMessage, { type: 'config-reply' }> | undefined
  assert.equal(reply?.proof?.leader, 'y', `the certificate passed on: ${JSON.stringify(reply)}`)
  // Once its proposal holds it (the lowest ones gone from its view), it asks all it met first before campaigning.
  const later = outside(() => false)
  later.setMembers(['y', 'z', 'c'].map(peer => ({ peer, eligible: true })))
  assert.deepEqual(queried(round(later, 0).sent), ['z'], 'the one met first outside its proposal (c, d, y), connected or not')
})

/** 'd', connected to all, met p, q, x, y first: its proposal is d, p, q, so it asks x and y before campaigning (the round's messages). */
function askedThenOutside (): { e: Election, now: number, sent: Array<{ to: string, msg: ElectionMessage }> } {
  const e = new Election({ self: 'd', eligible: true, ...TIMINGS, random: () => 0.5, now: 0, keys: fakeKeys('d'), connected: () => true })
  e.setMembers(['p', 'q', 'x', 'y'].map(peer => ({ peer, eligible: true })))
  return { e, ...round(e, 0) }
}

test('bootstrap check: answers to a node that left its own proposal start nothing: its old question, all answered, is not closed again by each later reply (bench:sim at 1,000 agents: config queries doubling each round trip, 633,735 in 50 ms)', { timeout: 60_000 }, () => {
  const { e, ...first } = askedThenOutside()
  assert.deepEqual(queried(first.sent), ['x', 'y'], 'the first met outside its proposal')
  // Then it sees a, b, c: its proposal is a, b, c, without itself; it will never campaign with it.
  e.setMembers(['p', 'q', 'x', 'y', 'a', 'b', 'c'].map(peer => ({ peer, eligible: true })))
  const second = round(e, first.now)
  assert.deepEqual(queried(second.sent), ['p', 'q', 'x', 'y'], 'outside its proposal: the connected ones it met first')
  // Everyone asked answers every question at once that it knows of no set, as agents without one do.
  let t = second.now
  let pending = second.sent.filter(m => m.msg.type === 'config-query')
  let queries = pending.length
  for (let hop = 0; hop < 8 && pending.length > 0; hop++) {
    const next: typeof pending = []
    for (const q of pending) {
      e.receive(q.to, { type: 'config-reply', term: 0 }, ++t)
      const out = e.drain().messages
      assert.deepEqual(votes(out), [], 'never campaigns outside its proposal')
      next.push(...out.filter(m => m.msg.type === 'config-query'))
    }
    queries += next.length
    pending = next
  }
  assert.equal(queries, 4, `the answers asked again ${queries - 4} times (x's and y's late answers closed the old question over and over)`)
})

test('bootstrap check: a node back inside its proposal asks again before campaigning, whatever answers came while it was outside', { timeout: 60_000 }, () => {
  const { e, now } = askedThenOutside()
  e.setMembers(['p', 'q', 'x', 'y', 'a', 'b', 'c'].map(peer => ({ peer, eligible: true })))
  const outside = round(e, now)
  for (const m of outside.sent) if (m.msg.type === 'config-query') e.receive(m.to, { type: 'config-reply', term: 0 }, outside.now + 1)
  e.drain()
  // a, b and c gone: its proposal holds it again.
  e.setMembers(['p', 'q', 'x', 'y'].map(peer => ({ peer, eligible: true })))
  const back = round(e, outside.now + 1)
  assert.deepEqual(votes(back.sent), [], 'no campaign on answers to questions of its time outside')
  assert.deepEqual(queried(back.sent), ['x', 'y'], 'the first met outside its proposal, asked again')
})

test('bootstrap check: answers that came while a node had no proposal (too few eligible agents in sight) are not a campaign\'s go-ahead later', { timeout: 60_000 }, () => {
  const e = newcomer()
  const first = round(e, 0)
  assert.deepEqual(queried(first.sent), ['y', 'z'])
  // Only y in sight: with itself, two eligible agents, under bootstrapExpect (3): no proposal.
  e.setMembers([{ peer: 'y', eligible: true }])
  const none = round(e, first.now)
  assert.deepEqual([...queried(none.sent), ...votes(none.sent)], [], 'no proposal: nothing asked, no campaign')
  e.receive('y', { type: 'config-reply', term: 0 }, none.now + 1)
  e.receive('z', { type: 'config-reply', term: 0 }, none.now + 2)
  e.drain()
  // Ten seconds on, a and c (and z) in sight again: the proposal a, b, c is back.
  e.setMembers([{ peer: 'y', eligible: true }, { peer: 'z', eligible: true }, { peer: 'a', eligible: true }, { peer: 'c', eligible: true }])
  const later = round(e, none.now + 10_000)
  assert.deepEqual(votes(later.sent), [], 'no campaign on answers ten seconds old, given to a question of before')
  assert.deepEqual(queried(later.sent), ['y', 'z'], 'asked again')
})

test('bootstrap check: a pre-candidate that falls outside its own proposal stands down: late grants start no election', { timeout: 60_000 }, () => {
  const { e, now } = askedThenOutside()
  e.receive('x', { type: 'config-reply', term: 0 }, now + 1)
  e.receive('y', { type: 'config-reply', term: 0 }, now + 2)
  assert.deepEqual(votes(e.drain().messages), ['p', 'q'], 'all answered: the pre-vote for d, p, q')
  // Then it sees a, b, c: its proposal is a, b, c, without itself.
  e.setMembers(['p', 'q', 'x', 'y', 'a', 'b', 'c'].map(peer => ({ peer, eligible: true })))
  const outside = round(e, now + 2)
  assert.equal(e.status(outside.now).role, 'follower', 'no campaign for a set its own view no longer proposes')
  for (const p of ['p', 'q']) e.receive(p, { type: 'vote-reply', term: 1, granted: true, pre: true }, outside.now + 1)
  const after = e.drain().messages.filter(m => m.msg.type === 'vote')
  assert.deepEqual(after.map(m => m.to), [], 'the late pre-vote grants start no election')
})
