// A coordinator whose process exits is replaced without waiting out the election timeout: the
// machine's side (Election.peerExited), pure. The connections' side, with real agent processes,
// is in test/protocols/coordination/coordinator-exit.test.ts; the simulation (test/protocols/coordination/election-sim.test.ts) tells exits of
// crashed agents and, as a lying network would, of live ones.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Election, type ElectionMessage, type VoterConfig } from '../../../protocols/coordination/election.js'
import { certificate, fakeKeys } from '../../../harness/election-fakes.js'

const TIMINGS = { heartbeatIntervalMs: 100, electionTimeoutMinMs: 400, electionTimeoutMaxMs: 800, voterRemoveAfterMs: 60_000, bootstrapExpect: 3 }
const CONFIG: VoterConfig = { version: 1, term: 1, voters: ['a', 'b', 'c'] }
/** What a voter promises after a heartbeat (election-base.ts `promiseMs`): 2.5 intervals over the lease factor, 278 ms. */
const PROMISE_MS = Math.ceil(2.5 * TIMINGS.heartbeatIntervalMs / 0.9)

/** Voter `self` following leader `a` of term 2 (its heartbeat at `now`); its ack. */
function follower (self: string, now: number): { e: Election, ack: Extract<ElectionMessage, { type: 'heartbeat-ack' }> } {
  const e = new Election({ self, eligible: true, ...TIMINGS, random: () => 0.5, now: 0, persisted: { term: 1, config: CONFIG }, keys: fakeKeys(self) })
  e.setMembers(['a', 'b', 'c'].filter(p => p !== self).map(peer => ({ peer, eligible: true })))
  const cert = certificate(2, 'a', CONFIG, ['a', 'b'])
  e.receive('a', { type: 'heartbeat', term: 2, leader: 'a', config: CONFIG, seq: 1, cert }, now)
  const ack = e.drain().messages.map(m => m.msg).find(m => m.type === 'heartbeat-ack')
  assert.equal(e.currentLeader, 'a')
  assert.ok(ack?.type === 'heartbeat-ack')
  return { e, ack }
}

/** Whether `e` grants `from` a pre-vote now (asked with the voter set `e` holds). */
function granted (e: Election, from: string, now: number): boolean | undefined {
  const s = e.status(now)
  // The set's term: the leader's that made it (CONFIG's 1, or 2 once a's heartbeat brought its own).
  const config = { version: s.configVersion, term: s.configVersion === CONFIG.version ? CONFIG.term : 2, voters: s.voters }
  e.receive(from, { type: 'vote', term: e.currentTerm + 1, candidate: from, config, pre: true }, now)
  return e.drain().messages.map(m => m.msg).find((m): m is Extract<ElectionMessage, { type: 'vote-reply' }> => m.type === 'vote-reply')?.granted
}

test('election: a voter told its leader\'s process exited keeps only what it promised (its ack\'s hold), then campaigns on its turn; a word about another peer, an earlier term, or a leader heard since the close changes nothing', { timeout: 3 * 60_000 }, () => {
  const t = 10_000
  const { e: b, ack } = follower('b', t)
  assert.equal(ack.holdMs, PROMISE_MS, 'the ack promises less than the minimum timeout')
  assert.equal(granted(b, 'c', t + 10), false, 'sticky: the leader spoke 10 ms ago')
  b.peerExited('c', { term: 2, at: t + 10 }, t + 10)
  b.peerExited('a', { term: 1, at: t + 10 }, t + 10)
  b.peerExited('a', { term: 2, at: t - 1 }, t + 10)
  assert.equal(b.currentLeader, 'a', 'another peer, an earlier term, a close before the last heartbeat: still following a')
  assert.equal(granted(b, 'c', t + 11), false)

  b.peerExited('a', { term: 2, at: t + 15 }, t + 20)
  assert.equal(b.currentLeader, undefined, 'the exited leader is no longer followed')
  assert.equal(granted(b, 'c', t + PROMISE_MS - 1), false, 'the promise holds to its end')
  assert.equal(granted(b, 'c', t + PROMISE_MS), true, 'then a pre-vote is granted, long before the minimum timeout')
  // The voters left take turns of an eighth of the minimum timeout from the promise's end, the first after half of one.
  const turn = TIMINGS.electionTimeoutMinMs / 8
  const { e: c } = follower('c', t)
  c.peerExited('a', { term: 2, at: t + 15 }, t + 20)
  const turns = [b.nextWakeup(), c.nextWakeup()].map(w => (w - t - PROMISE_MS) / turn).sort((x, y) => x - y)
  assert.ok(turns[0] >= 0.5 && turns[0] <= 0.65 && turns[1] >= 1.5 && turns[1] <= 1.65, `b and c campaign a turn apart, the first half a turn after the promise (turns ${turns.join(', ')})`)
  const first = turns[0] === (b.nextWakeup() - t - PROMISE_MS) / turn ? b : c
  first.tick(first.nextWakeup())
  assert.deepEqual(first.drain().messages.filter(m => m.msg.type === 'vote').map(m => m.to).sort(), first === b ? ['a', 'c'] : ['a', 'b'], 'its pre-vote goes out')
})

test('election: a leader\'s lease counts what its voters promise, so a voter freed by a word of the leader\'s exit, true or forged, never votes while the lease runs', { timeout: 3 * 60_000 }, () => {
  const a = new Election({ self: 'a', eligible: true, ...TIMINGS, random: () => 0, now: 0, persisted: { term: 1, config: CONFIG }, keys: fakeKeys('a') })
  const b = new Election({ self: 'b', eligible: true, ...TIMINGS, random: () => 0.5, now: 0, persisted: { term: 1, config: CONFIG }, keys: fakeKeys('b') })
  a.setMembers(['b', 'c'].map(peer => ({ peer, eligible: true })))
  b.setMembers(['a', 'c'].map(peer => ({ peer, eligible: true })))
  let now = a.nextWakeup() + 1
  a.tick(now)
  // Elect a (b and c grant, signed), then its first heartbeat reaches b, whose ack comes back.
  for (let i = 0; i < 4 && a.currentRole !== 'leader'; i++) {
    for (const { to, msg } of a.drain().messages) {
      if (msg.type !== 'vote') continue
      const sig = msg.pre ? {} : { sig: fakeKeys(to).sign(`vote\n${msg.term}\na`) }
      a.receive(to, { type: 'vote-reply', term: msg.term, granted: true, pre: msg.pre, ...sig }, now)
    }
  }
  const sent = now
  const hb = a.drain().messages.find(m => m.to === 'b' && m.msg.type === 'heartbeat')?.msg
  assert.ok(hb?.type === 'heartbeat')
  b.receive('a', hb, ++now)
  const ack = b.drain().messages.find(m => m.msg.type === 'heartbeat-ack')?.msg
  assert.ok(ack?.type === 'heartbeat-ack')
  a.receive('b', ack, ++now)
  assert.equal(a.inOffice(now), true, 'in office on b\'s ack')
  let leaseEnd = now
  while (a.inOffice(leaseEnd) && leaseEnd < now + 10_000) leaseEnd++
  // b is told at once that a exited: a lie, a leads on (its heartbeats lost on the way).
  b.peerExited('a', { term: 2, at: now }, now)
  let firstGrant = now
  while (granted(b, 'c', firstGrant) !== true && firstGrant < now + 10_000) firstGrant++
  assert.ok(firstGrant >= leaseEnd, `b grants a vote at +${firstGrant - sent} ms, a is in office until +${leaseEnd - sent} ms`)
  assert.ok(firstGrant - sent <= PROMISE_MS + 1, `and no later than its promise's end (+${firstGrant - sent} ms)`)
})
