// The gateway inside one process, where its traces and logs can be read: a request's trace runs
// from the client's traceparent through the gateway into the agent that answers; each request is
// logged with its correlation id; the token rules (none on loopback, required beyond it, a wrong
// one refused); a token-less gateway answers loopback names only; start and stop are safe twice
// and leave no port open; many clients at once each get their own answer.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { z } from 'zod'
import { pino } from 'pino'
import { context, propagation, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { createAgentNode, defineCommand } from '../../../surfaces/index.js'
import { nodeOptions, startMesh, stopAll, uniqueMesh, waitFor } from '../../helpers.js'
import { WsClient } from './gateway-client.js'

const exporter = new InMemorySpanExporter()
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
propagation.setGlobalPropagator(new W3CTraceContextPropagator())

const Square = defineCommand('square', { request: z.strictObject({ n: z.number() }), response: z.number() })
const TOKEN = 'gateway-token-0123456789'

test('gateway: a request traced from the client into the agent that answers, logged with its correlation id; the token wanted, a wrong one refused', { timeout: 3 * 60_000 }, async () => {
  const lines: any[] = []
  const sink = new Writable({ write (chunk, _enc, done) { for (const l of String(chunk).split('\n')) if (l !== '') lines.push(JSON.parse(l)); done() } })
  const logger = pino({ level: 'debug' }, sink)
  const nodes = await startMesh(3, (i) => i === 0 ? { logger, gateway: { listen: '127.0.0.1:0', token: TOKEN } } : {})
  try {
    nodes[1].handle(Square, ({ n }) => n * n)
    const base = nodes[0].gatewayUrl as string
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/)
    const auth = { authorization: `Bearer ${TOKEN}` }

    // No token, or the wrong one: 401 with the code, WWW-Authenticate, and counted as refused.
    const none = await fetch(`${base}/v1/agents`)
    assert.equal(none.status, 401)
    assert.equal(none.headers.get('www-authenticate'), 'Bearer')
    assert.equal(((await none.json()) as any).error.code, 'SEC001')
    const wrong = await fetch(`${base}/v1/agents`, { headers: { authorization: 'Bearer not-the-token-at-all' } })
    assert.equal(wrong.status, 401)
    await assert.rejects(WsClient.open(`${base.replace('http', 'ws')}/v1/ws?token=wrong`), /upgrade refused: 401/)
    assert.equal((await fetch(`${base}/v1/agents`, { headers: auth })).status, 200)
    const ws = await WsClient.open(`${base.replace('http', 'ws')}/v1/ws?token=${TOKEN}`)
    assert.equal((await ws.call('ping')).type, 'pong', 'a browser-style ?token= opens the WebSocket')
    ws.close()
    assert.equal(nodes[0].stats.get('gateway_requests_total', { route: 'refused', status: '401' }), 3)

    // One trace: the client's span -> the gateway's request -> the mesh request -> the agent's handler.
    exporter.reset()
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const clientSpan = '00f067aa0ba902b7'
    const res = await fetch(`${base}/v1/agents/n1/commands/square`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', traceparent: `00-${traceId}-${clientSpan}-01`, 'x-correlation-id': 'trace-me-1' },
      body: JSON.stringify({ n: 7 })
    })
    assert.equal(await res.json(), 49)
    await waitFor(() => exporter.getFinishedSpans().some(s => s.name === 'agentmesh handle square'), 'the handler\'s span')
    await waitFor(() => exporter.getFinishedSpans().some(s => s.name.startsWith('agentmesh gateway')), 'the gateway\'s span')
    const spans = exporter.getFinishedSpans()
    const gatewaySpan = spans.find(s => s.name === 'agentmesh gateway POST /v1/agents/{ref}/commands/{command}')
    const requestSpan = spans.find(s => s.name === 'agentmesh request square')
    const handleSpan = spans.find(s => s.name === 'agentmesh handle square')
    assert.ok(gatewaySpan !== undefined && requestSpan !== undefined && handleSpan !== undefined, spans.map(s => s.name).join(', '))
    for (const s of [gatewaySpan, requestSpan, handleSpan]) assert.equal(s.spanContext().traceId, traceId, `${s.name} is in the client's trace`)
    assert.equal(gatewaySpan.parentSpanContext?.spanId, clientSpan)
    assert.equal(requestSpan.parentSpanContext?.spanId, gatewaySpan.spanContext().spanId)
    assert.equal(handleSpan.parentSpanContext?.spanId, requestSpan.spanContext().spanId)
    assert.equal(gatewaySpan.attributes['http.response.status_code'], 200)
    assert.equal(gatewaySpan.attributes['agentmesh.correlation_id'], 'trace-me-1')

    // Logged with its correlation id, route and status; counted by route and status.
    await waitFor(() => lines.some(l => l.correlation_id === 'trace-me-1'), 'the request\'s log line')
    const line = lines.find(l => l.correlation_id === 'trace-me-1')
    assert.deepEqual([line.route, line.status, line.method], ['POST /v1/agents/{ref}/commands/{command}', 200, 'POST'])
    assert.equal(nodes[0].stats.get('gateway_requests_total', { route: 'POST /v1/agents/{ref}/commands/{command}', status: '200' }), 1)
  } finally {
    await stopAll(nodes)
  }
})

test('gateway: beyond loopback only with a token; a token-less one answers loopback names only; start and stop twice, no port left open', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const open = await createAgentNode(nodeOptions(mesh, { gateway: { listen: '0.0.0.0:0' } }))
  await assert.rejects(open.start(), (err: any) => err.code === 'CFG001' && /gateway\.token/.test(err.message))
  await open.stop()
  await assert.rejects(createAgentNode(nodeOptions(mesh, { gateway: { listen: 'nowhere' } })), /gateway\.listen/)

  const node = await createAgentNode(nodeOptions(mesh, { gateway: { listen: '0', wsPingIntervalMs: 500 } }))
  const gateway = node.services.at(-1)
  assert.ok(gateway !== undefined)
  try {
    await node.start()
    const base = node.gatewayUrl as string
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/, 'a bare port is loopback')
    assert.equal((await fetch(`${base}/v1/coordinator`)).status, 200)
    // A page whose DNS name was rebound to 127.0.0.1 sends its own name as Host: refused.
    const port = new URL(base).port
    const { request } = await import('node:http')
    const status = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/v1/agents', headers: { host: `evil.example:${port}` } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject).end()
    })
    assert.equal(status, 403)

    // A WebSocket client that answers no ping is dropped after two rounds; one that does stays.
    const wsUrl = `${base.replace('http', 'ws')}/v1/ws`
    const silent = await WsClient.open(wsUrl, { autoPong: false })
    const answering = await WsClient.open(wsUrl)
    const gone = new Promise<void>(resolve => { silent.ws.once('close', () => { resolve() }) })
    await gone
    assert.equal(node.stats.get('gateway_ws_dropped_total', { reason: 'ping_timeout' }), 1)
    assert.equal((await answering.call('ping')).type, 'pong', 'the client that answers pings is still served')
    answering.close()
    await gateway.start()
    await gateway.stop()
    await gateway.stop()
    await assert.rejects(fetch(`${base}/v1/coordinator`), 'the port is closed once the gateway stopped')
    await gateway.start()
    assert.equal((await fetch(`${node.gatewayUrl as string}/v1/coordinator`)).status, 200, 'started again')
  } finally {
    await node.stop()
  }
  await assert.rejects(fetch(`${node.gatewayUrl as string}/v1/coordinator`), 'no port left open once the node stopped')
})

test('gateway: 64 clients at once, their requests sent into the mesh together, each get their own answer, correlation id and count; a client gone is given up', { timeout: 3 * 60_000 }, async () => {
  const lines: any[] = []
  const sink = new Writable({ write (chunk, _enc, done) { for (const l of String(chunk).split('\n')) if (l !== '') lines.push(JSON.parse(l)); done() } })
  const nodes = await startMesh(2, (i) => i === 0 ? { logger: pino({ level: 'info' }, sink), gateway: { listen: '127.0.0.1:0' } } : {})
  try {
    nodes[1].handle(Square, ({ n }) => n * n)
    const base = nodes[0].gatewayUrl as string
    const answers = await Promise.all(Array.from({ length: 64 }, async (_, n) => {
      const res = await fetch(`${base}/v1/agents/n1/commands/square`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-correlation-id': `burst-${n}` },
        body: JSON.stringify({ n })
      })
      return { n, status: res.status, correlation: res.headers.get('x-correlation-id'), body: await res.json() }
    }))
    for (const a of answers) assert.deepEqual([a.status, a.correlation, a.body], [200, `burst-${a.n}`, a.n * a.n], `request ${a.n}`)
    assert.equal(nodes[0].stats.get('gateway_requests_total', { route: 'POST /v1/agents/{ref}/commands/{command}', status: '200' }), 64)
    // One bad request among good ones is answered alone with its code; the others are not disturbed.
    const mixed = await Promise.all([{ n: 3 }, { n: 'three' }, { n: 4 }].map(async (body) => {
      const res = await fetch(`${base}/v1/agents/n1/commands/square`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      return [res.status, await res.json()]
    }))
    assert.deepEqual(mixed.map(([s, b]) => s === 200 ? b : `${String(s)} ${String((b as any).error.code)}`), [9, '400 MSG001', 16])

    // A client that goes away before its answer: counted 499, and the gateway gives up its request
    // into the mesh then (the agent's answer, once it comes, arrives late), not when the answer comes.
    let release = (): void => {}
    let started = (): void => {}
    const handling = new Promise<void>(resolve => { started = resolve })
    nodes[1].handle('hold', async () => { started(); await new Promise<void>(resolve => { release = resolve }); return 'late' })
    const client = new AbortController()
    const call = fetch(`${base}/v1/agents/n1/commands/hold`, { method: 'POST', signal: client.signal })
    await handling
    client.abort()
    await assert.rejects(call)
    await waitFor(() => nodes[0].stats.get('gateway_requests_total', { route: 'POST /v1/agents/{ref}/commands/{command}', status: '499' }) === 1, 'the request counted 499')
    release()
    await waitFor(() => nodes[0].stats.get('messages_total', { direction: 'in', type: 'RESPONSE', status: 'late' }) >= 1, 'the agent\'s answer arriving after the gateway gave up')

    // A client gone halfway through its body: 499 as well, and not the gateway's error in its log.
    const { port } = new URL(base)
    const { connect } = await import('node:net')
    const half = connect(Number(port), '127.0.0.1')
    await new Promise(resolve => half.once('connect', resolve))
    half.write(`POST /v1/agents/n1/commands/square HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"n":`)
    await new Promise(resolve => setTimeout(resolve, 100))
    half.destroy()
    await waitFor(() => nodes[0].stats.get('gateway_requests_total', { route: 'POST /v1/agents/{ref}/commands/{command}', status: '499' }) === 2, 'the half-sent request counted 499')
    assert.deepEqual(lines.filter(l => l.level >= 50).map(l => l.msg), [], 'no error logged for a client that went away')
  } finally {
    await stopAll(nodes)
  }
})

test('gateway.publicUrl (AGENTMESH_GATEWAY_PUBLIC_URL): the A2A card\'s interfaces and the OpenAPI server name it, not the loopback address the gateway listens on; a URL with a query is CFG001', { timeout: 60_000 }, async () => {
  const { loadConfig } = await import('../../../node/config.js')
  const config = await loadConfig({ env: { AGENTMESH_GATEWAY_LISTEN: '127.0.0.1:0', AGENTMESH_GATEWAY_PUBLIC_URL: 'https://mesh.example.com/agents/' } })
  assert.equal(config.gateway.publicUrl, 'https://mesh.example.com/agents', 'the trailing slash dropped')
  await assert.rejects(loadConfig({ env: { AGENTMESH_GATEWAY_PUBLIC_URL: 'https://mesh.example.com/?x=1' } }), (e: { code?: string, message: string }) => e.code === 'CFG001' && /gateway\.publicUrl/.test(e.message))
  const nodes = await startMesh(1, () => ({ gateway: { listen: '127.0.0.1:0', publicUrl: 'https://mesh.example.com/agents' } }))
  try {
    const base = nodes[0].gatewayUrl as string
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/, 'it listens where it was told')
    const card = await (await fetch(`${base}/.well-known/agent-card.json`)).json() as { supportedInterfaces: Array<{ url: string }> }
    assert.deepEqual(card.supportedInterfaces.map(i => i.url), ['https://mesh.example.com/agents/a2a', 'https://mesh.example.com/agents/a2a'])
    const doc = await (await fetch(`${base}/v1/openapi.json`)).json() as { servers: Array<{ url: string }> }
    assert.deepEqual(doc.servers, [{ url: 'https://mesh.example.com/agents' }])
    assert.doesNotMatch(JSON.stringify(card), /127\.0\.0\.1/)
  } finally {
    await stopAll(nodes)
  }
})
