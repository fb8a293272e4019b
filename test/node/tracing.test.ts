// Traces across nodes: the OpenTelemetry SDK is registered here, as an application would; the
// nodes only use the API. Spans are collected in memory.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { context, propagation, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { startMesh, stopAll, waitFor } from '../helpers.js'

const exporter = new InMemorySpanExporter()
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
propagation.setGlobalPropagator(new W3CTraceContextPropagator())

test('a request, its handler and the request the handler makes form one trace across three nodes', { timeout: 3 * 60_000 }, async () => {
  const [a, b, c] = await startMesh(3)
  try {
    exporter.reset()
    c.handle('leaf', (x: any) => x * 2)
    b.handle('relay', async (x: any) => await b.request(c.peerId, 'leaf', x) as number + 1)
    assert.equal(await a.request(b.peerId, 'relay', 20), 41)
    await waitFor(() => exporter.getFinishedSpans().filter(s => s.name.includes('relay') || s.name.includes('leaf')).length >= 4, 'four spans')
    const spans = exporter.getFinishedSpans().filter(s => s.name.includes('relay') || s.name.includes('leaf'))
    const traceIds = new Set(spans.map(s => s.spanContext().traceId))
    assert.equal(traceIds.size, 1, `one trace: ${spans.map(s => `${s.name} ${s.spanContext().traceId}`).join(', ')}`)
    const nodesInTrace = new Set(spans.map(s => s.attributes['agentmesh.peer_id']))
    assert.deepEqual([...nodesInTrace].sort(), [a.peerId, b.peerId, c.peerId].sort())
    const byName = new Map(spans.map(s => [s.name, s]))
    const relayClient = byName.get('agentmesh request relay')
    const relayServer = byName.get('agentmesh handle relay')
    const leafClient = byName.get('agentmesh request leaf')
    const leafServer = byName.get('agentmesh handle leaf')
    assert.ok(relayClient !== undefined && relayServer !== undefined && leafClient !== undefined && leafServer !== undefined)
    // parent links: A's request -> B's handler -> B's request -> C's handler
    assert.equal(relayServer.parentSpanContext?.spanId, relayClient.spanContext().spanId)
    assert.equal(leafClient.parentSpanContext?.spanId, relayServer.spanContext().spanId)
    assert.equal(leafServer.parentSpanContext?.spanId, leafClient.spanContext().spanId)
  } finally {
    await stopAll([a, b, c])
  }
})

test('a broadcast\'s receive spans on every subscriber continue the publisher\'s trace', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3)
  try {
    const subs = nodes.slice(1).map(n => n.subscribe('traced'))
    await waitFor(() => nodes[0].topicPeers('traced').subscribers.length === 2, 'subscriptions')
    exporter.reset()
    await nodes[0].publish('traced', 'hello')
    await waitFor(() => exporter.getFinishedSpans().filter(s => s.name === 'agentmesh receive traced').length === 2, 'two receive spans')
    const spans = exporter.getFinishedSpans().filter(s => s.name.endsWith(' traced'))
    assert.equal(new Set(spans.map(s => s.spanContext().traceId)).size, 1)
    assert.equal(new Set(spans.map(s => s.attributes['agentmesh.peer_id'])).size, 3)
    for (const s of subs) s.unsubscribe()
  } finally {
    await stopAll(nodes)
  }
})
