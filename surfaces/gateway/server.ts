/**
 * The gateway's HTTP side: one mount on the surfaces' HTTP server (surfaces/http; its own, or
 * shared with the debug endpoint on the same host:port) for every binding (REST and WebSocket
 * under /v1, GraphQL, A2A), each a Mount (mount.ts). A request is checked first (the Host of a
 * token-less gateway, the browser Origin, the token; see auth.ts), then offered to each mount in
 * turn; what no mount takes is a 404. Every request is traced (its span the parent of what the
 * operation sends into the mesh), counted by route and status, and logged with its correlation id.
 *
 * node:http rather than a framework: the mounts need the raw request and response (the WebSocket
 * upgrade, SSE streams), the routing is one table (rest.ts), and the HTTP layer's own cost is a
 * small part of a request that crosses the mesh (docs/gateway.md has the figures).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { ConfigError } from '../../protocols/core/errors.js'
import { errorBody } from '../operations/errors.js'
import { isLoopback, listenAddress } from '../http/listen.js'
import { HttpServer, type HttpMount } from '../http/server.js'
import { GatewayAuth } from './auth.js'
import { NotFoundError, fail, statusOf } from './errors.js'
import type { GatewayCaller, GatewayContext, GatewayRequest, Mount } from './mount.js'
import { endServerSpan, inContext, startServerSpan } from './trace.js'
import { MAX_CORRELATION_ID_CHARS } from './constants.js'
import { GRAPHQL_DEFAULTS } from './graphql/constants.js'
import { A2A_DEFAULTS } from './a2a/constants.js'

export interface GatewayServerInit {
  /** host:port (port 0 picks a free one; a bare port means 127.0.0.1). */
  listen: string
  /** The base of the URLs the mounts name for the gateway (gateway.publicUrl); none: the URL it listens on. */
  publicUrl?: string
  token?: string
  /** Browser origins allowed besides the gateway's own. */
  origins: readonly string[]
  log: Logger
  /** Counts one answered request (or WebSocket operation) by route pattern and status (node/stats.ts). */
  count: (route: string, status: number) => void
  /** Observes how long an HTTP request took, by route pattern. */
  observe: (route: string, seconds: number) => void
  /** Builds the mounts once the server listens (their context names its URL). */
  mounts: (ctx: Pick<GatewayContext, 'baseUrl' | 'count'>) => Promise<Mount[]>
  /** The server to mount on (shared with the other surfaces on its host:port, surfaces/http); else one of its own. */
  http?: HttpServer
  /** The WebSocket connections it holds open at most (gateway.wsMaxConnections): the HTTP server's cap makes room for them. */
  streams?: number
}

/** What the gateway answers on a port it shares (surfaces/http): REST and WebSocket, GraphQL, A2A and its card. */
export const GATEWAY_PATHS: readonly string[] = ['/v1', GRAPHQL_DEFAULTS.path, A2A_DEFAULTS.path, A2A_DEFAULTS.cardPath]

const CORRELATION_ID = new RegExp(`^[\\w.:@/-]{1,${MAX_CORRELATION_ID_CHARS}}$`)

export class GatewayServer {
  private readonly http: HttpServer
  private readonly mount: HttpMount
  private open = false
  private mounts: Mount[] = []
  private readonly auth: GatewayAuth
  url = ''

  constructor (private readonly init: GatewayServerInit) {
    this.auth = new GatewayAuth({ ...(init.token !== undefined ? { token: init.token } : {}), origins: init.origins })
    const { host, port } = listenAddress(init.listen)
    this.http = init.http ?? new HttpServer(host, port)
    this.mount = {
      paths: GATEWAY_PATHS,
      request: (req, res) => { void this.serve(req, res) },
      upgrade: (req, socket, head) => { this.upgrade(req, socket, head) },
      listenError: (err) => new ConfigError(`gateway cannot listen on ${this.init.listen}: ${err.message}`, { cause: err }),
      ...(init.streams !== undefined ? { streams: init.streams } : {})
    }
  }

  async start (): Promise<string> {
    if (this.open) return this.url
    if (!isLoopback(this.http.host) && this.init.token === undefined) {
      throw new ConfigError(`gateway on ${this.init.listen} is reachable beyond this host: set gateway.token (--gateway-token) or bind it to 127.0.0.1`)
    }
    this.url = await this.http.open(this.mount)
    this.open = true
    try {
      this.mounts = await this.init.mounts({ baseUrl: () => this.init.publicUrl ?? this.url, count: this.init.count })
    } catch (err) {
      await this.stop()
      throw err
    }
    return this.url
  }

  async stop (): Promise<void> {
    if (!this.open) return
    this.open = false
    const mounts = this.mounts
    this.mounts = []
    await Promise.all(mounts.map(async m => { await m.close().catch((err) => { this.init.log.warn({ error: (err as Error).message }, 'gateway mount did not close cleanly') }) }))
    await this.http.close(this.mount)
  }

  /**
   * A mount counts the requests it answers (ctx.count) and may name their route (r.route); what
   * no mount took, or what was refused before any saw it, the server counts itself. Every
   * request gets its span, latency and log line when it ends (by AsyncLocalStorage it could
   * attribute a mount's count to its request, but on Node 20 that puts a hook on every promise
   * of the process, libp2p's included).
   */
  private async serve (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint()
    const correlationId = correlationOf(req)
    res.setHeader('x-correlation-id', correlationId)
    const url = parseUrl(req)
    const { span, ctx } = startServerSpan(req, url, correlationId)
    const r: GatewayRequest = { req, res, url, caller: { via: 'loopback', label: '' }, correlationId }
    let own: string | undefined
    res.once('close', () => {
      const status = res.writableFinished ? res.statusCode : 499
      // A mount that names no route is known by the first segment of its path (/graphql, /a2a): bounded by what mounts take.
      const route = r.route ?? own ?? `${req.method ?? 'GET'} /${url.pathname.split('/')[1] ?? ''}`
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      if (own !== undefined) this.init.count(own, status)
      this.init.observe(route, seconds)
      endServerSpan(span, route, status)
      // The line is made only for a level that writes it (debug is off in production: a request's object less).
      const failed = status >= 500 && status !== 504
      if (!failed && !this.init.log.isLevelEnabled('debug')) return
      const line = { correlation_id: correlationId, method: req.method, route, status, ms: Math.round(seconds * 1e4) / 10 }
      if (failed) this.init.log.warn(line, 'gateway request failed')
      else this.init.log.debug(line, 'gateway request')
    })
    await inContext(ctx, async () => {
      try {
        const caller = this.auth.check(req, url, res)
        if (caller === 'answered') { own = 'preflight'; return }
        r.caller = caller
        for (const mount of this.mounts) if (await mount.request(r)) return
        own = 'unmatched'
        throw new NotFoundError(url.pathname)
      } catch (err) {
        own ??= 'refused'
        if (statusOf(err) >= 500 && errorBody(err).error.code === 'INTERNAL') this.init.log.error({ correlation_id: correlationId, err }, 'gateway request threw')
        fail(res, err, correlationId)
      }
    })
  }

  private upgrade (req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = parseUrl(req)
    socket.on('error', () => { socket.destroy() })
    let caller: GatewayCaller
    try {
      caller = this.auth.check(req, url) as GatewayCaller
      for (const mount of this.mounts) if (mount.upgrade?.(req, socket, head, url, caller) === true) return
      throw new NotFoundError(url.pathname)
    } catch (err) {
      const status = refuseUpgrade(socket, err, correlationOf(req))
      this.init.count(status === 404 ? 'unmatched' : 'refused', status)
    }
  }
}

/** Writes an error answer on a socket that asked for an upgrade, then closes it; returns the status. */
export function refuseUpgrade (socket: Duplex, err: unknown, correlationId: string): number {
  const status = statusOf(err)
  const body = JSON.stringify(errorBody(err))
  const extra = typeof (err as { headers?: unknown }).headers === 'object' ? Object.entries((err as { headers: Record<string, string> }).headers) : []
  socket.end([
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : status === 503 ? 'Service Unavailable' : 'Error'}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    `x-correlation-id: ${correlationId}`,
    ...extra.map(([k, v]) => `${k}: ${v}`),
    'connection: close',
    '',
    body
  ].join('\r\n'))
  return status
}

/** The client's correlation id if it sent a plain one, else a new one. */
export function correlationOf (req: IncomingMessage): string {
  const given = req.headers['x-correlation-id']
  return typeof given === 'string' && CORRELATION_ID.test(given) ? given : randomUUID()
}

function parseUrl (req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? '/', 'http://gateway')
  } catch {
    return new URL('http://gateway/')
  }
}

export { listenAddress } from '../http/listen.js'
