/**
 * A node calling its own command (issue 44: a one-agent try with `--gateway` answered 502
 * "cannot open /agentmesh/rpc/1.0.0 to <its own peer id>"): answered by the same handler and the
 * same checks as a peer's request, over no stream; through the API, the gateway's REST route and
 * A2A alike. What crosses is JSON, as on the wire; a typed error comes back typed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { z } from 'zod'
import { randomUUID } from 'node:crypto'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { AgentMeshError, createAgentNode, defineCommand } from '../../../surfaces/index.js'
import { MeshMcp } from '../../../surfaces/mcp/index.js'
import { MeshOperations } from '../../../surfaces/operations/index.js'
import { nodeOptions, stopAll, uniqueMesh } from '../../helpers.js'

const Square = defineCommand('square', { request: z.strictObject({ n: z.number() }), response: z.number() })

test('one node alone answers its own commands: through request(), the gateway\'s REST route, A2A and an embedded MCP server, with typed errors and JSON values', { timeout: 60_000 }, async () => {
  const node = await createAgentNode(nodeOptions(uniqueMesh(), { name: 'solo', preset: 'local', gateway: { listen: '127.0.0.1:0' } }))
  await node.start()
  try {
    let seen: unknown
    node.handle('echo', (payload) => { seen = payload; return { got: payload, at: new Date(0) } })
    node.handle(Square, ({ n }) => n * n)
    node.handle('fails', () => { throw new Error('it broke') })
    node.handle('ops-only', () => 'secret', { allow: { roles: ['ops'] } })

    const sent = { hello: 'self', list: [1, 2] }
    const answer = await node.request(node.peerId, 'echo', sent) as { got: unknown, at: unknown }
    // As across the wire: the handler got a copy, and a Date comes back as its JSON string.
    assert.deepEqual(answer, { got: sent, at: '1970-01-01T00:00:00.000Z' })
    assert.notEqual(seen, sent, 'the handler got its own copy of the payload')
    assert.equal(await node.request(node.peerId, Square, { n: 7 }), 49)
    await assert.rejects(node.request(node.peerId, 'fails', null), (e: Error) => e instanceof AgentMeshError && e.code === 'CMD002' && /it broke/.test(e.message))
    await assert.rejects(node.request(node.peerId, 'nobody-handles-this', null), (e: Error) => e instanceof AgentMeshError && e.code === 'CMD001')
    // Its own roles are `agent`: a command for `ops` is refused to it as to any peer without them.
    await assert.rejects(node.request(node.peerId, 'ops-only', null), (e: Error) => e instanceof AgentMeshError && e.code === 'SEC002')

    // The gateway of that node, calling it (the README's single-node try).
    const base = node.gatewayUrl as string
    const res = await fetch(`${base}/v1/agents/${node.peerId}/commands/square`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: 5 }) })
    assert.equal(res.status, 200, await res.clone().text())
    assert.deepEqual(await res.json(), 25)
    // By name, as the README's try does it.
    const byName = await fetch(`${base}/v1/agents/solo/commands/square`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: 4 }) })
    assert.equal(byName.status, 200, await byName.clone().text())
    assert.deepEqual(await byName.json(), 16)

    // A2A: a message whose data part names the command and this agent; the answer is a data part.
    const a2a = await fetch(`${base}/a2a`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'a2a-version': '1.0' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params: { message: { messageId: randomUUID(), role: 'ROLE_USER', parts: [{ data: { command: 'square', agent: 'solo', payload: { n: 3 } } }] } } })
    })
    const answered = await a2a.json() as any
    assert.equal(answered.result?.message?.parts?.[0]?.data, 9, JSON.stringify(answered))

    // MCP embedded in the agent (listSelf, the default): call_command on itself.
    const mcp = new MeshMcp({ ops: new MeshOperations(node), joinWaitMs: 100 })
    const handle = mcp.server()
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    await handle.server.connect(serverSide)
    const client = new Client({ name: 'self-test', version: '1.0.0' })
    await client.connect(clientSide)
    try {
      const called = await client.callTool({ name: 'call_command', arguments: { agent: 'solo', command: 'square', payload: { n: 8 } } }) as any
      assert.notEqual(called.isError, true, JSON.stringify(called))
      assert.deepEqual(called.structuredContent, { agent: node.peerId, result: 64 })
    } finally {
      await client.close()
      handle.close()
    }
  } finally {
    await stopAll([node])
  }
})
