/**
 * What the gateway says of input it refuses, as a client reads it (docs/gateway.md): a WebSocket
 * `subscribe` or `unsubscribe` that names neither a topic nor a task (or both) says which, not
 * zod's bare "Invalid input"; a topic with whitespace is refused with its rule said once, over the
 * WebSocket and in a REST path (where the rule was checked twice and said twice); an empty topic
 * says one thing, not every rule it also fails. All MSG001, and the connection goes on serving.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startMesh, stopAll } from '../../helpers.js'
import { WsClient } from './gateway-client.js'

function occurrences (text: string, part: string): number {
  return text.split(part).length - 1
}

test('gateway input errors: a subscription without a topic or a task says so; a topic\'s whitespace is said once (WebSocket and REST)', { timeout: 2 * 60_000 }, async () => {
  const nodes = await startMesh(1, () => ({ gateway: { listen: '127.0.0.1:0' } }))
  let ws: WsClient | undefined
  try {
    const base = nodes[0].gatewayUrl as string
    ws = await WsClient.open(`${base.replace(/^http/, 'ws')}/v1/ws`)
    const refused = async (op: string, fields: Record<string, unknown>): Promise<string> => {
      const answer = await ws?.call(op, fields)
      assert.deepEqual([answer.type, answer.error?.code, answer.error?.name], ['error', 'MSG001', 'ValidationError'], JSON.stringify(answer))
      return answer.error.message as string
    }

    // Neither a topic nor a task: the message says what is missing (it was "subscribe: (input): Invalid input").
    assert.equal(await refused('subscribe', {}), 'subscribe: needs a "topic" (a topic name) or a "task" (a task id)')
    assert.equal(await refused('unsubscribe', {}), 'unsubscribe: needs a "topic" (a topic name) or a "task" (a task id)')
    assert.equal(await refused('subscribe', { topic: 'news', task: 't1' }), 'subscribe: takes a "topic" or a "task", not both')
    assert.equal(await refused('subscribe', { topic: 5 }), 'subscribe: topic: Invalid input: expected string, received number')
    assert.equal(await refused('subscribe', { topic: 'news', tpoic: 'x' }), 'subscribe: Unrecognized key: "tpoic"')

    // A topic with whitespace: its rule, once.
    const spaced = await refused('subscribe', { topic: 'a b' })
    assert.equal(spaced, 'subscribe: topic: no whitespace in a topic name')
    // An empty topic: one issue, not also the rules an empty name cannot meet (it was three).
    const empty = await refused('subscribe', { topic: '' })
    assert.equal(occurrences(empty, 'topic:'), 1, empty)
    assert.match(empty, /^subscribe: topic: Too small/)

    // The same topic in a REST path: said once (it was "(input): no whitespace in a topic name; (input): no whitespace in a topic name").
    for (const [method, path] of [['GET', '/v1/topics/a%20b/events'], ['POST', '/v1/topics/a%20b/publish']]) {
      const res = await fetch(`${base}${path}`, { method, signal: AbortSignal.timeout(30_000), ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}) })
      const body = await res.json() as { error: { code: string, message: string } }
      assert.deepEqual([res.status, body.error.code, body.error.message], [400, 'MSG001', 'path parameter topic: no whitespace in a topic name'], `${method} ${path}`)
    }

    // What is well formed is served as before, on the same connection.
    assert.deepEqual((await ws.call('subscribe', { topic: 'news' })).result, { topic: 'news' })
    assert.deepEqual((await ws.call('unsubscribe', { topic: 'news' })).result, { topic: 'news' })
    assert.deepEqual((await ws.call('unsubscribe', { task: 't1' })).result, { task: 't1' })
  } finally {
    ws?.close()
    await stopAll(nodes)
  }
})
