/**
 * More input to a task once submitted (`$agentmesh/task/input`, docs/tasks.md "Messages to a
 * task"), through real nodes on 127.0.0.1: the running handler reads each message once from
 * `ctx.messages` however often it is sent; a message to a task still queued is there when it
 * runs; the messages outlive the coordinator that took them and the agent that first ran the
 * task; a task over refuses them (TSK002), a plain member may not send them (TSK007), and past
 * the caps they are refused (MSG002).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AgentNode, TaskContext } from '../../../surfaces/index.js'
import { TASK_MESSAGES_MAX_BYTES } from '../../../protocols/task/schemas.js'
import { officeHolder, startMesh, stopAll, waitFor } from '../../helpers.js'

const fast = { preset: 'local' as const, coordination: { bootstrapExpect: 3 } }

/** The coordinator all of `nodes` follow (the ones still running). */
async function elected (live: AgentNode[]): Promise<AgentNode> {
  return await officeHolder(live, 'a coordinator followed by all', 30_000)
}

const rejected = (a: { type: string, code?: string }): string | undefined => a.type === 'task.control.reject' ? a.code : undefined

test('task input: a message reaches the running handler once however often it is sent; one sent while the task waits is there when it runs; TSK002 once over, TSK007 for a plain member, MSG002 past the caps', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3, () => fast)
  try {
    const coordinator = await elected(nodes)
    const [submitter, member] = nodes.filter(n => n !== coordinator)
    const seen: Array<{ task: string, attempt: number, id: string, input: unknown }> = []
    let release = (): void => {}
    const gate = new Promise<void>(resolve => { release = resolve })
    for (const n of nodes) {
      // Reads messages until one says "done", then answers the ids it read.
      n.onTask('talk', async (ctx: TaskContext) => {
        const ids: string[] = []
        for await (const m of ctx.messages) {
          seen.push({ task: ctx.taskId, attempt: ctx.attempt, id: m.message_id, input: m.input })
          ids.push(m.message_id)
          if (m.input === 'done') return ids
        }
        return ids
      })
      n.onTask('hold', async () => { await gate; return 'held' })
    }

    const h = await submitter.submitTask({ task_id: 'talker', type: 'talk' })
    await waitFor(() => h.latest?.status === 'running', 'the talker to run')
    assert.equal((await h.input('hello', 'm1')).type, 'task.control.ack')
    await waitFor(() => seen.some(s => s.id === 'm1'), 'm1 to reach the handler')
    // Sent again (a client that lost the answer): acknowledged, and not read a second time.
    const again = await h.input('hello', 'm1')
    assert.equal(again.type, 'task.control.ack', JSON.stringify(again))
    assert.equal(again.type === 'task.control.ack' && again.status, 'running')
    // Its id with another input: refused (MSG001), not acknowledged and dropped.
    const changed = await h.input('REPLACED', 'm1')
    assert.equal(rejected(changed), 'MSG001', JSON.stringify(changed))
    // A plain member (a voter, neither the submitter nor the coordinator) may not add to it.
    const stranger = await member.tasks.client.input('talker', { message_id: 'x1', input: 'let me in' })
    assert.equal(rejected(stranger), 'TSK007', JSON.stringify(stranger))
    // Past the byte cap: refused, and the task keeps what it had.
    const big = await h.input('x'.repeat(TASK_MESSAGES_MAX_BYTES), 'too-big')
    assert.equal(rejected(big), 'MSG002', JSON.stringify(big))
    assert.equal((await h.input('done', 'm2')).type, 'task.control.ack')
    assert.deepEqual(await h.result(), ['m1', 'm2'])
    assert.deepEqual(seen.filter(s => s.task === 'talker').map(s => s.id), ['m1', 'm2'], 'each message read once')
    const status = await h.status()
    assert.deepEqual(status.messages?.map(m => [m.message_id, m.input, m.from]), [['m1', 'hello', submitter.peerId], ['m2', 'done', submitter.peerId]])
    const over = await h.input('too late', 'm3')
    assert.equal(rejected(over), 'TSK002', JSON.stringify(over))

    // A task waiting for its dependency takes messages too: its handler reads them when it runs.
    const [, waiting] = await submitter.submitTasks([
      { task_id: 'first', type: 'hold' },
      { task_id: 'second', type: 'talk', dependencies: ['first'] }
    ])
    assert.equal((await waiting.status()).status, 'submitted')
    assert.equal((await waiting.input('early', 'e1')).type, 'task.control.ack')
    assert.equal((await waiting.input('done', 'e2')).type, 'task.control.ack')
    assert.equal(seen.some(s => s.task === 'second'), false)
    release()
    assert.deepEqual(await waiting.result(), ['e1', 'e2'])
    const unknown = await submitter.tasks.client.input('no-such-task', { input: 'anyone?' })
    assert.equal(rejected(unknown), 'TSK001', JSON.stringify(unknown))
  } finally {
    await stopAll(nodes)
  }
})

test('task input: the messages outlive the coordinator that took them (the next one delivers more) and the agent that first ran the task (the next attempt reads them all)', { timeout: 4 * 60_000 }, async () => {
  const nodes = await startMesh(5, () => fast)
  try {
    const first = await elected(nodes)
    const submitter = nodes.find(n => n !== first) as AgentNode
    const seen: Array<{ by: string, attempt: number, id: string }> = []
    // Neither the first coordinator nor the submitter runs it: both must outlive what is stopped.
    for (const n of nodes) {
      if (n === first || n === submitter) continue
      n.onTask('talk', async (ctx: TaskContext) => {
        const ids: string[] = []
        for await (const m of ctx.messages) {
          seen.push({ by: n.peerId, attempt: ctx.attempt, id: m.message_id })
          ids.push(m.message_id)
          if (ids.length === 4) break
        }
        return { ids, attempt: ctx.attempt }
      })
    }
    const h = await submitter.submitTask({ task_id: 'survivor', type: 'talk', max_attempts: 5 })
    await waitFor(() => h.latest?.status === 'running', 'the task to run')
    const holder = nodes.find(n => n.peerId === h.latest?.agent) as AgentNode
    assert.equal((await h.input('one', 'm1')).type, 'task.control.ack')
    assert.equal((await h.input('two', 'm2')).type, 'task.control.ack')
    await waitFor(() => seen.filter(s => s.by === holder.peerId).length === 2, 'the holder to read m1 and m2')

    await first.stop()
    const second = await elected(nodes.filter(n => n !== first))
    assert.notEqual(second, first)
    assert.deepEqual((await h.status()).messages?.map(m => m.message_id), ['m1', 'm2'], 'the new coordinator holds the messages')
    assert.equal((await h.input('three', 'm3')).type, 'task.control.ack')
    await waitFor(() => seen.some(s => s.by === holder.peerId && s.id === 'm3'), 'the new coordinator to deliver m3 to the holder')

    await holder.stop()
    await waitFor(() => seen.filter(s => s.by !== holder.peerId).length === 3, 'a new attempt elsewhere to read m1..m3', 60_000)
    const next = seen.filter(s => s.by !== holder.peerId)
    assert.deepEqual(next.map(s => s.id), ['m1', 'm2', 'm3'])
    assert.ok(next[0].attempt >= 2, `a new attempt (${next[0].attempt})`)
    assert.equal((await h.input('four', 'm4')).type, 'task.control.ack')
    const result = await h.result() as { ids: string[], attempt: number }
    assert.deepEqual(result.ids, ['m1', 'm2', 'm3', 'm4'])
    assert.ok(result.attempt >= 2)
    assert.deepEqual(seen.filter(s => s.by === holder.peerId).map(s => s.id), ['m1', 'm2', 'm3'], 'the first holder read each once')
  } finally {
    await stopAll(nodes)
  }
})
