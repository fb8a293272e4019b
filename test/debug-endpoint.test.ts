import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { connect } from 'node:net'
import { createAgentNode, ConfigError, type AgentNode } from '../node/index.js'
import { EventStream } from '../node/event-stream.js'
import { nodeOptions, sleep, startMesh, stopAll, uniqueMesh, waitFor } from './helpers.js'

test('debug endpoint: health of a node alone, bearer token checked, unknown routes 404, stop closes it', async () => {
  const token = 'a-long-enough-secret-token'
  const node = await createAgentNode(nodeOptions(uniqueMesh(), { name: 'dbg', debug: '127.0.0.1:0', debugToken: token }))
  await node.start()
  const url = node.debugUrl as string
  try {
    assert.equal((await fetch(`${url}/health`)).status, 401)
    assert.equal((await fetch(`${url}/health`, { headers: { authorization: 'Bearer wrong' } })).status, 401)
    const ok = await fetch(`${url}/health`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(ok.status, 200)
    const health: any = await ok.json()
    assert.equal(health.status, 'alone')
    assert.deepEqual(health.ready, { started: true, hasPeers: false, gossipMeshFormed: true, topicsWithoutMesh: [] })
    assert.equal(health.name, 'dbg')
    assert.equal(health.peerId, node.peerId)
    const nf = await fetch(`${url}/nowhere`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(nf.status, 404)
    assert.match(nf.headers.get('content-type') ?? '', /json/)
  } finally {
    await node.stop()
  }
  await assert.rejects(fetch(`${url}/health`), 'the port is closed after stop()')
})

test('debug endpoint: a port already taken is a clear start-up error', async () => {
  const a = await createAgentNode(nodeOptions(uniqueMesh(), { debug: '127.0.0.1:0' }))
  await a.start()
  const port = new URL(a.debugUrl as string).port
  const b = await createAgentNode(nodeOptions(uniqueMesh(), { debug: `127.0.0.1:${port}` }))
  try {
    await assert.rejects(b.start(), (e: any) => e instanceof ConfigError && /cannot listen on 127\.0\.0\.1:\d+/.test(e.message))
  } finally {
    await a.stop()
    await b.stop()
  }
})

/** Reads Server-Sent Events from a fetch response body. */
function sse (body: ReadableStream<Uint8Array>): { events: Array<{ event: string, data: any }>, stop: () => void } {
  const events: Array<{ event: string, data: any }> = []
  const reader = body.getReader()
  let buf = ''
  void (async () => {
    try {
      while (true) {
        const { value, done } = await reader.read()
        if (done) return
        buf += Buffer.from(value).toString('utf8')
        let i
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i); buf = buf.slice(i + 2)
          const event = /^event: (.*)$/m.exec(block)?.[1]
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) })
        }
      }
    } catch { /* cancelled */ }
  })()
  return { events, stop: () => { void reader.cancel().catch(() => {}) } }
}

test('debug endpoint: /peers with rtt and streams, /topics, /messages clamped, /events live', async () => {
  const nodes = await startMesh(3, (i) => i === 0 ? { debug: '127.0.0.1:0' } : {})
  const [a] = nodes
  const url = a.debugUrl as string
  let late: AgentNode | undefined
  try {
    const peers: any = await (await fetch(`${url}/peers`)).json()
    assert.equal(peers.length, 2)
    for (const p of peers) {
      assert.ok(p.name.startsWith('n'))
      assert.ok(p.connections.length >= 1)
      assert.ok(typeof p.connections[0].rttMs === 'number' && p.connections[0].rttMs >= 0, JSON.stringify(p.connections[0]))
      assert.ok(p.connections.some((c: any) => c.streams.some((s: any) => s.protocol === '/agentmesh/rpc/1.0.0')))
    }

    const subs = nodes.map(n => n.subscribe('news'))
    await waitFor(() => a.topicPeers('news').subscribers.length === 2, 'subscriptions')
    await waitFor(async () => ((await (await fetch(`${url}/health`)).json()) as any).ready.gossipMeshFormed === true, 'the gossip mesh to form')
    const health: any = await (await fetch(`${url}/health`)).json()
    assert.deepEqual(health.ready, { started: true, hasPeers: true, gossipMeshFormed: true, topicsWithoutMesh: [] })
    const topics: any = await (await fetch(`${url}/topics`)).json()
    // Every agent takes part in monitoring.metrics (R-MON); the rest is what the test subscribed.
    assert.deepEqual(topics.map((t: any) => t.topic), ['monitoring.metrics', 'news'])
    assert.equal(topics.find((t: any) => t.topic === 'news').subscribers.length, 2)

    const res = await fetch(`${url}/events`)
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/)
    const feed = sse(res.body as ReadableStream<Uint8Array>)
    await waitFor(() => feed.events.some(e => e.event === 'hello'), 'the hello event')
    assert.equal(feed.events[0].data.peerId, a.peerId)

    late = await createAgentNode(nodeOptions(a.config.mesh, { name: 'late', bootstrap: [a.addresses()[0]] }))
    await late.start()
    await waitFor(() => feed.events.some(e => e.event === 'peer:join' && e.data.name === 'late'), 'a join event')
    await nodes[1].publish('news', { headline: 'hi' })
    await waitFor(() => feed.events.some(e => e.event === 'message' && e.data.subject === 'news' && e.data.direction === 'in'), 'a message event')
    await late.stop()
    await waitFor(() => feed.events.some(e => e.event === 'peer:leave' && e.data.name === 'late'), 'a leave event')
    feed.stop()

    const two: any = await (await fetch(`${url}/messages?limit=2`)).json()
    assert.equal(two.length, 2)
    assert.ok(two[0].at >= two[1].at, 'newest first')
    const many: any = await (await fetch(`${url}/messages?limit=99999`)).json()
    assert.ok(many.length <= 500 && many.length >= 2)
    const fallback: any = await (await fetch(`${url}/messages?limit=lots`)).json()
    assert.ok(Array.isArray(fallback))
    assert.ok(many.some((m: any) => m.subject === 'news' && m.topic === 'news' && typeof m.latencyMs === 'number'))
    for (const s of subs) s.unsubscribe()
  } finally {
    await stopAll([...nodes, late])
  }
})

test('/events: a client that stops reading is dropped instead of buffering without bound', async () => {
  const drops: number[] = []
  const stream = new EventStream({ maxBufferedBytes: 256 * 1024, onDrop: () => { drops.push(Date.now()) } })
  const server = createServer((req, res) => { stream.attach(req, res, {}) })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', () => { resolve() }) })
  const port = (server.address() as { port: number }).port
  const socket = connect(port, '127.0.0.1')
  try {
    socket.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n')
    await waitFor(() => stream.size === 1, 'the client to attach')
    socket.pause() // reads nothing more: the kernel buffers fill, then the server's
    const big = 'x'.repeat(64 * 1024)
    for (let i = 0; i < 2000 && stream.size > 0; i++) { stream.send('message', big); await sleep(1) }
    assert.equal(stream.size, 0, 'the stalled client was dropped')
    assert.equal(drops.length, 1)
  } finally {
    socket.destroy()
    stream.close()
    await new Promise(resolve => server.close(resolve))
  }
})
