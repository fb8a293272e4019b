/**
 * The debug endpoint in a browser bundle (the browser build takes this file for
 * debug-routes.ts): a page cannot serve HTTP, so there is none. The browser entry refuses the
 * `debug` setting up front; this keeps the HTTP server, the routes and the live page out of the
 * bundle.
 */
import type { AgentNode } from './agent-node.js'
import type { NodeServices } from './services.js'
import type { DebugEndpoint } from './debug-routes.js'
import { ConfigError } from '../protocols/core/errors.js'

export type { DebugEndpoint } from './debug-routes.js'

export function debugEndpoint (_node: AgentNode, _s: NodeServices, _listen: string, _token?: string): DebugEndpoint {
  throw new ConfigError('debug: a browser node has no debug endpoint (a page cannot serve HTTP)')
}
