/**
 * GraphQL over HTTP (the GraphQL-over-HTTP draft): POST a JSON body, or GET with the parameters
 * in the URL (queries only: a GET must not change anything). A client that accepts
 * `application/graphql-response+json` gets that type and 4xx for a request that was never
 * executed; one that asks for `application/json` gets 200 for a document that does not parse
 * or validate, with the errors in the body, as the draft says for the older type. A subscription asked with `Accept: text/event-stream` streams
 * its results as server-sent events (`event: next`, then `event: complete`, as graphql-sse's
 * distinct-connections mode); graphql-ws on the same path is the other way (ws.ts).
 */
import type { ServerResponse } from 'node:http'
import { GraphQLError, execute, subscribe, type ExecutionResult, type GraphQLSchema } from 'graphql'
import type { GatewayContext, GatewayRequest } from '../mount.js'
import { BodyTooLargeError, readJson } from '../body.js'
import { formatError, codeOf, INTERNAL } from './errors.js'
import { prepare, readParams, type GraphQLParams } from './prepare.js'
import type { QueryLimits } from './limits.js'
import type { GraphQLContext } from './schema.js'

export interface HttpBinding {
  schema: GraphQLSchema
  limits: QueryLimits
  keepAliveMs: number
  /** Aborts every request and stream still open (the gateway stops). */
  closing: AbortSignal
}

const RESPONSE_TYPE = 'application/graphql-response+json'

/** Answers one request on the GraphQL path; resolves with the status sent. */
export async function serveHttp (g: GatewayContext, b: HttpBinding, r: GatewayRequest): Promise<number> {
  const { req, res } = r
  const accept = String(req.headers.accept ?? '')
  const type = accept.includes(RESPONSE_TYPE) ? RESPONSE_TYPE : 'application/json'
  const send = (status: number, body: unknown): number => {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', 'x-correlation-id': r.correlationId })
    res.end(text)
    return status
  }
  // A document that does not parse or validate is a 200 for an application/json client (the draft's rule for that type).
  const refuse = (status: number, errors: readonly GraphQLError[], documentError = false): number =>
    send(documentError && type !== RESPONSE_TYPE ? 200 : status, { errors: errors.map(e => formatError(e)) })

  if (req.method !== 'GET' && req.method !== 'POST') {
    res.setHeader('allow', 'GET, POST')
    return refuse(405, [new GraphQLError(`method ${String(req.method)} is not allowed here: GET or POST`, { extensions: { code: 'MSG001' } })])
  }
  let raw: unknown
  if (req.method === 'POST') {
    const ct = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
    if (ct !== 'application/json' && ct !== RESPONSE_TYPE) {
      return refuse(415, [new GraphQLError(`content type "${ct}" is not accepted: send application/json`, { extensions: { code: 'MSG002' } })])
    }
    try {
      raw = await readJson(req, g.maxBodyBytes)
    } catch (err) {
      return refuse(err instanceof BodyTooLargeError ? 413 : 400, [new GraphQLError((err as Error).message, { extensions: { code: 'MSG002' } })])
    }
  } else {
    const p = r.url.searchParams
    let variables: unknown
    try {
      variables = p.has('variables') ? JSON.parse(p.get('variables') as string) : undefined
    } catch {
      return refuse(400, [new GraphQLError('"variables" in the URL is not JSON', { extensions: { code: 'MSG002' } })])
    }
    raw = { query: p.get('query') ?? undefined, variables, operationName: p.get('operationName') ?? undefined }
  }
  const params = readParams(raw)
  if (params instanceof GraphQLError) return refuse(400, [params])
  const prepared = prepare(b.schema, b.limits, params)
  if (!prepared.ok) return refuse(400, prepared.errors, true)
  const kind = prepared.operation.operation
  if (req.method === 'GET' && kind !== 'query') {
    res.setHeader('allow', 'POST')
    return refuse(405, [new GraphQLError(`a ${kind} is sent with POST`, { extensions: { code: 'MSG001' } })])
  }

  // The client going away (or the gateway stopping) ends what runs for it.
  const gone = new AbortController()
  const onClose = (): void => { if (!res.writableFinished) gone.abort() }
  res.once('close', onClose)
  const signal = AbortSignal.any([gone.signal, b.closing])
  const contextValue: GraphQLContext = { ops: g.ops, signal }
  const args = { schema: b.schema, document: prepared.document, variableValues: params.variables, operationName: params.operationName, contextValue }

  if (kind === 'subscription') {
    if (!accept.includes('text/event-stream')) {
      return refuse(400, [new GraphQLError('a subscription runs over graphql-ws (a WebSocket to this path) or with "Accept: text/event-stream"', { extensions: { code: 'MSG001' } })])
    }
    const source = await subscribe(args)
    if (!isAsyncIterable(source)) return refuse(source.data == null ? 400 : 200, source.errors ?? [])
    return await stream(g, b, r, source, signal, params)
  }
  const result = await execute(args) as ExecutionResult
  logInternal(g, r, result.errors, params)
  const status = result.data == null && result.errors !== undefined && type === RESPONSE_TYPE ? 400 : 200
  return send(status, body(result))
}

/** A subscription's results as server-sent events until it ends, the client goes, or the gateway stops. */
async function stream (
  g: GatewayContext, b: HttpBinding, r: GatewayRequest, source: AsyncGenerator<ExecutionResult>, signal: AbortSignal, params: GraphQLParams
): Promise<number> {
  const res: ServerResponse = r.res
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no', 'x-correlation-id': r.correlationId })
  res.flushHeaders()
  const keepAlive = setInterval(() => { res.write(': keep-alive\n\n') }, b.keepAliveMs)
  const stop = (): void => { void source.return(undefined) }
  signal.addEventListener('abort', stop, { once: true })
  try {
    for await (const result of source) {
      logInternal(g, r, result.errors, params)
      // A client that does not read: the socket's buffer fills and write() says so; waiting for
      // 'drain' holds the source, whose own bound (the topic watcher's) then drops the oldest.
      if (!res.write(`event: next\ndata: ${JSON.stringify(body(result))}\n\n`)) await drained(res, signal)
      if (signal.aborted) break
    }
    if (!signal.aborted) res.end('event: complete\ndata:\n\n')
  } catch (err) {
    g.log.warn({ err, correlation_id: r.correlationId }, 'graphql subscription stream failed')
  } finally {
    clearInterval(keepAlive)
    signal.removeEventListener('abort', stop)
    if (!res.writableEnded) res.end()
  }
  return 200
}

async function drained (res: ServerResponse, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const done = (): void => { res.off('drain', done); signal.removeEventListener('abort', done); resolve() }
    res.once('drain', done)
    signal.addEventListener('abort', done, { once: true })
  })
}

function logInternal (g: GatewayContext, r: GatewayRequest, errors: readonly GraphQLError[] | undefined, params: GraphQLParams): void {
  for (const e of errors ?? []) {
    if (codeOf(e) === INTERNAL) g.log.error({ err: e.originalError ?? e, correlation_id: r.correlationId, operation: params.operationName }, 'graphql resolver failed')
  }
}

/** A result as sent: errors formatted with their codes. */
function body (result: ExecutionResult): { errors?: unknown[], data?: unknown } {
  return {
    ...(result.errors !== undefined ? { errors: result.errors.map(e => formatError(e)) } : {}),
    ...(result.data !== undefined ? { data: result.data } : {})
  }
}

function isAsyncIterable<T> (x: unknown): x is AsyncGenerator<T> {
  return typeof (x as AsyncIterable<T>)?.[Symbol.asyncIterator] === 'function'
}
