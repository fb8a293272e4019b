/**
 * The mesh as MCP resources a host can read (and, over stdio, subscribe to): the mesh map (the
 * agents with their failure-detection states, and the coordinator) and the coordinator alone;
 * one agent and one task by templates. A resource that is not there answers the protocol's
 * "resource not found" (-32002) with our code in its message.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js'
import {
  ListResourcesRequestSchema, ListResourceTemplatesRequestSchema, ErrorCode, ReadResourceRequestSchema, SubscribeRequestSchema,
  UnsubscribeRequestSchema, type ReadResourceResult
} from '@modelcontextprotocol/sdk/types.js'
import { AgentMeshError } from '../../protocols/core/errors.js'
import { RESOURCE_NOT_FOUND, RpcError } from './errors.js'
import { agentsOf } from './mesh-tools.js'
import type { McpContext } from './tool.js'

export const MESH_URI = 'agentmesh://mesh'
export const COORDINATOR_URI = 'agentmesh://coordinator'
const AGENT_TEMPLATE = 'agentmesh://agents/{agent}'
const TASK_TEMPLATE = 'agentmesh://tasks/{task_id}'

/** Subscribers hear of a change at most this often: a mesh that churns must not flood the host. */
const NOTIFY_EVERY_MS = 500

/** The mesh map: who this server is on the mesh, the agents and their states, who coordinates. */
export function meshMap (ctx: McpContext): Record<string, unknown> {
  const self = ctx.ops.node.card()
  return { mesh: self.mesh, via: { peerId: self.peerId, name: self.name }, agents: agentsOf(ctx), coordinator: ctx.ops.coordinator() }
}

function json (uri: string, value: unknown): ReadResourceResult {
  return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(value, null, 2) }] }
}

async function read (ctx: McpContext, uri: string): Promise<ReadResourceResult> {
  if (uri === MESH_URI) return json(uri, meshMap(ctx))
  if (uri === COORDINATOR_URI) return json(uri, ctx.ops.coordinator())
  const agent = /^agentmesh:\/\/agents\/(.+)$/.exec(uri)?.[1]
  if (agent !== undefined) return json(uri, ctx.ops.agent(decodeURIComponent(agent)))
  const task = /^agentmesh:\/\/tasks\/(.+)$/.exec(uri)?.[1]
  if (task !== undefined) return json(uri, await ctx.ops.task(decodeURIComponent(task)))
  throw new RpcError(RESOURCE_NOT_FOUND, `no resource ${uri} (resources: ${MESH_URI}, ${COORDINATOR_URI}, ${AGENT_TEMPLATE}, ${TASK_TEMPLATE})`, { uri })
}

/**
 * Registers the resource handlers on `server`. With `subscribe`, a host may subscribe to the mesh
 * map and the coordinator and hears `notifications/resources/updated` when they change; the
 * returned function stops listening to the node (call it when the server closes).
 */
export function registerResources (server: Server, ctx: McpContext, options: { subscribe: boolean }): () => void {
  server.setRequestHandler(ListResourcesRequestSchema, () => ({
    resources: [
      { uri: MESH_URI, name: 'mesh', title: 'The mesh map', mimeType: 'application/json', description: 'The agents of the mesh with their roles, capabilities and states (alive, suspect, offline, left), and the coordinator' },
      { uri: COORDINATOR_URI, name: 'coordinator', title: 'The coordinator', mimeType: 'application/json', description: 'Who coordinates the mesh: term, leader, voters' }
    ]
  }))
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [
      { uriTemplate: AGENT_TEMPLATE, name: 'agent', title: 'An agent', mimeType: 'application/json', description: 'One agent by peer id or name: its card and state' },
      { uriTemplate: TASK_TEMPLATE, name: 'task', title: 'A task', mimeType: 'application/json', description: 'A task\'s status, with its result once completed' }
    ]
  }))
  server.setRequestHandler(ReadResourceRequestSchema, async (req) => {
    try {
      return await read(ctx, req.params.uri)
    } catch (err) {
      if (err instanceof RpcError) throw err
      if (err instanceof AgentMeshError) {
        const missing = err.name === 'UnknownAgentError' || err.code === 'TSK001'
        throw new RpcError(missing ? RESOURCE_NOT_FOUND : ErrorCode.InternalError, `${err.code}: ${err.message}`, { uri: req.params.uri, code: err.code })
      }
      ctx.log.warn({ err, uri: req.params.uri }, 'mcp resource read failed')
      throw new RpcError(ErrorCode.InternalError, 'internal error (see the node\'s log)')
    }
  })
  if (!options.subscribe) return () => {}

  const subscribed = new Set<string>()
  server.setRequestHandler(SubscribeRequestSchema, (req) => {
    if (req.params.uri !== MESH_URI && req.params.uri !== COORDINATOR_URI) {
      throw new RpcError(RESOURCE_NOT_FOUND, `only ${MESH_URI} and ${COORDINATOR_URI} can be subscribed to`, { uri: req.params.uri })
    }
    subscribed.add(req.params.uri)
    return {}
  })
  server.setRequestHandler(UnsubscribeRequestSchema, (req) => { subscribed.delete(req.params.uri); return {} })

  const pending = new Set<string>()
  let timer: ReturnType<typeof setTimeout> | undefined
  const changed = (...uris: string[]): void => {
    for (const uri of uris) if (subscribed.has(uri)) pending.add(uri)
    if (pending.size === 0 || timer !== undefined) return
    timer = setTimeout(() => {
      timer = undefined
      for (const uri of pending) void server.sendResourceUpdated({ uri }).catch(() => {})
      pending.clear()
    }, NOTIFY_EVERY_MS)
  }
  const onMembers = (): void => { changed(MESH_URI) }
  const onCoordinator = (): void => { changed(MESH_URI, COORDINATOR_URI) }
  const node = ctx.ops.node
  node.addEventListener('peer:join', onMembers)
  node.addEventListener('peer:leave', onMembers)
  node.addEventListener('member:change', onMembers)
  node.addEventListener('coordinator:change', onCoordinator)
  return () => {
    clearTimeout(timer)
    node.removeEventListener('peer:join', onMembers)
    node.removeEventListener('peer:leave', onMembers)
    node.removeEventListener('member:change', onMembers)
    node.removeEventListener('coordinator:change', onCoordinator)
  }
}
