/**
 * Run commands and reports of one turn travel as one request per peer (protocols/task/batch-call.ts):
 * each item answered on its own, and a peer without the batched commands (an older version) is
 * sent the items one by one.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AgentNode } from '../../../surfaces/index.js'
import { BatchCall } from '../../../protocols/task/batch-call.js'
import { CannotRunTaskError, NotTaskHolderError, UnknownCommandError } from '../../../protocols/core/errors.js'
import { officeHolder, startMesh, stopAll, waitFor } from '../../helpers.js'

test('a batch: the calls of one turn to a peer are one request; each item is answered or refused on its own', { timeout: 3 * 60_000 }, async () => {
  const sent: Array<{ peer: string, items: number[] }> = []
  const batches = new BatchCall<number, string>({
    many: async (peer, items) => {
      sent.push({ peer, items })
      return items.map(i => i % 3 === 0
        ? { ok: false as const, error: { code: 'TSK006', name: 'CannotRunTaskError', message: `no room for ${i}` } }
        : { ok: true as const, answer: `${peer}:${i}` })
    },
    one: async (peer, i) => `${peer}:${i} alone`
  })
  const calls = [1, 2, 3, 4, 5, 6].map(async i => await batches.call(i % 2 === 0 ? 'a' : 'b', i).then(v => v, (e: Error) => e))
  const answers = await Promise.all(calls)
  assert.deepEqual(sent.map(s => s.peer).sort(), ['a', 'b'], 'one request per peer')
  assert.deepEqual(answers.slice(0, 2), ['b:1', 'a:2'])
  assert.ok(answers[2] instanceof CannotRunTaskError && answers[2].code === 'TSK006', 'a refused item is its own typed error')
  assert.equal(answers[3], 'a:4')
  // A later turn is a new request; an item alone in its turn goes as the single command.
  assert.deepEqual(await Promise.all([7, 8].map(async i => await batches.call('a', i))), ['a:7', 'a:8'])
  assert.equal(sent.length, 3)
  assert.equal(await batches.call('a', 10), 'a:10 alone')
})

test('a batch to a peer that does not know the batched command goes item by item, then and after', { timeout: 3 * 60_000 }, async () => {
  let many = 0
  const ones: number[] = []
  const batches = new BatchCall<number, number>({
    many: async () => { many++; throw new UnknownCommandError('$agentmesh/task/run-many') },
    one: async (_peer, i) => { ones.push(i); if (i === 2) throw new NotTaskHolderError('not yours'); return i * 10 }
  })
  const answers = await Promise.all([1, 2, 3].map(async i => await batches.call('old', i).then(v => v, (e: Error) => e)))
  assert.deepEqual([answers[0], answers[2]], [10, 30])
  assert.ok(answers[1] instanceof NotTaskHolderError)
  assert.deepEqual(await Promise.all([4, 5].map(async i => await batches.call('old', i))), [40, 50])
  assert.equal(many, 1, 'asked once with the batch')
  assert.deepEqual(ones.sort(), [1, 2, 3, 4, 5])
})

test('tasks run on an agent of the version before batches, and its reports reach a coordinator without them', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3, () => ({ preset: 'local' as const, coordination: { bootstrapExpect: 3 } }))
  try {
    const coordinator = await officeHolder(nodes, 'a coordinator', 20_000)
    const old = nodes.find(n => n !== coordinator) as AgentNode
    // What a node of the version before knows: the single run command and the single report.
    const forget = (n: AgentNode, command: string): void => { assert.ok((n as any).s.rpc.handlers.delete(command), command) }
    forget(old, '$agentmesh/task/run-many')
    forget(coordinator, '$agentmesh/task/report-many')
    // Only the old agent runs this type: the tasks complete only if the coordinator falls back to single run commands.
    old.onTask('old-only', (ctx) => `${old.name}:${ctx.taskId}`)
    const handles = await nodes[0].submitTasks(Array.from({ length: 20 }, (_, i) => ({ task_id: `old-${i}`, type: 'old-only' })))
    await waitFor(() => handles.every(h => h.latest?.status === 'completed'), 'the 20 tasks to complete on the old agent', 30_000)
    const results = await Promise.all(handles.map(async h => await h.result()))
    assert.deepEqual(results, handles.map((_, i) => `${old.name}:old-${i}`))
  } finally {
    await stopAll(nodes)
  }
})

test('a batch weighs its items against the sender\'s rate limit: a peer cannot multiply its requests by batching them', { timeout: 3 * 60_000 }, async () => {
  const [victim, sender] = await startMesh(2, (i) => ({ preset: 'local' as const, ...(i === 0 ? { rpc: { requestsPerSec: 150, floodSeconds: 0 } } : {}) }))
  try {
    const reports = Array.from({ length: 100 }, (_, i) => ({ task_id: `nobody-${i}`, attempt: 1, status: 'running', progress: 0, metrics: {} }))
    const outcomes: string[] = []
    for (let i = 0; i < 5; i++) {
      try {
        await sender.request(victim.peerId, '$agentmesh/task/report-many', { reports }, { rateLimitRetries: 0 })
        outcomes.push('answered')
      } catch (err) { outcomes.push((err as { code?: string }).code ?? String(err)) }
    }
    // 150 requests a second, a burst of 150: the first batch of 100 passes, and the next ones wait
    // their turn (refused until the bucket holds 100 again, ~330 ms). Counted as one request each,
    // all five would have passed within the burst.
    assert.equal(outcomes[0], 'answered')
    assert.ok(outcomes.includes('RATE001'), outcomes.join(', '))
    assert.ok(victim.stats.get('rpc_rate_limited_total') >= 1)
  } finally {
    await stopAll([victim, sender])
  }
})
