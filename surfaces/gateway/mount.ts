/**
 * The gateway serves several bindings of the same operations (surfaces/operations) on one HTTP
 * server: REST and WebSocket under /v1, GraphQL at /graphql, A2A at /a2a and
 * /.well-known/agent-card.json. Each binding is a Mount: the server authenticates the request,
 * then offers it to each mount in turn; the first that owns the path answers it. A mount never
 * starts a server of its own, so there is one port, one token rule, one set of metrics.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import type { MeshOperations } from '../operations/index.js'

/** Who is calling, as the server established it before any mount sees the request. */
export interface GatewayCaller {
  /** 'token' (a bearer token the node was given) or 'loopback' (no token needed on 127.0.0.1/::1). */
  via: 'token' | 'loopback'
  /** A short, non-secret label for logs and metrics (never the token itself). */
  label: string
}

export interface GatewayContext {
  ops: MeshOperations
  log: Logger
  /** The URL clients reach the gateway at (e.g. http://127.0.0.1:8080), for documents that name it. */
  baseUrl: () => string
  /** Counts a finished request by its route pattern (not the raw path) and status, for /metrics. */
  count: (route: string, status: number) => void
  /** Largest request body accepted, in bytes (413 past it). */
  maxBodyBytes: number
}

export interface GatewayRequest {
  req: IncomingMessage
  res: ServerResponse
  url: URL
  caller: GatewayCaller
  /** The correlation id of this request (x-correlation-id if the client sent a sane one, else new): logged, traced, answered. */
  correlationId: string
  /**
   * The route pattern the mount matched (e.g. "GET /v1/agents/{ref}"), if it sets one: the server
   * names the request's span, log line and latency histogram after it when the request ends.
   */
  route?: string
}

export interface Mount {
  /** Answers the request if the path is this mount's and resolves true; resolves false to let the next mount try. */
  request: (r: GatewayRequest) => Promise<boolean>
  /** Takes a WebSocket upgrade if the path is this mount's (already authenticated); false to let the next mount try. */
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, caller: GatewayCaller) => boolean
  /** Closes what the mount holds open (subscriptions, sockets); the server calls it on stop. */
  close: () => Promise<void>
}

export type MountFactory = (ctx: GatewayContext) => Mount
