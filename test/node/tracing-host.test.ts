/**
 * Tracing belongs to the application that embeds agentmesh: the library only uses the
 * OpenTelemetry API. A host that makes its nodes with `tracing.otlpEndpoint` set (from a shared
 * config, say) and registers its own SDK afterwards gets its registration (the tracer provider,
 * the context manager, the propagator), sees agentmesh's spans in its own exporter, and nothing is
 * sent to the endpoint behind its back. Its own file: the process's OpenTelemetry globals are
 * the subject, so no other test may have registered them first.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { context, propagation, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { createAgentNode } from '../../node/index.js'
import { nodeOptions, uniqueMesh, waitFor } from '../helpers.js'

test('a host that embeds agentmesh keeps OpenTelemetry\'s globals for itself and sees agentmesh\'s spans in its own provider', { timeout: 3 * 60_000 }, async () => {
  let exported = 0
  const collector = createServer((req, res) => { exported++; req.resume(); req.on('end', () => { res.end('{}') }) })
  await new Promise<void>(resolve => { collector.listen(0, '127.0.0.1', resolve) })
  const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`
  const mesh = uniqueMesh()
  const tracing = { otlpEndpoint: endpoint, serviceName: 'host-test' }
  const a = await createAgentNode(nodeOptions(mesh, { name: 'a', tracing }))
  await a.start()
  const b = await createAgentNode(nodeOptions(mesh, { name: 'b', tracing, bootstrap: [a.addresses()[0]] }))
  await b.start()
  try {
    // The host registers its SDK after its nodes are made and started: each registration is its own.
    const exporter = new InMemorySpanExporter()
    assert.equal(trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })), true, 'the tracer provider is the host\'s to register')
    assert.equal(context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()), true, 'the context manager is the host\'s to register')
    assert.equal(propagation.setGlobalPropagator(new W3CTraceContextPropagator()), true, 'the propagator is the host\'s to register')
    await waitFor(() => b.peers().length === 1, 'b to see a')
    a.handle('double', (x: any) => x * 2)
    assert.equal(await b.request(a.peerId, 'double', 21), 42)
    await waitFor(() => exporter.getFinishedSpans().some(s => s.name === 'agentmesh handle double'), 'the handler\'s span in the host\'s exporter')
    const names = exporter.getFinishedSpans().map(s => s.name)
    assert.ok(names.includes('agentmesh request double'), names.join(', '))
  } finally {
    await Promise.all([b.stop(), a.stop()])
    await new Promise(resolve => collector.close(resolve))
  }
  assert.equal(exported, 0, 'nothing was exported to tracing.otlpEndpoint by the library')
})
