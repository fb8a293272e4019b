/**
 * The one node:http server the surfaces that speak HTTP share: the debug endpoint, the gateway
 * and the MCP endpoint are each an HttpMount on an HttpServer. Configured on separate ports, each
 * has a server of its own, as before; configured on the same host:port (not port 0, which asks
 * for a free port each), they share one, and a request goes to the mount owning its path: the
 * gateway /v1, /graphql, /a2a and the A2A card, MCP /mcp, the debug endpoint every other path.
 * So each surface's URLs are the same alone or shared. Who may call stays each mount's own
 * business (its bearer token, its Host and Origin rules): a shared port does not share a token.
 *
 * The server listens when its first mount opens and closes when its last one does.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { closeServer } from './auth.js'

/** How long an idle keep-alive connection is kept open by the server: past clients' own (undici 4 s, browsers 60-300 s). */
export const KEEP_ALIVE_MS = 65_000

/**
 * Connections the server holds at once for requests, over what its mounts hold open by limits of
 * their own (`HttpMount.streams`: the gateway's WebSockets, the debug page's event streams); past
 * the sum a new connection is closed as it comes (Node's `maxConnections`, which counts every
 * socket, upgraded or not). With idle connections kept 65 s, a peer that opened sockets without
 * end would otherwise hold the process's file descriptors. Far above what request clients use (a
 * few keep-alive connections each), as nginx's worker_connections (512 by default) is for one worker.
 */
export const MAX_CONNECTIONS = 1_024

export interface HttpMount {
  /** Path prefixes it answers on a shared port ('/v1' takes /v1 and /v1/...); none: every path no other mount owns. */
  readonly paths?: readonly string[]
  request: (req: IncomingMessage, res: ServerResponse) => void
  /** A request to switch protocols (WebSocket); without it, such a request is answered as any other. */
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  /** The error to throw when the port cannot be listened on (it names the surface and its setting). */
  listenError: (err: Error) => Error
  /**
   * Connections it may hold open at once by a limit of its own (WebSockets, event streams), which
   * answers past it itself (a 503): the server's cap is MAX_CONNECTIONS over the sum of these.
   */
  readonly streams?: number
}

export class HttpServer {
  private server?: Server
  private opening?: Promise<void>
  private readonly mounts: HttpMount[] = []
  /** http://host:port once listening (kept after close, as the surfaces' own URLs always were). */
  url = ''

  /** `maxConnections`: the connections for requests, over what the mounts' own limits hold (MAX_CONNECTIONS). */
  constructor (readonly host: string, readonly port: number, readonly maxConnections = MAX_CONNECTIONS) {}

  /** The cap of the server's connections: its own for requests and each mount's streams. */
  private capConnections (): void {
    if (this.server !== undefined) this.server.maxConnections = this.maxConnections + this.mounts.reduce((n, m) => n + (m.streams ?? 0), 0)
  }

  /** Serve `mount` from now on, listening first if no other mount is open; resolves with the server's URL. */
  async open (mount: HttpMount): Promise<string> {
    if (this.mounts.includes(mount)) return this.url
    this.mounts.push(mount)
    try {
      this.opening ??= this.listen(mount)
      await this.opening
    } catch (err) {
      this.mounts.splice(this.mounts.indexOf(mount), 1)
      throw err
    }
    this.capConnections()
    return this.url
  }

  /** Stop serving `mount`; the last one closes the server and every connection it holds. */
  async close (mount: HttpMount): Promise<void> {
    const i = this.mounts.indexOf(mount)
    if (i < 0) return
    this.mounts.splice(i, 1)
    this.capConnections()
    if (this.mounts.length > 0) return
    const server = this.server
    this.server = undefined
    this.opening = undefined
    if (server !== undefined) await closeServer(server)
  }

  private async listen (first: HttpMount): Promise<void> {
    const server = createServer((req, res) => { this.request(req, res) })
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => { this.upgrade(req, socket, head) })
    // The client, not the server, should end an idle keep-alive connection: a server that closes
    // it as the client sends on it fails that request ("fetch failed", other side closed), which
    // gateway.test met twice at load 8-14 (a client whose event loop was busy past undici's 4 s
    // under Node's 5 s). As load balancers are told (AWS: the backend's idle timeout above the
    // balancer's 60 s), the server waits longer than any client keeps one. Closing the server
    // closes every connection at once (closeServer), so a long idle time delays no stop.
    // One value for every mount: the MCP endpoint kept its own 1 s after the others moved to this,
    // and an idle connection reused as its server's loop stalled past that second lost a tool call
    // (mcp-shared-tasks, "other side closed", in CI at stop 50 and in the loop on a loaded host).
    server.keepAliveTimeout = KEEP_ALIVE_MS
    // Node's header timer must outlast the keep-alive one, or an idle socket is cut by it instead.
    server.headersTimeout = Math.max(server.headersTimeout, server.keepAliveTimeout + 1_000)
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err) => { reject(first.listenError(err)) })
        server.listen(this.port, this.host, () => { resolve() })
      })
    } catch (err) {
      this.opening = undefined
      throw err
    }
    this.server = server
    this.capConnections()
    const addr = server.address()
    const bound = typeof addr === 'object' && addr !== null ? addr.port : this.port
    this.url = `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${bound}`
  }

  /** The mount for a path: the only one, else the one owning the path, else the one owning no paths. */
  private mountFor (rawUrl: string | undefined): HttpMount | undefined {
    if (this.mounts.length === 1) return this.mounts[0]
    let path = '/'
    try { path = new URL(rawUrl ?? '/', 'http://host').pathname } catch {}
    return this.mounts.find(m => m.paths?.some(p => path === p || path.startsWith(`${p}/`)) === true) ??
      this.mounts.find(m => m.paths === undefined)
  }

  private request (req: IncomingMessage, res: ServerResponse): void {
    const mount = this.mountFor(req.url)
    if (mount !== undefined) { mount.request(req, res); return }
    const body = JSON.stringify({ error: 'not found' })
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
    res.end(body)
  }

  private upgrade (req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const mount = this.mountFor(req.url)
    if (mount?.upgrade !== undefined) { mount.upgrade(req, socket, head); return }
    socket.on('error', () => { socket.destroy() })
    socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
  }
}

/**
 * The HTTP servers of one node's surfaces, by address: asked twice for the same host and port
 * (not 0), it gives the same server, so the surfaces configured there share it.
 */
export class HttpServers {
  private readonly byAddress = new Map<string, HttpServer>()

  at (host: string, port: number): HttpServer {
    if (port === 0) return new HttpServer(host, port)
    const key = `${host.replace(/^\[|\]$/g, '')}:${port}`
    let server = this.byAddress.get(key)
    if (server === undefined) this.byAddress.set(key, server = new HttpServer(host, port))
    return server
  }
}
