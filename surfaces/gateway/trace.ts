/**
 * A server span per gateway request (and per WebSocket operation), the child of the client's span
 * when it sends W3C `traceparent`, and current while the operation runs: the request or publish
 * it makes into the mesh starts its own span under it (protocols/envelope/trace.ts) and carries
 * the trace on in the envelope's headers, so client, gateway, and agents form one trace. Only the
 * OpenTelemetry API: without an SDK registered these calls cost next to nothing.
 */
import type { IncomingMessage } from 'node:http'
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api'
import { AGENTMESH_VERSION } from '../../protocols/core/version.js'

const tracer = trace.getTracer('agentmesh', AGENTMESH_VERSION)

/** A span for an HTTP request; it is named after its route when it ends. */
export function startServerSpan (req: IncomingMessage, url: URL, correlationId: string): { span: Span, ctx: Context } {
  const parent = propagation.extract(ROOT_CONTEXT, req.headers)
  const span = tracer.startSpan(`agentmesh gateway ${req.method ?? 'GET'}`, {
    kind: SpanKind.SERVER,
    attributes: { 'http.request.method': req.method ?? 'GET', 'url.path': url.pathname, 'agentmesh.correlation_id': correlationId }
  }, parent)
  return { span, ctx: trace.setSpan(parent, span) }
}

/** A span for one WebSocket operation, the child of the frame's `traceparent` if it has one. */
export function startFrameSpan (op: string, traceparent: string | undefined, correlationId: string): { span: Span, ctx: Context } {
  const parent = traceparent !== undefined ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT
  const span = tracer.startSpan(`agentmesh gateway WS ${op}`, { kind: SpanKind.SERVER, attributes: { 'agentmesh.correlation_id': correlationId } }, parent)
  return { span, ctx: trace.setSpan(parent, span) }
}

/** Ends a request's span, named after its route pattern ("agentmesh gateway GET /v1/agents/{ref}"). */
export function endServerSpan (span: Span, route: string, status: number, error?: { code: string, message: string }): void {
  if (!span.isRecording()) { span.end(); return }
  span.setAttribute('http.response.status_code', status)
  span.updateName(`agentmesh gateway ${route}`)
  if (/^[A-Z]+ \//.test(route)) span.setAttribute('http.route', route.slice(route.indexOf(' ') + 1))
  if (status >= 500 || error !== undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, ...(error !== undefined ? { message: error.message } : {}) })
    if (error !== undefined) span.setAttribute('agentmesh.error_code', error.code)
  }
  span.end()
}

/** Runs `fn` with `ctx` current (the request's span the parent of what it starts). */
export async function inContext<T> (ctx: Context, fn: () => Promise<T>): Promise<T> {
  return await context.with(ctx, fn)
}
