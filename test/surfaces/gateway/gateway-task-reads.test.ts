/**
 * What a gateway client reads of a task after it controlled it, and what its streams send (issue
 * 44): a GET right after an acknowledged cancel says cancelled (read-your-writes through the same
 * node; the coordinator keeps an end from its queries until a majority holds it, and the ack came
 * before that); a task no agent can run says why it waits, over REST and the WebSocket; and the
 * WebSocket and GraphQL task subscriptions send each status change once. A real mesh of three
 * nodes in this process, the first with its gateway on 127.0.0.1.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { createClient } from 'graphql-ws'
import { getJson, post, WsClient } from './gateway-client.js'
import { startMesh, stopAll, waitFor } from '../../helpers.js'

// Elections wide enough that a loaded machine does not depose the coordinator mid-test.
const STEADY = { bootstrapExpect: 3, electionTimeoutMinMs: 2_000, electionTimeoutMaxMs: 4_000 }
const NO_AGENT = /no agent runs tasks of type "nobody-runs-this"/

/** What makes a status a change for a stream: two frames in a row with the same are one change sent twice. */
const change = (s: { status: string, progress: number, reason?: string, attempt: number, agent?: string }): string =>
  JSON.stringify([s.status, s.progress, s.reason ?? null, s.attempt, s.agent ?? null])

function repeats (statuses: any[]): string[] {
  return statuses.flatMap((s, i) => i > 0 && change(s) === change(statuses[i - 1]) ? [`#${i} ${change(s)}`] : [])
}

test('gateway tasks: a read after an acknowledged cancel says cancelled; a task no agent runs says why it waits; each stream sends each change once', { timeout: 5 * 60_000 }, async () => {
  const nodes = await startMesh(3, (i) => ({ preset: 'local', coordination: STEADY, ...(i === 0 ? { gateway: { listen: '127.0.0.1:0' } } : {}) }))
  const base = nodes[0].gatewayUrl as string
  let ws: WsClient | undefined
  const gql = createClient({ url: `${base.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 })
  try {
    for (const n of nodes.slice(1)) {
      n.onTask('slow', async (ctx) => { await new Promise((resolve, reject) => { ctx.signal.addEventListener('abort', () => { reject(ctx.signal.reason) }) }) })
      n.onTask('quick', async () => { await new Promise(resolve => setTimeout(resolve, 300)); return 'done' })
    }
    await waitFor(async () => (await getJson(`${base}/v1/coordinator`).catch(() => undefined))?.inOffice === true, 'a coordinator in office', 60_000)

    // Why it waits: no agent has a handler for the type, said over REST and on the WebSocket.
    const waiting = await post(`${base}/v1/tasks`, { task_id: 'nobody-1', type: 'nobody-runs-this' })
    assert.equal(waiting.status, 201, JSON.stringify(waiting.body))
    let read: any
    await waitFor(async () => {
      read = await getJson(`${base}/v1/tasks/nobody-1`)
      return NO_AGENT.test(read.reason ?? '')
    }, 'GET /v1/tasks/nobody-1 to say why it waits', 30_000)
    assert.equal(read.status, 'submitted')
    ws = await WsClient.open(`${base.replace('http', 'ws')}/v1/ws`)
    assert.equal((await ws.call('subscribe', { task: 'nobody-1' })).type, 'result')
    const first = await ws.frameCount(f => f.type === 'task' && f.status.task_id === 'nobody-1', 1, 'the subscription\'s first status')
    assert.match(first[0].status.reason ?? '', NO_AGENT, `the WebSocket's first status says why it waits: ${JSON.stringify(first[0].status)}`)

    // Read-your-writes: each task cancelled, then read at once through the same gateway.
    const stale: string[] = []
    for (let i = 0; i < 8; i++) {
      const id = i === 0 ? 'nobody-1' : `nobody-${i + 1}`
      if (i > 0) assert.equal((await post(`${base}/v1/tasks`, { task_id: id, type: 'nobody-runs-this' })).status, 201)
      const ack = await post(`${base}/v1/tasks/${id}/cancel`, { reason: 'not needed' })
      assert.deepEqual([ack.status, ack.body.status], [200, 'cancelled'], JSON.stringify(ack.body))
      const after = await getJson(`${base}/v1/tasks/${id}`)
      if (after.status !== 'cancelled') stale.push(`${id}: ${after.status as string}`)
    }
    assert.deepEqual(stale, [], 'a GET right after an acknowledged cancel says cancelled')

    // The WebSocket subscription of nobody-1 ended at cancelled, each change once.
    const ws1 = await ws.frameCount(f => f.type === 'task' && f.status.task_id === 'nobody-1' && f.status.status === 'cancelled', 1, 'nobody-1 cancelled on the WebSocket')
    const nobody = ws.frames.filter(f => f.type === 'task' && f.status.task_id === 'nobody-1').map(f => f.status)
    assert.equal(ws1.length, 1, 'one cancelled frame')
    assert.deepEqual(repeats(nobody), [], `WebSocket statuses of nobody-1: ${nobody.map(change).join(' ')}`)

    // A task that runs to its end, subscribed at once after its submission over WebSocket and GraphQL.
    for (let i = 0; i < 3; i++) {
      const submitted = await ws.call('submit', { task: { type: 'quick' } })
      const id = submitted.result.task_ids[0] as string
      const viaGql = (async () => {
        const got: any[] = []
        for await (const r of gql.iterate<any>({ query: 'subscription($id: ID!) { taskUpdates(id: $id) { status progress reason attempt agent } }', variables: { id } })) {
          if (r.errors !== undefined) throw new Error(JSON.stringify(r.errors))
          got.push({ ...r.data.taskUpdates, status: String(r.data.taskUpdates.status).toLowerCase() })
        }
        return got
      })()
      assert.equal((await ws.call('subscribe', { task: id })).type, 'result')
      await ws.frameCount(f => f.type === 'task' && f.status.task_id === id && f.status.status === 'completed', 1, `${id} completed on the WebSocket`, 60_000)
      const onWs: any[] = ws.frames.filter(f => f.type === 'task' && f.status.task_id === id).map(f => f.status)
      assert.deepEqual(repeats(onWs), [], `WebSocket statuses of ${id}: ${onWs.map(change).join(' ')}`)
      const onGql = await viaGql
      assert.equal(onGql.at(-1)?.status, 'completed')
      assert.deepEqual(repeats(onGql), [], `GraphQL statuses of ${id}: ${onGql.map(change).join(' ')}`)
    }
  } finally {
    ws?.close()
    await gql.dispose()
    await stopAll(nodes)
  }
})
