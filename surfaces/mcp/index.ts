/**
 * The mesh as a Model Context Protocol server (issue 17): an LLM host (any MCP client) uses the
 * mesh's operations as tools and reads the mesh map as a resource, through a node that is a
 * client of the mesh (`agentmesh mcp`, surfaces/cli/mcp.ts) or any node that embeds it.
 *
 *   const mcp = new MeshMcp({ ops })
 *   await mcp.serveStdio()                                  // one host on stdin/stdout
 *   const http = new McpHttpServer({ mcp, listen: '127.0.0.1:8090' }); await http.start()
 *
 * Tools: ./mesh-tools.ts and ./task-tools.ts; the protocol's side: ./server.ts; resources:
 * ./resources.ts; Streamable HTTP: ./http.ts, with the server card beside it (./server-card.ts).
 * docs/mcp.md says what a host sees.
 */
import type { Readable, Writable } from 'node:stream'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import type { AgentNode } from '../../node/agent-node.js'
import type { MeshOperations } from '../operations/index.js'
import { JOIN_WAIT_MS, SETTLE_MS } from './constants.js'
import { createMcpServer, type McpServerHandle } from './server.js'
import type { McpContext } from './tool.js'

export { McpHttpServer, type McpHttpInit } from './http.js'
export { TOOLS, toolList, createMcpServer } from './server.js'
export { MESH_URI, COORDINATOR_URI } from './resources.js'
export type { McpContext, MeshTool } from './tool.js'

export interface MeshMcpInit {
  ops: MeshOperations
  /** Fires, with a ConnectionError as its reason, once the mesh is found unreachable (the CLI's bootstrap watch). */
  unreachable?: AbortSignal
  /** How long the first tool call waits for this node to see an agent (default JOIN_WAIT_MS). */
  joinWaitMs?: number
  /**
   * List this node among the agents (default true: an agent that serves MCP is one of them);
   * false when the node is only the host's way into the mesh (`agentmesh mcp`).
   */
  listSelf?: boolean
}

type Observe = (labels: { tool: string, outcome: string }, seconds: number) => void
/** One histogram per node: a node's registry refuses a second metric of the same name. */
const histograms = new WeakMap<AgentNode, Observe>()

function callMetric (node: AgentNode): Observe {
  let observe = histograms.get(node)
  if (observe === undefined) {
    observe = node.stats.histogram('mcp_tool_call_seconds',
      'MCP tool calls, by tool ("(unknown)" for a name no tool has) and outcome (ok, an error code: MSG001 for arguments that failed the schema, ' +
      'COM001, ...; unknown_tool; INTERNAL), with their run time', ['tool', 'outcome'])
    histograms.set(node, observe)
  }
  return observe
}

/**
 * Resolves once the node sees an agent and no other joined for SETTLE_MS (bootstrap brings one
 * agent, peer exchange the others a moment later: a list answered at the first would miss them),
 * or `ms` passed, or the mesh was found unreachable. Timers of its own rather than
 * AbortSignal.timeout under AbortSignal.any: on Node 20 the timeout signal, held only weakly,
 * can be collected before it fires (see surfaces/cli/common.ts `within`).
 */
async function firstJoin (node: AgentNode, ms: number, unreachable?: AbortSignal): Promise<void> {
  if (unreachable?.aborted === true) return
  await new Promise<void>(resolve => {
    let quiet: ReturnType<typeof setTimeout> | undefined
    const done = (): void => {
      clearTimeout(quiet)
      clearTimeout(deadline)
      node.removeEventListener('peer:join', onJoin)
      unreachable?.removeEventListener('abort', done)
      resolve()
    }
    // Unref'd: a MeshMcp nobody serves with must not keep a process alive.
    const onJoin = (): void => { clearTimeout(quiet); quiet = setTimeout(done, SETTLE_MS); quiet.unref() }
    const deadline = setTimeout(done, ms)
    deadline.unref()
    node.addEventListener('peer:join', onJoin)
    unreachable?.addEventListener('abort', done, { once: true })
    if (node.peers().length > 0) onJoin()
  })
}

export class MeshMcp {
  readonly context: McpContext
  private readonly closers = new Set<() => Promise<void>>()

  constructor (init: MeshMcpInit) {
    const { ops } = init
    const node = ops.node
    const waitMs = init.joinWaitMs ?? JOIN_WAIT_MS
    const observe = callMetric(node)
    // The wait starts now, with the node, and only the first calls wait on it: after it, a mesh
    // with no agent in it is an answer (an empty list, COM002), not a reason to wait again.
    const waited = firstJoin(node, waitMs, init.unreachable)
    // A function, not a narrowed property: the signal fires while the call waits.
    const cut = (): boolean => node.peers().length === 0 && init.unreachable?.aborted === true
    const joined = async (signal: AbortSignal): Promise<void> => {
      if (cut()) throw init.unreachable?.reason
      if (signal.aborted) return
      let onAbort = (): void => {}
      await Promise.race([waited, new Promise<void>(resolve => { onAbort = resolve; signal.addEventListener('abort', onAbort, { once: true }) })])
      signal.removeEventListener('abort', onAbort)
      if (cut()) throw init.unreachable?.reason
    }
    this.context = {
      ops,
      log: node.log.child({ component: 'mcp' }),
      listSelf: init.listSelf ?? true,
      joined,
      count: (tool, outcome, seconds) => { observe({ tool, outcome }, seconds) }
    }
  }

  /** A new MCP server over the mesh (for a transport of one's own); `close()` it with its transport. */
  server (options: { subscribe: boolean } = { subscribe: false }): McpServerHandle {
    return createMcpServer(this.context, options)
  }

  /**
   * Serves one host over stdio (newline-delimited JSON-RPC): `input` is what the host writes,
   * `output` carries nothing but the protocol. Resolves once connected; `closed` resolves when
   * the host closes its end (or `close()` is called).
   */
  async serveStdio (input: Readable = process.stdin, output: Writable = process.stdout): Promise<{ closed: Promise<void> }> {
    const handle = this.server({ subscribe: true })
    const transport = new StdioServerTransport(input, output)
    let ended!: () => void
    const closed = new Promise<void>(resolve => { ended = resolve })
    let closing = false
    const close = async (): Promise<void> => {
      // Closing the server closes the transport, whose onclose lands here again.
      if (closing) return
      closing = true
      this.closers.delete(close)
      input.off('end', onEnd)
      handle.close()
      await handle.server.close().catch(() => {})
      ended()
    }
    // The SDK's stdio transport does not notice a host that closed stdin: the server ends with it.
    const onEnd = (): void => { void close() }
    input.once('end', onEnd)
    handle.server.onclose = () => { void close() }
    this.closers.add(close)
    await handle.server.connect(transport)
    return { closed }
  }

  /** Closes every stdio connection this object serves. */
  async close (): Promise<void> {
    await Promise.all([...this.closers].map(async c => { await c() }))
  }
}
