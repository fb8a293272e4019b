/**
 * The WebSocket mount: takes the upgrade at /v1/ws (already authenticated by the server) with the
 * `ws` package, one WsSession per client (ws-session.ts), a bound on connections, and one ping
 * round for all clients each interval. A plain GET of /v1/ws is left to REST, which answers 426.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import { correlationOf, refuseUpgrade } from './server.js'
import { TooManyConnectionsError } from './errors.js'
import type { GatewayCaller, GatewayContext, Mount, MountFactory } from './mount.js'
import { WsSession, type WsLimits } from './ws-session.js'

export const WS_PATH = '/v1/ws'
/** How long a stopping gateway waits for its clients to answer the close frame before it cuts them. */
const CLOSE_GRACE_MS = 1_000

export interface WsMountInit extends WsLimits {
  maxConnections: number
  /** 0: no pings. */
  pingIntervalMs: number
  /** A client dropped: too slow to read, or silent past a ping. */
  dropped: (reason: 'slow_client' | 'ping_timeout') => void
  /** Connections open now changed (for a gauge). */
  connections?: (n: number) => void
}

export class WsMount implements Mount {
  private readonly wss: WebSocketServer
  private readonly sessions = new Set<WsSession>()
  private readonly pinger?: ReturnType<typeof setInterval>

  constructor (private readonly ctx: GatewayContext, private readonly init: WsMountInit) {
    // maxPayload: a frame past the body limit closes the socket with 1009 before it is buffered whole.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: ctx.maxBodyBytes, perMessageDeflate: false, clientTracking: false })
    if (init.pingIntervalMs > 0) {
      this.pinger = setInterval(() => { for (const s of this.sessions) s.ping() }, init.pingIntervalMs)
      this.pinger.unref()
    }
  }

  async request (): Promise<boolean> { return false }

  upgrade (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, _caller: GatewayCaller): boolean {
    if (url.pathname !== WS_PATH) return false
    const correlationId = correlationOf(req)
    if (this.sessions.size >= this.init.maxConnections) {
      this.ctx.count(`GET ${WS_PATH}`, refuseUpgrade(socket, new TooManyConnectionsError(this.init.maxConnections), correlationId))
      return true
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new WsSession({
        ws,
        ops: this.ctx.ops,
        log: this.ctx.log,
        limits: this.init,
        correlationId,
        count: this.ctx.count,
        dropped: this.init.dropped
      })
      this.sessions.add(session)
      this.init.connections?.(this.sessions.size)
      ws.once('close', () => {
        this.sessions.delete(session)
        this.init.connections?.(this.sessions.size)
      })
      this.ctx.count(`GET ${WS_PATH}`, 101)
      this.ctx.log.debug({ correlation_id: correlationId }, 'gateway websocket open')
    })
    return true
  }

  /** Says goodbye (1001) to every client, and cuts those that have not closed within CLOSE_GRACE_MS. */
  async close (): Promise<void> {
    clearInterval(this.pinger)
    const closing = [...this.sessions].map(async s => { await s.close() })
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([Promise.all(closing), new Promise(resolve => { timer = setTimeout(resolve, CLOSE_GRACE_MS) })])
    clearTimeout(timer)
    for (const s of this.sessions) s.terminate()
    this.sessions.clear()
    await new Promise<void>(resolve => { this.wss.close(() => { resolve() }) })
  }
}

/** The mount, with its limits (the gateway's config, node/gateway-config.ts). */
export function wsMount (init: WsMountInit): MountFactory {
  return (ctx) => new WsMount(ctx, init)
}
