/**
 * The task table alone: no network, no timer, time passed in. What the coordinator decides
 * (moves, attempts, the queue, deadlines, pruning) is checked here apart from placement,
 * replication and recovery, which tasks.test.ts and task-recovery.test.ts drive through nodes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FINISHED_RETENTION_MS, TaskTable, finishPatch } from '../../../protocols/task/table.js'
import { ReplicateCommand, TaskSpec, type TaskRecord, type TaskReport, type TaskSpecInput } from '../../../protocols/task/schemas.js'
import { mayControl, mayRead, partyTo } from '../../../protocols/task/access.js'
import { AgentMeshError } from '../../../protocols/core/errors.js'

const T0 = Date.parse('2030-01-01T00:00:00Z')
const spec = (input: Partial<TaskSpecInput> & { task_id: string }): TaskSpec => TaskSpec.parse({ type: 'work', ...input })
const code = (fn: () => unknown): string => {
  try { fn() } catch (err) { if (err instanceof AgentMeshError) return err.code; throw err }
  return 'none'
}
const get = (t: TaskTable, id: string): TaskRecord => t.get(id) as TaskRecord
const report = (r: Partial<TaskReport> & { task_id: string, attempt: number, status: TaskReport['status'] }): TaskReport => ({ progress: 0, metrics: {}, ...r })

test('submit: a record per new task, submitted at attempt 0; a known id is a duplicate and changes nothing', { timeout: 3 * 60_000 }, () => {
  const t = new TaskTable()
  const made = t.submit([spec({ task_id: 'a' })], 'peer-1', T0)
  assert.equal(made.length, 1)
  const a = get(t, 'a')
  assert.deepEqual([a.status.status, a.status.attempt, a.version, a.losses, a.submitter], ['submitted', 0, 1, 0, 'peer-1'])
  assert.equal(a.status.timestamp, new Date(T0).toISOString())
  assert.equal(a.status.reason, undefined)
  assert.deepEqual(t.submit([spec({ task_id: 'a', priority: 1 })], 'peer-2', T0 + 5), [])
  assert.equal(get(t, 'a').submitter, 'peer-1', 'the first submission stands')
})

test('submit refuses the whole batch for a past deadline (TSK005), an unknown dependency or a cycle (TSK003)', { timeout: 3 * 60_000 }, () => {
  const t = new TaskTable()
  assert.equal(code(() => t.submit([spec({ task_id: 'ok' }), spec({ task_id: 'late', deadline: new Date(T0).toISOString() })], 'p', T0)), 'TSK005')
  assert.equal(t.size, 0, 'nothing of the batch was kept')
  assert.equal(code(() => t.submit([spec({ task_id: 'x', dependencies: ['nobody'] })], 'p', T0)), 'TSK003')
  assert.equal(code(() => t.submit([spec({ task_id: 'x', dependencies: ['y'] }), spec({ task_id: 'y', dependencies: ['x'] })], 'p', T0)), 'TSK003')
  assert.equal(code(() => t.submit([spec({ task_id: 'self', dependencies: ['self'] })], 'p', T0)), 'TSK003')
  assert.equal(t.size, 0)
  // A pipeline naming its own tasks, and a dependency known from before, are fine.
  t.submit([spec({ task_id: 'x' }), spec({ task_id: 'y', dependencies: ['x'] })], 'p', T0)
  t.submit([spec({ task_id: 'z', dependencies: ['y'] })], 'p', T0)
  assert.equal(get(t, 'z').status.reason, 'waiting for dependencies')
})

test('apply: moves the lifecycle allows; a refused move (TSK002) changes nothing', { timeout: 3 * 60_000 }, () => {
  const t = new TaskTable()
  t.submit([spec({ task_id: 'a' })], 'p', T0)
  const a = get(t, 'a')
  assert.equal(code(() => t.apply(a, { status: 'running' }, T0 + 1)), 'TSK002', 'submitted cannot jump to running')
  assert.equal(code(() => t.apply(a, { status: 'paused' }, T0 + 1)), 'TSK002')
  assert.deepEqual([a.status.status, a.version], ['submitted', 1])
  t.apply(a, { status: 'assigned', agent: 'w1', attempt: 1, reason: undefined }, T0 + 2)
  assert.deepEqual([a.status.status, a.status.agent, a.status.attempt, a.version], ['assigned', 'w1', 1, 2])
  assert.equal(a.status.timestamp, new Date(T0 + 2).toISOString(), 'time is what the caller passed')
  t.apply(a, { status: 'running', progress: 0.5 }, T0 + 3)
  t.apply(a, { status: 'paused', checkpoint: { at: 5 } }, T0 + 4)
  assert.deepEqual(a.checkpoint, { at: 5 })
  t.apply(a, { status: 'submitted', reason: 'resumed' }, T0 + 5)
  assert.equal(a.status.reason, 'resumed')
  t.apply(a, { reason: undefined }, T0 + 6)
  assert.equal('reason' in a.status, false, 'reason: undefined clears the reason')
  t.apply(a, finishPatch('cancelled', { reason: 'no longer wanted' }), T0 + 7)
  for (const to of ['submitted', 'assigned', 'running', 'paused', 'completed', 'failed'] as const) {
    assert.equal(code(() => t.apply(a, { status: to }, T0 + 8)), 'TSK002', `cancelled -> ${to} is refused`)
  }
  assert.equal(a.status.status, 'cancelled')
})

test('finishPatch: completed has progress 1; the reason defaults to the error message', { timeout: 3 * 60_000 }, () => {
  assert.deepEqual(finishPatch('completed', { result: 42 }), { status: 'completed', progress: 1, result: 42, reason: undefined })
  assert.deepEqual(finishPatch('failed', { error: { code: 'CMD002', message: 'boom' } }), { status: 'failed', error: { code: 'CMD002', message: 'boom' }, reason: 'boom' })
})

test('attempts: a fresh number per offer, past any the agents hold; an answered refusal gives it back', { timeout: 3 * 60_000 }, () => {
  const t = new TaskTable()
  t.submit([spec({ task_id: 'a' })], 'p', T0)
  assert.equal(t.offer('a'), 1)
  assert.equal(t.offer('a'), 2, 'an offer whose answer was lost keeps its number spent')
  t.offerReturned('a', 2)
  assert.equal(t.offer('a'), 2, 'a refusal the agent answered took nothing: the number is reused')
  t.offerReturned('a', 1)
  assert.equal(t.lastOffered('a'), 2, 'only the latest offer gives its number back')
  t.offerRefused('a', 7)
  assert.equal(t.offer('a'), 8, 'an agent holding attempt 7 (from an earlier coordinator): number past it')
  const a = get(t, 'a')
  t.apply(a, { status: 'assigned', agent: 'w', attempt: 8 }, T0 + 1)
  t.apply(a, finishPatch('completed', {}), T0 + 2)
  assert.equal(t.lastOffered('a'), undefined, 'a finished task forgets its offers')
})

test('a lost agent: the task is queued again, and fails (COM002) at max_attempts losses', { timeout: 3 * 60_000 }, () => {
  const t = new TaskTable()
  t.submit([spec({ task_id: 'a', max_attempts: 2 })], 'p', T0)
  const a = get(t, 'a')
  t.apply(a, { status: 'assigned', agent: 'w1', attempt: 1 }, T0 + 1)
  const first = t.lostPatch(a, 'agent w1 was lost')
  assert.deepEqual(first, { status: 'submitted', reason: 'agent w1 was lost; placing it again', losses: 1 })
  t.apply(a, first, T0 + 2)
  t.apply(a, { status: 'assigned', agent: 'w2', attempt: 2 }, T0 + 3)
  const second = t.lostPatch(a, 'agent w2 was lost')
  assert.equal(second.status, 'failed')
  assert.equal(second.error?.code, 'COM002')
  assert.match(second.error?.message ?? '', /2 of 2 attempts lost/)
  t.apply(a, second, T0 + 4)
  assert.equal(a.losses, 2)
})

test('reports: progress, pause keeps the checkpoint, the end; nothing after the end', { timeout: 3 * 60_000 }, () => {
  const t = new TaskTable()
  t.submit([spec({ task_id: 'a' })], 'p', T0)
  const a = get(t, 'a')
  t.apply(a, { status: 'assigned', agent: 'w', attempt: 1 }, T0)
  assert.deepEqual(t.reportPatch(a, report({ task_id: 'a', attempt: 1, status: 'running', progress: 0.25, checkpoint: 'c1' })),
    { status: 'running', progress: 0.25, metrics: {}, checkpoint: 'c1' })
  t.apply(a, { status: 'paused' }, T0 + 1)
  assert.deepEqual(t.reportPatch(a, report({ task_id: 'a', attempt: 1, status: 'running', checkpoint: 'c2' })), { checkpoint: 'c2' },
    'a late progress report of a paused task keeps it paused')
  assert.equal(t.reportPatch(a, report({ task_id: 'a', attempt: 1, status: 'cancelled' })), undefined, 'a paused attempt stopping is not a cancel')
  t.apply(a, { status: 'submitted' }, T0 + 2)
  t.apply(a, { status: 'assigned', agent: 'w', attempt: 2 }, T0 + 3)
  const failed = t.reportPatch(a, report({ task_id: 'a', attempt: 2, status: 'failed' }))
  assert.deepEqual(failed?.error, { code: 'CMD002', message: 'the handler failed' })
  t.apply(a, failed ?? {}, T0 + 4)
  assert.equal(t.reportPatch(a, report({ task_id: 'a', attempt: 2, status: 'completed', result: 1 })), undefined, 'a finished task stays finished')
})

test('what an agent holds decides an attempt: its end, its progress, or lost', { timeout: 3 * 60_000 }, () => {
  const t = new TaskTable()
  t.submit([spec({ task_id: 'a' })], 'p', T0)
  const a = get(t, 'a')
  t.apply(a, { status: 'assigned', agent: 'w', attempt: 3 }, T0)
  const held = { task_id: 'a', attempt: 3, progress: 0.5 }
  assert.deepEqual(t.heldPatch(a, { ...held, state: 'completed', result: 'r' }, true), finishPatch('completed', { result: 'r' }))
  assert.deepEqual(t.heldPatch(a, { ...held, state: 'running' }, true), { status: 'running', progress: 0.5 })
  assert.deepEqual(t.heldPatch(a, { ...held, state: 'paused', checkpoint: 9 }, true), { status: 'paused', checkpoint: 9 })
  assert.deepEqual(t.heldPatch(a, { ...held, attempt: 2, state: 'running' }, true),
    { lost: 'its agent w does not hold attempt 3 (it holds attempt 2, running)' })
  assert.deepEqual(t.heldPatch(a, undefined, true), { lost: 'its agent w does not hold attempt 3' })
  assert.deepEqual(t.heldPatch(a, undefined, false), { lost: 'its agent w does not hold attempt 3 (it did not answer)' })
  t.apply(a, { status: 'running', progress: 0.5 }, T0 + 1)
  assert.equal(t.heldPatch(a, { ...held, state: 'running' }, true), undefined, 'nothing new')
})

test('the queue: by priority, then age; being placed is skipped; dependencies decide readiness', { timeout: 3 * 60_000 }, () => {
  const t = new TaskTable()
  t.submit([spec({ task_id: 'late-low', priority: 9 })], 'p', T0)
  t.submit([spec({ task_id: 'old-high', priority: 1 })], 'p', T0 + 1)
  t.submit([spec({ task_id: 'new-high', priority: 1 })], 'p', T0 + 2)
  assert.deepEqual(t.queue().map(r => r.spec.task_id), ['old-high', 'new-high', 'late-low'])
  assert.deepEqual(t.queue(new Set(['old-high'])).map(r => r.spec.task_id), ['new-high', 'late-low'])

  t.submit([spec({ task_id: 'child', dependencies: ['old-high', 'new-high'] })], 'p', T0 + 3)
  const child = get(t, 'child')
  assert.deepEqual(t.readiness(child), { ready: false })
  assert.deepEqual(t.waitingOn(child), ['old-high', 'new-high'])
  for (const id of ['old-high', 'new-high']) {
    const r = get(t, id)
    t.apply(r, { status: 'assigned', agent: 'w', attempt: 1 }, T0 + 4)
    t.apply(r, finishPatch('completed', { result: `${id}!` }), T0 + 5)
  }
  assert.deepEqual(t.readiness(child), { ready: true, inputs: { 'old-high': 'old-high!', 'new-high': 'new-high!' } })

  t.submit([spec({ task_id: 'orphan', dependencies: ['late-low'] })], 'p', T0 + 6)
  t.apply(get(t, 'late-low'), finishPatch('failed', { error: { code: 'CMD002', message: 'x' } }), T0 + 7)
  const r = t.readiness(get(t, 'orphan'))
  assert.equal(r.ready, false)
  assert.equal(!r.ready && r.broken?.code, 'TSK003', 'a failed dependency fails its dependents')
})

test('load and open attempts count placed and running tasks per agent', { timeout: 3 * 60_000 }, () => {
  const t = new TaskTable()
  t.submit(['a', 'b', 'c', 'd'].map(id => spec({ task_id: id })), 'p', T0)
  t.apply(get(t, 'a'), { status: 'assigned', agent: 'w1', attempt: 1 }, T0)
  t.apply(get(t, 'b'), { status: 'assigned', agent: 'w1', attempt: 1 }, T0)
  t.apply(get(t, 'b'), { status: 'running' }, T0)
  t.apply(get(t, 'c'), { status: 'assigned', agent: 'w2', attempt: 1 }, T0)
  t.apply(get(t, 'c'), finishPatch('completed', {}), T0)
  assert.deepEqual([...t.load()], [['w1', 2]])
  assert.deepEqual(t.open('w1').map(r => r.spec.task_id), ['a', 'b'])
  assert.deepEqual(t.open('w2'), [])
})

test('deadlines as data: the earliest open one, the overdue, fail or cancel (TSK005)', { timeout: 3 * 60_000 }, () => {
  const t = new TaskTable()
  const at = (ms: number): string => new Date(T0 + ms).toISOString()
  assert.equal(t.nextDeadline(), undefined)
  t.submit([
    spec({ task_id: 'soon', deadline: at(1_000) }),
    spec({ task_id: 'later', deadline: at(5_000), on_deadline: 'cancel' }),
    spec({ task_id: 'none' })
  ], 'p', T0)
  assert.equal(t.nextDeadline(), T0 + 1_000)
  assert.deepEqual(t.overdue(T0 + 999), [])
  assert.deepEqual(t.overdue(T0 + 1_000).map(r => r.spec.task_id), ['soon'], 'due at the deadline itself')
  const soon = get(t, 'soon')
  const fail = t.deadlinePatch(soon)
  assert.deepEqual([fail.status, fail.error?.code], ['failed', 'TSK005'])
  t.apply(soon, fail, T0 + 1_000)
  assert.equal(t.nextDeadline(), T0 + 5_000, 'a finished task has no deadline left')
  const cancel = t.deadlinePatch(get(t, 'later'))
  assert.deepEqual([cancel.status, cancel.error?.code], ['cancelled', 'TSK005'])
  assert.match(cancel.reason ?? '', /missed its deadline/)
})

test('pruning: finished records go after the retention, unless an open task depends on them', { timeout: 3 * 60_000 }, () => {
  const t = new TaskTable()
  t.submit([spec({ task_id: 'done' }), spec({ task_id: 'parent' }), spec({ task_id: 'open' })], 'p', T0)
  t.submit([spec({ task_id: 'child', dependencies: ['parent'] })], 'p', T0)
  for (const id of ['done', 'parent']) t.apply(get(t, id), finishPatch('cancelled', {}), T0)
  assert.deepEqual(t.prune(T0 + FINISHED_RETENTION_MS), [], 'kept for the whole retention')
  assert.deepEqual(t.prune(T0 + FINISHED_RETENTION_MS + 1), ['done'])
  assert.deepEqual([...t.records.keys()].sort(), ['child', 'open', 'parent'])
  t.apply(get(t, 'child'), finishPatch('cancelled', {}), T0 + FINISHED_RETENTION_MS + 1)
  assert.deepEqual(t.prune(T0 + 2 * FINISHED_RETENTION_MS + 2).sort(), ['child', 'parent'], 'once its dependent ended too')
  // A dropped id is a new task when submitted again.
  assert.equal(t.submit([spec({ task_id: 'done' })], 'p', T0 + 3 * FINISHED_RETENTION_MS).length, 1)
})

test('the queue, load, open attempts, deadlines and pruning walk only what is open, and agree with a walk of every record', { timeout: 3 * 60_000 }, () => {
  // A seeded walk through submits, moves, merges of newer copies (open again, or ended at another
  // time), drops and prunes; after each step the table's look-ups (kept as records change,
  // table-index.ts) must equal what a walk over all its records finds.
  let seed = 7
  const rnd = (n: number): number => { // mulberry32
    seed = (seed + 0x6D2B79F5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) % n
  }
  const t = new TaskTable()
  const retention = 1_000
  let now = T0
  let pruned = 0
  const ids = Array.from({ length: 60 }, (_, i) => `t${i}`)
  const walk = (): { queue: string[], load: Array<[string, number]>, open: string[], next: number | undefined, overdue: string[] } => {
    const all = [...t.records.values()]
    const live = all.filter(r => !['completed', 'failed', 'cancelled'].includes(r.status.status))
    const placed = live.filter(r => r.status.status === 'assigned' || r.status.status === 'running')
    const load = new Map<string, number>()
    for (const r of placed) if (r.status.agent !== undefined) load.set(r.status.agent, (load.get(r.status.agent) ?? 0) + 1)
    const deadlines = live.flatMap(r => r.spec.deadline !== undefined ? [Date.parse(r.spec.deadline)] : [])
    return {
      queue: live.filter(r => r.status.status === 'submitted').sort((a, b) => a.spec.priority - b.spec.priority || a.submitted_at - b.submitted_at).map(r => r.spec.task_id),
      load: [...load].sort(),
      open: placed.map(r => r.spec.task_id).sort(),
      next: deadlines.length > 0 ? Math.min(...deadlines) : undefined,
      overdue: live.filter(r => r.spec.deadline !== undefined && Date.parse(r.spec.deadline) <= now).map(r => r.spec.task_id).sort()
    }
  }
  for (let step = 0; step < 3_000; step++) {
    now += rnd(40)
    const id = ids[rnd(ids.length)]
    const r = t.get(id)
    const op = r === undefined ? -1 : rnd(10)
    if (r === undefined) {
      t.submit([spec({ task_id: id, priority: rnd(3), ...(rnd(4) === 0 ? { deadline: new Date(now + 1 + rnd(2_000)).toISOString() } : {}) })], 'p', now)
    } else if (op < 6) {
      const moves: Array<Parameters<TaskTable['apply']>[1]> = [
        { status: 'assigned', agent: `w${rnd(3)}`, attempt: r.status.attempt + 1 }, { status: 'running' }, { status: 'submitted' },
        { status: 'paused' }, finishPatch('completed', {}), finishPatch('failed', { error: { code: 'CMD002', message: 'x' } }), { progress: 0.5 }
      ]
      try { t.apply(r, moves[rnd(moves.length)], now) } catch (err) { if (!(err instanceof AgentMeshError)) throw err }
    } else if (op < 8) {
      // A newer copy, as a voter or the store hands it over: the same (a takeover's re-stamp), open
      // again, or ended at another time.
      const same = rnd(3) === 0
      const status = same ? r.status.status : (['submitted', 'running', 'completed', 'cancelled'] as const)[rnd(4)]
      const timestamp = same ? r.status.timestamp : new Date(now - rnd(retention)).toISOString()
      assert.equal(t.merge({ ...r, version: r.version + 1, status: { ...r.status, status, agent: 'w1', timestamp } }), true)
    } else if (op === 8) {
      t.drop(id)
    } else {
      pruned += t.prune(now, retention).length
    }
    const w = walk()
    assert.deepEqual(t.queue().map(x => x.spec.task_id), w.queue, `queue at step ${step}`)
    assert.deepEqual([...t.load()].sort(), w.load, `load at step ${step}`)
    assert.deepEqual(t.open().map(x => x.spec.task_id).sort(), w.open, `open at step ${step}`)
    assert.equal(t.nextDeadline(), w.next, `next deadline at step ${step}`)
    // Pages of 7 after the last id read walk every id in order (the sorted ids are kept between pages).
    {
      const read: string[] = []
      for (let page = t.page(undefined, 7); ; page = t.page(read[read.length - 1], 7)) {
        read.push(...page.records.map(x => x.spec.task_id))
        if (!page.more) break
      }
      assert.deepEqual(read, [...t.records.keys()].sort(), `pages at step ${step}`)
    }
    assert.deepEqual(t.overdue(now).map(x => x.spec.task_id).sort(), w.overdue, `overdue at step ${step}`)
    // After a prune, no finished record older than the retention is left that nothing needs.
    if (op === 9) {
      const needed = new Set([...t.records.values()].filter(x => !['completed', 'failed', 'cancelled'].includes(x.status.status)).flatMap(x => x.spec.dependencies))
      const stale = [...t.records.values()].filter(x => ['completed', 'failed', 'cancelled'].includes(x.status.status) && Date.parse(x.status.timestamp) < now - retention && !needed.has(x.spec.task_id))
      assert.deepEqual(stale.map(x => x.spec.task_id), [], `pruned at step ${step}`)
    }
  }
  assert.ok(pruned > 50, `the walk pruned records (${pruned})`)
})

test('merge keeps the newer version; pages walk the table', { timeout: 3 * 60_000 }, () => {
  const t = new TaskTable()
  t.submit(['a', 'b', 'c'].map(id => spec({ task_id: id })), 'p', T0)
  const older = structuredClone(get(t, 'a'))
  t.apply(get(t, 'a'), { status: 'assigned', agent: 'w', attempt: 1 }, T0 + 1)
  t.merge(older)
  assert.equal(get(t, 'a').status.status, 'assigned', 'an older version does not replace a newer one')
  const newer = structuredClone(get(t, 'a'))
  newer.version += 5
  newer.status.status = 'running'
  t.merge(newer)
  assert.equal(get(t, 'a').status.status, 'running')
  assert.deepEqual(t.page(undefined, 2).records.map(r => r.spec.task_id), ['a', 'b'])
  assert.equal(t.page(undefined, 2).more, true)
  assert.deepEqual(t.page('b', 2), { records: [get(t, 'c')], more: false })
  assert.deepEqual(t.page(undefined, 2, 2), { records: [get(t, 'c')], more: false }, 'an offset still skips (readers before the cursor)')
})

test('pages after the last id read skip nothing when records are pruned between two pages', { timeout: 3 * 60_000 }, () => {
  const t = new TaskTable()
  const ids = Array.from({ length: 10 }, (_, i) => `t${String(i).padStart(2, '0')}`)
  t.submit(ids.map(id => spec({ task_id: id })), 'p', T0)
  // The first three end early; the rest stay open.
  for (const id of ids.slice(0, 3)) t.apply(get(t, id), finishPatch('cancelled', {}), T0)
  const read: string[] = []
  let page = t.page(undefined, 4)
  read.push(...page.records.map(r => r.spec.task_id))
  // The voter's every-second prune runs between the reader's pages.
  assert.deepEqual(t.prune(T0 + FINISHED_RETENTION_MS + 1), ids.slice(0, 3))
  while (page.more) {
    page = t.page(read[read.length - 1], 4)
    read.push(...page.records.map(r => r.spec.task_id))
  }
  assert.deepEqual(read.filter(id => !ids.slice(0, 3).includes(id)), ids.slice(3), 'every open task read')
  // What an offset did: the page after four records started past two records never read.
  const u = new TaskTable()
  u.submit(ids.map(id => spec({ task_id: id })), 'p', T0)
  for (const id of ids.slice(0, 3)) u.apply(get(u, id), finishPatch('cancelled', {}), T0)
  u.prune(T0 + FINISHED_RETENTION_MS + 1)
  assert.deepEqual(u.page(undefined, 4, 4).records.map(r => r.spec.task_id), ['t07', 't08', 't09'], 't04 t05 t06 skipped by the offset')
})

test('access: the submitter or the coordinator control a task; they, its agent and the voters read it; nobody else', { timeout: 3 * 60_000 }, () => {
  const t = new TaskTable()
  t.submit([spec({ task_id: 'a' })], 'sub', T0)
  const a = get(t, 'a')
  t.apply(a, { status: 'assigned', agent: 'worker', attempt: 1 }, T0 + 1)
  const parties = { coordinator: 'coord', voters: ['coord', 'v1', 'v2'] }
  const who = ['sub', 'coord', 'worker', 'v1', 'stranger']
  assert.deepEqual(who.map(p => partyTo(a, p, parties)), ['submitter', 'coordinator', 'agent', 'voter', undefined])
  assert.deepEqual(who.map(p => mayControl(a, p, parties)), [true, true, false, false, false])
  assert.deepEqual(who.map(p => mayRead(a, p, parties)), [true, true, true, true, false])
  // Placed elsewhere: the agent that ran an earlier attempt reads it no more.
  t.apply(a, { status: 'submitted', reason: 'lost' }, T0 + 2)
  t.apply(a, { status: 'assigned', agent: 'other', attempt: 2 }, T0 + 3)
  assert.equal(mayRead(a, 'worker', parties), false)
  assert.equal(mayRead(a, 'other', parties), true)
  // A task operator (tasks:operate, an MCP endpoint) reads and controls it; the stranger still nothing.
  const withOperator = { ...parties, operator: (p: string) => p === 'front-door' }
  assert.deepEqual(['front-door', 'stranger'].map(p => [partyTo(a, p, withOperator), mayControl(a, p, withOperator), mayRead(a, p, withOperator)]),
    [['operator', true, true], [undefined, false, false]])
})

test('a replicated record keeps its submitter, and one without a submitter is refused', { timeout: 3 * 60_000 }, () => {
  const t = new TaskTable()
  t.submit([spec({ task_id: 'a' })], 'sub', T0)
  const wire = JSON.parse(JSON.stringify({ term: 3, records: [get(t, 'a')] }))
  const parsed = ReplicateCommand.request.parse(wire)
  const replica = new TaskTable()
  replica.merge(parsed.records[0])
  assert.equal(get(replica, 'a').submitter, 'sub')
  delete wire.records[0].submitter
  assert.equal(ReplicateCommand.request.safeParse(wire).success, false)
})
