import { createServer, type AddressInfo } from 'node:net'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { createAgentNode, defineCommand, defineTopic, type AgentNode } from '../../surfaces/index.js'
import { nodeOptions, sleep, startMesh, stopAll, uniqueMesh, waitFor, withTempDir } from '../helpers.js'

test('5-node mesh: every node gets every broadcast exactly once, from every publisher', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(5)
  try {
    const Topic = defineTopic('news', z.object({ n: z.number() }))
    const got = nodes.map(() => new Map<string, number[]>())
    const subs = nodes.map((node, i) => {
      const sub = node.subscribe(Topic)
      void (async () => { for await (const m of sub) { const l = got[i].get(m.from) ?? []; l.push(m.payload.n); got[i].set(m.from, l) } })()
      return sub
    })
    // Gossip learns subscriptions from its peers' announcements: wait for them before publishing.
    await waitFor(() => nodes.every(n => n.topicPeers('news').subscribers.length === 4), 'subscriptions to propagate')
    const perPublisher = 40
    for (let k = 0; k < perPublisher; k++) for (const node of nodes) await node.publish(Topic, { n: k })
    const expected = Array.from({ length: perPublisher }, (_, k) => k)
    await waitFor(() => got.every(m => nodes.every(p => (m.get(p.peerId)?.length ?? 0) >= perPublisher)), 'every node to get every broadcast')
    await sleep(300) // any duplicate would arrive now
    for (let i = 0; i < nodes.length; i++) {
      for (const p of nodes) assert.deepEqual(got[i].get(p.peerId), expected, `node ${i} from ${p.name}: all, once, in publish order`)
    }
    for (const s of subs) s.unsubscribe()
  } finally {
    await stopAll(nodes)
  }
})

test('request-response works between any two of five nodes, with typed payloads', { timeout: 3 * 60_000 }, async () => {
  const Who = defineCommand('who', { request: z.object({ from: z.string() }), response: z.object({ me: z.string(), you: z.string() }) })
  const nodes = await startMesh(5)
  try {
    for (const n of nodes) n.handle(Who, (req, ctx) => ({ me: n.name, you: req.from === ctx.peer ? 'verified' : 'liar' }))
    for (const a of nodes) {
      for (const b of nodes) {
        if (a === b) continue
        const r = await a.request(b.peerId, Who, { from: a.peerId })
        assert.deepEqual(r, { me: b.name, you: 'verified' })
      }
    }
  } finally {
    await stopAll(nodes)
  }
})

test('membership: cards give names, roles and capabilities; findAgents answers; leave is seen', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3, i => ({ capabilities: i === 2 ? ['gpu', 'vision'] : ['cpu'], roles: i === 0 ? ['coordinator'] : ['managed_agent'] }))
  try {
    const found = nodes[0].findAgents({ capability: 'gpu' })
    assert.deepEqual(found.map(p => p.name), ['n2'])
    assert.deepEqual(nodes[1].findAgents({ role: 'coordinator' }).map(p => p.peerId), [nodes[0].peerId])
    const left = new Promise<string>(resolve => { nodes[0].addEventListener('peer:leave', e => { resolve(e.detail.name) }, { once: true }) })
    await nodes[2].stop()
    assert.equal(await left, 'n2')
    await waitFor(() => nodes[0].findAgents({ capability: 'gpu' }).length === 0, 'n2 to leave the view')
  } finally {
    await stopAll(nodes)
  }
})

test('a node restarted from its identity file keeps its peer id and rejoins', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => { await restartKeepsIdentity(dir) })
})

async function restartKeepsIdentity (dir: string): Promise<void> {
  const mesh = uniqueMesh()
  const identity = join(dir, 'sub', 'id.json')
  let hub: AgentNode | undefined
  let agent: AgentNode | undefined
  try {
    hub = await createAgentNode(nodeOptions(mesh, { name: 'hub' }))
    await hub.start()
    hub.handle('ping', () => 'pong')
    agent = await createAgentNode(nodeOptions(mesh, { name: 'agent', identity, bootstrap: hub.addresses() }))
    await agent.start()
    const firstId = agent.peerId
    assert.equal((await stat(identity)).mode & 0o777, 0o600)
    await waitFor(() => hub!.peers().length === 1, 'agent to join')
    await agent.stop()
    await waitFor(() => hub!.peers().length === 0, 'agent to leave')

    const rejoined = new Promise<string>(resolve => { hub!.addEventListener('peer:join', e => { resolve(e.detail.peerId) }, { once: true }) })
    agent = await createAgentNode(nodeOptions(mesh, { name: 'agent', identity, bootstrap: hub.addresses() }))
    await agent.start()
    assert.equal(agent.peerId, firstId)
    assert.equal(await rejoined, firstId)
    assert.equal(await agent.request(hub.peerId, 'ping', null), 'pong')
  } finally {
    await stopAll([agent, hub])
  }
}

test('bootstrap retries with backoff until its peer comes up', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const { generateKeyPair } = await import('@libp2p/crypto/keys')
  const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
  const key = await generateKeyPair('Ed25519')
  // A port the system just gave out and took back: a random one collided with another test's socket (CI-local, EADDRINUSE).
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => { resolve(port) })
    })
  })
  const addr = `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdFromPrivateKey(key).toString()}`
  let late: AgentNode | undefined
  const early = await createAgentNode(nodeOptions(mesh, { bootstrap: [addr], connections: { bootstrapInitialDelayMs: 100, bootstrapMaxDelayMs: 400 } }))
  const errors: Array<number | undefined> = []
  early.addEventListener('bootstrap:error', e => { errors.push(e.detail.retryInMs) })
  try {
    await early.start()
    await waitFor(() => errors.length >= 2, 'failed dials to be retried')
    late = await createAgentNode(nodeOptions(mesh, { privateKey: key, listen: [`/ip4/127.0.0.1/tcp/${port}`] }))
    await late.start()
    await waitFor(() => early.peers().length === 1, 'the early node to join once its bootstrap peer is up')
    assert.ok(errors.every(ms => ms !== undefined && ms <= 400), `each failure says when it is retried, under the configured maximum: ${errors.join(', ')}`)
  } finally {
    await stopAll([early, late])
  }
})

test('a node that dials only a /ws address reaches a node listening on WebSockets', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const server = await createAgentNode(nodeOptions(mesh, { listen: ['/ip4/127.0.0.1/tcp/0/ws'] }))
  let client: AgentNode | undefined
  try {
    await server.start()
    server.handle('hi', () => 'over websockets')
    const wsAddr = server.addresses().find(a => a.includes('/ws/'))
    assert.ok(wsAddr, `server listens on /ws: ${server.addresses().join(' ')}`)
    client = await createAgentNode(nodeOptions(mesh, { bootstrap: [wsAddr] }))
    await client.start()
    await waitFor(() => client!.peers().length === 1, 'client to join over /ws')
    const conns = client.libp2p.getConnections()
    assert.ok(conns.length > 0 && conns.every(c => c.remoteAddr.toString().includes('/ws')), 'every connection is a WebSocket one')
    assert.equal(await client.request(server.peerId, 'hi', null), 'over websockets')
  } finally {
    await stopAll([client, server])
  }
})

test('a node not started, or stopped, refuses to talk with a COM002 error; stop() is idempotent', { timeout: 3 * 60_000 }, async () => {
  const node = await createAgentNode(nodeOptions(uniqueMesh()))
  node.handle('early', () => 'registered before start is fine')
  await assert.rejects(node.publish('t', 1), (e: any) => e.code === 'COM002' && /not started/.test(e.message))
  assert.throws(() => node.subscribe('t'), (e: any) => e.code === 'COM002')
  await node.start()
  await node.publish('t', 1)
  await node.stop()
  await node.stop()
  await assert.rejects(node.request(node.peerId, 'early', null), (e: any) => e.code === 'COM002' && /stopped/.test(e.message))
  await assert.rejects(node.start(), (e: any) => e.code === 'COM002')
})

test('an expired ttl is dropped and counted by the receiver; a live one is delivered', { timeout: 3 * 60_000 }, async () => {
  const [a, b] = await startMesh(2)
  try {
    const sub = b.subscribe('ttl')
    await waitFor(() => a.topicPeers('ttl').subscribers.length === 1, 'the subscription to reach a')
    const got: unknown[] = []
    void (async () => { for await (const m of sub) got.push(m.payload) })()
    // An idle link's batch leaves at the end of the turn it was published in (issue 46): this turn
    // is made to last 5 ms past the publish, so the envelope is older than its 1 ms ttl on arrival.
    await a.publish('ttl', 'too late', { ttl: 1 })
    for (const until = Date.now() + 5; Date.now() < until;) { /* the same turn, on purpose */ }
    await a.publish('ttl', 'in time', { ttl: 60_000 })
    await waitFor(() => got.includes('in time'), 'the live message')
    await waitFor(() => b.stats.get('messages_total', { direction: 'in', status: 'expired' }) === 1, 'the expired one to be counted')
    assert.deepEqual(got, ['in time'])
    sub.unsubscribe()
  } finally {
    await stopAll([a, b])
  }
})

test('publish applies backpressure: past publishWindow queued envelopes, callers wait; nothing is lost', { timeout: 3 * 60_000 }, async () => {
  // One gossip message per second at most, five envelopes queued at most: a fast publisher must wait.
  // By gossip: batches over the direct fan-out streams are not held to maxBatchesPerSec (issue 46).
  const [a, b] = await startMesh(2, () => ({ pubsub: { publishWindow: 5, maxBatchesPerSec: 1, directFanout: 0 } }))
  try {
    const sub = b.subscribe('bp')
    await waitFor(() => a.topicPeers('bp').subscribers.length === 1, 'the subscription to reach a')
    const got: number[] = []
    void (async () => { for await (const m of sub) got.push(m.payload as number) })()
    let resolved = 0
    const all = Array.from({ length: 20 }, async (_, i) => { await a.publish('bp', i); resolved++ })
    await sleep(300)
    assert.ok(resolved < 20 && resolved <= 10, `only about a window's worth resolves at once (resolved ${resolved})`)
    await Promise.all(all)
    await waitFor(() => got.length === 20, 'all twenty to arrive')
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i))
    sub.unsubscribe()
  } finally {
    await stopAll([a, b])
  }
})

test('await using: leaving the block stops the node (Symbol.asyncDispose)', { timeout: 3 * 60_000 }, async () => {
  let node: AgentNode | undefined
  let url = ''
  {
    await using n = await createAgentNode(nodeOptions(uniqueMesh(), { debug: '127.0.0.1:0' }))
    await n.start()
    node = n
    url = n.debugUrl as string
    assert.equal((await fetch(`${url}/health`)).status, 200)
  }
  try {
    assert.equal(node.started, false)
    await assert.rejects(node.publish('t', 1), (e: any) => e.code === 'COM002' && /stopped/.test(e.message))
    await assert.rejects(fetch(`${url}/health`), 'the debug endpoint is closed')
    assert.equal(node.libp2p.status, 'stopped')
  } finally {
    await node.stop() // a no-op when disposal worked; otherwise the failed test must not hang the run
  }
})
