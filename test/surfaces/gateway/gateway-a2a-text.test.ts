/**
 * A2A clients talk in plain text (the A2A TCK's messages are "Hello ..."), which says nothing of
 * what to run on the mesh: with `createA2aMount({ textTask })` a new plain-text message becomes a
 * task of that type with the text as its input, run by an agent that offers it; without the
 * option it is refused (-32602), as before. A text sent to an existing task is refused as A2A
 * says (a mesh task takes no further input): UnsupportedOperation (-32004) for a task that is
 * over (A2A 1.0, 3.1.1), TaskNotFound (-32001) for a task id nobody knows (3.4.2).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { a2aMount, createA2aMount } from '../../../surfaces/gateway/a2a/index.js'
import { serveMounts } from './mount-server.js'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { CLI, LOADED_HOST_ELECTIONS, nodeOptions, Proc, startMesh, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

const send = (text: string, taskId?: string): unknown => ({
  jsonrpc: '2.0',
  id: randomUUID(),
  method: 'SendMessage',
  params: { message: { messageId: randomUUID(), role: 'ROLE_USER', parts: [{ text }], ...(taskId !== undefined ? { taskId } : {}) } }
})

async function rpc (url: string, body: unknown): Promise<any> {
  const res = await fetch(`${url}/a2a`, { method: 'POST', headers: { 'content-type': 'application/json', 'a2a-version': '1.0' }, body: JSON.stringify(body) })
  return await res.json()
}

test('a2a textTask: a plain-text message becomes a task of that type, run by an agent; without the option it is refused, and to an existing task it is refused as A2A says (-32004 over, -32001 unknown)', { timeout: 60_000 }, async () => {
  const nodes = await startMesh(1, () => ({ preset: 'local', coordination: { bootstrapExpect: 1, ...LOADED_HOST_ELECTIONS }, capabilities: ['task:a2a.text'] }))
  nodes[0].onTask('a2a.text', (ctx) => ({ shouted: String(ctx.task.metadata.text).toUpperCase() }))
  const withText = await serveMounts(nodes[0], [createA2aMount({ textTask: 'a2a.text' })])
  const plain = await serveMounts(nodes[0], [a2aMount])
  try {
    const r = await rpc(withText.url, send('hello mesh'))
    const task = r.result?.task
    assert.equal(task?.status?.state, 'TASK_STATE_COMPLETED', JSON.stringify(r))
    assert.deepEqual(task.artifacts[0].parts[0].data, { shouted: 'HELLO MESH' })

    const followUp = await rpc(withText.url, send('and more', task.id))
    assert.equal(followUp.error?.code, -32004, JSON.stringify(followUp))
    const nobody = await rpc(withText.url, send('and more', randomUUID()))
    assert.equal(nobody.error?.code, -32001, JSON.stringify(nobody))
    const refused = await rpc(plain.url, send('hello mesh'))
    assert.equal(refused.error?.code, -32602, JSON.stringify(refused))
  } finally {
    await withText.stop()
    await plain.stop()
    await stopAll(nodes)
  }
})

test('a2a textTask from the configuration: `agentmesh start --gateway` with AGENTMESH_GATEWAY_A2A_TEXT_TASK turns text into that task; a bad type is CFG001', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const args = [CLI, 'start', '--open', '--json', '--name', 'a1', '--mesh', mesh, '--no-mdns', '--preset', 'local', '--listen', '/ip4/127.0.0.1/tcp/0', '--gateway', '127.0.0.1:0']
  const bad = new Proc(args, { AGENTMESH_GATEWAY_A2A_TEXT_TASK: 'no spaces allowed' })
  assert.equal(await bad.exited(), 2)
  assert.match(bad.stderr, /CFG001[^]*gateway\.a2aTextTask/)
  // a1 runs nothing of type a2a.text: the text becomes that task on the mesh, placed on the agent that offers it.
  // Election timeouts a loaded host keeps (LOADED_HOST_ELECTIONS): beside a CPU burner, on the local preset's, the
  // coordinator a1 submitted through was out of office for the whole 30 s of the read that followed.
  const agent = new Proc(args, {
    AGENTMESH_GATEWAY_A2A_TEXT_TASK: 'a2a.text',
    AGENTMESH_COORDINATION_BOOTSTRAP_EXPECT: '2',
    AGENTMESH_COORDINATION_ELECTION_TIMEOUT_MIN_MS: String(LOADED_HOST_ELECTIONS.electionTimeoutMinMs),
    AGENTMESH_COORDINATION_ELECTION_TIMEOUT_MAX_MS: String(LOADED_HOST_ELECTIONS.electionTimeoutMaxMs)
  })
  let runner: AgentNode | undefined
  try {
    const ready = await agent.json(o => o.event === 'ready', 'a1 ready with its gateway')
    assert.equal(typeof ready.gateway, 'string', JSON.stringify(ready))
    runner = await createAgentNode(nodeOptions(mesh, { name: 'runner', preset: 'local', coordination: { bootstrapExpect: 2, ...LOADED_HOST_ELECTIONS }, capabilities: ['task:a2a.text'], bootstrap: [ready.addresses[0]] }))
    runner.onTask('a2a.text', (ctx) => ({ shouted: String(ctx.task.metadata.text).toUpperCase() }))
    await runner.start()
    const node = runner
    await waitFor(() => node.peers().length === 1 && node.coordination.leader !== undefined, 'runner and a1 met, with a coordinator', 60_000)
    // The gateway submits through a1: a1 too must follow the coordinator, not only the runner (the
    // local CI's Node 20 pass once had the runner elected and a1's submission wait out its 30 s).
    await agent.json(o => o.event === 'coordinator' && typeof o.leader === 'string', 'a1 to print the coordinator it follows')
    const r = await rpc(ready.gateway, send('hello mesh'))
    const task = r.result?.task
    assert.equal(task?.status?.state, 'TASK_STATE_COMPLETED', JSON.stringify(r))
    assert.deepEqual(task.artifacts[0].parts[0].data, { shouted: 'HELLO MESH' })
  } finally {
    await agent.stop()
    await runner?.stop()
  }
})
