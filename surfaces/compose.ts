/**
 * Composes the surfaces over a node: what serves it to those who are not its code (the debug endpoint and
 * live page, the gateway; the MCP server and the CLI build on the same). The runtime (node/) knows
 * none of them: each takes a node from outside and is attached to it (`AgentNode.attach`), started
 * after its services and stopped before them. `createAgentNode` here is the package's: the
 * runtime's factory (node/create-node.ts), then the surfaces the config asks for.
 */
import { createAgentNode as createRuntimeNode } from '../node/create-node.js'
import type { AgentNode } from '../node/agent-node.js'
import type { CreateAgentNodeOptions } from '../node/types.js'
import { debugEndpoint } from './debug/routes.js'
import { Gateway } from './gateway/index.js'
import { HttpServers } from './http/server.js'
import { listenAddress, splitHostPort } from './http/listen.js'
import type { Startable } from '../protocols/core/service.js'

export { HttpServer, HttpServers, type HttpMount } from './http/server.js'

export interface Surfaces {
  /** The gateway, when `gateway.listen` is configured. */
  gateway?: Gateway
  /** The HTTP servers the surfaces listen on, by address: hand it to another surface (the MCP endpoint) to share a port. */
  http: HttpServers
}

/** The gateway a node's surfaces serve, if any (benches and tests reach its operations through it). */
const gateways = new WeakMap<AgentNode, Gateway>()
export function gatewayOf (node: AgentNode): Gateway | undefined { return gateways.get(node) }

/**
 * Attach to `node` the surfaces its config asks for: the debug endpoint (`debug`, `debugToken`)
 * and the gateway (`gateway.listen`). Both on the same host:port share one HTTP server.
 */
export function attachSurfaces (node: AgentNode, http = new HttpServers()): Surfaces {
  const { config } = node
  const parts: Startable[] = []
  if (config.debug !== undefined) {
    const { host, port } = splitHostPort(config.debug)
    const token = config.debugToken
    const debug = debugEndpoint(node, { listen: config.debug, ...(token !== undefined ? { token } : {}), http: http.at(host, port) })
    parts.push(...debug.ordered)
  }
  const surfaces: Surfaces = { http }
  const listen = config.gateway.listen
  if (listen !== undefined) {
    const { host, port } = listenAddress(listen)
    const gateway = surfaces.gateway = new Gateway(node, { http: http.at(host, port) })
    gateways.set(node, gateway)
    parts.push({
      start: async () => { await gateway.start(); node.gatewayUrl = gateway.url },
      stop: async () => { await gateway.stop() }
    })
  }
  node.attach(...parts)
  return surfaces
}

/** Create a node (not yet started) with the surfaces its config asks for: the package's `createAgentNode`. */
export async function createAgentNode (options: CreateAgentNodeOptions = {}): Promise<AgentNode> {
  const node = await createRuntimeNode(options)
  attachSurfaces(node)
  return node
}
