/**
 * The MCP server over Streamable HTTP, at /mcp, stateless: each POST gets a server of its own
 * (the mesh's state lives in the node and its MeshOperations, not in an MCP session), so there is
 * no session to leak, expire or steal, and GET (a standalone event stream) and DELETE (ending a
 * session) answer 405. A long call's progress and result travel on its own POST's event stream.
 *
 * Who may call, as the debug endpoint decides: bound to loopback, anyone on this host; bound
 * anywhere else, a bearer token is required (refused at start without one), compared in
 * constant time. On loopback without a token, the Host and Origin headers must name this server:
 * a web page cannot reach it through DNS rebinding (the MCP specification's Origin rule).
 * A mount on the surfaces' HTTP server (surfaces/http): its own, or the node's debug endpoint's
 * when both are given the same host:port (`agentmesh mcp --http X --debug X`).
 *
 * Beside it, the server's card (./server-card.ts): /mcp/server-card, /.well-known/mcp/server-card.json
 * and the catalog /.well-known/mcp/catalog.json, public metadata answered to any GET.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { ConfigError } from '../../protocols/core/errors.js'
import { MIN_TOKEN_CHARS } from '../../node/gateway-config.js'
import { BearerToken } from '../http/auth.js'
import { isLoopback, splitHostPort } from '../http/listen.js'
import { HttpServer, type HttpMount } from '../http/server.js'
import { MAX_HTTP_BODY_BYTES, MAX_HTTP_IN_FLIGHT } from './constants.js'
import { SERVER_CARD_SUFFIX, SERVER_CARD_TYPE, WELL_KNOWN_CARD, WELL_KNOWN_CATALOG, serverCard, serverCatalog } from './server-card.js'
import type { MeshMcp } from './index.js'

export interface McpHttpInit {
  mcp: MeshMcp
  /** host:port; port 0 picks a free one. */
  listen: string
  /** Bearer token clients must send; required when `listen` is not a loopback address. */
  token?: string
  /** The server to mount on (shared with the node's debug endpoint on the same host:port, surfaces/http); else one of its own. */
  http?: HttpServer
}

export const MCP_PATH = '/mcp'
const CARD_PATH = `${MCP_PATH}${SERVER_CARD_SUFFIX}`

/** What the extension asks of a discovery document's answer: readable from any page, cacheable. */
const PUBLIC_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET',
  'access-control-allow-headers': 'Content-Type',
  'cache-control': 'public, max-age=3600'
}

function sendJson (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers })
  res.end(text)
}

/** A JSON-RPC error with no request id, as the SDK's transport answers what it refuses before reading a request. */
const rpcError = (code: number, message: string): unknown => ({ jsonrpc: '2.0', error: { code, message }, id: null })

export class McpHttpServer {
  private http?: HttpServer
  private readonly mount: HttpMount
  private open = false
  private readonly token?: BearerToken
  private inFlight = 0
  private hosts = new Set<string>()
  private origins = new Set<string>()
  /** http://host:port/mcp once started. */
  url = ''

  constructor (private readonly init: McpHttpInit) {
    if (init.token !== undefined) this.token = new BearerToken(init.token)
    this.mount = {
      paths: [MCP_PATH, '/.well-known/mcp'],
      request: (req, res) => { void this.serve(req, res) },
      listenError: (err) => new ConfigError(`the MCP endpoint cannot listen on ${this.init.listen}: ${err.message}`, { cause: err })
    }
  }

  async start (): Promise<string> {
    if (this.open) return this.url
    const { host, port } = splitHostPort(this.init.listen)
    if (!Number.isInteger(port) || port < 0 || port > 65_535 || host === '') throw new ConfigError(`--http ${this.init.listen}: expected host:port, e.g. 127.0.0.1:8090`)
    if (this.init.token !== undefined && this.init.token.length < MIN_TOKEN_CHARS) {
      throw new ConfigError(`--http-token: at least ${MIN_TOKEN_CHARS} characters, as the gateway's and the debug endpoint's tokens (e.g. openssl rand -hex 16)`)
    }
    if (!isLoopback(host) && this.init.token === undefined) {
      throw new ConfigError(`the MCP endpoint on ${this.init.listen} is reachable beyond this host: give a token (--http-token or AGENTMESH_MCP_TOKEN) or bind it to 127.0.0.1`)
    }
    this.http ??= this.init.http ?? new HttpServer(host, port)
    const base = await this.http.open(this.mount)
    this.open = true
    const bound = Number(base.slice(base.lastIndexOf(':') + 1))
    const hostPart = host.includes(':') ? `[${host}]` : host
    this.url = `${base}${MCP_PATH}`
    // The names a page on this host could use for it; any other Host is a rebound name.
    const names = new Set([hostPart, 'localhost', '127.0.0.1', '[::1]'])
    this.hosts = new Set([...names].map(n => `${n}:${bound}`))
    this.origins = new Set([...this.hosts].map(h => `http://${h}`))
    return this.url
  }

  async stop (): Promise<void> {
    if (!this.open) return
    this.open = false
    await this.http?.close(this.mount)
  }

  private authorised (req: IncomingMessage): boolean {
    if (this.token === undefined) return true
    return this.token.matches(BearerToken.given(req))
  }

  /**
   * The card and the catalog, to any GET (HEAD, OPTIONS for a preflight); true when `path` is one
   * of theirs. Bound to a wildcard address, the URL they give is the one the client used (Host).
   */
  private discovery (req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (path !== CARD_PATH && path !== WELL_KNOWN_CARD && path !== WELL_KNOWN_CATALOG) return false
    if (req.method === 'OPTIONS') { res.writeHead(204, PUBLIC_HEADERS); res.end(); return true }
    if (req.method !== 'GET' && req.method !== 'HEAD') { sendJson(res, 405, { error: 'method not allowed: GET' }, { allow: 'GET', 'access-control-allow-origin': '*' }); return true }
    const { host } = splitHostPort(this.init.listen)
    const given = req.headers.host ?? ''
    const wildcard = host === '0.0.0.0' || host === '::' || host === '[::]'
    const endpoint = wildcard && /^[\w.:[\]-]{1,255}$/.test(given) ? `http://${given}${MCP_PATH}` : this.url
    const body = path === WELL_KNOWN_CATALOG ? serverCatalog(`${endpoint}${SERVER_CARD_SUFFIX}`) : serverCard(endpoint, this.token !== undefined)
    const text = JSON.stringify(body)
    // The card's own media type, as the extension asks, unless the client said it reads only plain JSON.
    const type = path !== WELL_KNOWN_CATALOG && (req.headers.accept ?? '').includes(SERVER_CARD_TYPE) ? SERVER_CARD_TYPE : 'application/json'
    res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(text), ...PUBLIC_HEADERS })
    res.end(req.method === 'HEAD' ? undefined : text)
    return true
  }

  private async serve (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://mcp').pathname
    if (this.discovery(req, res, path)) return
    if (path !== MCP_PATH) { sendJson(res, 404, { error: `not found: the MCP endpoint is ${MCP_PATH}` }); return }
    if (!this.authorised(req)) { sendJson(res, 401, rpcError(-32001, 'unauthorized: send Authorization: Bearer <token>'), { 'www-authenticate': 'Bearer' }); return }
    if (this.token === undefined) {
      const origin = req.headers.origin
      if (!this.hosts.has(req.headers.host ?? '') || (origin !== undefined && !this.origins.has(origin))) {
        sendJson(res, 403, rpcError(-32000, 'forbidden: Host or Origin names another site'))
        return
      }
    }
    if (req.method !== 'POST') {
      sendJson(res, 405, rpcError(-32000, 'method not allowed: this server is stateless, send each JSON-RPC message in a POST'), { allow: 'POST' })
      return
    }
    if (this.inFlight >= MAX_HTTP_IN_FLIGHT) { sendJson(res, 503, rpcError(-32000, 'busy: too many requests at once, retry later'), { 'retry-after': '1' }); return }
    this.inFlight++
    const handle = this.init.mcp.server({ subscribe: false })
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, maxRequestBodySize: MAX_HTTP_BODY_BYTES })
    res.once('close', () => {
      this.inFlight--
      handle.close()
      void transport.close().catch(() => {})
      void handle.server.close().catch(() => {})
    })
    try {
      await handle.server.connect(transport)
      await transport.handleRequest(req, res)
    } catch (err) {
      this.init.mcp.context.log.warn({ err }, 'mcp http request failed')
      if (!res.headersSent) sendJson(res, 500, rpcError(-32603, 'internal error (see the node\'s log)'))
      else res.destroy()
    }
  }
}
