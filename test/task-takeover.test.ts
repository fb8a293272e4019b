/**
 * A coordinator taking office, with no network: the TaskService with an office, a member view
 * and an rpc of its own making, so the order of events is the test's, not the scheduler's.
 *
 * The 1,000-fault campaign (seed 1606683835, tasks t1104 and t2030) found a task whose end a
 * coordinator had answered run to a second end under the next one. The path: the new
 * coordinator's own replica still had the task running on its agent; that agent was killed (the
 * reason there was an election), and the member view said so while the takeover was still
 * reading the voters' records. The scheduler already led the new term, so it took the task from
 * the lost agent and queued it again, stamped with the new term; the voters' record of the end,
 * of the earlier term, then lost the merge, and the task was placed again.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TaskRecord } from '../protocols/task/index.js'
import { SUBMITTER, build, record, until, voters } from './task-harness.js'

test('an agent lost while a new coordinator reads the voters\' records does not undo the end a majority holds', async () => {
  // The new coordinator's replica: t1104 running as attempt 2 on w0 (term 65). A majority of the
  // voters (v1 and this node count as one with the read) hold its end: completed by w0.
  const stale = record('t1104', 65, 4, { status: 'running', attempt: 2, agent: 'w0', progress: 0.5 })
  const ended = record('t1104', 65, 6, { status: 'completed', attempt: 2, agent: 'w0', progress: 1, result: { by: 'w0' } })
  const { rpc, release, replicated } = voters([ended])
  const { members, resources, tasks } = build(rpc)
  resources.start()
  tasks.start()
  try {
    tasks.scheduler.table.merge(stale)
    tasks.scheduler.officeCheck()
    assert.equal(tasks.scheduler.snapshot(1).taking_over, true, 'the takeover waits for v1\'s records')
    // w0 was killed (hence the election); the member view says so before the read is done.
    members.safeDispatchEvent('member:change', { detail: { peerId: 'w0', name: 'w0', from: 'suspect', to: 'offline', incarnation: 1 } })
    // And a report of the stale attempt: not taken while reading (w0's executor sends an end again until one is).
    const known = tasks.scheduler.report('w0', { task_id: 't1104', attempt: 2, status: 'running', progress: 0.9, metrics: {} })
    await new Promise(resolve => setTimeout(resolve, 100)) // a replication batch would have gone out by now
    release()
    await until('the takeover to end', () => !tasks.scheduler.snapshot(1).taking_over)
    assert.equal(tasks.scheduler.snapshot(1).leading, true)
    const r = tasks.scheduler.table.get('t1104') as TaskRecord
    assert.deepEqual([r.status.status, r.status.attempt, r.status.agent], ['completed', 2, 'w0'], 'the end the majority held stands')
    assert.equal(r.term, 67, 're-stamped by the new coordinator')
    const sent = replicated.filter(x => x.spec.task_id === 't1104').map(x => `${x.status.status}@${String(x.term)}`)
    assert.ok(sent.length > 0, 'the takeover wrote its records to the voters')
    assert.deepEqual([...new Set(sent)], ['completed@67'], 'no voter was sent the task queued again')
    // The submitter's query is answered the end, and nothing places the task again.
    assert.equal((await tasks.scheduler.query(SUBMITTER, 't1104')).status, 'completed')
    assert.equal(known, false, 'no report is taken before the read is merged')
  } finally {
    tasks.stop()
    resources.stop()
  }
})

test('after the read, an agent lost loses its open tasks as before (placed again, stamped with the new term)', async () => {
  const open = record('t7', 65, 3, { status: 'running', attempt: 1, agent: 'w0' })
  const { rpc, release, replicated } = voters([open])
  const { members, resources, tasks } = build(rpc)
  resources.start()
  tasks.start()
  try {
    release()
    tasks.scheduler.officeCheck()
    await until('the takeover to end', () => !tasks.scheduler.snapshot(1).taking_over)
    // w0 did not answer what it holds (the rpc here reaches nobody else): its attempt was taken as lost.
    const r = tasks.scheduler.table.get('t7') as TaskRecord
    assert.equal(r.losses, 1, 'the unanswered agent lost its attempt at takeover')
    assert.equal(r.term, 67)
    members.safeDispatchEvent('member:change', { detail: { peerId: 'w0', name: 'w0', from: 'suspect', to: 'offline', incarnation: 1 } })
    assert.ok(replicated.some(x => x.spec.task_id === 't7' && x.term === 67), 'its records went to the voters in the new term')
  } finally {
    tasks.stop()
    resources.stop()
  }
})
