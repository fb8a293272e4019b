// Gossip batching and slow subscribers, observed on the receiving node's gossipsub: these
// nodes gossip every batch (pubsub.directFanout 0); test/protocols/pubsub/fanout.test.ts has the direct path.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Message as GossipMessage } from '@libp2p/gossipsub'
import type { AgentNode } from '../../../surfaces/index.js'
import { decodeBatch } from '../../../protocols/envelope/index.js'
import { gossipTopic } from '../../../protocols/pubsub/index.js'
import { createAgentNode } from '../../../surfaces/index.js'
import { STREAM_OPEN_WAIT_MS } from '../../../protocols/pubsub/constants.js'
import { collect, nodeOptions, startMesh, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

/** Envelopes per gossip message of one topic, as the receiver's gossipsub delivers them. */
function gossipMessages (node: AgentNode, topic: string): number[] {
  const sizes: number[] = []
  const gossip = gossipTopic(node.config.mesh, topic)
  node.libp2p.services.pubsub.addEventListener('message', (e: CustomEvent<GossipMessage>) => {
    if (e.detail.topic === gossip) sizes.push(decodeBatch(e.detail.data, 1 << 20).length)
  })
  return sizes
}

test('gossip batching: envelopes published together travel in one gossip message, up to batchMaxEnvelopes', { timeout: 3 * 60_000 }, async () => {
  const [a, b] = await startMesh(2, () => ({ pubsub: { directFanout: 0 } }))
  try {
    const sub = b.subscribe('batched')
    const got: number[] = []
    void (async () => { for await (const m of sub) got.push(m.payload as number) })()
    await waitFor(() => a.topicPeers('batched').subscribers.length === 1, 'the subscription to reach a')
    const sizes = gossipMessages(b, 'batched')
    // Defaults (50 envelopes a batch): 120 published at once go in a few gossip messages of at
    // most 50. How they split depends on the turns their publishes take to queue: an idle link
    // sends what it holds at the end of a turn (flusher.ts), so a loaded host that spreads the
    // 120 over turns sends more, smaller batches ([50, 5, 50, 15] seen beside a CPU burner).
    await Promise.all(Array.from({ length: 120 }, async (_, i) => { await a.publish('batched', i) }))
    await waitFor(() => got.length === 120, 'all 120 to arrive')
    assert.deepEqual(got, Array.from({ length: 120 }, (_, i) => i))
    assert.equal(sizes.reduce((x, y) => x + y, 0), 120, `every envelope in a gossip message: ${JSON.stringify(sizes)}`)
    assert.ok(sizes.every(n => n <= 50), `no gossip message past batchMaxEnvelopes: ${JSON.stringify(sizes)}`)
    assert.ok(sizes.length <= 6 && sizes.filter(n => n === 50).length >= 1, `120 envelopes in a few full batches, not one message each: ${JSON.stringify(sizes)}`)
    // Three published one after another, each awaited (publish resolves once queued), share the window.
    const before = sizes.length
    await a.publish('batched', 120)
    await a.publish('batched', 121)
    await a.publish('batched', 122)
    await waitFor(() => got.length === 123, 'three more')
    assert.deepEqual(sizes.slice(before), [3], 'three envelopes in one gossip message')
    sub.unsubscribe()
  } finally {
    await stopAll([a, b])
  }
})

test('a subscriber that stops reading loses the oldest messages past pubsub.subscriptionBuffer, counted as dropped', { timeout: 3 * 60_000 }, async () => {
  const [a, b] = await startMesh(2, () => ({ pubsub: { subscriptionBuffer: 5, directFanout: 0 } }))
  try {
    const slow = b.subscribe('slow') // read only at the end
    await waitFor(() => a.topicPeers('slow').subscribers.length === 1, 'the subscription to reach a')
    const sizes = gossipMessages(b, 'slow') // heard after the node's own listener has delivered them
    const dropped = (): number => b.stats.get('messages_total', { direction: 'in', status: 'dropped' })
    const before = dropped()
    for (let i = 0; i < 20; i++) await a.publish('slow', i)
    await waitFor(() => sizes.reduce((x, y) => x + y, 0) === 20, 'all twenty to reach b')
    assert.equal(dropped() - before, 15, 'fifteen dropped from the full buffer, and counted')
    const kept: number[] = []
    for await (const m of slow) {
      kept.push(m.payload as number)
      if (kept.length === 5) break
    }
    assert.deepEqual(kept, [15, 16, 17, 18, 19], 'the newest five are kept, the oldest lost')
  } finally {
    await stopAll([a, b])
  }
})

// The loop's cli.test lost both messages of `agentmesh pub` once (load 10): the subscriber's
// subscription had come over its own stream, gossipsub's stream back to it was still opening, and
// gossipsub dropped the batch for it without a word. Here that stream is held back 4 s (a loaded
// host's negotiations, queued one peer at a time, took seconds), by delaying the publisher's gossipsub instance only.
test('a batch published while gossipsub\'s stream to a known subscriber is still opening waits for it and arrives', { timeout: 2 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const nodes: AgentNode[] = []
  try {
    const a = await createAgentNode(nodeOptions(mesh, { name: 'pub', pubsub: { directFanout: 0 } }))
    nodes.push(a)
    const gs = a.libp2p.services.pubsub as unknown as { createOutboundStream?: (...args: unknown[]) => Promise<void>, streamsOutbound?: Map<string, unknown> }
    const open = gs.createOutboundStream
    // What this test holds back is gossipsub's (17.x) own: renamed upstream, the test says so instead of passing untested.
    assert.equal(typeof open, 'function', 'gossipsub opens its outbound streams in createOutboundStream')
    assert.ok(gs.streamsOutbound instanceof Map, 'gossipsub keeps its outbound streams in streamsOutbound')
    const later = open as (...args: unknown[]) => Promise<void>
    gs.createOutboundStream = async (...args: unknown[]) => { await new Promise(resolve => setTimeout(resolve, 4_000)); await later.apply(gs, args) }
    await a.start()
    const b = await createAgentNode(nodeOptions(mesh, { name: 'sub', bootstrap: [a.addresses()[0]], pubsub: { directFanout: 0 } }))
    nodes.push(b)
    await b.start()
    const got = collect(b, 'opening')
    const subPeer = b.peerId
    await waitFor(() => a.topicPeers('opening').subscribers.includes(subPeer), 'the subscription to reach the publisher')
    assert.equal((gs.streamsOutbound as Map<string, unknown>).has(subPeer), false, 'the publisher knows the subscriber before its own gossip stream to it is open (the window this test is about)')
    await a.publish('opening', 1)
    await a.publish('opening', 2)
    await a.flush()
    await waitFor(() => got.length === 2, 'both messages at the subscriber', 15_000)
    assert.deepEqual(got.map(m => m.payload), [1, 2])
  } finally {
    await stopAll(nodes)
  }
})

test('a subscriber whose gossip stream never opens holds a batch for the others at most STREAM_OPEN_WAIT_MS, then not again', { timeout: 2 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const nodes: AgentNode[] = []
  try {
    const a = await createAgentNode(nodeOptions(mesh, { name: 'pub', pubsub: { directFanout: 0 } }))
    nodes.push(a)
    await a.start()
    const c = await createAgentNode(nodeOptions(mesh, { name: 'healthy', bootstrap: [a.addresses()[0]], pubsub: { directFanout: 0 } }))
    nodes.push(c)
    await c.start()
    const atC = collect(c, 'stuck')
    const gs = a.libp2p.services.pubsub as unknown as { createOutboundStream?: (...args: unknown[]) => Promise<void>, streamsOutbound?: Map<string, unknown> }
    assert.equal(typeof gs.createOutboundStream, 'function', 'gossipsub opens its outbound streams in createOutboundStream')
    await waitFor(() => a.topicPeers('stuck').subscribers.includes(c.peerId) && (gs.streamsOutbound as Map<string, unknown>).has(c.peerId), 'the healthy subscriber known and writable')
    // From now on the publisher's gossipsub never opens a stream (a negotiation that hangs).
    gs.createOutboundStream = async () => { await new Promise(() => {}) }
    const b = await createAgentNode(nodeOptions(mesh, { name: 'stuck', bootstrap: [a.addresses()[0]], pubsub: { directFanout: 0 } }))
    nodes.push(b)
    await b.start()
    b.subscribe('stuck')
    await waitFor(() => a.topicPeers('stuck').subscribers.includes(b.peerId), 'the second subscription to reach the publisher')
    assert.equal((gs.streamsOutbound as Map<string, unknown>).has(b.peerId), false)
    await a.publish('stuck', 1)
    await a.flush()
    await waitFor(() => atC.length === 1, 'the first message at the healthy subscriber, after the wait', 20_000)
    // The next batch is not held for the stream that did not come: its flush (the send, wait
    // included) takes a moment, not another STREAM_OPEN_WAIT_MS.
    const before = Date.now()
    await a.publish('stuck', 2)
    await a.flush()
    const flushed = Date.now() - before
    assert.ok(flushed < STREAM_OPEN_WAIT_MS, `the second batch was not held another ${STREAM_OPEN_WAIT_MS} ms (its flush took ${flushed} ms)`)
    await waitFor(() => atC.length === 2, 'the second message at the healthy subscriber', 20_000)
    assert.deepEqual(atC.map(m => m.payload), [1, 2])
  } finally {
    await stopAll(nodes)
  }
})
