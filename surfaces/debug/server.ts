/**
 * The node's HTTP debug endpoint. Bound to loopback unless told otherwise; bound anywhere else
 * it demands a bearer token, compared in constant time. Routes live in one table so that a new
 * one (topics, metrics, the coordinator) is one line: '/path' answers GET (and HEAD), '/path/*'
 * GET under that prefix (`rest` is the remainder), 'POST /path' a POST with a JSON body. A mount
 * on the surfaces' HTTP server (surfaces/http): its own, or shared with the gateway or the MCP
 * endpoint on the same host:port, where it answers every path they do not own.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ConfigError, ValidationError } from '../../protocols/core/errors.js'
import { BearerToken } from '../http/auth.js'
import { isLoopback, splitHostPort } from '../http/listen.js'
import { HttpServer, type HttpMount } from '../http/server.js'
import { EVENT_STREAM_MAX_CLIENTS } from '../http/event-stream.js'

export interface DebugRequest {
  url: URL
  req: IncomingMessage
  /** What follows the prefix of a '/path/*' route, decoded. */
  rest?: string
  /** A POST's JSON body (an empty body is undefined); bad JSON is a 400 (MSG001). */
  body: () => Promise<unknown>
}

/** Thrown by a route for an answer other than 200: its status and JSON body. */
export class HttpError extends Error {
  constructor (readonly status: number, readonly body: Record<string, unknown>) {
    super(typeof body.error === 'string' ? body.error : `HTTP ${status}`)
  }
}

/** A POST body larger than this is refused (413): ids to replay or purge are small. */
const MAX_BODY_BYTES = 1024 * 1024

/** A route that takes over the response (a stream of events). */
export class Takeover {
  constructor (readonly handle: (req: IncomingMessage, res: ServerResponse) => void) {}
}

/** A route's answer sent as it is (Prometheus text, a page) rather than as JSON. */
export class RawBody {
  readonly contentType: string
  readonly body: string
  constructor (r: { contentType: string, body: string }) {
    this.contentType = r.contentType
    this.body = r.body
  }
}
export type Route = (r: DebugRequest) => unknown | Promise<unknown>

export interface DebugServerInit {
  /** host:port; port 0 picks a free one. */
  listen: string
  token?: string
  routes: Record<string, Route>
  /** The server to mount on (shared with the other surfaces on its host:port, surfaces/http); else one of its own. */
  http?: HttpServer
}

export { isLoopback, splitHostPort } from '../http/listen.js'

export class DebugServer {
  private readonly init: DebugServerInit
  private readonly http: HttpServer
  private readonly token?: BearerToken
  private readonly mount: HttpMount
  private open = false
  url = ''

  constructor (init: DebugServerInit) {
    this.init = init
    if (init.token !== undefined) this.token = new BearerToken(init.token)
    const { host, port } = splitHostPort(init.listen)
    this.http = init.http ?? new HttpServer(host, port)
    this.mount = {
      request: (req, res) => { void this.serve(req, res) },
      listenError: (err) => new ConfigError(`debug endpoint cannot listen on ${this.init.listen}: ${err.message}`, { cause: err }),
      // The live page's /events streams, held open up to their own limit.
      streams: EVENT_STREAM_MAX_CLIENTS
    }
  }

  async start (): Promise<string> {
    if (this.open) return this.url
    if (!isLoopback(this.http.host) && this.init.token === undefined) {
      throw new ConfigError(`debug endpoint on ${this.init.listen} is reachable beyond this host: set debugToken (--debug-token) or bind it to 127.0.0.1`)
    }
    this.url = await this.http.open(this.mount)
    this.open = true
    return this.url
  }

  async stop (): Promise<void> {
    if (!this.open) return
    this.open = false
    await this.http.close(this.mount)
  }

  private authorised (req: IncomingMessage, url: URL): boolean {
    if (this.token === undefined) return true
    // A browser's EventSource cannot send headers: the live page passes ?token= instead.
    return this.token.matches(BearerToken.given(req, url))
  }

  private async serve (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://debug')
    if (!this.authorised(req, url)) { send(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' }); return }
    const found = this.route(req.method ?? 'GET', url.pathname)
    if (found === 'method') { send(res, 405, { error: 'method not allowed' }); return }
    if (found === undefined) { send(res, 404, { error: 'not found', routes: Object.keys(this.init.routes) }); return }
    // A browser page may POST to a loopback port without asking (a "simple" request), but not
    // with a JSON content type: that needs a CORS preflight, which this server never grants.
    if (req.method === 'POST' && !/^application\/json\b/.test(req.headers['content-type'] ?? '')) {
      send(res, 415, { error: { code: 'MSG001', name: 'ValidationError', message: 'a POST body must be JSON (content-type: application/json)' } })
      return
    }
    try {
      const result = await found.route({ url, req, ...(found.rest !== undefined ? { rest: found.rest } : {}), body: async () => await readJson(req) })
      if (result instanceof Takeover) { result.handle(req, res); return }
      if (result instanceof RawBody) {
        res.writeHead(200, { 'content-type': result.contentType, 'cache-control': 'no-store' })
        res.end(result.body)
        return
      }
      send(res, 200, result)
    } catch (err) {
      if (err instanceof HttpError) send(res, err.status, err.body)
      else if (err instanceof ValidationError) send(res, 400, { error: err.toJSON() })
      else send(res, 500, { error: (err as Error).message })
    }
  }

  /** The route for a method and path; 'method' when the path has routes for other methods only. */
  private route (method: string, path: string): { route: Route, rest?: string } | 'method' | undefined {
    const routes = this.init.routes
    const get = method === 'GET' || method === 'HEAD'
    const exact = routes[get ? path : `${method} ${path}`]
    if (exact !== undefined) return { route: exact }
    if (get) {
      for (const [key, route] of Object.entries(routes)) {
        const prefix = key.endsWith('/*') && !key.includes(' ') ? key.slice(0, -1) : undefined
        if (prefix === undefined || !path.startsWith(prefix) || path.length === prefix.length) continue
        try { return { route, rest: decodeURIComponent(path.slice(prefix.length)) } } catch { return undefined }
      }
    }
    const elsewhere = routes[path] !== undefined || Object.keys(routes).some(k => k.endsWith(` ${path}`))
    return elsewhere ? 'method' : undefined
  }
}

async function readJson (req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength
    if (size > MAX_BODY_BYTES) throw new HttpError(413, { error: `body over ${MAX_BODY_BYTES} bytes` })
    chunks.push(chunk as Buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return undefined
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new ValidationError(`the body is not JSON: ${(err as Error).message}`)
  }
}

function send (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, null, 2)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers })
  res.end(text)
}
