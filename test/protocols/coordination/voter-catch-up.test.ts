/**
 * Voter-set changes wait for the task table (protocols/task/catch-up.ts): the election asks
 * `mayChangeVoters` before each single change and leaves the set as it is while the answer is
 * no; the task service answers yes only once its whole table is on a majority of the next set.
 *
 * Why: with voters {a,b,c}, a record acknowledged by a and b, x added and then a removed, the
 * set {b,c,x} has the majority {c,x}, which holds nothing of it (x joined empty). Raft commits a
 * configuration only on a majority that holds the log before it; the task table is no part of
 * the election's log, so the leader writes it to the next set first.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Election, type ElectionMessage, type VoterConfig } from '../../../protocols/coordination/election.js'
import { voteStatement } from '../../../protocols/coordination/election-proof.js'
import type { TaskRecord } from '../../../protocols/task/index.js'
import { fakeKeys } from '../../../harness/election-fakes.js'
import { build, record, until, voters } from '../task/task-harness.js'

const TIMINGS = { heartbeatIntervalMs: 100, electionTimeoutMinMs: 400, electionTimeoutMaxMs: 800, voterRemoveAfterMs: 60_000, bootstrapExpect: 3 }

/** A leader `a` of {a,b,c}, its no-op set committed, asking `gate` before any change. */
function leaderOfThree (gate: (voters: string[]) => boolean): { e: Election, now: number } {
  const config: VoterConfig = { version: 1, term: 1, voters: ['a', 'b', 'c'] }
  const e = new Election({ self: 'a', eligible: true, ...TIMINGS, random: () => 0, now: 0, persisted: { term: 1, config }, keys: fakeKeys('a'), mayChangeVoters: gate })
  e.setMembers(['b', 'c'].map(peer => ({ peer, eligible: true })))
  const now = e.nextWakeup() + 1
  e.tick(now)
  for (let i = 0; i < 4 && e.currentRole !== 'leader'; i++) {
    for (const { to, msg } of e.drain().messages) {
      if (msg.type !== 'vote') continue
      const sig = msg.pre ? {} : { sig: fakeKeys(to).sign(voteStatement(msg.term, 'a')) }
      e.receive(to, { type: 'vote-reply', term: msg.term, granted: true, pre: msg.pre, ...sig }, now)
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

test('election: the leader changes the voter set only once mayChangeVoters says so, asked with the next set', { timeout: 3 * 60_000 }, () => {
  let open = false
  const asked: string[][] = []
  const { e, now } = leaderOfThree((v) => { asked.push(v); return open })
  e.setMembers([{ peer: 'b', eligible: true }, { peer: 'c', eligible: true }, { peer: 'x', eligible: true }])
  e.reviewVoters(now + 1)
  ack(e, now + 1)
  assert.deepEqual(e.status(now + 1).voters, ['a', 'b', 'c'], 'x waits while the gate is shut')
  assert.deepEqual(asked.at(-1), ['a', 'b', 'c', 'x'], 'asked about the set with x')
  open = true
  e.reviewVoters(now + 2)
  ack(e, now + 2)
  assert.deepEqual(e.status(now + 2).voters, ['a', 'b', 'c', 'x'], 'added once it opens')
  // A removal waits for the gate as well.
  open = false
  e.setMembers([{ peer: 'b', eligible: true }, { peer: 'c', eligible: true }, { peer: 'x', eligible: true, left: true }])
  e.reviewVoters(now + 3)
  assert.deepEqual(e.status(now + 3).voters, ['a', 'b', 'c', 'x'], 'a voter that left stays while the gate is shut')
  open = true
  e.reviewVoters(now + 4)
  assert.deepEqual(e.status(now + 4).voters, ['a', 'b', 'c'])
})

/** A coordinator of {self, v1, v2} past its takeover, holding `records`; `down` are unreachable. */
async function settled (records: TaskRecord[], down: string[]): Promise<ReturnType<typeof build> & ReturnType<typeof voters>> {
  const side = voters([], new Set(down))
  const built = build(side.rpc)
  built.resources.start()
  built.tasks.start()
  side.release()
  built.tasks.scheduler.officeCheck()
  await until('the takeover to end', () => !built.tasks.scheduler.snapshot(1).taking_over)
  for (const r of records) built.tasks.scheduler.table.merge(r)
  return { ...built, ...side }
}

test('catch-up: the whole table goes to the next set first; yes once a majority of it holds the table, and once only', { timeout: 3 * 60_000 }, async () => {
  const held = [record('t1', 67, 3, { status: 'completed', attempt: 1, agent: 'w0', progress: 1 }), record('t2', 67, 2, { status: 'running', attempt: 1, agent: 'w0' })]
  // v2 is down: the next set {self, v1, v2, x} needs 3, which self, v1 and x make.
  const { tasks, resources, replicatedTo } = await settled(held, ['v2'])
  try {
    const next = ['self', 'v1', 'v2', 'x']
    assert.equal(tasks.scheduler.catchUp.ready(next), false, 'not before the write')
    await until('x to get the table', () => ['t1', 't2'].every(id => replicatedTo.some(s => s.peer === 'x' && s.id === id)))
    await until('the write to end', () => tasks.scheduler.catchUp.ready(next))
    assert.deepEqual(new Set(replicatedTo.map(s => s.peer)), new Set(['v1', 'x']), 'written to the next set (v2 down)')
    assert.equal(tasks.scheduler.catchUp.ready(next), false, 'a yes is used once: the next change to this set is written again')
  } finally {
    tasks.stop()
    resources.stop()
  }
})

test('catch-up: no while fewer than a majority of the next set can take the table, and none before the takeover is done', { timeout: 3 * 60_000 }, async () => {
  const held = [record('t1', 67, 3, { status: 'completed', attempt: 1, agent: 'w0', progress: 1 })]
  const { tasks, resources, replicatedTo } = await settled(held, ['v2', 'x'])
  try {
    const next = ['self', 'v1', 'v2', 'x']
    assert.equal(tasks.scheduler.catchUp.ready(next), false)
    await until('v1 to get the table', () => replicatedTo.some(s => s.peer === 'v1'))
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.equal(tasks.scheduler.catchUp.ready(next), false, 'self and v1 are 2 of the 3 needed')
  } finally {
    tasks.stop()
    resources.stop()
  }
  // A coordinator still reading the voters' records has no table to give yet.
  const side = voters([])
  const { tasks: reading, resources: r2 } = build(side.rpc)
  r2.start()
  reading.start()
  try {
    reading.scheduler.officeCheck()
    assert.equal(reading.scheduler.catchUp.ready(['self', 'v1', 'v2', 'x']), false)
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.deepEqual(side.replicatedTo, [], 'nothing written while the takeover reads')
  } finally {
    side.release()
    reading.stop()
    r2.stop()
  }
})
