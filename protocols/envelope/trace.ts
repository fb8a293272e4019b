/**
 * Tracing through the OpenTelemetry API (R-OBS): a span per request sent, request handled,
 * event published and event received, with the trace context carried in the envelope's headers
 * (W3C traceparent) so a request, its handler and what the handler calls, or a broadcast and
 * its receivers, form one trace across nodes. agentmesh only uses the API: with no SDK
 * registered by the application every call here is a no-op, and no exporter runs.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api'
import { AGENTMESH_VERSION } from '../core/version.js'

export { SpanKind } from '@opentelemetry/api'

const tracer = trace.getTracer('agentmesh', AGENTMESH_VERSION)

export interface MessageSpan { span: Span, ctx: Context }

/** A span for a message this node sends; its context goes into `headers`. */
export function startSendSpan (name: string, kind: SpanKind, attributes: Record<string, string>, headers: Record<string, string>): MessageSpan {
  const span = tracer.startSpan(name, { kind, attributes: { 'messaging.system': 'agentmesh', ...attributes } })
  const ctx = trace.setSpan(context.active(), span)
  propagation.inject(ctx, headers)
  return { span, ctx }
}

/** A span for a message this node received, child of the sender's span when headers carry it. */
export function startReceiveSpan (name: string, kind: SpanKind, attributes: Record<string, string>, headers: Record<string, string>): MessageSpan {
  const parent = propagation.extract(ROOT_CONTEXT, headers)
  const span = tracer.startSpan(name, { kind, attributes: { 'messaging.system': 'agentmesh', ...attributes } }, parent)
  return { span, ctx: trace.setSpan(parent, span) }
}

/** Run `fn` with the span current, so spans started inside it (nested requests) are its children. */
export async function inSpan<T> (ctx: Context, fn: () => Promise<T> | T): Promise<T> {
  return await context.with(ctx, fn)
}

export function endSpan (span: Span, error?: { code?: string, message: string }): void {
  if (error !== undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message })
    if (error.code !== undefined) span.setAttribute('agentmesh.error_code', error.code)
  }
  span.end()
}
