/**
 * A2A's JSON-RPC binding on node:http: the SDK's JsonRpcTransportHandler routes the method
 * (an unknown one is JSON-RPC's -32601 method-not-found) and shapes the answers; this reads the
 * body within the gateway's bound, checks the A2A-Version header against the card, and writes
 * a single answer as JSON or a stream as server-sent events (sse.ts). As the SDK's own Express
 * binding does: errors are HTTP 200 with a JSON-RPC error, except an internal one (500).
 */
import { JsonRpcTransportHandler, ServerCallContext, validateVersion } from '@a2a-js/sdk/server'
import { A2A_VERSION_HEADER } from '@a2a-js/sdk'
import { A2A_ERROR_CODE, ContentTypeNotSupportedError } from '@a2a-js/sdk/errors'
import type { GatewayCaller, GatewayContext, GatewayRequest } from '../mount.js'
import { BodyTooLargeError, readJson } from '../body.js'
import { SIGNAL, type MeshA2AHandler } from './handler.js'
import { streamSse } from './sse.js'

export interface JsonRpcBinding {
  handler: MeshA2AHandler
  transport: JsonRpcTransportHandler
  keepAliveMs: number
  closing: AbortSignal
}

type Id = string | number | null

/**
 * The call's context for the SDK: who calls, the version asked, and a signal that fires when the
 * client goes. The version is the A2A-Version header or, without one, the request parameter of
 * that name (A2A 1.0, 3.6.1: "Clients MAY provide the A2A-Version as a request parameter"); with
 * neither it is none, which the SDK reads as 0.3 (3.6.2).
 */
export function callContext (r: GatewayRequest, signal: AbortSignal): ServerCallContext {
  const version = r.req.headers[A2A_VERSION_HEADER.toLowerCase()] ?? versionParameter(r.url)
  return new ServerCallContext({
    user: userOf(r.caller),
    ...(typeof version === 'string' && version !== '' ? { requestedVersion: version } : {}),
    state: new Map<string, unknown>([['headers', r.req.headers], [SIGNAL, signal]])
  })
}

/** The A2A-Version request parameter, its name matched as a header's is (in any case). */
function versionParameter (url: URL): string | undefined {
  const name = A2A_VERSION_HEADER.toLowerCase()
  for (const [k, v] of url.searchParams) if (k.toLowerCase() === name) return v
  return undefined
}

function userOf (caller: GatewayCaller): { isAuthenticated: boolean, userName: string } {
  return { isAuthenticated: caller.via === 'token', userName: caller.label }
}

/** A signal that fires when the response closes before it finished (the client went) or the gateway stops. */
export function goneSignal (r: GatewayRequest, closing: AbortSignal): AbortSignal {
  const gone = new AbortController()
  r.res.once('close', () => { if (!r.res.writableFinished) gone.abort() })
  return AbortSignal.any([gone.signal, closing])
}

export async function serveJsonRpc (g: GatewayContext, b: JsonRpcBinding, r: GatewayRequest): Promise<number> {
  const { req, res } = r
  const send = (status: number, body: unknown): number => {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-correlation-id': r.correlationId })
    res.end(text)
    return status
  }
  const fail = (id: Id, err: unknown, status?: number): number => {
    const error = JsonRpcTransportHandler.mapToJSONRPCError(err)
    return send(status ?? (error.code === A2A_ERROR_CODE.INTERNAL_ERROR ? 500 : 200), { jsonrpc: '2.0', id, error })
  }
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST')
    return send(405, { jsonrpc: '2.0', id: null, error: { code: A2A_ERROR_CODE.INVALID_REQUEST, message: 'A2A JSON-RPC requests are POSTed' } })
  }
  const ct = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
  if (ct !== '' && ct !== 'application/json' && ct !== 'application/a2a+json') {
    return fail(null, new ContentTypeNotSupportedError(`content type "${ct}" is not accepted: send application/json`))
  }
  let body: unknown
  try {
    body = await readJson(req, g.maxBodyBytes)
  } catch (err) {
    if (err instanceof BodyTooLargeError) return send(413, { jsonrpc: '2.0', id: null, error: { code: A2A_ERROR_CODE.INVALID_REQUEST, message: err.message, data: [{ '@type': 'agentmesh', code: err.code }] } })
    return send(200, { jsonrpc: '2.0', id: null, error: { code: A2A_ERROR_CODE.PARSE_ERROR, message: (err as Error).message } })
  }
  const id: Id = isId((body as { id?: unknown })?.id) ? (body as { id: Id }).id : null
  // JSON-RPC 2.0 section 4: a request is an object with jsonrpc "2.0", a string method and an id
  // that is a string, a number or null; anything else is Invalid Request (-32600), not a call
  // whose params are wrong (the SDK's transport would say -32602).
  const invalid = invalidRequest(body)
  if (invalid !== undefined) return send(200, { jsonrpc: '2.0', id, error: { code: A2A_ERROR_CODE.INVALID_REQUEST, message: `invalid JSON-RPC request: ${invalid}` } })
  const signal = goneSignal(r, b.closing)
  const context = callContext(r, signal)
  try {
    validateVersion(context.requestedVersion, await b.handler.getAgentCard(), 'JSONRPC')
  } catch (err) {
    return fail(id, err)
  }
  const answer = await b.transport.handle((body ?? '') as Record<string, unknown>, context)
  if (!isAsyncGenerator(answer)) {
    if (answer.error !== undefined && (answer.error as { code?: number }).code === A2A_ERROR_CODE.INTERNAL_ERROR) g.log.warn({ correlation_id: r.correlationId, error: answer.error }, 'a2a call failed')
    return send(200, answer)
  }
  return await streamSse(answer, {
    res,
    correlationId: r.correlationId,
    keepAliveMs: b.keepAliveMs,
    signal,
    errorEvent: (err) => ({ jsonrpc: '2.0', id, error: JsonRpcTransportHandler.mapToJSONRPCError(err) }),
    answerError: (err) => fail(id, err, 200)
  })
}

function invalidRequest (body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'expected a JSON object (batches are not served)'
  const b = body as Record<string, unknown>
  if (b.jsonrpc !== '2.0') return 'jsonrpc must be "2.0"'
  if (typeof b.method !== 'string' || b.method === '') return 'method must be a non-empty string'
  if ('id' in b && !isId(b.id)) return 'id must be a string, a number or null'
  return undefined
}

function isId (x: unknown): x is Id {
  return typeof x === 'string' || (typeof x === 'number' && Number.isInteger(x)) || x === null
}

function isAsyncGenerator (x: unknown): x is AsyncGenerator<unknown> {
  return typeof (x as AsyncGenerator<unknown>)?.[Symbol.asyncIterator] === 'function'
}
