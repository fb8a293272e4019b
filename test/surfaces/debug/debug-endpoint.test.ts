import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { connect } from 'node:net'
import { createAgentNode, ConfigError, type AgentNode } from '../../../surfaces/index.js'
import { EventStream } from '../../../surfaces/http/event-stream.js'
import { MAX_COUNTED_TOPICS, MessageLog, OTHER_TOPICS } from '../../../node/message-log.js'
import { TopicRates } from '../../../surfaces/debug/topic-rates.js'
import { encodeBatch, envelopeToJson, makeEnvelope } from '../../../protocols/envelope/index.js'
import { gossipTopic } from '../../../protocols/pubsub/index.js'
import { nodeOptions, sleep, startMesh, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

test('debug endpoint: health of a node alone, bearer token checked, unknown routes 404, stop closes it', { timeout: 3 * 60_000 }, async () => {
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

test('debug endpoint: a port already taken is a clear start-up error', { timeout: 3 * 60_000 }, async () => {
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

test('debug endpoint: /peers with rtt and streams, /topics, /messages clamped, /events live', { timeout: 3 * 60_000 }, async () => {
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
    // A voter hears the agents' metric reports on monitoring.metrics (R-MON); the rest is what the test subscribed.
    // The voter set may form (and a subscribe) before or after 'news', or after this was read.
    const names: string[] = topics.map((t: any) => t.topic)
    assert.deepEqual(names.filter(t => t !== 'monitoring.metrics'), ['news'])
    if (names.includes('monitoring.metrics')) assert.equal(a.monitoring.hears, true)
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

test('/events: a client that stops reading is dropped instead of buffering without bound', { timeout: 3 * 60_000 }, async () => {
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

test('/mesh: an announcement whose peerId is not its publisher is dropped; the publisher\'s own is kept', { timeout: 3 * 60_000 }, async () => {
  const [watcher, forger] = await startMesh(2, (i) => i === 0 ? { debug: '127.0.0.1:0' } : {})
  try {
    const mesh = async (): Promise<any> => await (await fetch(`${watcher.debugUrl as string}/mesh`)).json()
    // Announced, not only known as a member (mesh-map.ts): gossip from the forger reaches the watcher.
    await waitFor(async () => (await mesh()).nodes.some((n: any) => n.peerId === forger.peerId && n.announced !== false), 'the forger\'s own announcement')
    // Published by hand (node.publish refuses "$" topics): one announcement for a peer that is
    // not the publisher, then one for the publisher itself, in one signed gossip message.
    const ghost = (await createAgentNode(nodeOptions(uniqueMesh()))).peerId // never started
    const at = Date.now() + 60_000 // newer than any the forger will send on its own
    const announce = (payload: Record<string, unknown>): string => envelopeToJson(makeEnvelope({
      source: forger.peerId, destination: { topic: '$agentmesh/mesh' }, type: 'EVENT', subject: '$agentmesh/mesh', payload
    }))
    await forger.libp2p.services.pubsub.publish(gossipTopic(watcher.config.mesh, '$agentmesh/mesh'), encodeBatch([
      announce({ peerId: ghost, name: 'ghost', roles: ['agent'], peers: [watcher.peerId, forger.peerId], rates: {}, at }),
      announce({ peerId: forger.peerId, name: 'renamed', roles: ['agent'], peers: [watcher.peerId], rates: {}, at })
    ]))
    await waitFor(async () => (await mesh()).nodes.some((n: any) => n.name === 'renamed'), 'the honest announcement to be recorded')
    const map = await mesh()
    assert.deepEqual(map.nodes.map((n: any) => n.name).sort(), ['n0', 'renamed'])
    assert.ok(map.edges.every((e: any) => e.a !== ghost && e.b !== ghost), 'no edge to the ghost')
  } finally {
    await stopAll([watcher, forger])
  }
})

test('/members, /resources, /stats and /tasks: the failure detector\'s view, the resource table, the raw counters, the recent tasks', { timeout: 3 * 60_000 }, async () => {
  const resources = { cpuCores: 2, memoryGb: 4, storageGb: 10, gpuUnits: 0 }
  const nodes = await startMesh(3, () => ({ debug: '127.0.0.1:0', resources }))
  const get = async (n: AgentNode, path: string): Promise<any> => await (await fetch(`${n.debugUrl as string}${path}`)).json()
  try {
    const byId = new Map(nodes.map(n => [n.peerId, n.name]))
    // /members: every other agent with its state, incarnation and eligibility (docs/coordination.md).
    await waitFor(async () => (await get(nodes[0], '/members')).filter((m: any) => m.state === 'alive').length === 2, 'two live members')
    const members = await get(nodes[0], '/members')
    assert.deepEqual(members.map((m: any) => m.name).sort(), ['n1', 'n2'])
    for (const m of members) {
      assert.equal(byId.get(m.peerId), m.name)
      assert.deepEqual(Object.keys(m).sort(), ['eligible', 'incarnation', 'lastHeard', 'name', 'peerId', 'roles', 'rolesSource', 'since', 'state'])
      assert.equal(m.rolesSource, 'claimed', 'an open mesh shows the roles members claim, marked so')
      assert.equal(m.eligible, true)
      assert.ok(Number.isInteger(m.incarnation) && m.since > 0 && m.lastHeard > 0)
    }

    // /resources on the resource manager (the coordinator): each agent's free resources and the allocations.
    await nodes[0].coordinatorElected({ signal: AbortSignal.timeout(20_000) })
    const manager = nodes.find(n => n.peerId === nodes[0].coordinator().leader) as AgentNode
    const answer = await nodes[1].allocateResources({ task_id: 'cache', requirements: { cpu_cores: 1, memory_gb: 3, storage_gb: 0 }, agent: nodes[2].peerId })
    assert.equal(answer.type, 'resource.allocated')
    const table = await get(manager, '/resources')
    assert.equal(table.manager, true)
    const free = Object.fromEntries(table.agents.map((a: any) => [byId.get(a.agent), a.free]))
    const all = { cpu_cores: 2, memory_gb: 4, storage_gb: 10, gpu_units: 0 }
    assert.deepEqual(free, { n0: all, n1: all, n2: { ...all, cpu_cores: 1, memory_gb: 1 } })
    assert.equal(table.allocations.length, 1)
    const [held] = table.allocations
    assert.deepEqual([held.task_id, held.agent, held.holder], ['cache', nodes[2].peerId, nodes[1].peerId])
    assert.deepEqual(held.resources.map((r: any) => r.kind).sort(), ['cpu', 'memory'])
    const other = nodes.find(n => n !== manager) as AgentNode
    assert.equal((await get(other, '/resources')).manager, false)

    // /stats: every counter as { labels, value } series, the same numbers node.stats holds.
    await assert.rejects(nodes[0].request(nodes[1].peerId, 'nope', null))
    await assert.rejects(nodes[0].request(nodes[1].peerId, 'nope', null))
    const stats = await get(nodes[1], '/stats')
    for (const series of Object.values(stats) as any[]) {
      for (const s of series) assert.ok(typeof s.labels === 'object' && typeof s.value === 'number', JSON.stringify(s))
    }
    assert.deepEqual(stats.rpc_errors_total.filter((s: any) => s.labels.code === 'CMD001'), [{ labels: { code: 'CMD001', reason: 'UnknownCommandError' }, value: 2 }])
    assert.deepEqual(stats.messages_total.filter((s: any) => s.labels.status === 'unknown_command'), [{ labels: { direction: 'in', type: 'REQUEST', status: 'unknown_command' }, value: 2 }])

    // /tasks: besides counts and open tasks, the records that changed last with state and agent.
    let ranBy = ''
    for (const n of nodes) n.onTask('listed', () => { ranBy = n.peerId; return 'ok' })
    await (await nodes[1].submitTask({ task_id: 'listed-1', type: 'listed' })).result()
    await waitFor(async () => (await get(manager, '/tasks')).recent?.[0]?.status === 'completed', 'the finished task in /tasks recent')
    const tasks = await get(manager, '/tasks?limit=5')
    assert.deepEqual(Object.keys(tasks).sort(), ['executing', 'recent', 'submitted', 'table'])
    const [done] = tasks.recent
    assert.deepEqual([done.task_id, done.type, done.status, done.agent, done.attempt, done.progress], ['listed-1', 'listed', 'completed', ranBy, 1, 1])
    assert.ok(Number.isFinite(Date.parse(done.updated_at)))
    assert.equal(tasks.table.counts.completed, 1)
  } finally {
    await stopAll(nodes)
  }
})

test('/events samples message events at 20 per second however many messages pass; /gossip counts them all', { timeout: 3 * 60_000 }, async () => {
  // No periodic traffic of the nodes' own, so the feed's sampling windows can be known.
  const quiet = { meshAnnounceIntervalMs: 0, monitoring: { metricsIntervalMs: 0 } }
  const [a, b] = await startMesh(2, (i) => i === 0 ? { ...quiet, debug: '127.0.0.1:0' } : quiet)
  const res = await fetch(`${a.debugUrl as string}/events`)
  const feed = sse(res.body as ReadableStream<Uint8Array>)
  const sampled: number[] = [] // what the node passed to its feed, to know when the feed has it all
  const unlisten = a.stats.messages.listen((r) => { sampled.push(r.at) })
  try {
    const sub = a.subscribe('busy')
    let got = 0
    void (async () => { for await (const _ of sub) got++ })()
    await waitFor(() => b.topicPeers('busy').subscribers.length === 1, 'the subscription to reach b')
    await waitFor(() => feed.events.some(e => e.event === 'hello'), 'the hello event')
    // A second with no message at all: the first message after it opens a sampling window.
    await waitFor(() => Date.now() - (a.stats.messages.recent(1)[0]?.at ?? 0) > 1_100, 'a quiet second')
    const from = Date.now()
    // 1,500 messages over about 1.5 s: far more than the sampling lets through.
    for (let i = 0; i < 30; i++) {
      await Promise.all(Array.from({ length: 50 }, async (_, k) => { await b.publish('busy', i * 50 + k) }))
      await sleep(50)
    }
    await waitFor(() => got === 1500, 'a to receive all 1,500')
    const at = (): number[] => feed.events.filter(e => e.event === 'message' && e.data.at >= from).map(e => e.data.at as number)
    await waitFor(() => at().length === sampled.filter(t => t >= from).length, 'the feed to carry every sampled message')
    // The first 20 messages of each window pass; a window opens with the first message a second
    // or more after the previous window opened: rebuild the windows from what the feed carried.
    const windows: number[] = []
    let start = -Infinity
    for (const t of at()) {
      if (t - start >= 1000) { start = t; windows.push(0) }
      windows[windows.length - 1]++
    }
    assert.ok(windows.length >= 2 && windows.every(n => n <= 20), `message events per window: ${JSON.stringify(windows)}`)
    assert.equal(windows[0], 20, 'the first window is full: sampling lets events through, it does not stop them')
    // /gossip and the feed's gossip event: the topic's count in (as of the last sample, taken each
    // second), and a rate over the last seconds.
    const gossip = async (): Promise<any> => (await (await fetch(`${a.debugUrl as string}/gossip`)).json() as any).topics.find((t: any) => t.topic === 'busy')
    await waitFor(async () => (await gossip())?.in === 1500, 'the count of busy on /gossip to reach 1,500')
    const busy = await gossip()
    assert.equal(busy.out, 0)
    assert.ok(busy.inPerSec > 0, JSON.stringify(busy))
    await waitFor(() => feed.events.some(e => e.event === 'gossip' && e.data.topics.some((t: any) => t.topic === 'busy' && t.inPerSec > 0)), 'a gossip event with busy\'s rate')
    sub.unsubscribe()
  } finally {
    unlisten()
    feed.stop()
    await stopAll([a, b])
  }
})

test('gossip rates: counted per topic up to a cap, rates over a window of samples, zero once quiet', { timeout: 3 * 60_000 }, () => {
  const log = new MessageLog(10)
  const env = (topic: string, source = 'p1'): any => ({ id: 'x', type: 'EVENT', subject: topic, source, destination: { topic } })
  for (let i = 0; i < 30; i++) log.add(env('a'), 'in')
  for (let i = 0; i < 10; i++) log.add(env('a', 'me'), 'out')
  log.add({ ...env('a'), destination: { peer: 'p2' } }, 'out') // rpc: no topic
  assert.deepEqual(log.topicTotals().get('a'), { in: 30, out: 10 })
  assert.equal(log.topicTotals().size, 1)
  for (let i = 0; i < MAX_COUNTED_TOPICS + 5; i++) log.add(env(`t${i}`), 'in')
  assert.equal(log.topicTotals().size, MAX_COUNTED_TOPICS + 1, 'topics past the cap share one line')
  assert.equal(log.topicTotals().get(OTHER_TOPICS)?.in, 6)

  const rates = new TopicRates(2_000)
  const totals = new Map<string, { in: number, out: number }>()
  rates.sample(totals, 0)
  totals.set('a', { in: 10, out: 2 })
  rates.sample(totals, 1_000)
  assert.deepEqual(rates.rates(), [{ topic: 'a', in: 10, out: 2, inPerSec: 10, outPerSec: 2 }])
  totals.set('a', { in: 30, out: 2 })
  totals.set('b', { in: 0, out: 4 })
  rates.sample(totals, 2_000)
  assert.deepEqual(rates.rates(), [
    { topic: 'a', in: 30, out: 2, inPerSec: 15, outPerSec: 1 },
    { topic: 'b', in: 0, out: 4, inPerSec: 0, outPerSec: 2 }
  ])
  rates.sample(totals, 3_000)
  rates.sample(totals, 4_000)
  assert.deepEqual(rates.rates().map(r => [r.topic, r.inPerSec, r.outPerSec]), [['a', 0, 0], ['b', 0, 0]], 'no message in the window: zero')
})
