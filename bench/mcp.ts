/**
 * npm run bench:mcp: what the MCP layer costs a call. One agent in this process answers `echo`;
 * the same call is made, in interleaved rounds so that the machine's load falls on all alike:
 *   direct  node.request from a node in this process (the floor: one rpc round trip)
 *   stdio   call_command through `agentmesh mcp` started over stdio by the SDK's client
 *   http    call_command through `agentmesh mcp --http` with the SDK's Streamable HTTP client
 * Sequential calls; prints p50/p99 latency and calls per second per path, and how long each MCP
 * process took from spawn to its first answered tool call.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { createAgentNode } from '../surfaces/index.js'
import { CLI, Proc, uniqueMesh } from '../harness/process.js'

const ROUNDS = Number(process.env.ROUNDS ?? 5)
const PER_ROUND = Number(process.env.PER_ROUND ?? 100)

const mesh = uniqueMesh()
const base = { mesh, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent' as const, security: { mode: 'open' as const }, preset: 'local' as const }
const agent = await createAgentNode({ ...base, name: 'echo-agent' })
await agent.start()
agent.handle('echo', (x) => x)
const caller = await createAgentNode({ ...base, name: 'caller', client: true, bootstrap: [agent.addresses()[0]] })
await caller.start()
await caller.joined({ peer: agent.peerId })
const args = [CLI, 'mcp', '--open', '--mesh', mesh, '--no-mdns', '--preset', 'local', '--bootstrap', agent.addresses()[0]]

async function firstAnswer (client: Client): Promise<void> {
  const r = await client.callTool({ name: 'call_command', arguments: { agent: 'echo-agent', command: 'echo', payload: 0 } }) as CallToolResult
  if (r.isError === true) throw new Error(JSON.stringify(r.content))
}

let started = performance.now()
const stdio = new Client({ name: 'bench', version: '1' })
await stdio.connect(new StdioClientTransport({ command: process.execPath, args, stderr: 'ignore' }))
await firstAnswer(stdio)
const stdioStartMs = performance.now() - started

started = performance.now()
const proc = new Proc([...args, '--http', '127.0.0.1:0', '--json'])
const ready = await proc.json(o => o.event === 'ready', 'the MCP server\'s ready line', 60_000)
const http = new Client({ name: 'bench', version: '1' })
await http.connect(new StreamableHTTPClientTransport(new URL(ready.url)))
await firstAnswer(http)
const httpStartMs = performance.now() - started

const paths: Record<string, (i: number) => Promise<void>> = {
  direct: async (i) => { await caller.request(agent.peerId, 'echo', { i }) },
  stdio: async (i) => {
    const r = await stdio.callTool({ name: 'call_command', arguments: { agent: 'echo-agent', command: 'echo', payload: { i } } }) as CallToolResult
    if (r.isError === true) throw new Error(JSON.stringify(r.content))
  },
  http: async (i) => {
    const r = await http.callTool({ name: 'call_command', arguments: { agent: 'echo-agent', command: 'echo', payload: { i } } }) as CallToolResult
    if (r.isError === true) throw new Error(JSON.stringify(r.content))
  }
}
const samples: Record<string, number[]> = { direct: [], stdio: [], http: [] }
const busy: Record<string, number> = { direct: 0, stdio: 0, http: 0 }
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, call] of Object.entries(paths)) {
    const t0 = performance.now()
    for (let i = 0; i < PER_ROUND; i++) {
      const t = performance.now()
      await call(i)
      samples[name].push(performance.now() - t)
    }
    busy[name] += performance.now() - t0
  }
}

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]
const rows = Object.keys(paths).map(name => ({
  path: name,
  calls: samples[name].length,
  'p50 ms': Number(pct(samples[name], 0.5).toFixed(2)),
  'p99 ms': Number(pct(samples[name], 0.99).toFixed(2)),
  'calls/s': Math.round(samples[name].length / (busy[name] / 1000))
}))
if (process.argv.includes('--json')) console.log(JSON.stringify({ rows, stdioStartMs, httpStartMs }))
else {
  console.table(rows)
  console.log(`spawn to first answered call_command: stdio ${Math.round(stdioStartMs)} ms, http ${Math.round(httpStartMs)} ms`)
}
await stdio.close()
await http.close()
await proc.stop()
await caller.stop()
await agent.stop()
