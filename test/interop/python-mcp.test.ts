/**
 * `agentmesh mcp` driven by a client nobody here wrote: the MCP Python SDK (mcp,
 * interop/python/mcp_client.py), as a real process, over stdio (the SDK spawns the CLI) and over
 * Streamable HTTP (`mcp --http`), against three agents on 127.0.0.1. What a Python user checks:
 * the eleven tools; the three agents listed; call_command answered by the agent that serves it;
 * a command nobody serves is a tool error whose text starts with CMD001; a task submitted and
 * waited for has its result; the two resources, the mesh map read as JSON.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { z } from 'zod'
import { defineCommand, type AgentNode } from '../../surfaces/index.js'
import { CLI, Proc, startMesh, stopAll, waitFor } from '../helpers.js'
import { PYTHON, skipWithout } from '../requirements.js'
import { account, runPython } from './python.js'

const TOOLS = ['call_command', 'cancel_task', 'find_agents', 'get_task', 'list_agents', 'list_dead_letters', 'pause_task', 'publish', 'read_topic', 'resume_task', 'submit_task']
const STEADY = { bootstrapExpect: 3, electionTimeoutMinMs: 2_000, electionTimeoutMaxMs: 4_000 }
const Square = defineCommand('square', { request: z.strictObject({ n: z.number() }), response: z.number() })

async function mesh (): Promise<AgentNode[]> {
  const nodes = await startMesh(3, () => ({ preset: 'local', coordination: STEADY }))
  nodes[2].handle(Square, ({ n }) => n * n)
  for (const n of nodes) n.onTask('add', (ctx) => Number(ctx.task.metadata.add ?? 0))
  await waitFor(() => nodes.every(n => n.coordinator().leader !== undefined), 'a coordinator', 20_000)
  return nodes
}

const mcpArgs = (nodes: AgentNode[], ...more: string[]): string[] =>
  [CLI, 'mcp', '--mesh', nodes[0].config.mesh, '--no-mdns', '--preset', 'local', '--bootstrap', nodes[0].addresses()[0], '--open', ...more]

/** What both transports must show. */
function check (out: any, nodes: AgentNode[], mode: string): void {
  assert.deepEqual(out.errors, {}, `${mode}: every step ran`)
  assert.equal(out.server, 'agentmesh')
  assert.deepEqual(out.tools, TOOLS)
  assert.deepEqual(out.call_command_required, ['agent', 'command'], 'payload may be left out (issue 44)')
  assert.deepEqual(out.agents, ['n0', 'n1', 'n2'])
  const square = { agent: nodes[2].peerId, result: 144 }
  assert.deepEqual(out.square, { is_error: false, text: JSON.stringify(square), structured: square })
  assert.equal(out.unknown_command.is_error, true)
  assert.match(out.unknown_command.text, /^CMD001: /)
  assert.equal(out.task.is_error, false, out.task.text)
  assert.equal(out.task.structured.done, true)
  assert.deepEqual(out.task.structured.tasks.map((x: any) => [x.status, x.result]), [['completed', 3]])
  assert.deepEqual(out.resources, ['agentmesh://coordinator', 'agentmesh://mesh'])
  assert.equal(out.mesh_resource.mime_type, 'application/json')
  assert.equal(out.mesh_resource.json.mesh, nodes[0].config.mesh)
  assert.deepEqual(out.mesh_resource.json.agents.map((a: any) => a.name).sort(), ['n0', 'n1', 'n2'])
}

test('mcp (Python SDK) over stdio: tools listed and called, a tool error with our code, a task waited for, the mesh map read', { timeout: 180_000 }, async (t) => {
  if (skipWithout(t, 'python')) return
  const nodes = await mesh()
  try {
    const run = await runPython(PYTHON, 'interop/python/mcp_client.py', ['stdio', process.execPath, ...mcpArgs(nodes)], { timeoutMs: 120_000, env: { AGENTMESH_PY_AGENTS: '3' } })
    assert.ok(run.json !== undefined && run.code === 0, `the script's JSON; ${account(run)}`)
    check(run.json, nodes, 'stdio')
  } finally {
    await stopAll(nodes)
  }
})

test('mcp (Python SDK) over Streamable HTTP: the same against `agentmesh mcp --http`', { timeout: 180_000 }, async (t) => {
  if (skipWithout(t, 'python')) return
  const nodes = await mesh()
  const server = new Proc(mcpArgs(nodes, '--http', '127.0.0.1:0', '--json'))
  try {
    const ready = await server.json(o => o.event === 'ready', 'the MCP server\'s ready line', 30_000)
    const run = await runPython(PYTHON, 'interop/python/mcp_client.py', ['http', ready.url], { timeoutMs: 120_000, env: { AGENTMESH_PY_AGENTS: '3' } })
    assert.ok(run.json !== undefined && run.code === 0, `the script's JSON; ${account(run)}; the server's stderr: ${server.stderr.slice(-2_000)}`)
    check(run.json, nodes, 'http')
  } finally {
    await server.stop()
    await stopAll(nodes)
  }
  assert.equal(server.child.exitCode, 0, server.stderr)
})
