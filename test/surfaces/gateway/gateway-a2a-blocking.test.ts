/**
 * A blocking A2A SendMessage waits for its task to end, but no longer than the gateway's bound
 * (A2A_DEFAULTS.blockingWaitMs, 60 s); past it the answer is the task as it is. The bound comes
 * from the configuration (`gateway.a2aBlockingWaitMs`), for clients that give up sooner: the A2A
 * TCK's HTTP client waits 30 s, and its tests expect a task they just sent to be still WORKING
 * (an agent that takes long) so they can list and cancel it. Here the agent runs until it is
 * cancelled, as such an agent does. The bound holds while garbage collections run (it was an
 * AbortSignal.timeout inside AbortSignal.any, which Node 20 may collect before it fires).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import v8 from 'node:v8'
import vm from 'node:vm'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { createA2aMount } from '../../../surfaces/gateway/a2a/index.js'
import { serveMounts } from './mount-server.js'
import { CLI, LOADED_HOST_ELECTIONS, nodeOptions, Proc, startMesh, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

/** The A2A TCK's client gives up on an answer after 30 s (tck/transport/jsonrpc_client.py). */
const CLIENT_WAIT_MS = 30_000

/** Runs forever: ends when the task is cancelled. */
async function untilCancelled (signal: AbortSignal): Promise<never> {
  return await new Promise((resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true }) })
}

async function rpc (url: string, method: string, params: unknown): Promise<any> {
  const res = await fetch(`${url}/a2a`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'a2a-version': '1.0' },
    body: JSON.stringify({ jsonrpc: '2.0', id: randomUUID(), method, params }),
    signal: AbortSignal.timeout(CLIENT_WAIT_MS)
  })
  return await res.json()
}

test('a2a blocking bound from the configuration: AGENTMESH_GATEWAY_A2A_BLOCKING_WAIT_MS answers a blocking SendMessage with the task still WORKING, which CancelTask then ends; a bad bound is CFG001', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const args = [CLI, 'start', '--open', '--json', '--name', 'a1', '--mesh', mesh, '--no-mdns', '--no-data-dir', '--preset', 'local', '--listen', '/ip4/127.0.0.1/tcp/0', '--gateway', '127.0.0.1:0']
  const bad = new Proc(args, { AGENTMESH_GATEWAY_A2A_BLOCKING_WAIT_MS: '-1' })
  assert.equal(await bad.exited(), 2)
  assert.match(bad.stderr, /CFG001[^]*gateway\.a2aBlockingWaitMs/)

  // Election timeouts a loaded host keeps (LOADED_HOST_ELECTIONS): on the local preset's, beside a CPU burner,
  // a coordinator went out of office for the whole 30 s of a gateway's read (gateway-a2a-text).
  const gw = new Proc(args, {
    AGENTMESH_GATEWAY_A2A_TEXT_TASK: 'a2a.text',
    AGENTMESH_GATEWAY_A2A_BLOCKING_WAIT_MS: '500',
    AGENTMESH_COORDINATION_BOOTSTRAP_EXPECT: '2',
    AGENTMESH_COORDINATION_ELECTION_TIMEOUT_MIN_MS: String(LOADED_HOST_ELECTIONS.electionTimeoutMinMs),
    AGENTMESH_COORDINATION_ELECTION_TIMEOUT_MAX_MS: String(LOADED_HOST_ELECTIONS.electionTimeoutMaxMs)
  })
  let runner: AgentNode | undefined
  try {
    const ready = await gw.json(o => o.event === 'ready', 'a1 ready with its gateway')
    runner = await createAgentNode(nodeOptions(mesh, { name: 'runner', preset: 'local', coordination: { bootstrapExpect: 2, ...LOADED_HOST_ELECTIONS }, capabilities: ['task:a2a.text'], bootstrap: [ready.addresses[0]] }))
    let started = 0
    // Long work: it ends when the task is cancelled, never by itself.
    runner.onTask('a2a.text', async (ctx) => {
      started++
      await untilCancelled(ctx.signal)
    })
    await runner.start()
    const node = runner
    await waitFor(() => node.peers().length === 1 && node.coordination.leader !== undefined, 'runner and a1 met, with a coordinator', 60_000)

    // No returnImmediately: a blocking call, answered once the bound passed, not when the task ends.
    const sent = await rpc(ready.gateway, 'SendMessage', { message: { messageId: randomUUID(), role: 'ROLE_USER', parts: [{ text: 'take your time' }] } })
    const task = sent.result?.task
    assert.ok(task?.status?.state === 'TASK_STATE_SUBMITTED' || task?.status?.state === 'TASK_STATE_WORKING', JSON.stringify(sent))
    let state = task.status.state
    await waitFor(async () => {
      state = (await rpc(ready.gateway, 'GetTask', { id: task.id })).result?.status?.state
      return state === 'TASK_STATE_WORKING'
    }, 'the task WORKING on the runner', 60_000)
    assert.equal(started, 1)

    const cancelled = await rpc(ready.gateway, 'CancelTask', { id: task.id })
    assert.equal(cancelled.result?.status?.state, 'TASK_STATE_CANCELED', JSON.stringify(cancelled))
  } finally {
    await gw.stop()
    await runner?.stop()
  }
})

test('a2a blocking bound under garbage collection: the bound still answers while collections run (an AbortSignal.timeout held only by AbortSignal.any was collected on Node 20, and the call waited for the task\'s end)', { timeout: 2 * 60_000 }, async () => {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  const nodes = await startMesh(1, () => ({ preset: 'local', coordination: { bootstrapExpect: 1, ...LOADED_HOST_ELECTIONS }, capabilities: ['task:a2a.text'] }))
  nodes[0].onTask('a2a.text', async (ctx) => { await untilCancelled(ctx.signal) })
  const gw = await serveMounts(nodes[0], [createA2aMount({ textTask: 'a2a.text', blockingWaitMs: 300 })])
  // Collections all along the call, as a busy gateway has them.
  const collecting = setInterval(gc, 20)
  try {
    for (let i = 0; i < 3; i++) {
      const sent = await rpc(gw.url, 'SendMessage', { message: { messageId: randomUUID(), role: 'ROLE_USER', parts: [{ text: `collect ${i}` }] } })
      const task = sent.result?.task
      assert.ok(task?.status?.state === 'TASK_STATE_SUBMITTED' || task?.status?.state === 'TASK_STATE_WORKING', JSON.stringify(sent))
      const cancelled = await rpc(gw.url, 'CancelTask', { id: task.id })
      assert.equal(cancelled.result?.status?.state, 'TASK_STATE_CANCELED', JSON.stringify(cancelled))
    }
  } finally {
    clearInterval(collecting)
    await gw.stop()
    await stopAll(nodes)
  }
})
