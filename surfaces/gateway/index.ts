/**
 * The gateway of a node (config `gateway`, `agentmesh start --gateway host:port`): clients that are
 * not libp2p nodes reach the mesh through it over REST and WebSocket under /v1 (and the other
 * bindings: GraphQL, A2A), all of them Mounts on one HTTP server (server.ts), all running the same
 * MeshOperations (surfaces/operations). Attached to the node from outside (surfaces/index.ts): started
 * after every service it calls, and stopped before them. docs/gateway.md says what it serves and why.
 */
import type { AgentNode } from '../../node/agent-node.js'
import type { Startable } from '../../protocols/core/service.js'
import { MeshOperations } from '../operations/index.js'
import { GatewayServer } from './server.js'
import type { HttpServer } from '../http/server.js'
import type { GatewayContext, Mount } from './mount.js'

export type { GatewayCaller, GatewayContext, GatewayRequest, Mount, MountFactory } from './mount.js'

export class Gateway implements Startable {
  readonly ops: MeshOperations
  private readonly server: GatewayServer
  private wsOpen = 0

  constructor (node: AgentNode, options: { http?: HttpServer } = {}) {
    const c = node.config.gateway
    if (c.listen === undefined) throw new TypeError('a gateway needs gateway.listen')
    const { stats, log } = node
    // What the gateway sends for its clients is signed by this node (docs/security.md "Signed
    // messages"); its client is the token's holder, or whoever reaches loopback.
    this.ops = new MeshOperations(node, { signAs: { via: 'gateway', client: c.token !== undefined ? 'token' : 'loopback' } })
    const seconds = stats.histogram('gateway_request_duration_seconds', 'Gateway HTTP requests from arrival to the last byte of the answer, by route pattern', ['route'])
    stats.gauge('gateway_ws_connections', 'WebSocket clients connected to the gateway now', () => this.wsOpen)
    this.server = new GatewayServer({
      listen: c.listen,
      streams: c.wsMaxConnections,
      ...(c.publicUrl !== undefined ? { publicUrl: c.publicUrl } : {}),
      ...(c.token !== undefined ? { token: c.token } : {}),
      origins: c.origins,
      log,
      ...(options.http !== undefined ? { http: options.http } : {}),
      count: (route, status) => { stats.inc('gateway_requests_total', { route, status: String(status) }) },
      observe: (route, s) => { seconds({ route }, s) },
      mounts: async (base) => {
        const ctx: GatewayContext = { ...base, ops: this.ops, log, maxBodyBytes: c.maxBodyBytes }
        // Loaded when a gateway starts: a node without one never loads its bindings.
        const [{ wsMount }, { restMount }, { graphqlMount }, { createA2aMount }] = await Promise.all([
          import('./ws.js'), import('./rest.js'), import('./graphql.js'), import('./a2a/index.js')
        ])
        const ws = wsMount({
          maxBufferedBytes: c.wsMaxBufferedBytes,
          maxSubscriptions: c.wsMaxSubscriptions,
          maxConnections: c.wsMaxConnections,
          pingIntervalMs: c.wsPingIntervalMs,
          dropped: (reason) => { stats.inc('gateway_ws_dropped_total', { reason }) },
          connections: (n) => { this.wsOpen = n }
        })
        const a2a = createA2aMount({ blockingWaitMs: c.a2aBlockingWaitMs, ...(c.a2aTextTask !== undefined ? { textTask: c.a2aTextTask } : {}) })
        const mounts: Mount[] = [ws(ctx), restMount(ctx), graphqlMount(ctx), a2a(ctx)]
        return mounts
      }
    })
  }

  /** The gateway's URL (http://host:port) once started. */
  get url (): string | undefined { return this.server.url === '' ? undefined : this.server.url }

  async start (): Promise<void> {
    this.ops.start()
    await this.server.start()
  }

  async stop (): Promise<void> {
    await this.server.stop()
    this.ops.stop()
  }
}
