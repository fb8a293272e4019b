/**
 * A pruned record does not come back (protocols/task/pruned.ts).
 *
 * Every replica prunes a task's record FINISHED_RETENTION_MS after its end. A voter that missed
 * the end (down or cut off while it was written, and reached by no takeover's re-stamp since)
 * still holds the task open, and never prunes it. A coordinator taking office after the others
 * pruned read that copy, found nothing newer, and took it: the task was open again, its agent
 * did not hold the attempt, and it was placed and run a second time (and told to its submitter
 * again). Found by reading while the 1,000-fault campaign ran: the campaign stopped asking about
 * a task once it was pruned, so it could not see it; it now asks again (harness/fault-campaign.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryStore } from '../../../protocols/core/store.js'
import { UnknownTaskError } from '../../../protocols/core/errors.js'
import { TaskTable, FINISHED_RETENTION_MS } from '../../../protocols/task/table.js'
import { PRUNED_MARK_MS } from '../../../protocols/task/pruned.js'
import type { PrunedMark, TaskRecord } from '../../../protocols/task/index.js'
import { SUBMITTER, build, record, until, voters } from './task-harness.js'
import type { AgentNode } from '../../../surfaces/index.js'
import { startMesh, stopAll, waitFor } from '../../helpers.js'

const T0 = Date.parse('2026-11-24T08:00:00Z')
const ended = (id: string, term: number, version: number, at = T0): TaskRecord =>
  record(id, term, version, { status: 'completed', attempt: 2, agent: 'w0', progress: 1, result: { by: 'w0' }, timestamp: new Date(at).toISOString() })
const stale = (id: string): TaskRecord => record(id, 65, 4, { status: 'running', attempt: 2, agent: 'w0', progress: 0.5 })

test('the table: a pruned record leaves a mark; a copy from before it is refused, a record written after it is kept', { timeout: 3 * 60_000 }, () => {
  const t = new TaskTable()
  t.merge(ended('t9', 66, 8))
  assert.deepEqual(t.prune(T0 + FINISHED_RETENTION_MS + 1), ['t9'])
  assert.deepEqual(t.marks.get('t9'), { task_id: 't9', term: 66, version: 8, at: T0 + FINISHED_RETENTION_MS + 1 })
  assert.equal(t.merge(stale('t9')), false, 'a stale voter\'s copy of the task, running on w0, is refused')
  assert.equal(t.get('t9'), undefined)
  // A copy held before the mark arrives is dropped by it (a reader whose own replica is the stale one).
  const u = new TaskTable()
  u.merge(stale('t9'))
  assert.equal(u.mark(t.marks.get('t9') as PrunedMark), true)
  assert.equal(u.get('t9'), undefined)
  // Submitted again after the prune, the id is a new task, numbered past the mark: a voter holding the mark keeps it.
  const [again] = t.submit([record('t9', 0, 0, {}).spec], SUBMITTER, T0 + FINISHED_RETENTION_MS + 2)
  assert.equal(again.version, 9)
  assert.equal(t.marks.get('t9'), undefined)
  const voter = new TaskTable()
  voter.mark({ task_id: 't9', term: 66, version: 8, at: T0 })
  assert.equal(voter.merge({ ...structuredClone(again), term: 66 }), true, 'the new task of the same id, same term, past the mark')
  // A mark is kept PRUNED_MARK_MS.
  const w = new TaskTable()
  w.mark({ task_id: 'a', term: 1, version: 2, at: T0 })
  w.mark({ task_id: 'b', term: 1, version: 2, at: T0 + 1_000 })
  assert.deepEqual(w.marks.expire(T0 + PRUNED_MARK_MS + 500), ['a'])
  assert.deepEqual(w.marks.page(undefined, 10).pruned.map(m => m.task_id), ['b'])
})

test('a coordinator whose own replica holds a task open that a voter pruned does not run it again', { timeout: 3 * 60_000 }, async () => {
  // This node missed t9's end (it was cut off); v1 (with this node, a majority of three) ended and pruned it.
  const { rpc, release, replicated } = voters([], new Set(), [{ task_id: 't9', term: 66, version: 8, at: T0 }])
  const store = new MemoryStore()
  await store.space<TaskRecord>('tasks').put('t9', stale('t9'))
  const { resources, tasks } = build(rpc, store)
  resources.start()
  tasks.start()
  try {
    assert.equal(tasks.scheduler.table.get('t9')?.status.status, 'running', 'loaded from the disk')
    release()
    tasks.scheduler.officeCheck()
    await until('the takeover to end', () => !tasks.scheduler.snapshot(1).taking_over)
    assert.equal(tasks.scheduler.snapshot(1).leading, true)
    assert.equal(tasks.scheduler.table.get('t9'), undefined, 'the stale copy was dropped for v1\'s mark')
    await assert.rejects(tasks.scheduler.query(SUBMITTER, 't9'), UnknownTaskError)
    assert.deepEqual(replicated.filter(r => r.spec.task_id === 't9'), [], 'nothing of it was sent to the voters')
    await until('the disk to follow', () => store.space('tasks').get('t9') === undefined && store.space('tasks-pruned').get('t9') !== undefined)
  } finally {
    tasks.stop()
    resources.stop()
  }
})

test('a voter\'s stale copy read by a coordinator that pruned the task does not bring it back, also after its restart', { timeout: 3 * 60_000 }, async () => {
  const store = new MemoryStore()
  // This coordinator pruned t9 before a restart: only its mark is on its disk.
  await store.space<PrunedMark>('tasks-pruned').put('t9', { task_id: 't9', term: 66, version: 8, at: T0 })
  const { rpc, release, replicated, toldPruned } = voters([stale('t9'), record('t10', 66, 2, { status: 'submitted' })])
  const { resources, tasks } = build(rpc, store)
  resources.start()
  tasks.start()
  try {
    release()
    tasks.scheduler.officeCheck()
    await until('the takeover to end', () => !tasks.scheduler.snapshot(1).taking_over)
    assert.equal(tasks.scheduler.table.get('t9'), undefined, 'v1\'s copy of t9, running on w0, was refused')
    assert.equal(tasks.scheduler.table.get('t10')?.spec.task_id, 't10', 'an open task v1 holds is taken as before')
    assert.deepEqual(replicated.filter(r => r.spec.task_id === 't9'), [])
    // v1 is told the mark, so its copy does not outlive the marks there.
    await until('v1 to be told', () => toldPruned.length > 0)
    assert.deepEqual(toldPruned, [{ peer: 'v1', id: 't9' }])
  } finally {
    tasks.stop()
    resources.stop()
  }
})

test('a voter told the mark of a record others pruned drops its stale copy, on its disk too', { timeout: 3 * 60_000 }, async () => {
  const store = new MemoryStore()
  await store.space<TaskRecord>('tasks').put('t9', stale('t9'))
  const { resources, tasks } = build(voters([]).rpc, store)
  tasks.start()
  try {
    assert.equal(tasks.scheduler.table.get('t9')?.status.status, 'running')
    await tasks.scheduler.replica.replicate('self', 67, [], [{ task_id: 't9', term: 66, version: 8, at: T0 }])
    assert.equal(tasks.scheduler.table.get('t9'), undefined)
    await until('the disk to follow', () => store.space('tasks').get('t9') === undefined && store.space('tasks-pruned').get('t9') !== undefined)
  } finally {
    tasks.stop()
    resources.stop()
  }
})

test('a mark that comes after a record written past it (a task submitted again) leaves the record on the voter, on its disk too', { timeout: 3 * 60_000 }, async () => {
  // The race a review of replica-sync.ts found: a comparison lists a stale copy and queues its
  // mark; meanwhile the task is submitted again and its new record written to the voter; then the
  // mark arrives. The table kept the record (it is after the mark), but the disk dropped it, and
  // a restart lost an acknowledged task.
  const store = new MemoryStore()
  const { resources, tasks } = build(voters([]).rpc, store)
  tasks.start()
  try {
    await tasks.scheduler.replica.replicate('self', 67, [record('t7', 67, 6, { status: 'submitted' })])
    await until('the record on the disk', () => store.space('tasks').get('t7') !== undefined)
    await tasks.scheduler.replica.replicate('self', 67, [], [{ task_id: 't7', term: 67, version: 5, at: T0 }])
    assert.equal(tasks.scheduler.table.get('t7')?.version, 6, 'the table keeps the record written after the mark')
    await until('the mark on the disk', () => store.space('tasks-pruned').get('t7') !== undefined)
    assert.equal((store.space('tasks').get('t7') as TaskRecord | undefined)?.version, 6, 'and so does the disk')
  } finally {
    tasks.stop()
    resources.stop()
  }
  // Started again on that store: the record is back, the mark kept.
  const again = build(voters([]).rpc, store)
  again.tasks.start()
  try {
    assert.equal(again.tasks.scheduler.table.get('t7')?.version, 6, 'a restart keeps the record')
  } finally {
    again.tasks.stop()
    again.resources.stop()
  }
})

test('after a takeover, a voter prunes the finished records the new coordinator re-stamped, each once', { timeout: 3 * 60_000 }, async () => {
  // Every voter merges again each record a new coordinator re-stamps (a new version, the same
  // end): found in review, the table's index of ends then held two entries for it, and the
  // voter's every-second prune dropped it twice and threw (its process would have died).
  const local = { preset: 'local' as const, coordination: { bootstrapExpect: 3 } }
  const nodes = await startMesh(4, (i) => ({ ...local, coordination: { ...local.coordination, eligible: i < 3 } }))
  const inOffice = (ns: AgentNode[]): AgentNode | undefined => ns.find(n => n.coordinator().inOffice)
  const elected = async (ns: AgentNode[]): Promise<AgentNode> => {
    await waitFor(() => ns.filter(n => n.coordinator().inOffice).length === 1 && ns.every(n => n.coordinator().leader === inOffice(ns)?.peerId), 'a coordinator followed by all', 30_000)
    return inOffice(ns) as AgentNode
  }
  try {
    const first = await elected(nodes)
    for (const n of nodes) n.onTask('work', () => 'ok')
    const h = await nodes[3].submitTask({ task_id: 'done-1', type: 'work' })
    assert.equal(await h.result(), 'ok')
    await first.stop()
    const rest = nodes.filter(n => n !== first)
    const next = await elected(rest)
    const other = rest.find(n => n !== next && n !== nodes[3]) as AgentNode
    const table = other.tasks.scheduler.table
    await waitFor(() => table.get('done-1')?.term === next.coordinator().term, 'the other voter to hold the re-stamped record', 30_000)
    assert.deepEqual(table.prune(Date.now() + FINISHED_RETENTION_MS + 60_000), ['done-1'])
    assert.equal(table.get('done-1'), undefined)
  } finally {
    await stopAll(nodes)
  }
})
