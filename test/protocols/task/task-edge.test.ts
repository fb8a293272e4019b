/**
 * What docs/tasks.md promises at the edges of the task lifecycle, through real nodes: status on
 * tasks.status.<task_id> for anyone watching (without the result), a failed or cancelled dependency failing its
 * dependent (TSK003), pausing a paused task refused (TSK002), and a task whose agent is lost
 * `max_attempts` times failing with COM002.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AgentNode, TaskContext, TaskStatus } from '../../../surfaces/index.js'
import { TaskFailedError } from '../../../surfaces/index.js'
import { startMesh, stopAll, waitFor } from '../../helpers.js'

const fast = { preset: 'local' as const, coordination: { bootstrapExpect: 3 } }

async function elected (nodes: AgentNode[]): Promise<AgentNode> {
  const leader = (): AgentNode | undefined => nodes.find(x => x.coordinator().inOffice)
  await waitFor(() => nodes.filter(n => n.coordinator().inOffice).length === 1 && nodes.every(n => n.coordinator().leader === leader()?.peerId),
    'a coordinator followed by all', 20_000)
  return leader() as AgentNode
}

/** `p`, or a failure after `ms`: a broken scheduler fails the test instead of hanging it. */
async function within<T> (p: Promise<T>, what: string, ms = 15_000, state?: () => unknown): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_resolve, reject) => {
    t = setTimeout(() => { reject(new Error(`timed out after ${ms} ms waiting for ${what}${state !== undefined ? `; then: ${JSON.stringify(state())}` : ''}`)) }, ms)
  })
  try { return await Promise.race([p, late]) } finally { clearTimeout(t) }
}

/** Resolves after `ms`, or rejects when the task's signal aborts. */
async function wait (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(t); reject(signal.reason) }
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

test('tasks: status on tasks.status.<id> for a watcher, without the result; a failed or cancelled dependency fails its dependent (TSK003); pausing a paused task is TSK002', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3, () => fast)
  try {
    const coordinator = await elected(nodes)
    const [submitter, watcher] = nodes.filter(n => n !== coordinator)
    for (const n of nodes) {
      n.onTask('ok', async (ctx: TaskContext) => { await wait(100, ctx.signal); ctx.progress(0.5); await wait(100, ctx.signal); return 'done' })
      n.onTask('boom', () => { throw new Error('boom') })
      n.onTask('forever', async (ctx: TaskContext) => { await wait(60_000, ctx.signal) })
    }

    // A node that neither submits nor runs the scheduler hears each state on the task's topic.
    const seen: TaskStatus[] = []
    const sub = watcher.subscribe('tasks.status.watched')
    void (async () => { for await (const m of sub) seen.push(m.payload as TaskStatus) })()
    await waitFor(() => coordinator.topicPeers('tasks.status.watched').subscribers.includes(watcher.peerId), 'the coordinator to see the subscription')
    const h = await submitter.submitTask({ task_id: 'watched', type: 'ok' })
    assert.equal(await within(h.result(), 'the watched task'), 'done')
    await waitFor(() => seen.some(s => s.status === 'completed'), `the completion on the topic (saw ${seen.map(s => s.status).join(', ')})`)
    const states = seen.map(s => s.status)
    assert.ok(seen.every(s => s.task_id === 'watched'))
    assert.ok(states.includes('running') && states.indexOf('running') < states.indexOf('completed'), states.join(', '))
    // The topic is open to anyone: the result goes to the submitter only (and those who may query it).
    assert.ok(seen.every(s => s.result === undefined), 'no result on the open topic')
    sub.unsubscribe()

    // A dependency that fails: its dependent never runs and fails with TSK003.
    const [bad, afterBad] = await submitter.submitTasks([
      { task_id: 'bad', type: 'boom' },
      { task_id: 'after-bad', type: 'ok', dependencies: ['bad'] }
    ])
    await assert.rejects(within(bad.result(), 'bad'), (e: Error) => e instanceof TaskFailedError && e.status.status === 'failed' && e.code === 'CMD002')
    await assert.rejects(within(afterBad.result(), 'afterBad'), (e: Error) => e instanceof TaskFailedError && e.status.status === 'failed' && e.code === 'TSK003' && /bad/.test(e.message))
    // A dependency that is cancelled: the same.
    const [held, afterHeld] = await submitter.submitTasks([
      { task_id: 'held', type: 'forever' },
      { task_id: 'after-held', type: 'ok', dependencies: ['held'] }
    ])
    await waitFor(() => held.latest?.status === 'running', 'the dependency to run')
    assert.equal((await afterHeld.status()).status, 'submitted', 'the dependent waits for its dependency')
    assert.equal((await held.cancel('not needed')).type, 'task.control.ack')
    await assert.rejects(within(afterHeld.result(), 'afterHeld'), (e: Error) => e instanceof TaskFailedError && e.status.status === 'failed' && e.code === 'TSK003' && /cancelled/.test(e.message))

    // Pause, then pause again: refused with TSK002, and the task stays paused.
    const p = await submitter.submitTask({ task_id: 'paused-twice', type: 'forever' })
    await waitFor(() => p.latest?.status === 'running', 'the task to run')
    assert.equal((await p.pause('once')).type, 'task.control.ack')
    await waitFor(() => p.latest?.status === 'paused', 'the task to be paused')
    const twice = await p.pause('twice')
    assert.ok(twice.type === 'task.control.reject' && twice.code === 'TSK002' && /paused/.test(twice.reason), JSON.stringify(twice))
    assert.equal((await p.status()).status, 'paused')
    assert.ok(coordinator.stats.get('coordination_rejected_total', { reason: 'TSK002' }) >= 1)
    assert.equal((await p.cancel()).type, 'task.control.ack')
  } finally {
    await stopAll(nodes)
  }
})

test('tasks: an agent lost max_attempts times fails the task with COM002; one loss fewer places it again', { timeout: 3 * 60_000 }, async () => {
  // Three voters with no handler, two agents that run the work and take no part in elections:
  // losing both costs no quorum.
  const nodes = await startMesh(5, (i) => ({ ...fast, coordination: { ...fast.coordination, eligible: i < 3 } }))
  try {
    const coordinator = await elected(nodes)
    const workers = nodes.slice(3)
    const runs: string[] = []
    for (const n of workers) n.onTask('work', async (ctx: TaskContext) => { runs.push(n.name); await wait(60_000, ctx.signal) })
    const h = await coordinator.submitTask({ task_id: 'unlucky', type: 'work', max_attempts: 2, requirements: { cpu_cores: 0, memory_gb: 0, storage_gb: 0 } })
    await waitFor(() => h.latest?.status === 'running', 'the first attempt to run')
    const first = workers.find(n => n.peerId === h.latest?.agent) as AgentNode
    assert.ok(first !== undefined, `runs on a worker: ${JSON.stringify(h.latest)}`)
    await first.stop()
    // One loss of two: placed again, on the other worker.
    await waitFor(() => h.latest?.status === 'running' && h.latest.attempt === 2, `the second attempt to run (${JSON.stringify(h.latest)})`)
    const second = workers.find(n => n.peerId === h.latest?.agent) as AgentNode
    assert.ok(second !== undefined && second !== first)
    await second.stop()
    const state = (): unknown => ({ latest: h.latest, coordinators: nodes.slice(0, 3).map(n => ({ name: n.name, ...n.coordinator(), lost: n.members().filter(m => m.state !== 'alive').map(m => [m.name, m.state]) })) })
    await assert.rejects(within(h.result(), 'the task to fail', 15_000, state), (e: Error) => e instanceof TaskFailedError && e.status.status === 'failed' && e.code === 'COM002' && /2 of 2/.test(e.message))
    assert.equal(runs.length, 2)
  } finally {
    await stopAll(nodes)
  }
})
