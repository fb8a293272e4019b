/**
 * MeshOperations (surfaces/operations): what the gateway and the MCP server run for their clients,
 * through real nodes on 127.0.0.1. Each binding has its own tests; these check the operations'
 * answers and their typed refusals once, whatever binding calls them.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { z } from 'zod'
import { AgentMeshError, defineCommand } from '../../../surfaces/index.js'
import { MeshOperations, httpStatusOf, errorBody, type TopicEvent } from '../../../surfaces/operations/index.js'
import { startMesh, stopAll, waitFor } from '../../helpers.js'

const Square = defineCommand('square', { request: z.strictObject({ n: z.number() }), response: z.number() })

async function refused (p: Promise<unknown> | (() => unknown), code: string, status: number): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    assert.ok(err instanceof AgentMeshError, `a typed error, got ${String(err)}`)
    assert.equal(err.code, code, err.message)
    assert.equal(httpStatusOf(err), status)
    assert.equal(errorBody(err).error.code, code)
    return
  }
  assert.fail(`expected ${code}`)
}

test('operations: agents by name and capability, a command by agent name, topic events live and recent, a task followed to its end; bad input refused with codes', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3, (i) => ({ preset: 'local', coordination: { bootstrapExpect: 3 }, capabilities: i === 2 ? ['math'] : [] }))
  const ops = new MeshOperations(nodes[0], { feeds: { recent: 3 } })
  ops.start()
  try {
    nodes[2].handle(Square, ({ n }) => n * n)
    for (const n of nodes) n.onTask('add', (ctx) => Object.values(ctx.inputs).reduce<number>((a, b) => a + (b as number), Number(ctx.task.metadata.add)))

    // Agents: itself and the two others, found by capability and by name.
    assert.equal(ops.agents().length, 3)
    assert.deepEqual(ops.agents({ capability: 'math' }).map(a => a.name), ['n2'])
    assert.equal(ops.agent('n1').peerId, nodes[1].peerId)
    assert.equal(ops.agent(nodes[1].peerId).name, 'n1')
    await refused(() => ops.agent('nobody'), 'COM002', 404)
    await refused(() => ops.agents({ colour: 'red' }), 'MSG001', 400)

    // A command by the agent's name; its validation error travels back with its code.
    assert.deepEqual(await ops.request({ agent: 'n2', command: 'square', payload: { n: 12 } }), { agent: nodes[2].peerId, result: 144 })
    await refused(ops.request({ agent: 'n2', command: 'square', payload: { n: 'x' } }), 'MSG001', 400)
    await refused(ops.request({ agent: 'n2', command: 'cube', payload: {} }), 'CMD001', 404)
    await refused(ops.request({ agent: 'n2', command: '$agentmesh/task/query', payload: {} }), 'MSG001', 400)

    // Topics: a live watcher gets what another agent publishes; recent keeps the last three.
    const watcher = ops.watch('news')
    assert.deepEqual(ops.recent('news').events, [])
    await nodes[1].waitForSubscribers('news')
    for (let i = 0; i < 5; i++) await nodes[1].publish('news', { i })
    const got: TopicEvent[] = []
    for await (const e of watcher) { got.push(e); if (got.length === 5) break }
    assert.deepEqual(got.map(e => (e.payload as { i: number }).i), [0, 1, 2, 3, 4])
    assert.equal(got[0].fromName, 'n1')
    assert.deepEqual(ops.recent('news').events.map(e => (e.payload as { i: number }).i), [2, 3, 4])
    assert.equal(ops.feeds.list().find(f => f.topic === 'news')?.watchers, 0, 'the watcher that broke out is gone')
    await refused(() => ops.watch('$agentmesh/mesh'), 'MSG001', 400)
    const published = await ops.publish({ topic: 'news', payload: { i: 5 } })
    assert.equal(published.topic, 'news')

    // Tasks: one submitted, followed to its end, its result read back (a pipeline's run is the task
    // protocol's, through these operations in test/surfaces/gateway/gateway.test.ts).
    await waitFor(() => nodes.every(n => n.coordinator().leader !== undefined), 'a coordinator', 20_000)
    const { task_ids: ids } = await ops.submit({ tasks: [{ task_id: 'p2', type: 'add', metadata: { add: 10 } }] })
    assert.deepEqual(ids, ['p2'])
    const states: string[] = []
    for await (const s of ops.taskUpdates('p2')) states.push(s.status)
    assert.equal(states.at(-1), 'completed')
    assert.equal((await ops.task('p2')).result, 10)
    await refused(ops.task('nope'), 'TSK001', 404)
    await refused(ops.control('p2', { action: 'pause' }), 'TSK002', 409)
    await refused(ops.control('p2', { action: 'explode' }), 'MSG001', 400)
    await refused(ops.submit({ tasks: [{ type: 'add', dependencies: ['missing'] }] }), 'TSK003', 422)
    await refused(ops.submit({ tasks: [] }), 'MSG001', 400)
  } finally {
    ops.stop()
    await stopAll(nodes)
  }
})
