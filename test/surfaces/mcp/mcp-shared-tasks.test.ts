/**
 * A task's state is the mesh's, not the MCP endpoint's (issue 42): two `agentmesh mcp --http`
 * processes, each its own node of one mesh; a task started through one is read, followed to its
 * end, and cancelled through the other, with the official SDK's client on each. An MCP node is
 * a task operator (tasks:operate, protocols/task/access.ts); a plain member that did not submit
 * the task is still refused (TSK007), so the right is the operator's, not everyone's.
 *
 * Also the server card (surfaces/mcp/server-card.ts) that the endpoint serves beside /mcp.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { SUPPORTED_PROTOCOL_VERSIONS, type CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import type { AgentNode } from '../../../surfaces/index.js'
import { MeshOperations } from '../../../surfaces/operations/index.js'
import { CLI, fetchSaying, Proc, startMesh, stopAll, waitFor } from '../../helpers.js'

const STEADY = { bootstrapExpect: 2, electionTimeoutMinMs: 2_000, electionTimeoutMaxMs: 4_000 }

const call = async (client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> =>
  await client.callTool({ name, arguments: args }) as CallToolResult

function value (r: CallToolResult): any {
  assert.notEqual(r.isError, true, `a result, got the error ${JSON.stringify(r.content)}`)
  return r.structuredContent
}

function endpoint (nodes: AgentNode[], i: number): Proc {
  return new Proc([CLI, 'mcp', '--mesh', nodes[0].config.mesh, '--no-mdns', '--preset', 'local', '--open', '--name', `mcp${i}`,
    '--bootstrap', nodes[i].addresses()[0], '--http', '127.0.0.1:0', '--json'])
}

test('two MCP endpoints on two nodes: a task started through one is read, followed and cancelled through the other; a plain member is refused', { timeout: 180_000 }, async () => {
  // n0 and n1 vote and run tasks; n2 is a plain member (never a voter), the stranger to the task.
  const nodes = await startMesh(3, (i) => ({ preset: 'local', coordination: { ...STEADY, eligible: i < 2 } }))
  for (const n of nodes.slice(0, 2)) {
    n.onTask('add', (ctx) => Number(ctx.task.metadata.add ?? 0) + 1)
    n.onTask('wait', async (ctx) => await new Promise((resolve, reject) => { ctx.signal.addEventListener('abort', () => { reject(ctx.signal.reason) }) }))
  }
  const procs = [endpoint(nodes, 0), endpoint(nodes, 1)]
  const clients = [new Client({ name: 'agentmesh-test-a', version: '1.0.0' }), new Client({ name: 'agentmesh-test-b', version: '1.0.0' })]
  const ops = new MeshOperations(nodes[2])
  try {
    await waitFor(() => nodes.every(x => x.coordinator().leader !== undefined), 'a coordinator', 30_000)
    const urls: string[] = []
    for (const [i, p] of procs.entries()) {
      const ready = await p.json(o => o.event === 'ready', `MCP endpoint ${i} ready`, 30_000)
      urls.push(ready.url)
      await clients[i].connect(new StreamableHTTPClientTransport(new URL(ready.url), { fetch: fetchSaying }))
    }
    const [a, b] = clients
    // Each endpoint through its own node: both must see the coordinator before a task goes through.
    await waitFor(async () => value(await call(b, 'list_agents')).coordinator?.leader !== undefined, 'endpoint b to see the coordinator', 30_000)

    // Started through a, finished, read through b (its result included).
    const [done] = value(await call(a, 'submit_task', { tasks: [{ type: 'add', metadata: { add: 41 } }] })).task_ids
    const read = value(await call(b, 'get_task', { task_id: done, wait_ms: 60_000 }))
    assert.equal(read.done, true, JSON.stringify(read))
    assert.equal(read.task.status, 'completed')
    assert.equal(read.task.result, 42)

    // Started through a and left running; followed through b, cancelled through b, seen cancelled through a.
    const [running] = value(await call(a, 'submit_task', { tasks: [{ type: 'wait' }] })).task_ids
    await waitFor(async () => value(await call(b, 'get_task', { task_id: running })).task.status === 'running', 'the task running, as b sees it', 30_000)
    const cancelled = value(await call(b, 'cancel_task', { task_id: running, reason: 'through the other endpoint' }))
    assert.equal(cancelled.task_id, running)
    const seen = value(await call(a, 'get_task', { task_id: running, wait_ms: 30_000 }))
    assert.equal(seen.task.status, 'cancelled', JSON.stringify(seen))
    // The resource of a task answers on the other endpoint too.
    const resource = await b.readResource({ uri: `agentmesh://tasks/${done}` })
    assert.equal(JSON.parse((resource.contents[0] as { text: string }).text).status, 'completed')

    // A member that is neither the submitter, the coordinator, a voter nor a task operator: refused, to read as to control.
    assert.ok(!nodes[2].coordinator().voters.includes(nodes[2].peerId), 'n2 is no voter')
    ops.start()
    const [other] = value(await call(a, 'submit_task', { tasks: [{ type: 'wait' }] })).task_ids
    await assert.rejects(ops.control(other, { action: 'cancel' }), (e: Error & { code?: string }) => e.code === 'TSK007')
    await assert.rejects(ops.task(other), (e: Error & { code?: string }) => e.code === 'TSK007')
    value(await call(b, 'cancel_task', { task_id: other }))

    // The server card, where the server-card extension reserves it and at the well-known path, and the catalog.
    const base = new URL(urls[1])
    for (const path of ['/mcp/server-card', '/.well-known/mcp/server-card.json']) {
      const res = await fetchSaying(new URL(path, base), { headers: { accept: 'application/mcp-server-card+json' } })
      assert.equal(res.status, 200, path)
      assert.equal(res.headers.get('content-type'), 'application/mcp-server-card+json')
      assert.equal(res.headers.get('access-control-allow-origin'), '*')
      const card = await res.json() as any
      assert.equal(card.$schema, 'https://static.modelcontextprotocol.io/schemas/v2/server-card.schema.json')
      assert.match(card.name, /^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/)
      assert.ok(card.description.length >= 1 && card.description.length <= 100)
      assert.deepEqual(card.remotes, [{ type: 'streamable-http', url: urls[1], supportedProtocolVersions: SUPPORTED_PROTOCOL_VERSIONS }])
      // What the card says is what the live server says.
      assert.equal(card.version, b.getServerVersion()?.version)
    }
    const catalog = await (await fetchSaying(new URL('/.well-known/mcp/catalog.json', base))).json() as any
    assert.deepEqual(catalog.entries.map((e: any) => [e.type, e.url]), [['application/mcp-server-card+json', `${urls[1]}/server-card`]])
  } catch (err) {
    // What the endpoints printed last (a warning of a failed request, an exit): a client's
    // "fetch failed" in CI (Node 20, three files at a time) did not say which side gave up.
    const tails = procs.map((p, i) => `endpoint ${i} (exit ${String(p.child.exitCode)}):\n${[...p.lines.slice(-15), ...p.stderr.split('\n').slice(-15)].join('\n')}`)
    throw new Error(`${(err as Error).message}\n${tails.join('\n')}`, { cause: err })
  } finally {
    ops.stop()
    await Promise.all(clients.map(async c => { await c.close() }))
    await Promise.all(procs.map(async p => { await p.stop() }))
    await stopAll(nodes)
  }
  for (const p of procs) assert.equal(p.child.exitCode, 0, p.stderr)
})
