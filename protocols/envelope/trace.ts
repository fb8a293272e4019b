/**
 * Tracing through the OpenTelemetry API (R-OBS): a span per request sent, request handled,
 * event published and event received, with the trace context carried in the envelope's headers
 * (W3C traceparent) so a request, its handler and what the handler calls, or a broadcast and
 * its receivers, form one trace across nodes. agentmesh only uses the API: with no SDK
 * registered by the application every call here is a no-op, and no exporter runs.
 */
import {
  context, INVALID_SPAN_CONTEXT, propagation, ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span
} from '@opentelemetry/api'
import { AGENTMESH_VERSION } from '../core/version.js'

export { SpanKind } from '@opentelemetry/api'

const tracer = trace.getTracer('agentmesh', AGENTMESH_VERSION)

/** The API's no-op provider, what a proxy with no SDK behind it delegates to. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate()
/** The span of a message while nothing traces: it records nothing, as the API's no-op spans. */
const NOT_RECORDING = trace.wrapSpanContext(INVALID_SPAN_CONTEXT)

/**
 * Whether an SDK (a tracer provider) or a propagator is registered: asked per message, since an
 * application may register one after the node started. With neither, a message's span and its
 * context are skipped: the API would make a no-op span, a context and an empty header each time,
 * 2-3% of a receiver's busy CPU at 100 envelopes/s from each of ten publishers (docs/benchmarks.md).
 * A provider of another copy of the API is not ours to judge: it is taken as tracing.
 */
function tracing (): boolean {
  return !tracingUnregistered() || propagation.fields().length > 0
}

/** Whether no tracer provider (an SDK) is registered with this copy of the OpenTelemetry API. */
export function tracingUnregistered (): boolean {
  const provider = trace.getTracerProvider()
  return provider instanceof ProxyTracerProvider && provider.getDelegate() === NOOP_PROVIDER
}

export interface MessageSpan { span: Span, ctx: Context }

/** A span for a message this node sends; its context goes into `headers`. */
export function startSendSpan (name: string, kind: SpanKind, attributes: Record<string, string>, headers: Record<string, string>): MessageSpan {
  if (!tracing()) return { span: NOT_RECORDING, ctx: context.active() }
  const span = tracer.startSpan(name, { kind, attributes: { 'messaging.system': 'agentmesh', ...attributes } })
  const ctx = trace.setSpan(context.active(), span)
  propagation.inject(ctx, headers)
  return { span, ctx }
}

/** A span for a message this node received, child of the sender's span when headers carry it. */
export function startReceiveSpan (name: string, kind: SpanKind, attributes: Record<string, string>, headers: Record<string, string>): MessageSpan {
  if (!tracing()) return { span: NOT_RECORDING, ctx: ROOT_CONTEXT }
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
