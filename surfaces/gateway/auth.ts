/**
 * Who may use the gateway, checked before any mount sees a request. The debug endpoint's rules
 * (surfaces/debug/server.ts): on loopback no token is needed, anywhere else `gateway.token` is, shown
 * as `Authorization: Bearer <token>` (or `?token=` where a client cannot set headers: a browser's
 * WebSocket) and compared in constant time.
 *
 * Two more rules, because a gateway acts on the mesh where a debug endpoint mostly reads it:
 * - a browser page may only call it from an origin in `gateway.origins` (or its own): any web
 *   page a user opens could otherwise POST to a loopback gateway, or open its WebSocket, since
 *   neither needs a CORS preflight;
 * - a token-less (loopback) gateway answers only requests whose Host is a loopback name, so a
 *   page that rebinds its own DNS name to 127.0.0.1 cannot reach it as same-origin.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createHash, timingSafeEqual } from 'node:crypto'
import { isLoopback } from '../http/listen.js'
import { ForbiddenOriginError, UnauthorizedError } from './errors.js'
import type { GatewayCaller } from './mount.js'

/** What a browser may send and read across origins (an allowed one's). */
const CORS_METHODS = 'GET, POST, OPTIONS'
const CORS_HEADERS = 'authorization, content-type, x-correlation-id, traceparent, tracestate'
const CORS_EXPOSE = 'x-correlation-id, x-agentmesh-agent, location'
/** How long a browser may keep a preflight's answer. */
const CORS_MAX_AGE_S = '600'

export class GatewayAuth {
  private readonly tokenDigest?: Buffer
  private readonly origins: ReadonlySet<string>

  constructor (init: { token?: string, origins: readonly string[] }) {
    if (init.token !== undefined) this.tokenDigest = digest(init.token)
    this.origins = new Set(init.origins)
  }

  /**
   * The caller, or a refusal thrown (UnauthorizedError, ForbiddenOriginError). With `res`, a CORS
   * preflight of an allowed origin is answered here ('answered'), and an allowed origin's
   * answers get their CORS headers.
   */
  check (req: IncomingMessage, url: URL, res?: ServerResponse): GatewayCaller | 'answered' {
    const host = req.headers.host ?? ''
    if (this.tokenDigest === undefined && !isLoopback(hostName(host))) {
      throw new ForbiddenOriginError(`this gateway has no token and answers loopback names only, not Host "${host.slice(0, 100)}"`)
    }
    const origin = req.headers.origin
    if (origin !== undefined) {
      const own = origin === `http://${host}`
      if (!own && !this.origins.has(origin)) {
        throw new ForbiddenOriginError(`browser pages from ${origin.slice(0, 200)} may not use this gateway (gateway.origins lists those that may)`)
      }
      if (!own && res !== undefined) {
        res.setHeader('access-control-allow-origin', origin)
        res.setHeader('vary', 'Origin')
        res.setHeader('access-control-expose-headers', CORS_EXPOSE)
        if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
          res.writeHead(204, {
            'access-control-allow-methods': CORS_METHODS,
            'access-control-allow-headers': CORS_HEADERS,
            'access-control-max-age': CORS_MAX_AGE_S
          })
          res.end()
          return 'answered'
        }
      }
    }
    if (this.tokenDigest === undefined) return { via: 'loopback', label: req.socket.remoteAddress ?? 'loopback' }
    const h = req.headers.authorization ?? ''
    const given = h.startsWith('Bearer ') ? h.slice(7) : (url.searchParams.get('token') ?? '')
    // Digests have one length whatever the token's, so the comparison leaks neither.
    if (!timingSafeEqual(digest(given), this.tokenDigest)) throw new UnauthorizedError()
    return { via: 'token', label: 'token' }
  }
}

/** The host of a Host header, without its port (and without the brackets of an IPv6 address). */
function hostName (host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'))
  const i = host.lastIndexOf(':')
  return i >= 0 ? host.slice(0, i) : host
}

function digest (s: string): Buffer {
  return createHash('sha256').update(s).digest()
}
