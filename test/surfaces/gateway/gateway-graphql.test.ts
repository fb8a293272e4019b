/**
 * The gateway's GraphQL binding (surfaces/gateway/graphql.ts) through a real mesh of three nodes:
 * queries and mutations over HTTP with fetch, subscriptions with graphql-ws's own client over a
 * `ws` WebSocket and as server-sent events; refusals (past the depth and field limits, a
 * document that does not parse, an unknown task, a body too large, a mutation over GET) with
 * the spec's code in `extensions.code`, and the binding serving on afterwards.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { z } from 'zod'
import WebSocket from 'ws'
import { createClient, type Client } from 'graphql-ws'
import { defineCommand } from '../../../surfaces/index.js'
import { buildSchema, graphqlMount } from '../../../surfaces/gateway/graphql.js'
import { TaskInput, TaskStatus } from '../../../surfaces/operations/schemas.js'
import { serveMounts } from './mount-server.js'
import { startMesh, stopAll, waitFor } from '../../helpers.js'

// The local preset's elections, with timeouts wide enough that a machine loaded by other work
// (an event loop stalled for a second) does not depose the coordinator in the middle of a test.
const STEADY = { bootstrapExpect: 3, electionTimeoutMinMs: 2_000, electionTimeoutMaxMs: 4_000 }

const Square = defineCommand('square', { request: z.strictObject({ n: z.number() }), response: z.number() })

interface GqlAnswer { status: number, body: { data?: any, errors?: Array<{ message: string, extensions: { code: string } }> } }

async function gql (url: string, query: string, variables?: Record<string, unknown>, init: { accept?: string } = {}): Promise<GqlAnswer> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: init.accept ?? 'application/graphql-response+json' },
    body: JSON.stringify({ query, variables })
  })
  return { status: res.status, body: await res.json() as GqlAnswer['body'] }
}

/** The values a graphql-ws subscription yields until `stop` says enough (or it completes). */
async function follow<T> (client: Client, query: string, variables: Record<string, unknown>, stop: (values: T[]) => boolean): Promise<T[]> {
  const got: T[] = []
  const it = client.iterate<T>({ query, variables })
  for await (const r of it) {
    if (r.errors !== undefined) throw new Error(JSON.stringify(r.errors))
    got.push(r.data as T)
    if (stop(got)) break
  }
  return got
}

test('graphql: the types are the operations\' zod schemas (a key added there is a field here)', { timeout: 3 * 60_000 }, () => {
  const schema = buildSchema()
  const fields = (name: string): string[] => Object.keys((schema.getType(name) as unknown as { getFields: () => Record<string, unknown> }).getFields()).sort()
  assert.deepEqual(fields('TaskStatus'), Object.keys(TaskStatus.shape).sort())
  assert.deepEqual(fields('TaskInput'), Object.keys(TaskInput.shape).sort())
  const required = Object.entries((schema.getType('TaskInput') as unknown as { getFields: () => Record<string, { type: { toString: () => string } }> }).getFields())
    .filter(([, f]) => f.type.toString().endsWith('!')).map(([k]) => k)
  assert.deepEqual(required, ['type'], 'only what the schema requires without a default is non-null')
})

test('graphql: agents, a command, topic events over graphql-ws and SSE, tasks submitted together and followed to their end, a task cancelled; limits and bad input refused with codes', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3, (i) => ({ preset: 'local', coordination: STEADY, capabilities: i === 2 ? ['math'] : [] }))
  const gw = await serveMounts(nodes[0], [graphqlMount])
  const client = createClient({ url: gw.url.replace('http', 'ws') + '/graphql', webSocketImpl: WebSocket, retryAttempts: 0 })
  try {
    nodes[2].handle(Square, ({ n }) => n * n)
    for (const n of nodes) {
      n.onTask('add', (ctx) => Object.values(ctx.inputs).reduce<number>((a, b) => a + (b as number), Number(ctx.task.metadata.add)))
      n.onTask('slow', async (ctx) => { await new Promise((resolve, reject) => { ctx.signal.addEventListener('abort', () => { reject(ctx.signal.reason) }) }) })
    }

    // Queries: agents by capability, one by name, the coordinator once there is one.
    const agents = await gql(gw.url, '{ agents(capability: "math") { name capabilities state } }')
    assert.equal(agents.status, 200)
    assert.deepEqual(agents.body.data.agents.map((a: { name: string, capabilities: string[] }) => [a.name, a.capabilities]), [['n2', ['math']]])
    assert.ok(['ALIVE', 'SUSPECT'].includes(agents.body.data.agents[0].state), 'the state as a GraphQL enum (a loaded machine may make it suspect)')
    assert.equal((await gql(gw.url, 'query($r: String!) { agent(ref: $r) { peerId } }', { r: 'n1' })).body.data.agent.peerId, nodes[1].peerId)
    await waitFor(() => nodes.every(n => n.coordinator().leader !== undefined), 'a coordinator', 20_000)
    assert.equal((await gql(gw.url, '{ coordinator { inOffice voters } }')).body.data.coordinator.inOffice, true)

    // A command by the agent's name; a wrong payload is the command's own MSG001.
    const square = await gql(gw.url, 'mutation { request(agent: "n2", command: "square", payload: { n: 12 }) { agent result } }')
    assert.deepEqual(square.body.data.request, { agent: nodes[2].peerId, result: 144 })
    const badSquare = await gql(gw.url, 'mutation { request(agent: "n2", command: "square", payload: { n: "x" }) { result } }')
    assert.equal(badSquare.body.errors?.[0].extensions.code, 'MSG001')
    // Omitted, a payload is null (the JSON scalar is nullable, as REST's empty body is null): the answer is about the agent.
    const nobody = await gql(gw.url, 'mutation { request(agent: "nobody", command: "square") { result } }')
    assert.equal(nobody.body.errors?.[0].extensions.code, 'COM002', JSON.stringify(nobody.body))

    // Topic events over graphql-ws: what another agent publishes arrives, in order.
    const events = follow<{ topicEvents: { payload: { i: number }, fromName: string } }>(client, 'subscription($t: String!) { topicEvents(topic: $t) { payload fromName } }', { t: 'news' }, got => got.length === 3)
    await waitFor(() => gw.ops.feeds.list().some(f => f.topic === 'news' && f.watchers === 1), 'the subscription to watch news')
    await nodes[1].waitForSubscribers('news')
    for (let i = 0; i < 3; i++) await nodes[1].publish('news', { i })
    const got = await events
    assert.deepEqual(got.map(e => e.topicEvents.payload.i), [0, 1, 2])
    assert.equal(got[0].topicEvents.fromName, 'n1')
    await waitFor(() => gw.ops.feeds.list().find(f => f.topic === 'news')?.watchers === 0, 'the finished subscription to let its watcher go')
    const recent = await gql(gw.url, '{ recentEvents(topic: "news", limit: 2) { events { payload } since } topics { topic watchers recent } }')
    assert.deepEqual(recent.body.data.recentEvents.events.map((e: { payload: { i: number } }) => e.payload.i), [1, 2], 'the topic\'s last events are kept')
    assert.deepEqual(recent.body.data.topics.find((t: { topic: string }) => t.topic === 'news'), { topic: 'news', watchers: 0, recent: 3 })

    // The same as server-sent events, and a publish from GraphQL that an agent receives.
    const sse = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { topicEvents(topic: "chat") { payload } }' })
    })
    assert.equal(sse.headers.get('content-type'), 'text/event-stream; charset=utf-8')
    const sub = nodes[2].subscribe('chat')
    await nodes[2].waitForSubscribers('chat')
    await waitFor(() => gw.ops.feeds.list().some(f => f.topic === 'chat' && f.watchers === 1), 'the SSE subscription to watch chat')
    const published = await gql(gw.url, 'mutation { publish(topic: "chat", payload: { hello: "mesh" }, delivery: AT_MOST_ONCE) { id topic } }')
    assert.equal(published.body.data.publish.topic, 'chat')
    const first = await sub[Symbol.asyncIterator]().next()
    assert.deepEqual(first.value?.payload, { hello: 'mesh' })
    const reader = sse.body!.getReader()
    let text = ''
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value)
    assert.match(text, /^event: next\ndata: \{"data":\{"topicEvents":\{"payload":\{"hello":"mesh"\}\}\}\}\n\n/)
    await reader.cancel()
    await waitFor(() => gw.ops.feeds.list().find(f => f.topic === 'chat')?.watchers === 0, 'the SSE client that went to let its watcher go')

    // Tasks submitted together, followed to their end over graphql-ws, a result read back. A
    // pipeline's run (dependencies, results handed on) is the task protocol's, checked once in
    // test/surfaces/gateway/gateway.test.ts; here, that GraphQL hands the dependencies on.
    const submitted = await gql(gw.url, 'mutation($t: [TaskInput!]!) { submitPipeline(tasks: $t) { task_ids } }', {
      t: [{ task_id: 'g1', type: 'add', metadata: { add: 1 } }, { task_id: 'g2', type: 'add', metadata: { add: 10 }, priority: null }]
    })
    assert.deepEqual(submitted.body.data?.submitPipeline.task_ids, ['g1', 'g2'], JSON.stringify(submitted.body.errors))
    const states = await follow<{ taskUpdates: { status: string } }>(client, 'subscription { taskUpdates(id: "g2") { status progress } }', {}, () => false)
    assert.equal(states.at(-1)?.taskUpdates.status, 'COMPLETED')
    const g2 = await gql(gw.url, '{ task(id: "g2") { status result attempt } }')
    assert.equal(g2.body.data?.task.result, 10, JSON.stringify(g2.body.errors))
    const orphan = await gql(gw.url, 'mutation($t: [TaskInput!]!) { submitPipeline(tasks: $t) { task_ids } }', { t: [{ type: 'add', dependencies: ['no-such-task'] }] })
    assert.equal(orphan.body.errors?.[0].extensions.code, 'TSK003', `a dependency on no task is refused: ${JSON.stringify(orphan.body)}`)

    // A task cancelled while it runs: the mutation answers its new state, its updates end there.
    const slow = await gql(gw.url, 'mutation { submitTask(task: { type: "slow" }) { task_ids } }')
    const slowId = slow.body.data.submitTask.task_ids[0] as string
    await waitFor(async () => (await gql(gw.url, `{ task(id: "${slowId}") { status } }`)).body.data.task.status === 'RUNNING', 'the slow task to run', 20_000)
    const updates = follow<{ taskUpdates: { status: string } }>(client, 'subscription($id: ID!) { taskUpdates(id: $id) { status } }', { id: slowId }, () => false)
    const cancelled = await gql(gw.url, 'mutation($id: ID!) { cancelTask(id: $id, reason: "enough") { status } }', { id: slowId })
    assert.equal(cancelled.body.data?.cancelTask.status, 'CANCELLED', JSON.stringify(cancelled.body.errors))
    assert.equal((await updates).at(-1)?.taskUpdates.status, 'CANCELLED')
    const again = await gql(gw.url, `mutation { pauseTask(id: "${slowId}") { status } }`)
    assert.equal(again.body.errors?.[0].extensions.code, 'TSK002', 'a cancelled task cannot be paused')

    // Refusals, each with its code; none of them runs anything.
    const deep = `{ __type(name: "Query") { ${'ofType { '.repeat(15)}name${' }'.repeat(15)} } }`
    const tooDeep = await gql(gw.url, deep)
    assert.equal(tooDeep.status, 400)
    assert.equal(tooDeep.body.data, undefined)
    assert.equal(tooDeep.body.errors?.[0].extensions.code, 'MSG001')
    assert.match(tooDeep.body.errors?.[0].message ?? '', /17 fields deep, over the limit of 15/)
    const wide = await gql(gw.url, `{ ${Array.from({ length: 300 }, (_, i) => `a${i}: coordinator { term }`).join(' ')} }`)
    assert.match(wide.body.errors?.[0].message ?? '', /selects 600 fields, over the limit of 500/)
    const introspection = await gql(gw.url, '{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }')
    assert.equal(introspection.body.errors?.[0].extensions.code, 'MSG001', 'nested introspection lists are refused by graphql-js\'s own rule')
    const asJson = await gql(gw.url, deep, undefined, { accept: 'application/json' })
    assert.equal(asJson.status, 200, 'an application/json client gets 200 for a document that does not validate')
    assert.equal(asJson.body.errors?.[0].extensions.code, 'MSG001')
    assert.equal((await gql(gw.url, '{ agents { name ')).body.errors?.[0].extensions.code, 'MSG002')
    assert.equal((await gql(gw.url, '{ agents { colour } }')).body.errors?.[0].extensions.code, 'MSG001')
    assert.equal((await gql(gw.url, '{ task(id: "no-such-task") { status } }')).body.errors?.[0].extensions.code, 'TSK001')
    assert.equal((await gql(gw.url, '{ agent(ref: "nobody") { name } }')).body.errors?.[0].extensions.code, 'COM002')
    const viaGet = await fetch(`${gw.url}/graphql?query=${encodeURIComponent('mutation { publish(topic: "x", payload: 1) { id } }')}`)
    assert.equal(viaGet.status, 405)
    const big = await fetch(`${gw.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: `{ agents { name } } #${'x'.repeat(2 * 1024 * 1024)}` }) })
    assert.equal(big.status, 413)
    assert.equal(((await big.json()) as GqlAnswer['body']).errors?.[0].extensions.code, 'MSG002')
    const viaGetQuery = await fetch(`${gw.url}/graphql?query=${encodeURIComponent('{ agents { name } }')}`)
    assert.equal(((await viaGetQuery.json()) as GqlAnswer['body']).data.agents.length, 3, 'a query over GET, after all the refusals')

    assert.ok((gw.counts.get('/graphql 200') ?? 0) > 10)
    assert.equal(gw.counts.get('/graphql 413'), 1)
    assert.ok((gw.counts.get('/graphql (ws) 101') ?? 0) >= 1)
  } finally {
    await client.dispose()
    await gw.stop()
    await stopAll(nodes)
  }
})
