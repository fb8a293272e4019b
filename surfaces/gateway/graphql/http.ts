/**
 * GraphQL over HTTP by graphql-http (the GraphQL-over-HTTP draft: POST a JSON body, or GET for a
 * query; `application/graphql-response+json` or `application/json` and their status rules; 405,
 * 406, 415), and a request that accepts `text/event-stream` by graphql-sse in its distinct
 * connections mode (a stream per operation: `event: next` per result, then `event: complete`);
 * graphql-ws on the same path is the third way (ws.ts). Both libraries are fed the request built
 * here and answer a [body, init] pair written here. What is ours goes in through their hooks:
 * the body read up to the gateway's bound (413 past it) and parsed with the mesh's nesting bound
 * before either sees it; parsing and validation with the depth and field limits (prepare.ts, in
 * `onSubscribe`); errors with the spec's codes (errors.ts, `formatError` and `onNext`); the
 * context `{ ops, signal }`; INTERNAL errors logged. The writing is ours too: the correlation id,
 * `cache-control: no-store`, a stream's keep-alive comments and its back-pressure.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { GraphQLError, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql'
import { createHandler as createHttpHandler, parseRequestParams, type RequestParams } from 'graphql-http'
import { createHandler as createSseHandler } from 'graphql-sse'
import type { GatewayContext, GatewayRequest } from '../mount.js'
import { BodyTooLargeError, readJson } from '../body.js'
import { clientError, codeOf, INTERNAL } from './errors.js'
import { paramsOf, prepare } from './prepare.js'
import type { QueryLimits } from './limits.js'
import type { GraphQLContext } from './schema.js'

export interface HttpBinding {
  schema: GraphQLSchema
  limits: QueryLimits
  keepAliveMs: number
  /** Aborts every request and stream still open (the gateway stops). */
  closing: AbortSignal
}

/** What the handlers' hooks need of the request they serve (the libraries' request `context`). */
interface RequestContext {
  res: ServerResponse
  correlationId: string
  /** Aborted when the client goes away or the gateway stops: the GraphQL context's signal. */
  signal: AbortSignal
}

/** A library's answer: a body (a stream's events from graphql-sse) and its status and headers. */
type Answer<Body> = readonly [body: Body | null, init: { status: number, statusText: string, headers?: Record<string, string> }]

/** The GraphQL context as a type alias: the libraries take a context that is a record (an interface is not one). */
type Context = { [K in keyof GraphQLContext]: GraphQLContext[K] }

/** A request this way of asking cannot carry, refused before it runs. */
interface Refusal { status: number, errors: readonly GraphQLError[], allow?: string }

/** graphql-sse's own keep-alive comment, sent at once and every 12 seconds; ours is `keepAliveMs`'s. */
const LIBRARY_PING = ':\n\n'

/** The binding: answers one request on the GraphQL path and resolves with the status sent. */
export function httpBinding (g: GatewayContext, b: HttpBinding): (r: GatewayRequest) => Promise<number> {
  /** The operation parsed and validated with our limits, or why it is refused. */
  const operationArgs = (method: string, params: RequestParams, ctx: RequestContext, stream: boolean): ExecutionArgs & { contextValue: Context } | Refusal => {
    const prepared = prepare(b.schema, b.limits, paramsOf(params))
    if (!prepared.ok) return { status: 400, errors: prepared.errors }
    const kind = prepared.operation.operation
    // The draft: a GET must not change anything (a subscription over GET is an EventSource's
    // stream, as graphql-sse takes it). The libraries' own 405 bodies carry no code.
    if (method === 'GET' && kind === 'mutation') return { status: 405, allow: 'POST', errors: [new GraphQLError(`a ${kind} is sent with POST`, { extensions: { code: 'MSG001' } })] }
    if (kind === 'subscription' && !stream) {
      return { status: 400, errors: [new GraphQLError('a subscription runs over graphql-ws (a WebSocket to this path) or with "Accept: text/event-stream"', { extensions: { code: 'MSG001' } })] }
    }
    const contextValue: Context = { ops: g.ops, signal: ctx.signal }
    return { schema: b.schema, document: prepared.document, operationName: params.operationName, variableValues: params.variables, contextValue }
  }
  const refused = (x: Refusal): Answer<string> => [JSON.stringify({ errors: x.errors.map(clientError) }), {
    status: x.status, statusText: '', headers: { 'content-type': 'application/json; charset=utf-8', ...(x.allow !== undefined ? { allow: x.allow } : {}) }
  }]

  const http = createHttpHandler<IncomingMessage, RequestContext, Context>({
    schema: b.schema,
    // A document refused here is answered by graphql-http as the draft says: 400 for an
    // application/graphql-response+json client, 200 for an application/json one.
    onSubscribe: (req, params) => {
      const args = operationArgs(req.method, params, req.context, false)
      if (!('status' in args)) return args
      return args.status === 405 ? refused(args) : args.errors
    },
    onOperation: (req, args, result) => {
      logInternal(g, req.context.correlationId, result.errors, args.operationName)
      // No data: the operation never started (its variables did not fit). graphql-http answers
      // any result 200; the draft says a response without `data` is a request error (4xx for
      // application/graphql-response+json), which is how graphql-http answers a list of errors.
      if (!('data' in result) && result.errors !== undefined) return result.errors as unknown as ExecutionResult
    },
    formatError: clientError
  })

  const sse = createSseHandler<IncomingMessage, RequestContext, Context>({
    schema: b.schema,
    // No stream token: every request is its own stream (distinct connections mode); the single
    // connection mode's reservations are not offered.
    authenticate: () => undefined,
    onSubscribe: (req, params) => {
      const args = operationArgs(req.method, params, req.context, true)
      return 'status' in args ? refused(args) : args
    },
    // onSubscribe validated with our limits; graphql-sse would validate again with the specified rules alone.
    validate: () => [],
    onNext: async (_ctx, req, result) => {
      logInternal(g, req.context.correlationId, result.errors, undefined)
      // A client that does not read fills the socket's buffer: hold the source until it drains
      // (the source's own bound, the topic watcher's, then drops the oldest) rather than let
      // graphql-sse queue every result in memory.
      await room(req.context.res, req.context.signal)
      return result.errors === undefined ? result : { ...result, errors: result.errors.map(clientError) }
    }
  })

  return async (r) => {
    const { req, res } = r
    // The client going away (or the gateway stopping) ends what runs for it.
    const gone = new AbortController()
    res.once('close', () => { if (!res.writableFinished) gone.abort() })
    const context: RequestContext = { res, correlationId: r.correlationId, signal: AbortSignal.any([gone.signal, b.closing]) }

    // The body is read and parsed here, bounded; a POST that is not JSON is graphql-http's 415, unread.
    let body: Record<string, unknown> | null = null
    if (req.method === 'POST' && /^application\/json\s*(;|$)/i.test(String(req.headers['content-type'] ?? ''))) {
      let parsed: unknown
      try {
        parsed = await readJson(req, g.maxBodyBytes)
      } catch (err) {
        return send(r, refused({ status: err instanceof BodyTooLargeError ? 413 : 400, errors: [new GraphQLError((err as Error).message, { extensions: { code: 'MSG002' } })] }))
      }
      if (parsed !== undefined && (typeof parsed !== 'object' || parsed === null)) {
        return send(r, refused({ status: 400, errors: [new GraphQLError('the request must be a JSON object with "query"', { extensions: { code: 'MSG001' } })] }))
      }
      body = (parsed ?? null) as Record<string, unknown> | null
    }
    const request = { method: req.method ?? 'GET', url: req.url ?? '/', body, raw: req, context }

    if (!String(req.headers.accept ?? '').includes('text/event-stream')) return send(r, await http({ ...request, headers: req.headers }))
    // graphql-sse refuses a malformed request (no query, variables not an object) without a code;
    // graphql-http's parser makes the same checks first, and its refusal gets one.
    const checked = await parseRequestParams({ ...request, headers: req.headers }).catch((err: Error) => err)
    if (checked instanceof Error) return send(r, refused({ status: 400, errors: [clientError(checked)] }))
    if (Array.isArray(checked)) return send(r, checked as Answer<string>)
    const [events, init] = await sse({
      ...request,
      // graphql-sse takes a request as a stream only when its Accept is exactly text/event-stream; it is one (it accepts it).
      headers: { get: (key) => key === 'accept' ? 'text/event-stream' : [req.headers[key] ?? []].flat().join(', ') }
    })
    if (typeof events === 'string' || events === null) return send(r, [events, init])
    return await stream(g, b, r, events, init, context.signal)
  }
}

/** Writes a library's (or our) answer; a refusal graphql-http sends without a body (405, 406, 415) gets one with its code. */
function send (r: GatewayRequest, [body, init]: Answer<string>): number {
  let text = body
  const headers: Record<string, string> = { ...init.headers }
  if (text === null && init.status >= 400) {
    text = JSON.stringify({ errors: [{ message: init.statusText, extensions: { code: init.status === 415 ? 'MSG002' : 'MSG001' } }] })
    headers['content-type'] = 'application/json; charset=utf-8'
  }
  r.res.writeHead(init.status, { ...headers, 'content-length': Buffer.byteLength(text ?? ''), 'cache-control': 'no-store', 'x-correlation-id': r.correlationId })
  r.res.end(text ?? undefined)
  return init.status
}

/** graphql-sse's events written until the operation completes, the client goes, or the gateway stops. */
async function stream (
  g: GatewayContext, b: HttpBinding, r: GatewayRequest, events: AsyncGenerator<string, void>, init: Answer<unknown>[1], signal: AbortSignal
): Promise<number> {
  const { res } = r
  res.writeHead(init.status, { ...init.headers, 'cache-control': 'no-store', 'x-accel-buffering': 'no', 'x-correlation-id': r.correlationId })
  res.flushHeaders()
  const keepAlive = setInterval(() => { res.write(': keep-alive\n\n') }, b.keepAliveMs)
  const stop = (): void => { void events.return(undefined) }
  signal.addEventListener('abort', stop, { once: true })
  // Gone while the operation was being set up: no abort event is to come.
  if (signal.aborted) stop()
  try {
    for await (const message of events) {
      if (message === LIBRARY_PING) continue
      if (!res.write(message)) await room(res, signal)
      if (signal.aborted) break
    }
  } catch (err) {
    g.log.warn({ err, correlation_id: r.correlationId }, 'graphql subscription stream failed')
  } finally {
    clearInterval(keepAlive)
    signal.removeEventListener('abort', stop)
    if (!res.writableEnded) res.end()
  }
  return init.status
}

/** Resolves once the response can take more (at once if it can), or the client is gone. */
async function room (res: ServerResponse, signal: AbortSignal): Promise<void> {
  if (!res.writableNeedDrain || signal.aborted) return
  await new Promise<void>(resolve => {
    const done = (): void => { res.off('drain', done).off('close', done); signal.removeEventListener('abort', done); resolve() }
    res.once('drain', done).once('close', done)
    signal.addEventListener('abort', done, { once: true })
  })
}

function logInternal (g: GatewayContext, correlationId: string, errors: readonly GraphQLError[] | undefined, operation: string | null | undefined): void {
  for (const e of errors ?? []) {
    if (codeOf(e) === INTERNAL) g.log.error({ err: e.originalError ?? e, correlation_id: correlationId, operation }, 'graphql resolver failed')
  }
}
