/**
 * The gateway's A2A binding driven by a client nobody here wrote: the A2A Python SDK (a2a-sdk,
 * interop/python/a2a_client.py), as a real process, over JSON-RPC and over HTTP+JSON, against
 * three agents on 127.0.0.1. What a Python user checks: the card names the mesh's skills and A2A
 * 1.0; a message naming a command is answered with its result; a pipeline streams to COMPLETED
 * with its result as an artifact; a task submitted without waiting is followed and cancelled,
 * its subscription ending CANCELED; an unknown task is the SDK's TaskNotFoundError.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { z } from 'zod'
import { defineCommand } from '../../surfaces/index.js'
import { startMesh, stopAll, waitFor } from '../helpers.js'
import { PYTHON, skipWithout } from '../requirements.js'
import { account, runPython } from './python.js'

// Elections a loaded host keeps: a Python process beside three nodes must not depose the coordinator mid-test.
const STEADY = { bootstrapExpect: 3, electionTimeoutMinMs: 2_000, electionTimeoutMaxMs: 4_000 }
const Square = defineCommand('square', { request: z.strictObject({ n: z.number() }), response: z.number() })

test('a2a-sdk (Python): the card, a command, a pipeline streamed, a task followed and cancelled, over JSON-RPC and HTTP+JSON', { timeout: 180_000 }, async (t) => {
  if (skipWithout(t, 'python')) return
  const nodes = await startMesh(3, (i) => ({
    preset: 'local',
    coordination: STEADY,
    capabilities: i === 2 ? ['command:square', 'task:add'] : ['task:add', 'task:slow'],
    ...(i === 0 ? { gateway: { listen: '127.0.0.1:0' } } : {})
  }))
  try {
    nodes[2].handle(Square, ({ n }) => n * n)
    for (const n of nodes) {
      n.onTask('add', (ctx) => Object.values(ctx.inputs).reduce<number>((a, b) => a + (b as number), Number(ctx.task.metadata.add)))
      n.onTask('slow', async (ctx) => { await new Promise((resolve, reject) => { ctx.signal.addEventListener('abort', () => { reject(ctx.signal.reason) }) }) })
    }
    await waitFor(() => nodes.every(n => n.coordinator().leader !== undefined), 'a coordinator', 20_000)
    const url = nodes[0].gatewayUrl as string

    for (const binding of ['JSONRPC', 'HTTP+JSON']) {
      const run = await runPython(PYTHON, 'interop/python/a2a_client.py', [url, binding], { timeoutMs: 120_000 })
      const out = run.json
      assert.ok(out !== undefined && run.code === 0, `${binding}: the script's JSON; ${account(run)}`)
      assert.deepEqual(out.errors, {}, `${binding}: every step ran`)

      // The card as the SDK parsed it.
      assert.deepEqual(out.card.skills, ['mesh.tasks', 'mesh.command', 'command:square', 'task:add', 'task:slow'])
      assert.deepEqual(out.card.interfaces, [['JSONRPC', '1.0', `${url}/a2a`], ['HTTP+JSON', '1.0', `${url}/a2a`]])
      assert.equal(out.card.streaming, true)

      // A command: one message, its data part the result, from the agent that offers it.
      assert.deepEqual(out.command.events.map((e: any) => e.kind), ['message'])
      assert.deepEqual(out.command.result, [49])
      assert.deepEqual(out.command.agentmesh, { agent: nodes[2].peerId, command: 'square' })

      // A pipeline streamed: first the task (the pipeline's last), the result 1 + 10 as an artifact, then COMPLETED.
      const events = out.stream.events
      const last = binding === 'JSONRPC' ? 'py-rpc-2' : 'py-rest-2'
      assert.deepEqual(events[0], { kind: 'task', id: last, state: 'TASK_STATE_SUBMITTED' })
      const artifact = events.find((e: any) => e.kind === 'artifact_update')
      assert.deepEqual([artifact?.name, artifact?.data], ['result', [11]])
      assert.equal(events.at(-1).state, 'TASK_STATE_COMPLETED')
      assert.ok(events.indexOf(artifact) < events.length - 1, 'the artifact comes before COMPLETED')
      assert.deepEqual(out.stream.get_task, { state: 'TASK_STATE_COMPLETED', context_id: binding === 'JSONRPC' ? 'py-context-rpc' : 'py-context-rest', artifacts: [[11]] })

      // Followed and cancelled: the cancel answers CANCELED, and so does the end of the subscription.
      assert.equal(out.cancel.polled.at(-1), 'TASK_STATE_WORKING')
      assert.equal(out.cancel.cancel_answer, 'TASK_STATE_CANCELED')
      assert.deepEqual(out.cancel.followed[0], { kind: 'task', id: out.cancel.task_id, state: 'TASK_STATE_WORKING' })
      assert.equal(out.cancel.followed.at(-1).state, 'TASK_STATE_CANCELED')
      assert.equal(out.cancel.followed.at(-1).task_id, out.cancel.task_id)

      assert.equal(out.unknown_task, 'TaskNotFoundError')

      // The mesh's own view, through REST: the pipeline completed with 11, the slow task cancelled.
      const done = await (await fetch(`${url}/v1/tasks/${last}`)).json() as any
      assert.deepEqual([done.status, done.result], ['completed', 11], JSON.stringify(done))
      const cancelled = await (await fetch(`${url}/v1/tasks/${String(out.cancel.task_id)}`)).json() as any
      assert.equal(cancelled.status, 'cancelled', JSON.stringify(cancelled))
    }
  } finally {
    await stopAll(nodes)
  }
})
