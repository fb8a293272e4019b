/**
 * The gateway's own refusals, before or instead of an operation: each is an AgentMeshError with
 * the spec's code (MSG001 for a request that is wrong, SEC001/SEC002 for one that is not allowed,
 * RATE001 for one over a limit) and the HTTP status that says which, so a client reads the same
 * `{ error: { code, name, message } }` body whatever refused it.
 */
import type { ServerResponse } from 'node:http'
import { AgentMeshError, type ErrorCode } from '../../protocols/core/errors.js'
import { errorBody, httpStatusOf } from '../operations/errors.js'
import { BodyTooLargeError, sendJson } from './body.js'

export class GatewayRefusal extends AgentMeshError {
  constructor (code: ErrorCode, readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(code, message)
  }
}

/** No route at this path (404). */
export class NotFoundError extends GatewayRefusal {
  constructor (path: string) { super('MSG001', 404, `no route ${path} (GET /v1/openapi.json lists the routes)`) }
}

/** The path has routes, but not for this method (405, with Allow). */
export class MethodNotAllowedError extends GatewayRefusal {
  constructor (method: string, path: string, allow: string[]) {
    super('MSG001', 405, `${method} is not allowed on ${path} (allowed: ${allow.join(', ')})`, { allow: allow.join(', ') })
  }
}

/** A body that is not declared as JSON (415): browsers may send other types without asking first. */
export class UnsupportedMediaTypeError extends GatewayRefusal {
  constructor (type: string) { super('MSG001', 415, `a request body must be JSON (content-type: application/json), got "${type}"`) }
}

/** No token, or the wrong one (401). */
export class UnauthorizedError extends GatewayRefusal {
  constructor () { super('SEC001', 401, 'this gateway wants its token: Authorization: Bearer <token> (or ?token= where headers cannot be set)', { 'www-authenticate': 'Bearer' }) }
}

/** A browser page of an origin the gateway does not allow, or a Host that is not this loopback gateway's (403). */
export class ForbiddenOriginError extends GatewayRefusal {
  constructor (message: string) { super('SEC002', 403, message) }
}

/** GET /v1/ws without the WebSocket upgrade (426). */
export class UpgradeRequiredError extends GatewayRefusal {
  constructor () { super('MSG001', 426, '/v1/ws speaks WebSocket only (Upgrade: websocket)', { upgrade: 'websocket' }) }
}

/** Every WebSocket slot is taken (503). */
export class TooManyConnectionsError extends GatewayRefusal {
  constructor (max: number) { super('RATE001', 503, `this gateway already serves ${max} WebSocket connections (gateway.wsMaxConnections)`, { 'retry-after': '5' }) }
}

/** The HTTP status of any error a gateway request ends with. */
export function statusOf (err: unknown): number {
  if (err instanceof GatewayRefusal) return err.status
  if (err instanceof BodyTooLargeError) return 413
  return httpStatusOf(err)
}

/** Answers an error as `{ error: { code, name, message } }` with its status (and its headers); returns the status. */
export function fail (res: ServerResponse, err: unknown, correlationId?: string): number {
  const status = statusOf(err)
  if (res.headersSent) { res.destroy(); return status }
  if (err instanceof GatewayRefusal) for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v)
  // The client's side of an abort (it went away) needs no body; 499 is what it is counted as.
  sendJson(res, status, errorBody(err), correlationId)
  return status
}
