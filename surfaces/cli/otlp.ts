/**
 * The CLI's OTLP exporter, when `tracing.otlpEndpoint` is configured: the CLI is the application,
 * so it installs a tracer provider for the whole process (OpenTelemetry's providers are global), batching spans to the endpoint over HTTP, with
 * the context manager and W3C propagator that carry traces through async code and envelopes.
 * Loaded on demand: a node without the setting never loads the SDK.
 */
import { context, propagation, trace } from '@opentelemetry/api'

export interface TracingHandle { flush: () => Promise<void> }

let installed: Promise<TracingHandle> | undefined

export async function installOtlpTracing (url: string, serviceName: string): Promise<TracingHandle> {
  installed ??= (async () => {
    const [
      { TracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { AsyncLocalStorageContextManager },
      { W3CTraceContextPropagator }, { resourceFromAttributes }
    ] = await Promise.all([
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/core'),
      import('@opentelemetry/resources')
    ])
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': serviceName }),
      spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }), scheduledDelayMillis: 1_000 })]
    })
    trace.setGlobalTracerProvider(provider)
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    propagation.setGlobalPropagator(new W3CTraceContextPropagator())
    return { flush: async () => { await provider.forceFlush() } }
  })()
  return await installed
}
