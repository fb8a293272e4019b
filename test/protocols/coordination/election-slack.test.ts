// The election machine's timeouts stretch when heartbeats come late and shrink back when they
// come on time (the "awareness" rule in protocols/coordination/election.ts). Pure: the machine
// is fed messages and times; no network, no timers.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Election, type ElectionMessage, type PersistedElection, type VoterConfig } from '../../../protocols/coordination/election.js'
import { certificate, fakeKeys } from '../../../harness/election-fakes.js'
import { voteStatement } from '../../../protocols/coordination/election-proof.js'
import { seededRandom } from '../../helpers.js'

const TIMINGS = { heartbeatIntervalMs: 100, electionTimeoutMinMs: 400, electionTimeoutMaxMs: 800, voterRemoveAfterMs: 60_000, bootstrapExpect: 3 }
const config: VoterConfig = { version: 1, term: 1, voters: ['f', 'leader', 'x'] }

/** The leader won term 2 with the votes of 'leader' and 'x'. */
const cert = certificate(2, 'leader', config, ['leader', 'x'])

function follower (now: number): Election {
  // Started (from its stored state) a while before `now`: past a restart's stickiness.
  const e = new Election({ self: 'f', eligible: true, ...TIMINGS, random: () => 0.5, now: now - 5_000, persisted: { term: 1, config }, keys: fakeKeys('f') })
  e.setMembers([{ peer: 'leader', eligible: true }, { peer: 'x', eligible: true }])
  return e
}

let seq = 0
function heartbeat (e: Election, now: number): void {
  const msg: ElectionMessage = { type: 'heartbeat', term: 2, leader: 'leader', config, seq: ++seq, cert }
  e.receive('leader', msg, now)
  e.drain()
}

/** Advance to `until`, ticking at every wake-up the machine asks for; true if it campaigned. */
function campaignedBy (e: Election, from: number, until: number): boolean {
  let t = from
  for (;;) {
    t = Math.max(t, e.nextWakeup())
    if (t > until) return false
    e.tick(t)
    if (e.drain().messages.some(m => m.msg.type === 'vote')) return true
    t += 1
  }
}

test('election slack: late heartbeats stretch a follower\'s timeout; on-time ones shrink it back; a dead leader is still replaced', { timeout: 3 * 60_000 }, () => {
  const e = follower(0)
  let now = 0
  for (let i = 0; i < 20; i++) { now += 100; heartbeat(e, now) }
  assert.equal(e.status(now).slackMs, 0, 'on-time heartbeats add nothing')
  // The timeout is min..max (650 with random 0.5) after the last heartbeat.
  assert.equal(e.nextWakeup(), now + 600)

  // Jitter within an interval adds nothing ...
  now += 190
  heartbeat(e, now)
  assert.equal(e.status(now).slackMs, 0)
  // ... one heartbeat 150 ms past two intervals (a busy leader) adds twice that ...
  now += 350
  heartbeat(e, now)
  const slack = e.status(now).slackMs
  assert.ok(slack >= 290 && slack <= 300, `slack after 150 ms lateness: ${slack}`)
  // ... and the next gap of 850 ms, beyond the plain maximum timeout, elects nobody.
  assert.equal(campaignedBy(e, now, now + 849), false, 'a follower that saw lateness waits longer')
  now += 850
  heartbeat(e, now)
  assert.equal(e.status(now).role, 'follower')
  assert.equal(e.status(now).leader, 'leader')

  // A minute of on-time heartbeats: the slack decays to nothing.
  for (let i = 0; i < 600; i++) { now += 100; heartbeat(e, now) }
  assert.ok(e.status(now).slackMs < 5, `slack after a quiet minute: ${e.status(now).slackMs}`)

  // The leader dies: the follower campaigns within the plain timeout.
  assert.equal(campaignedBy(e, now, now + TIMINGS.electionTimeoutMaxMs + 10), true, 'a silent leader is replaced')
})

test('election slack: the added wait is capped, so a leader that died during a slow spell is replaced in bounded time', { timeout: 3 * 60_000 }, () => {
  const e = follower(0)
  let now = 0
  heartbeat(e, now)
  // Heartbeats 5 s apart would ask for 10 s of slack; the cap is 3 maximum timeouts (2.4 s).
  for (let i = 0; i < 3; i++) { now += 5_000; heartbeat(e, now) }
  assert.equal(e.status(now).slackMs, 3 * TIMINGS.electionTimeoutMaxMs)
  assert.equal(campaignedBy(e, now, now + TIMINGS.electionTimeoutMaxMs + 3 * TIMINGS.electionTimeoutMaxMs + 10), true)
})

test('election slack: a candidate whose vote answers came late waits that much longer in its next campaign, capped; on a quiet mesh it waits as before', { timeout: 3 * 60_000 }, () => {
  const t0 = 10_000
  const campaignWait = (replyMs: number | undefined): number => {
    const e = follower(0)
    if (replyMs !== undefined) e.observeReply(replyMs, t0)
    // No leader ever heard: the first wake-up starts a pre-vote, whose wait is the campaign's.
    e.tick(t0)
    assert.equal(e.currentRole, 'pre-candidate')
    return e.nextWakeup() - t0
  }
  const quiet = campaignWait(undefined)
  assert.equal(quiet, 400 + Math.floor(0.5 * 401), 'a random timeout (random() = 0.5)')
  assert.equal(campaignWait(3), quiet + 6, 'answers in 3 ms add twice that')
  // Answers that took 900 ms (processes lagging): a 600-ms campaign would give up before they come.
  assert.equal(campaignWait(900), quiet + 1_800)
  assert.equal(campaignWait(60_000), quiet + 3 * 800, 'capped at SLACK_CAP_FACTOR maximum timeouts')
})

/** What a voter promises unasked after a heartbeat (election-base.ts `promiseMs`): 2.5 intervals over the lease factor, 278 ms. */
const PROMISE_MS = Math.ceil(2.5 * TIMINGS.heartbeatIntervalMs / 0.9)

test('election slack: a voter\'s ack says how long it holds (what it promises plus its slack); the lease runs that long from the heartbeat\'s send time, within what an honest voter can hold', { timeout: 3 * 60_000 }, () => {
  // The voter: a heartbeat 150 ms past two intervals gives it 300 ms of slack, which its ack tells.
  const f = follower(0)
  heartbeat(f, 0)
  f.receive('leader', { type: 'heartbeat', term: 2, leader: 'leader', config, seq: ++seq, cert }, 350)
  const out = f.drain()
  const ackMsg = out.messages.find(m => m.msg.type === 'heartbeat-ack')?.msg as Extract<ElectionMessage, { type: 'heartbeat-ack' }>
  assert.equal(ackMsg.holdMs, PROMISE_MS + 300)
  // Stored before the ack goes out: a restart still refuses votes (and campaigns) that long.
  const stored = out.persist?.heldUntil as number
  assert.ok(stored >= 350 + 700 && Number.isInteger(stored), `stored hold ${stored}: whole ms, as the state file holds`)
  const restarted = new Election({ self: 'f', eligible: true, ...TIMINGS, random: () => 0.5, now: 400, persisted: out.persist as PersistedElection, keys: fakeKeys('f') })
  restarted.receive('x', { type: 'vote', term: 3, candidate: 'x', config, pre: false }, 1_000)
  assert.equal((restarted.drain().messages.find(m => m.msg.type === 'vote-reply')?.msg as { granted: boolean }).granted, false, 'refused after a restart, within the stored hold')
  assert.ok(restarted.nextWakeup() >= stored, 'and no campaign of its own before it ends')
  assert.equal(campaignedBy(f, 350, 350 + 699), false, 'and it campaigns no sooner itself')
  // A quiet follower stores nothing for its holds.
  const quiet = follower(0)
  heartbeat(quiet, 0)
  quiet.receive('leader', { type: 'heartbeat', term: 2, leader: 'leader', config, seq: ++seq, cert }, 100)
  assert.equal(quiet.drain().persist?.heldUntil, undefined)

  // The leader: won term 2 among 'l', 'a' and 'b', then acks with each hold.
  const leaseWith = (holdA: number | undefined, holdB: number | undefined): number => {
    const set: VoterConfig = { version: 1, term: 1, voters: ['a', 'b', 'l'] }
    const e = new Election({ self: 'l', eligible: true, ...TIMINGS, random: () => 0, now: -5_000, persisted: { term: 1, config: set }, keys: fakeKeys('l') })
    e.setMembers([{ peer: 'a', eligible: true }, { peer: 'b', eligible: true }])
    const t = e.nextWakeup()
    e.tick(t)
    for (let i = 0; i < 3 && e.currentRole !== 'leader'; i++) {
      for (const { to, msg } of e.drain().messages) {
        if (msg.type === 'vote') e.receive(to, { type: 'vote-reply', term: msg.term, granted: true, pre: msg.pre, ...(msg.pre ? {} : { sig: fakeKeys(to).sign(voteStatement(msg.term, 'l')) }) }, t)
      }
    }
    assert.equal(e.currentRole, 'leader')
    const hold = { a: holdA, b: holdB } as Record<string, number | undefined>
    // The acks come 50 ms after the send: the lease still counts from the send (t).
    for (const { to, msg } of e.drain().messages) {
      if (msg.type !== 'heartbeat') continue
      const h = hold[to]
      e.receive(to, { type: 'heartbeat-ack', term: msg.term, seq: msg.seq, success: true, configVersion: msg.config.version, ...(h !== undefined ? { holdMs: h } : {}) }, t + 50)
    }
    return (e.status(t + 50).leaseUntil as number) - t
  }
  assert.equal(leaseWith(undefined, undefined), 0.9 * 400, 'voters that say nothing: the minimum timeout')
  assert.equal(leaseWith(2_000, 400), 0.9 * 2_000, 'a majority (the leader and a) holds 2 s')
  assert.equal(leaseWith(60_000, undefined), 0.9 * (400 + 3 * 800), 'no more than the minimum and the largest slack')
  assert.ok(Math.abs(leaseWith(10, 10) - 0.9 * 10) < 1e-6, 'what it says, however short (a voter with shorter timings promises less)')
})

test('election slack: acks that come back slower than the minimum timeout allows still give the leader its lease: it asks its voters to hold longer, and is in office most of the time', { timeout: 3 * 60_000 }, () => {
  // Three voters whose messages take 250 ms each way: a round trip of 500 ms, past LEASE_FACTOR of
  // the 400-ms minimum timeout. Before, every voter acked the leader and followed it, but each
  // ack came after the lease it gave had run out: nobody was ever in office (the election
  // simulation's join wave on slow links, seed 214).
  const set: VoterConfig = { version: 1, term: 1, voters: ['a', 'b', 'c'] }
  const random = seededRandom(7)
  const nodes = new Map(['a', 'b', 'c'].map(id => {
    const e = new Election({ self: id, eligible: true, ...TIMINGS, random, now: 0, persisted: { term: 1, config: set }, keys: fakeKeys(id) })
    e.setMembers(['a', 'b', 'c'].filter(p => p !== id).map(peer => ({ peer, eligible: true })))
    return [id, e]
  }))
  const ONE_WAY = 250
  const flights: Array<{ at: number, from: string, to: string, msg: ElectionMessage }> = []
  const flush = (from: string, now: number): void => {
    for (const { to, msg } of (nodes.get(from) as Election).drain().messages) flights.push({ at: now + ONE_WAY, from, to, msg })
  }
  let inOffice = 0
  let samples = 0
  for (let now = 0; now <= 20_000; now += 5) {
    for (const f of flights.filter(f => f.at <= now)) {
      flights.splice(flights.indexOf(f), 1)
      const to = nodes.get(f.to) as Election
      // As ElectionService does: a reply's round trip is measured, and a vote's reply from before the round began dropped.
      if (f.msg.type === 'vote-reply' || f.msg.type === 'heartbeat-ack') to.observeReply(2 * ONE_WAY, now)
      if (f.msg.type === 'vote-reply' && f.at - 2 * ONE_WAY < to.roundStartedAt) continue
      to.receive(f.from, f.msg, now)
      flush(f.to, now)
    }
    for (const [id, e] of nodes) {
      if (e.nextWakeup() <= now) { e.tick(now); e.reviewVoters(now) }
      flush(id, now)
    }
    // Once an election had its time (a few round trips), count how often somebody is in office.
    if (now >= 10_000) {
      samples++
      if ([...nodes.values()].some(e => e.inOffice(now))) inOffice++
    }
  }
  const leaders = [...nodes.values()].filter(e => e.currentRole === 'leader')
  assert.equal(leaders.length, 1, 'one leader')
  assert.ok(inOffice > samples * 0.9, `in office ${inOffice} of ${samples} samples`)
})
