/**
 * The gateway's A2A binding (surfaces/gateway/a2a) through a real mesh of three nodes, with the
 * @a2a-js/sdk client over JSON-RPC and over HTTP+JSON: the agent card (its skills read from
 * the agents' capabilities) round-trips through the SDK's AgentCard codec; a command answers
 * with a message; tasks sent together stream to their result; a blocking send waits for the task; GetTask
 * and ListTasks find what was sent; a running task is cancelled while a subscriber follows it;
 * an unknown method, an unknown task, an unknown agent and bad input answer A2A's errors, with the mesh's code.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import { AgentCard, Role, TaskState, type Message, type Part, type StreamResponse, type Task } from '@a2a-js/sdk'
import { ClientFactory, JsonRpcTransportFactory, RestTransportFactory, type Client } from '@a2a-js/sdk/client'
import { RequestMalformedError, TaskNotCancelableError, TaskNotFoundError, UnsupportedOperationError } from '@a2a-js/sdk/errors'
import { defineCommand } from '../../../surfaces/index.js'
import { a2aMount, SCHEMA_EXTENSION } from '../../../surfaces/gateway/a2a/index.js'
import { serveMounts } from './mount-server.js'
import { startMesh, stopAll, waitFor } from '../../helpers.js'

// The local preset's elections, with timeouts wide enough that a machine loaded by other work
// (an event loop stalled for a second) does not depose the coordinator in the middle of a test.
const STEADY = { bootstrapExpect: 3, electionTimeoutMinMs: 2_000, electionTimeoutMaxMs: 4_000 }

const Square = defineCommand('square', { request: z.strictObject({ n: z.number() }), response: z.number() })

function message (data: unknown, ids: { contextId?: string, taskId?: string } = {}, kind: 'data' | 'text' = 'data'): Message {
  const part: Part = kind === 'data'
    ? { content: { $case: 'data', value: data }, metadata: undefined, filename: '', mediaType: 'application/json' }
    : { content: { $case: 'text', value: String(data) }, metadata: undefined, filename: '', mediaType: 'text/plain' }
  return { messageId: randomUUID(), contextId: ids.contextId ?? '', taskId: ids.taskId ?? '', role: Role.ROLE_USER, parts: [part], metadata: undefined, extensions: [], referenceTaskIds: [] }
}

function send (m: Message, returnImmediately = false): { tenant: string, message: Message, configuration: any, metadata: undefined } {
  return { tenant: '', message: m, configuration: { acceptedOutputModes: [], taskPushNotificationConfig: undefined, returnImmediately }, metadata: undefined }
}

function dataOf (p: Part | undefined): unknown {
  return p?.content?.$case === 'data' ? p.content.value : undefined
}

async function rpc (url: string, body: unknown, headers: Record<string, string> = { 'a2a-version': '1.0' }): Promise<{ status: number, body: any }> {
  const res = await fetch(`${url}/a2a`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}

async function rejects (p: Promise<unknown>, check: (err: Error) => boolean, what: string): Promise<void> {
  try { await p } catch (err) { assert.ok(check(err as Error), `${what}: got ${(err as Error).name}: ${(err as Error).message}`); return }
  assert.fail(`${what}: no error`)
}

test('a2a: the card, a command, tasks sent together streamed, a blocking send, get/list, a task cancelled while followed; unknown method, task and agent, bad input', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3, (i) => ({
    preset: 'local',
    coordination: STEADY,
    capabilities: i === 2 ? ['command:square', 'task:add'] : ['task:add', 'task:slow']
  }))
  const gw = await serveMounts(nodes[0], [a2aMount])
  try {
    nodes[2].handle(Square, ({ n }) => n * n)
    for (const n of nodes) {
      n.onTask('add', (ctx) => Object.values(ctx.inputs).reduce<number>((a, b) => a + (b as number), Number(ctx.task.metadata.add)))
      n.onTask('slow', async (ctx) => { await new Promise((resolve, reject) => { ctx.signal.addEventListener('abort', () => { reject(ctx.signal.reason) }) }) })
    }
    await waitFor(() => nodes.every(n => n.coordinator().leader !== undefined), 'a coordinator', 20_000)

    // The card: what the SDK's codec reads is what was served, skills from the agents' capabilities.
    const served = await (await fetch(`${gw.url}/.well-known/agent-card.json`)).json() as Record<string, unknown>
    assert.deepEqual(AgentCard.toJSON(AgentCard.fromJSON(served)), served, 'the card round-trips through the SDK\'s AgentCard type')
    const card = AgentCard.fromJSON(served)
    assert.deepEqual(card.skills.map(s => s.id), ['mesh.tasks', 'mesh.command', 'command:square', 'task:add', 'task:slow'])
    assert.deepEqual(card.supportedInterfaces.map(i => [i.protocolBinding, i.protocolVersion, i.url]), [['JSONRPC', '1.0', `${gw.url}/a2a`], ['HTTP+JSON', '1.0', `${gw.url}/a2a`]])
    assert.equal(card.capabilities?.streaming, true)
    const schemas = card.capabilities?.extensions.find(e => e.uri === SCHEMA_EXTENSION)?.params?.skills
    assert.equal(schemas['task:add'].input.properties.type.const, 'add', 'a task skill\'s schema names its type')
    assert.deepEqual(schemas['mesh.command'].input.required, ['agent', 'command', 'payload'])

    const client: Client = await new ClientFactory({ transports: [new JsonRpcTransportFactory()] }).createFromUrl(gw.url)

    // A command: no agent named, so one that offers it; the answer is a message.
    const answer = await client.sendMessage(send(message({ command: 'square', payload: { n: 7 } })))
    assert.ok('messageId' in answer)
    assert.equal(dataOf((answer as Message).parts[0]), 49)
    assert.equal((answer as Message).metadata?.agentmesh.agent, nodes[2].peerId)

    // Tasks sent together, streamed: the task, then its changes, the result as an artifact before
    // COMPLETED. A pipeline's run (dependencies, results handed on) is the task protocol's, checked
    // once in test/surfaces/gateway/gateway.test.ts; a dependency handed on is refused below when it names no task.
    const contextId = randomUUID()
    const events: StreamResponse[] = []
    for await (const e of client.sendMessageStream(send(message({ tasks: [{ task_id: 'a1', type: 'add', metadata: { add: 1 } }, { task_id: 'a2', type: 'add', metadata: { add: 10 } }] }, { contextId })))) events.push(e)
    const first = events[0].payload
    assert.equal(first?.$case, 'task')
    assert.equal(first?.$case === 'task' ? first.value.id : '', 'a2', 'the A2A task is the pipeline\'s last')
    // The result as an artifact update, and COMPLETED as the last status update; or, when both
    // tasks finished before the stream's first event (a loaded host: the stream was the task
    // alone, already completed, its artifact in it), in that first task itself, which A2A allows.
    const stream = `the stream: ${JSON.stringify(events.map(e => e.payload))}`
    const update = events.find(e => e.payload?.$case === 'artifactUpdate')?.payload
    const done = events.length === 1 && first?.$case === 'task' ? first.value : undefined
    const result = update?.$case === 'artifactUpdate' ? dataOf(update.value.artifact?.parts[0]) : done !== undefined ? dataOf(done.artifacts[0]?.parts[0]) : undefined
    assert.equal(result, 10, stream)
    const last = events.at(-1)?.payload
    const finalState = last?.$case === 'statusUpdate' ? last.value.status?.state : done?.status?.state
    assert.equal(finalState, TaskState.TASK_STATE_COMPLETED, stream)

    // A blocking send waits for the end; GetTask and ListTasks find both tasks sent.
    const blocking = await client.sendMessage(send(message(JSON.stringify({ type: 'add', metadata: { add: 5 } }), {}, 'text'))) as Task
    assert.equal(blocking.status?.state, TaskState.TASK_STATE_COMPLETED)
    assert.equal(dataOf(blocking.artifacts[0].parts[0]), 5)
    const got = await client.getTask({ tenant: '', id: 'a2' })
    assert.equal(got.contextId, contextId)
    assert.equal(got.metadata?.agentmesh.status, 'completed')
    assert.deepEqual(got.metadata?.agentmesh.task_ids, ['a1', 'a2'])
    const listed = await client.listTasks({ tenant: '', contextId: '', status: TaskState.TASK_STATE_UNSPECIFIED, pageToken: '', statusTimestampAfter: undefined, includeArtifacts: true })
    assert.deepEqual(new Set(listed.tasks.map(t => t.id)), new Set(['a2', blocking.id]))
    const inContext = await client.listTasks({ tenant: '', contextId, status: TaskState.TASK_STATE_UNSPECIFIED, pageToken: '', statusTimestampAfter: undefined, pageSize: 1 })
    assert.deepEqual(inContext.tasks.map(t => t.id), ['a2'])

    // A running task paused by a message to it: it waits for the client (INPUT_REQUIRED) until a message resumes it.
    const slow = await client.sendMessage(send(message({ type: 'slow' }), true)) as Task
    const working = async (): Promise<boolean> => (await client.getTask({ tenant: '', id: slow.id })).status?.state === TaskState.TASK_STATE_WORKING
    await waitFor(working, 'the slow task to run', 20_000)
    const paused = await client.sendMessage(send(message({ action: 'pause', reason: 'lunch' }, { taskId: slow.id }))) as Task
    assert.equal(paused.status?.state, TaskState.TASK_STATE_INPUT_REQUIRED)
    assert.match(paused.status?.message?.parts[0].content?.$case === 'text' ? paused.status.message.parts[0].content.value : '', /paused \(lunch\).*"action": "resume"/)
    await client.sendMessage(send(message({ action: 'resume' }, { taskId: slow.id }), true))
    await waitFor(working, 'the slow task to run again', 20_000)

    // The running task, followed by a subscriber, cancelled: the subscriber sees CANCELED and ends.
    const subscription = client.resubscribeTask({ tenant: '', id: slow.id })
    const now = (await subscription.next()).value?.payload
    assert.equal(now?.$case === 'task' ? now.value.status?.state : undefined, TaskState.TASK_STATE_WORKING, 'a subscriber gets the task as it is first')
    const cancelled = await client.cancelTask({ tenant: '', id: slow.id, metadata: undefined })
    assert.equal(cancelled.status?.state, TaskState.TASK_STATE_CANCELED)
    const seen: StreamResponse[] = []
    for await (const e of subscription) seen.push(e)
    const end = seen.at(-1)?.payload
    assert.equal(end?.$case === 'statusUpdate' ? end.value.status?.state : undefined, TaskState.TASK_STATE_CANCELED)
    assert.equal((await client.cancelTask({ tenant: '', id: slow.id, metadata: undefined })).status?.state, TaskState.TASK_STATE_CANCELED, 'cancelling again answers the task')
    await rejects(client.cancelTask({ tenant: '', id: 'a2', metadata: undefined }), e => e instanceof TaskNotCancelableError, 'a completed task')

    // Errors: an unknown task, an unknown method, no version, bad JSON, a message with no mesh call.
    await rejects(client.getTask({ tenant: '', id: 'no-such-task' }), e => e instanceof TaskNotFoundError, 'an unknown task')
    const unknownTask = await rpc(gw.url, { jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: 'no-such-task' } })
    assert.equal(unknownTask.body.error.code, -32001, JSON.stringify(unknownTask.body))
    assert.equal(unknownTask.body.error.data[0].metadata.code, 'TSK001')
    const unknownMethod = await rpc(gw.url, { jsonrpc: '2.0', id: 2, method: 'DoSomethingElse', params: {} })
    assert.deepEqual([unknownMethod.status, unknownMethod.body.id, unknownMethod.body.error.code], [200, 2, -32601])
    assert.equal((await rpc(gw.url, { jsonrpc: '2.0', id: 3, method: 'GetTask', params: { id: 'a2' } }, {})).body.error.code, -32009, 'no A2A-Version header is 0.3, which the card does not offer')
    assert.equal((await rpc(gw.url, '{"jsonrpc": "2.0", ')).body.error.code, -32700)
    const noCall = await rpc(gw.url, { jsonrpc: '2.0', id: 4, method: 'SendMessage', params: { message: { messageId: 'm1', role: 'ROLE_USER', parts: [{ text: 'hello' }] } } })
    assert.equal(noCall.body.error.code, -32602)
    assert.equal(noCall.body.error.data[0].metadata.code, 'MSG001')
    const badTask = await rpc(gw.url, { jsonrpc: '2.0', id: 5, method: 'SendMessage', params: { message: { messageId: 'm2', role: 'ROLE_USER', parts: [{ data: { type: 'add', dependencies: ['missing'] } }] } } })
    assert.equal(badTask.body.error.data[0].metadata.code, 'TSK003')
    const push = await rpc(gw.url, { jsonrpc: '2.0', id: 6, method: 'CreateTaskPushNotificationConfig', params: { taskId: 'a2', url: 'http://127.0.0.1:1/hook' } })
    assert.equal(push.body.error.code, -32003)
    // A command for an agent the mesh has not: the client's mistake (invalid params), not an
    // internal error (it was -32603); the mesh's code and error name in the error's data.
    const noAgent = await rpc(gw.url, { jsonrpc: '2.0', id: 7, method: 'SendMessage', params: { message: { messageId: 'm3', role: 'ROLE_USER', parts: [{ data: { command: 'square', agent: 'nobody', payload: { n: 2 } } }] } } })
    assert.equal(noAgent.body.error?.code, -32602, JSON.stringify(noAgent.body))
    assert.deepEqual([noAgent.body.error.data[0].reason, noAgent.body.error.data[0].metadata], ['INVALID_PARAMS', { code: 'COM002', name: 'UnknownAgentError' }])
    assert.match(noAgent.body.error.message, /no agent "nobody".*n2/, 'the message names the agent asked for and those seen')
    await rejects(client.sendMessage(send(message({ command: 'square', agent: 'nobody', payload: { n: 2 } }))), e => e instanceof RequestMalformedError, 'an unknown agent')
    // A command the agent named does not serve (CMD001): unsupported there (-32004), not an
    // internal error (it was -32603), the mesh's code in the data.
    const noCommand = await rpc(gw.url, { jsonrpc: '2.0', id: 8, method: 'SendMessage', params: { message: { messageId: 'm4', role: 'ROLE_USER', parts: [{ data: { command: 'cube', agent: 'n2', payload: { n: 2 } } }] } } })
    assert.equal(noCommand.body.error?.code, -32004, JSON.stringify(noCommand.body))
    assert.equal(noCommand.body.error.data[0].metadata.code, 'CMD001')
    await rejects(client.sendMessage(send(message({ command: 'cube', agent: 'n2', payload: { n: 2 } }))), e => e instanceof UnsupportedOperationError, 'a command the agent does not serve')

    // The HTTP+JSON binding: the same through the SDK's REST transport.
    const rest: Client = await new ClientFactory({ transports: [new RestTransportFactory()] }).createFromUrl(gw.url)
    const viaRest = await rest.sendMessage(send(message({ type: 'add', metadata: { add: 2 } }))) as Task
    assert.equal(viaRest.status?.state, TaskState.TASK_STATE_COMPLETED)
    assert.equal(dataOf((await rest.getTask({ tenant: '', id: viaRest.id })).artifacts[0].parts[0]), 2)
    await rejects(rest.getTask({ tenant: '', id: 'no-such-task' }), e => e instanceof TaskNotFoundError, 'an unknown task over HTTP+JSON')
    await rejects(rest.sendMessage(send(message({ command: 'square', agent: 'nobody', payload: { n: 2 } }))), e => e instanceof RequestMalformedError, 'an unknown agent over HTTP+JSON')
    const restStream: StreamResponse[] = []
    for await (const e of rest.sendMessageStream(send(message({ command: 'square', agent: 'n2', payload: { n: 3 } })))) restStream.push(e)
    assert.equal(restStream[0].payload?.$case === 'message' ? dataOf(restStream[0].payload.value.parts[0]) : undefined, 9)

    assert.ok((gw.counts.get('/a2a 200') ?? 0) >= 10)
    assert.equal(gw.counts.get('/.well-known/agent-card.json 200'), 3)
    assert.equal(gw.counts.get('/a2a/get 404'), 1)
    assert.equal(gw.counts.get('/a2a/send 400'), 1, 'the unknown agent over HTTP+JSON is a 400')
  } finally {
    await gw.stop()
    await stopAll(nodes)
  }
})
