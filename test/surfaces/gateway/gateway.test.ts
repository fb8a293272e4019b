/// <reference lib="dom" />
// The gateway as a client without libp2p meets it: three agent processes and a gateway node
// started with `agentmesh start --gateway`, and clients that only speak HTTP (Node's fetch) and
// WebSocket (the `ws` package, and a Chromium page served by the test): agents found, a command
// called, events published and seen live, a pipeline submitted and followed to its result, a
// task cancelled; the OpenAPI document valid and listing exactly the routes served. Bad input
// of every kind is answered with its code and counted, and disturbs no one else
// (test/surfaces/gateway/gateway-node.test.ts has the token, tracing and logging, in one process).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { spawnSync } from 'node:child_process'
import { Validator } from '@seriousme/openapi-schema-validator'
import { chromium } from 'playwright-core'
import { ROUTES } from '../../../surfaces/gateway/routes.js'
import { CLI, fetchSaying, Proc, waitFor } from '../../helpers.js'
import { CHROMIUM, skipWithout } from '../../requirements.js'
import { WsClient, getJson, post, startGatewayMesh } from './gateway-client.js'

/** The page a browser opens: it subscribes to a topic over the gateway's WebSocket and lists what arrives. */
function pageHtml (wsUrl: string): string {
  return `<!doctype html><meta charset="utf-8"><title>gateway</title><p id="state">connecting</p><ul id="events"></ul>
<script>
const ws = new WebSocket(${JSON.stringify(wsUrl)})
ws.onopen = () => ws.send(JSON.stringify({ op: 'subscribe', id: 1, topic: 'browser' }))
ws.onmessage = (m) => {
  const f = JSON.parse(m.data)
  if (f.type === 'result' && f.id === 1) document.getElementById('state').textContent = 'subscribed'
  if (f.type === 'event') {
    const li = document.createElement('li')
    li.textContent = f.event.payload.text + ' from ' + f.event.fromName
    document.getElementById('events').appendChild(li)
  }
}
</script>`
}

async function listen (server: Server): Promise<string> {
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

function metric (text: string, line: RegExp): number {
  return Number(new RegExp(`^${line.source} (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
}

test('gateway: a client with only HTTP and WebSocket uses a mesh of three agent processes through a gateway node', { timeout: 600_000 }, async (t) => {
  let pageBody = ''
  const pages = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(pageBody) })
  const origin = await listen(pages)
  const mesh = await startGatewayMesh({
    AGENTMESH_GATEWAY_ORIGINS: origin,
    AGENTMESH_GATEWAY_MAX_BODY_BYTES: String(64 * 1024),
    AGENTMESH_GATEWAY_WS_MAX_BUFFERED_BYTES: String(64 * 1024)
  })
  const { base } = mesh
  const wsUrl = `${base.replace(/^http/, 'ws')}/v1/ws`
  const clients: WsClient[] = []
  const open = async (): Promise<WsClient> => { const c = await WsClient.open(wsUrl); clients.push(c); return c }
  try {
    await t.test('REST: agents by name, the coordinator, a command called by agent name with its answer; its errors with their codes', async () => {
      const { agents } = await getJson(`${base}/v1/agents`)
      assert.deepEqual(agents.map((a: any) => a.name).sort(), ['a1', 'a2', 'a3', 'gw'])
      const a2 = await getJson(`${base}/v1/agents/a2`)
      assert.equal(a2.name, 'a2')
      assert.deepEqual((await getJson(`${base}/v1/agents?name=a3`)).agents.map((a: any) => a.name), ['a3'])
      const coordinator = await getJson(`${base}/v1/coordinator`)
      assert.ok(agents.some((a: any) => a.peerId === coordinator.leader), 'the coordinator is one of the agents')

      const answer = await post(`${base}/v1/agents/a2/commands/square`, { n: 12 }, { 'x-correlation-id': 'square-12' })
      assert.equal(answer.status, 200)
      assert.equal(answer.body, 144)
      assert.equal(answer.headers.get('x-agentmesh-agent'), a2.peerId)
      assert.equal(answer.headers.get('x-correlation-id'), 'square-12')
      const invalid = await post(`${base}/v1/agents/a2/commands/square`, { n: 'twelve' })
      assert.equal(invalid.status, 400)
      assert.equal(invalid.body.error.code, 'MSG001', 'the agent\'s validation error comes back with its code')
      const unknownCommand = await post(`${base}/v1/agents/a2/commands/cube`, { n: 2 })
      assert.deepEqual([unknownCommand.status, unknownCommand.body.error.code], [404, 'CMD001'])
      const unknownAgent = await post(`${base}/v1/agents/nobody/commands/square`, { n: 2 })
      assert.deepEqual([unknownAgent.status, unknownAgent.body.error.code, unknownAgent.body.error.name], [404, 'COM002', 'UnknownAgentError'])
      assert.match(unknownAgent.body.error.message, /a1/, 'an unknown agent is answered with the names seen')
    })

    await t.test('publish and subscribe: events published over REST, over WebSocket and by another mesh client arrive live on a WebSocket, and as recent events over REST', async () => {
      const client = await open()
      assert.deepEqual((await client.call('subscribe', { topic: 'news' })).result, { topic: 'news' })
      assert.deepEqual((await getJson(`${base}/v1/topics/news/events`)).events.length, 0)
      for (let i = 0; i < 3; i++) {
        const published = await post(`${base}/v1/topics/news/publish`, { i })
        assert.equal(published.status, 200)
        assert.equal(published.body.topic, 'news')
      }
      const viaWs = await client.call('publish', { topic: 'news', payload: { i: 3 } })
      assert.equal(viaWs.type, 'result')
      const asked = await client.call('request', { agent: 'a3', command: 'square', payload: { n: 5 } })
      assert.deepEqual([asked.type, asked.result.result], ['result', 25], 'a command called over the WebSocket')
      // A client node of the mesh (the CLI's pub, through the gateway node's address) publishes too.
      const pub = new Proc([CLI, 'pub', '--open', '--mesh', mesh.mesh, '--no-mdns', '--bootstrap', mesh.address, '--name', 'cli-pub', 'news', '{"i":4}'])
      assert.equal(await pub.exited(60_000), 0, pub.stderr)
      const events = await client.frameCount(f => f.type === 'event', 5, 'five events on the WebSocket')
      assert.deepEqual(events.map(f => f.event.payload.i), [0, 1, 2, 3, 4])
      assert.equal(events[0].event.fromName, 'gw')
      assert.notEqual(events[4].event.from, events[0].event.from, 'the last came from another node of the mesh')
      const recent = await getJson(`${base}/v1/topics/news/events?limit=2`)
      assert.deepEqual(recent.events.map((e: any) => e.payload.i), [3, 4])
      assert.deepEqual((await client.call('unsubscribe', { topic: 'news' })).result, { topic: 'news' })
    })

    await t.test('tasks: a pipeline submitted over REST and followed over WebSocket to its result; a task submitted over WebSocket', async () => {
      const pipeline = await post(`${base}/v1/tasks`, {
        tasks: [
          { task_id: 'p1', type: 'add', metadata: { add: 1 } },
          { task_id: 'p2', type: 'add', dependencies: ['p1'], metadata: { add: 10 } },
          { task_id: 'p3', type: 'add', dependencies: ['p1', 'p2'], metadata: { add: 100 } }
        ]
      })
      assert.equal(pipeline.status, 201, JSON.stringify(pipeline.body))
      assert.deepEqual(pipeline.body.task_ids, ['p1', 'p2', 'p3'])
      assert.equal(pipeline.headers.get('location'), '/v1/tasks/p1')
      const client = await open()
      assert.equal((await client.call('subscribe', { task: 'p3' })).type, 'result')
      const updates = await client.frameCount(f => f.type === 'task' && ['completed', 'failed', 'cancelled'].includes(f.status.status), 1, 'p3 to end', 60_000)
      assert.equal(updates[0].status.status, 'completed')
      assert.equal(updates[0].status.result, 1 + (1 + 10) + 100, 'p3 summed what p1 and p2 gave it')
      const p3 = await getJson(`${base}/v1/tasks/p3`)
      assert.deepEqual([p3.status, p3.result], ['completed', 112])
      // p1 again, with another spec: idempotent by task_id, the answer names it a duplicate and the task is unchanged.
      const again = await post(`${base}/v1/tasks`, { tasks: [{ task_id: 'p1', type: 'other', metadata: { add: 7 } }, { task_id: 'p4', type: 'add', metadata: { add: 2 } }] })
      assert.deepEqual(again.body, { task_ids: ['p1', 'p4'], duplicates: ['p1'] })
      const p1 = await getJson(`${base}/v1/tasks/p1`)
      assert.deepEqual([p1.status, p1.result], ['completed', 1], 'p1 as it was, not run again with the other spec')

      const submitted = await client.call('submit', { task: { type: 'add', metadata: { add: 5 } } })
      assert.equal(submitted.type, 'result', JSON.stringify(submitted))
      const [id] = submitted.result.task_ids as string[]
      await client.call('subscribe', { task: id })
      const done = await client.frameCount(f => f.type === 'task' && f.status.task_id === id && f.status.status === 'completed', 1, 'the WebSocket task to complete', 60_000)
      assert.equal(done[0].status.result, 5)
      const unknown = await client.call('subscribe', { task: 'no-such-task' })
      assert.deepEqual([unknown.type, unknown.error.code], ['error', 'TSK001'])
    })

    await t.test('a running task given a message and cancelled over REST; a message or control it refuses answered with its code', async () => {
      const submitted = await post(`${base}/v1/tasks`, { task_id: 'w1', type: 'wait', metadata: { ms: 120_000 } })
      assert.equal(submitted.status, 201)
      await waitFor(async () => (await getJson(`${base}/v1/tasks/w1`)).status === 'running', 'w1 to run', 60_000)
      // More input to it: kept with the task (its status shows it), the same message_id taken once.
      for (let i = 0; i < 2; i++) {
        const sent = await post(`${base}/v1/tasks/w1/messages`, { message_id: 'r1', input: { note: 'hurry' } })
        assert.equal(sent.status, 200, JSON.stringify(sent.body))
        assert.deepEqual(sent.body, { task_id: 'w1', message_id: 'r1', status: 'running' })
      }
      assert.deepEqual((await getJson(`${base}/v1/tasks/w1`)).messages.map((m: any) => [m.message_id, m.input]), [['r1', { note: 'hurry' }]])
      const cancelled = await post(`${base}/v1/tasks/w1/cancel`, { reason: 'not needed' })
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body))
      assert.equal(cancelled.body.task_id, 'w1')
      await waitFor(async () => (await getJson(`${base}/v1/tasks/w1`)).status === 'cancelled', 'w1 cancelled', 30_000)
      const again = await post(`${base}/v1/tasks/w1/resume`, {})
      assert.deepEqual([again.status, again.body.error.code], [409, 'TSK002'])
      const missing = await post(`${base}/v1/tasks/nope/cancel`, {})
      assert.deepEqual([missing.status, missing.body.error.code], [404, 'TSK001'])
      const late = await post(`${base}/v1/tasks/w1/messages`, { input: 'too late' })
      assert.deepEqual([late.status, late.body.error.code], [409, 'TSK002'])
    })

    await t.test('OpenAPI: /v1/openapi.json validates as OpenAPI 3.1 and documents exactly the routes served', async () => {
      const doc = await getJson(`${base}/v1/openapi.json`)
      const validator = new Validator()
      const result = await validator.validate(doc)
      assert.equal(result.valid, true, JSON.stringify(result.errors))
      assert.equal(validator.version, '3.1')
      const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map(m => `${m.toUpperCase()} ${path}`))
      assert.deepEqual(documented.sort(), ROUTES.map(r => `${r.method} ${r.path}`).sort())
      // Each documented operation is served: a request to it may be refused, but never as an unknown route or method.
      for (const entry of documented) {
        const [method, path] = entry.split(' ')
        const url = `${base}${path.replace(/\{[^}]+\}/g, 'x')}`
        const init = { method, ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}), signal: AbortSignal.timeout(60_000) }
        const res = await fetchSaying(url, init)
        const body: any = await res.json()
        assert.ok(!['NotFoundError', 'MethodNotAllowedError'].includes(body?.error?.name), `${entry} is served (got ${res.status} ${JSON.stringify(body).slice(0, 200)})`)
      }
      assert.equal(doc.paths['/v1/tasks'].post.requestBody.content['application/json'].schema.anyOf[0].properties.tasks.items.properties.priority.type, 'integer',
        'a task\'s fields come from the task protocol\'s zod schema')
    })

    await t.test('A2A is mounted on the same server: the agent card names the gateway\'s /a2a', async () => {
      const card = await getJson(`${base}/.well-known/agent-card.json`)
      assert.ok(JSON.stringify(card).includes(`${base}/a2a`), JSON.stringify(card).slice(0, 300))
      const unknown = await post(`${base}/a2a`, { jsonrpc: '2.0', id: 1, method: 'NoSuchMethod', params: {} }, { 'a2a-version': '1.0' })
      assert.equal(unknown.body.error.code, -32601, 'JSON-RPC method not found')
    })

    await t.test('GraphQL is mounted on the same server: a query at /graphql, counted under its route', async () => {
      const answer = await post(`${base}/graphql`, { query: '{ agents { name } coordinator { inOffice } }' })
      assert.equal(answer.status, 200, JSON.stringify(answer.body))
      assert.deepEqual(answer.body.data.agents.map((a: any) => a.name).sort(), ['a1', 'a2', 'a3', 'gw'])
      assert.equal(answer.body.data.coordinator.inOffice, true)
      const text = await (await fetch(`${mesh.debug}/metrics`)).text()
      assert.ok(metric(text, /gateway_requests_total\{route="\/graphql",status="200"\}/) >= 1)
    })

    await t.test('a Chromium page served by the test subscribes over /v1/ws and shows an event published over REST', async (st) => {
      if (skipWithout(st, 'chromium')) return
      pageBody = pageHtml(wsUrl)
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] })
      try {
        const page = await browser.newPage()
        const errors: string[] = []
        page.on('pageerror', (e) => { errors.push(e.message) })
        await page.goto(`${origin}/`)
        await page.waitForFunction(() => document.getElementById('state')?.textContent === 'subscribed', undefined, { timeout: 30_000 })
        await post(`${base}/v1/topics/browser/publish`, { text: 'hello browser' })
        await page.waitForFunction(() => document.querySelectorAll('#events li').length === 1, undefined, { timeout: 30_000 })
        assert.equal(await page.textContent('#events li'), 'hello browser from gw')
        assert.deepEqual(errors, [])
      } finally {
        await browser.close()
      }
    })

    await t.test('bad input: each answered with its code and counted; a client that never reads is dropped; nobody else is disturbed', async (st) => {
      const raw = async (path: string, init: RequestInit): Promise<{ status: number, body: any, headers: Headers }> => {
        const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(30_000), ...init })
        return { status: res.status, body: await res.json(), headers: res.headers }
      }
      const json = { 'content-type': 'application/json' }
      const malformed = await raw('/v1/tasks', { method: 'POST', headers: json, body: '{"tasks": [' })
      assert.deepEqual([malformed.status, malformed.body.error.code], [400, 'MSG002'])
      const tooLarge = await raw('/v1/topics/big/publish', { method: 'POST', headers: json, body: JSON.stringify({ blob: 'x'.repeat(70 * 1024) }) })
      assert.deepEqual([tooLarge.status, tooLarge.body.error.code, tooLarge.body.error.name], [413, 'MSG002', 'BodyTooLargeError'])
      const notJson = await raw('/v1/topics/t/publish', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' })
      assert.deepEqual([notJson.status, notJson.body.error.code], [415, 'MSG001'])
      const notSchema = await raw('/v1/tasks', { method: 'POST', headers: json, body: JSON.stringify({ tasks: [{ type: 'add', priority: 'high' }] }) })
      assert.deepEqual([notSchema.status, notSchema.body.error.code], [400, 'MSG001'])
      assert.match(notSchema.body.error.message, /priority/)
      const unknownRoute = await raw('/v1/nothing', {})
      assert.deepEqual([unknownRoute.status, unknownRoute.body.error.code, unknownRoute.body.error.name], [404, 'MSG001', 'NotFoundError'])
      const wrongMethod = await raw('/v1/agents', { method: 'DELETE' })
      assert.deepEqual([wrongMethod.status, wrongMethod.body.error.name, wrongMethod.headers.get('allow')], [405, 'MethodNotAllowedError', 'GET, HEAD, OPTIONS'])
      const otherOrigin = await raw('/v1/agents', { headers: { origin: 'http://evil.example' } })
      assert.deepEqual([otherOrigin.status, otherOrigin.body.error.code], [403, 'SEC002'])
      const allowedOrigin = await raw('/v1/agents', { headers: { origin } })
      assert.deepEqual([allowedOrigin.status, allowedOrigin.headers.get('access-control-allow-origin')], [200, origin])
      const plainGet = await raw('/v1/ws', {})
      assert.deepEqual([plainGet.status, plainGet.headers.get('upgrade')], [426, 'websocket'])
      await assert.rejects(WsClient.open(wsUrl, { origin: 'http://evil.example' }), /upgrade refused: 403/)

      // WebSocket frames that are not JSON, or not frames: an error frame each, and the connection goes on.
      const client = await open()
      client.ws.send('not json')
      client.ws.send(Buffer.from([1, 2, 3]))
      const bad = await client.call('explode')
      assert.deepEqual([bad.type, bad.error.code], ['error', 'MSG001'], 'a frame with an unknown op answers its id')
      const badInput = await client.call('publish', { topic: '$agentmesh/mesh', payload: 1 })
      assert.deepEqual([badInput.type, badInput.error.code], ['error', 'MSG001'])
      const errors = client.frames.filter(f => f.type === 'error' && f.id === undefined).map(f => f.error.code)
      assert.deepEqual(errors, ['MSG002', 'MSG001'])
      assert.equal((await client.call('ping')).type, 'pong', 'the connection is still served')

      // A client that never reads, beside one that does, on one topic: the first is dropped once
      // more than wsMaxBufferedBytes (64 KiB here) waits for it; the second gets every event.
      const slow = await open()
      const reader = await open()
      await slow.call('subscribe', { topic: 'flood' })
      await reader.call('subscribe', { topic: 'flood' })
      slow.ws.pause()
      const chunk = 'y'.repeat(32 * 1024)
      let sent = 0
      const dropped = async (): Promise<number> => metric(await (await fetch(`${mesh.debug}/metrics`)).text(), /gateway_ws_dropped_total\{reason="slow_client"\}/)
      // Kernel socket buffers hold a few MiB before the gateway's own buffer fills: publish until the drop is counted (bounded).
      while (await dropped() < 1) {
        assert.ok(sent < 4_000, `no drop after ${sent} events of 32 KiB`)
        await Promise.all(Array.from({ length: 20 }, async () => { await post(`${base}/v1/topics/flood/publish`, { n: sent++, chunk }) }))
      }
      await reader.frameCount(f => f.type === 'event' && f.event.topic === 'flood', sent, `the reading client to get all ${sent} events`, 60_000)
      const closed = new Promise<number>(resolve => { slow.ws.once('close', (code) => { resolve(code) }) })
      slow.ws.resume()
      assert.equal(await closed, 1006, 'the slow client was cut off, not closed politely (it was not reading)')
      assert.equal((await reader.call('ping')).type, 'pong')
      assert.equal((await post(`${base}/v1/agents/a1/commands/square`, { n: 3 })).body, 9, 'REST still answers')

      // Every refusal is counted by route and status, in an exposition promtool accepts.
      const text = await (await fetch(`${mesh.debug}/metrics`)).text()
      assert.ok(metric(text, /gateway_requests_total\{route="unmatched",status="404"\}/) >= 1)
      assert.ok(metric(text, /gateway_requests_total\{route="method not allowed",status="405"\}/) >= 1)
      assert.ok(metric(text, /gateway_requests_total\{route="POST \/v1\/tasks",status="400"\}/) >= 2)
      assert.ok(metric(text, /gateway_requests_total\{route="POST \/v1\/topics\/\{topic\}\/publish",status="413"\}/) >= 1)
      assert.ok(metric(text, /gateway_requests_total\{route="refused",status="403"\}/) >= 2)
      assert.ok(metric(text, /gateway_requests_total\{route="WS invalid",status="400"\}/) >= 3)
      assert.ok(metric(text, /gateway_requests_total\{route="POST \/v1\/tasks",status="201"\}/) >= 2)
      assert.ok(metric(text, /gateway_request_duration_seconds_count\{route="GET \/v1\/agents"\}/) >= 1)
      if (!skipWithout(st, 'promtool')) {
        const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
        assert.equal(check.status, 0, `${check.stdout}${check.stderr}`)
      }
      assert.equal(mesh.gateway.child.exitCode, null, 'the gateway node still runs')
    })
  } finally {
    // A gateway node that ended before the test stopped it: why (a suite run once saw every
    // request after the OpenAPI walk fail with "fetch failed", and nothing said what ended it).
    const g = mesh.gateway.child
    if (g.exitCode !== null || g.signalCode !== null) console.log(`the gateway node ended early (${String(g.exitCode ?? g.signalCode)}): ${mesh.gateway.described()}`)
    for (const c of clients) c.close()
    await mesh.stop()
    await new Promise(resolve => pages.close(resolve))
  }
})
