/**
 * What the A2A TCK's mandatory JSON-RPC and ListTasks checks found (docs/gateway-graphql-a2a.md,
 * "The A2A TCK"), asserted here without the TCK: a request that is no JSON-RPC 2.0 request is
 * Invalid Request (-32600), not Invalid Params; ListTasks refuses a state it does not know, a
 * negative historyLength and a time that is not ISO 8601 (-32602), and says how many tasks its
 * page holds; a message without its role, and GetTask with a negative historyLength, are
 * -32602 too. The A2A-Version may come as a request parameter instead of the header.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { a2aMount } from '../../../surfaces/gateway/a2a/index.js'
import { serveMounts } from './mount-server.js'
import { startMesh, stopAll } from '../../helpers.js'

async function rpc (url: string, body: unknown): Promise<any> {
  const res = await fetch(`${url}/a2a`, { method: 'POST', headers: { 'content-type': 'application/json', 'a2a-version': '1.0' }, body: JSON.stringify(body) })
  assert.equal(res.status, 200)
  return await res.json()
}

test('a2a JSON-RPC: malformed envelopes are -32600; ListTasks validates status, historyLength and statusTimestampAfter; pageSize is the page\'s size; a message needs its role; A2A-Version as a request parameter', { timeout: 60_000 }, async () => {
  const nodes = await startMesh(1, () => ({ preset: 'local', coordination: { bootstrapExpect: 1 } }))
  const gw = await serveMounts(nodes[0], [a2aMount])
  try {
    const invalid = [
      { jsonrpc: '1.0', method: 'ListTasks', params: {}, id: 1 },
      { jsonrpc: '2.0', params: {}, id: 2 },
      { jsonrpc: '2.0', method: 'ListTasks', params: {}, id: { bad: 'type' } },
      [{ jsonrpc: '2.0', method: 'ListTasks', params: {}, id: 3 }]
    ]
    for (const body of invalid) {
      const r = await rpc(gw.url, body)
      assert.equal(r.error?.code, -32600, JSON.stringify({ body, r }))
    }
    // A well-formed call still works, and an empty list says its page holds none.
    const listed = await rpc(gw.url, { jsonrpc: '2.0', method: 'ListTasks', params: {}, id: 'ok' })
    assert.equal(listed.id, 'ok')
    assert.deepEqual([listed.result?.tasks ?? [], listed.result?.pageSize ?? 0, listed.result?.totalSize ?? 0], [[], 0, 0], JSON.stringify(listed))
    for (const params of [{ status: 'INVALID_STATUS' }, { historyLength: -1 }, { statusTimestampAfter: '-1' }, { statusTimestampAfter: 'yesterday' }]) {
      const r = await rpc(gw.url, { jsonrpc: '2.0', method: 'ListTasks', params, id: 'bad' })
      assert.equal(r.error?.code, -32602, JSON.stringify({ params, r }))
    }
    const since = await rpc(gw.url, { jsonrpc: '2.0', method: 'ListTasks', params: { statusTimestampAfter: '2026-01-01T00:00:00Z', status: 'TASK_STATE_COMPLETED' }, id: 'fine' })
    assert.equal(since.error, undefined, JSON.stringify(since))
    // A message without its role (REQUIRED), and GetTask with a negative historyLength, are -32602 too.
    const noRole = await rpc(gw.url, { jsonrpc: '2.0', method: 'SendMessage', params: { message: { messageId: 'r1', parts: [{ data: { type: 'add' } }] } }, id: 'role' })
    assert.equal(noRole.error?.code, -32602, JSON.stringify(noRole))
    assert.match(noRole.error.message, /role/)
    const negative = await rpc(gw.url, { jsonrpc: '2.0', method: 'GetTask', params: { id: 'any', historyLength: -1 }, id: 'h' })
    assert.equal(negative.error?.code, -32602, JSON.stringify(negative))

    // The version as a request parameter instead of the header (A2A 1.0, 3.6.1), over both
    // bindings; with neither it is 0.3, which this card does not offer (-32009).
    const list = JSON.stringify({ jsonrpc: '2.0', method: 'ListTasks', params: {}, id: 'v' })
    const post = async (query: string): Promise<any> => await (await fetch(`${gw.url}/a2a${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: list })).json()
    assert.equal((await post('?A2A-Version=1.0')).error, undefined, 'A2A-Version=1.0 as a parameter')
    assert.equal((await post('?a2a-version=1.0')).error, undefined, 'the parameter\'s name in any case, as a header\'s')
    assert.equal((await post('')).error?.code, -32009, 'no version: 0.3')
    assert.equal((await post('?A2A-Version=0.3')).error?.code, -32009, 'a version the card does not offer')
    const rest = await fetch(`${gw.url}/a2a/tasks?A2A-Version=1.0`)
    assert.equal(rest.status, 200, await rest.clone().text())
    assert.equal((await fetch(`${gw.url}/a2a/tasks`)).status, 400, 'HTTP+JSON without a version')
  } finally {
    await gw.stop()
    await stopAll(nodes)
  }
})
