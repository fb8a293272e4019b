// Gossip batching and slow subscribers, observed on the receiving node's gossipsub: these
// nodes gossip every batch (pubsub.directFanout 0); test/protocols/pubsub/fanout.test.ts has the direct path.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Message as GossipMessage } from '@libp2p/gossipsub'
import type { AgentNode } from '../../../surfaces/index.js'
import { decodeBatch } from '../../../protocols/envelope/index.js'
import { gossipTopic } from '../../../protocols/pubsub/index.js'
import { startMesh, stopAll, waitFor } from '../../helpers.js'

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
