/**
 * The REST mount: everything under /v1 that is not the WebSocket upgrade, routed by the table in
 * routes.ts. A path with no route is 404, a path whose routes want another method 405 with
 * Allow; parameters, query and body are checked against their schemas before anything runs
 * (MSG001 / MSG002, 400), a body must be declared JSON (415) and fit gateway.maxBodyBytes (413).
 */
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { setMaxListeners } from 'node:events'
import type { z } from 'zod'
import { ValidationError } from '../../protocols/core/errors.js'
import { parseInput } from '../operations/index.js'
import { readJson, sendJson } from './body.js'
import { MethodNotAllowedError, NotFoundError, UnsupportedMediaTypeError, fail } from './errors.js'
import type { GatewayContext, GatewayRequest, Mount, MountFactory } from './mount.js'
import { openApiDocument } from './openapi.js'
import { ROUTES, Reply, type Route } from './routes.js'
import { nextTurn } from './turn.js'

/** A route ready to match: its path's segments, its label, and its query's value when none is given (parsed once). */
interface Compiled { route: Route, segments: string[], label: string, noQuery?: Record<string, unknown> }

type Match = { compiled: Compiled, params: Record<string, string> } | { allow: string[] } | undefined

/** A path's segments, each decoded; undefined if one does not decode. */
function segmentsOf (path: string): string[] | undefined {
  try {
    return path.split('/').slice(1).map(decodeURIComponent)
  } catch {
    return undefined
  }
}

export class RestMount implements Mount {
  private readonly table: Compiled[]
  private document?: Record<string, unknown>

  constructor (private readonly ctx: GatewayContext, routes: readonly Route[] = ROUTES) {
    this.table = routes.map(route => {
      const empty = route.query?.safeParse({})
      return { route, segments: route.path.split('/').slice(1), label: `${route.method} ${route.path}`, ...(empty?.success === true ? { noQuery: Object.freeze(empty.data) } : {}) }
    })
  }

  async request (r: GatewayRequest): Promise<boolean> {
    const { req, res, url } = r
    const path = url.pathname
    if (path !== '/v1' && !path.startsWith('/v1/')) return false
    try {
      const found = this.match(req.method ?? 'GET', path)
      if (found === undefined) throw new NotFoundError(path)
      if ('allow' in found) {
        if (req.method === 'OPTIONS') {
          res.writeHead(204, { allow: found.allow.join(', ') }).end()
          r.route = 'OPTIONS'
          this.ctx.count(r.route, 204)
          return true
        }
        throw new MethodNotAllowedError(req.method ?? '?', path, found.allow)
      }
      const { compiled, params } = found
      r.route = compiled.label
      const route = compiled.route
      const checked: Record<string, string> = {}
      for (const [name, schema] of Object.entries(route.params ?? {})) checked[name] = String(parseInput(schema, params[name], `path parameter ${name}`))
      const query = route.query === undefined ? {} : url.search === '' && compiled.noQuery !== undefined ? compiled.noQuery : this.query(route.query, url)
      const body = route.body !== undefined ? await this.body(req, route) : undefined
      // Into the mesh with the other requests read in this turn (turn.ts).
      await nextTurn()
      const out = await route.run({
        ops: this.ctx.ops,
        params: checked,
        query: query as Record<string, any>,
        body,
        // Made for the routes that pass it on.
        get signal () { return abortedWhenGone(req.socket) },
        correlationId: r.correlationId,
        document: () => (this.document ??= openApiDocument(ROUTES, this.ctx.baseUrl()))
      })
      const reply = out instanceof Reply ? out : new Reply(route.status ?? 200, out)
      for (const [k, v] of Object.entries(reply.headers)) res.setHeader(k, v)
      this.ctx.count(compiled.label, reply.status)
      sendJson(res, reply.status, reply.body ?? null, r.correlationId)
    } catch (err) {
      r.route ??= this.labelOf(req.method ?? 'GET', path)
      this.ctx.count(r.route, fail(res, err, r.correlationId))
    }
    return true
  }

  async close (): Promise<void> {}

  /** The route for a method and path, the methods the path allows if none is for this one, or undefined. */
  match (method: string, path: string): Match {
    const segments = segmentsOf(path)
    if (segments === undefined) return undefined
    const want = method === 'HEAD' ? 'GET' : method
    const allow = new Set<string>()
    for (const compiled of this.table) {
      const params = bind(compiled.segments, segments)
      if (params === undefined) continue
      if (compiled.route.method === want) return { compiled, params }
      allow.add(compiled.route.method)
    }
    if (allow.size === 0) return undefined
    if (allow.has('GET')) allow.add('HEAD')
    return { allow: [...allow, 'OPTIONS'] }
  }

  /** The query's values (all but the token), checked against the route's schema. */
  private query (schema: z.ZodObject, url: URL): unknown {
    const { token: _token, ...given } = Object.fromEntries(url.searchParams)
    return parseInput(schema, given, 'query')
  }

  /** The route pattern a request is counted under (its own path is unbounded: never a label). */
  private labelOf (method: string, path: string): string {
    const m = this.match(method, path)
    return m !== undefined && 'compiled' in m ? m.compiled.label : m === undefined ? 'unmatched' : 'method not allowed'
  }

  private async body (req: IncomingMessage, route: Route): Promise<unknown> {
    const declared = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined
    const hasBody = declared === undefined ? req.headers['transfer-encoding'] !== undefined : declared > 0
    const type = req.headers['content-type'] ?? ''
    if (hasBody && !/^application\/([\w.+-]*\+)?json\s*(;|$)/i.test(type)) throw new UnsupportedMediaTypeError(type.slice(0, 100))
    const value = hasBody ? await readJson(req, this.ctx.maxBodyBytes) : undefined
    if (route.body === 'any') return value ?? null
    if (value === undefined) {
      if (route.bodyRequired === true) throw new ValidationError('body: this route wants a JSON body (GET /v1/openapi.json says which)')
      return undefined
    }
    if (route.bodyCheckedByRun === true) return value
    return parseInput(route.body as z.ZodType, value, 'body')
  }
}

/**
 * A signal that aborts when the client goes away before its answer: when its connection closes.
 * One per connection, not per request (a keep-alive connection carries one request at a time,
 * or a few pipelined, all gone with it): an AbortController costs Node 20 about 7 µs to make,
 * and the rpc request makes its own deadline's besides.
 */
const gone = new WeakMap<Socket, AbortSignal>()
function abortedWhenGone (socket: Socket): AbortSignal {
  let signal = gone.get(socket)
  if (signal === undefined) {
    const ac = new AbortController()
    // Each request in flight on the connection listens: pipelined ones may be more than the warning's 10.
    setMaxListeners(0, ac.signal)
    if (socket.destroyed) ac.abort()
    else socket.once('close', () => { ac.abort() })
    signal = ac.signal
    gone.set(socket, signal)
  }
  return signal
}

/** The path parameters if `segments` fit the pattern, else undefined. */
function bind (pattern: string[], segments: string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined
  const params: Record<string, string> = {}
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]
    if (p.startsWith('{') && p.endsWith('}')) {
      if (segments[i] === '') return undefined
      params[p.slice(1, -1)] = segments[i]
    } else if (p !== segments[i]) return undefined
  }
  return params
}

export const restMount: MountFactory = (ctx) => new RestMount(ctx)
