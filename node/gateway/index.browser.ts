/**
 * The gateway in a browser bundle (the browser build takes this file for index.ts): a page
 * cannot serve HTTP, so there is none. The browser entry refuses `gateway.listen` up front; this
 * keeps the HTTP server and every binding (REST, WebSocket, GraphQL, A2A) out of the bundle.
 */
import type { AgentNode } from '../agent-node.js'
import type { Startable } from '../../protocols/core/service.js'
import { ConfigError } from '../../protocols/core/errors.js'

export type { GatewayCaller, GatewayContext, GatewayRequest, Mount, MountFactory } from './mount.js'

export class Gateway implements Startable {
  constructor (_node: AgentNode) {
    throw new ConfigError('gateway.listen: a browser node has no gateway (a page cannot serve HTTP)')
  }

  get url (): string | undefined { return undefined }
  start (): void {}
  stop (): void {}
}
