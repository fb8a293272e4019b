/**
 * One MCP server over the mesh's operations (the SDK's low-level Server: its high-level McpServer
 * turns every failure into a tool result, where an unknown tool and arguments that fail their
 * schema are the protocol's errors here).
 *
 *  - tools/list: every tool with its JSON Schemas, generated from the zod schemas it checks with.
 *  - tools/call: an unknown tool is JSON-RPC -32602 (InvalidParams) with "CMD001: unknown tool";
 *    arguments that fail the schema are -32602 with "MSG001: <tool>: <field>: <issue>" and the
 *    issues in `data`; anything that fails while the tool runs is a tool result with
 *    `isError: true` whose text starts with our code ("COM001: no answer ..."). Only our own
 *    errors show their message: anything else is "INTERNAL: internal error", logged here.
 *  - resources: ./resources.ts.
 */
import { z } from 'zod'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, type Tool } from '@modelcontextprotocol/sdk/types.js'
import { AgentMeshError } from '../../protocols/core/errors.js'
import { AGENTMESH_VERSION } from '../../protocols/core/version.js'
import { RpcError, toolError } from './errors.js'
import { MESH_TOOLS } from './mesh-tools.js'
import { TASK_TOOLS } from './task-tools.js'
import { registerResources } from './resources.js'
import type { McpContext, MeshTool } from './tool.js'

export const TOOLS: readonly MeshTool[] = [...MESH_TOOLS, ...TASK_TOOLS]
const BY_NAME = new Map(TOOLS.map(t => [t.name, t]))

/** What the host may show the model about this server as a whole. */
const INSTRUCTIONS = 'agentmesh: a peer-to-peer mesh of software agents. list_agents shows who is there and what they can do; call_command ' +
  'calls one agent\'s command; publish and read_topic broadcast and read events; submit_task hands work to the mesh and get_task follows it. ' +
  'Failures carry agentmesh\'s codes: MSG001 invalid input, COM001 no answer in time, COM002 unreachable or unknown agent, CMD001 unknown command, ' +
  'CMD002 the agent\'s handler failed, TSK001 unknown task, SEC001/SEC002 not admitted or not allowed.'

type JsonSchema = Tool['inputSchema']

/** A zod schema as the JSON Schema a tool list carries (input side: fields with defaults are optional). */
function jsonSchema (schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>
  return rest as JsonSchema
}

let listed: Tool[] | undefined
/** The tool list, built once per process (the schemas do not change). */
export function toolList (): Tool[] {
  listed ??= TOOLS.map(t => ({
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema: jsonSchema(t.input, 'input'),
    outputSchema: jsonSchema(t.output, 'output'),
    annotations: { title: t.title, ...t.annotations }
  }))
  return listed
}

/** Zod issues as one line: "field: what is wrong; ...". */
function issuesText (error: z.ZodError): string {
  return error.issues.map(i => `${i.path.join('.') || '(arguments)'}: ${i.message}`).join('; ')
}

export interface McpServerHandle {
  server: Server
  /** Stops what the server listens to on the node (resource subscriptions); the transport closes apart. */
  close: () => void
}

/**
 * A server for one connection (stdio) or one request (stateless Streamable HTTP). With
 * `subscribe`, a host may subscribe to the mesh map and the coordinator (a connection that lasts).
 */
export function createMcpServer (ctx: McpContext, options: { subscribe: boolean }): McpServerHandle {
  const server = new Server({ name: 'agentmesh', title: 'agentmesh', version: AGENTMESH_VERSION }, {
    capabilities: { tools: {}, resources: { subscribe: options.subscribe } },
    instructions: INSTRUCTIONS
  })
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: toolList() }))
  server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    const name = req.params.name
    const tool = BY_NAME.get(name)
    if (tool === undefined) {
      ctx.count('(unknown)', 'unknown_tool', 0)
      throw new RpcError(ErrorCode.InvalidParams, `CMD001: unknown tool "${name.slice(0, 64)}" (tools: ${TOOLS.map(t => t.name).join(', ')})`, { code: 'CMD001' })
    }
    const parsed = tool.input.safeParse(req.params.arguments ?? {})
    if (!parsed.success) {
      ctx.count(name, 'MSG001', 0)
      const issues = parsed.error.issues.map(i => ({ path: i.path.map(String), message: i.message }))
      throw new RpcError(ErrorCode.InvalidParams, `MSG001: ${name}: ${issuesText(parsed.error)}`, { code: 'MSG001', issues })
    }
    const token = req.params._meta?.progressToken
    const progress = async (done: number, total: number, message: string): Promise<void> => {
      if (token === undefined) return
      await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: done, total, message } })
    }
    const started = performance.now()
    try {
      const value = await tool.run(ctx, parsed.data, { signal: extra.signal, progress })
      ctx.count(name, 'ok', (performance.now() - started) / 1000)
      return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value }
    } catch (err) {
      const code = err instanceof AgentMeshError ? err.code : 'INTERNAL'
      ctx.count(name, code, (performance.now() - started) / 1000)
      if (code === 'INTERNAL') ctx.log.warn({ err, tool: name }, 'mcp tool failed')
      else ctx.log.info({ tool: name, code, reason: (err as Error).message }, 'mcp tool refused')
      return toolError(err)
    }
  })
  const unlisten = registerResources(server, ctx, options)
  return { server, close: unlisten }
}
