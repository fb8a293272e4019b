// A message goes out at once when the link is idle (issue 46, protocols/pubsub/flusher.ts),
// through real nodes on 127.0.0.1: a lone envelope is handed to the network at the end of the
// turn it was published in, as a batch of one, not after the batch window; what one turn
// publishes goes as one batch, in publish order. Told by event-loop turns, not by a clock: the
// window here is a second, and no timer of a second fires within a few turns. (Each part first
// waits out the short while a link stays busy after a write: then it is idle.)
import '../../../node/polyfills.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AgentNode } from '../../../surfaces/index.js'
import { collect, sleep, startMesh, stopAll, waitFor } from '../../helpers.js'

const TOPIC = 'idle-flush'

/**
 * The sizes of the batches of `topic` the node hands to the network (fan-out or gossip), as they
 * are handed, and how long the last one took to write.
 */
function batchSizes (node: AgentNode, topic: string): Written {
  const out: Written = { sizes: [], lastMs: 0, writing: 0 }
  const pubsub = (node as any).s.pubsub
  const send = pubsub.sendBatch.bind(pubsub)
  pubsub.sendBatch = async (t: string, gossip: string, items: unknown[]) => {
    if (t !== topic) return await send(t, gossip, items)
    out.sizes.push(items.length)
    out.writing++
    const t0 = performance.now()
    try { return await send(t, gossip, items) } finally { out.lastMs = performance.now() - t0; out.writing-- }
  }
  return out
}

interface Written { sizes: number[], lastMs: number, writing: number }

/**
 * Until the link is idle again: the batch being written done (a check made as a batch is handed
 * over sees it start, not end: at load 8 the next part began while it was still writing, and
 * its five waited for it, 2026-11-28), then as long again as the write took (flusher.ts,
 * WRITE_HOLD_FACTOR 1), which is at most what the wrapper saw and the few microtasks after it.
 * Twice that and 20 ms is past it.
 */
async function idle (written: Written): Promise<void> {
  await waitFor(() => written.writing === 0, 'the batch being written to be done', 30_000, 1)
  await sleep(2 * written.lastMs + 20)
}

/** Lets the event loop run up to `max` turns (setImmediate), until `done`. */
async function turns (done: () => boolean, max: number): Promise<void> {
  for (let i = 0; i < max && !done(); i++) await new Promise(resolve => setImmediate(resolve))
}

test('broadcast: a lone envelope on an idle link goes at the end of its turn as a batch of one, not after the window; one turn\'s publishes go as one batch, in order', { timeout: 3 * 60_000 }, async () => {
  // Under the rule before issue 46 each of these batches waited out this window.
  const [subscriber, publisher] = await startMesh(2, () => ({ pubsub: { batchWindowMs: 1_000 } }))
  try {
    const got = collect(subscriber, TOPIC)
    await publisher.waitForSubscribers(TOPIC, { min: 1, signal: AbortSignal.timeout(30_000) })
    const written = batchSizes(publisher, TOPIC)
    const sizes = written.sizes
    // The first makes the topic's batcher and may find the fan-out stream still opening.
    await publisher.publish(TOPIC, { n: 0 })
    await waitFor(() => got.length === 1, 'the first envelope to arrive', 30_000)
    assert.deepEqual(sizes, [1])

    // A lone envelope, the link idle: not within its own turn (others published in it may join)...
    await idle(written)
    await publisher.publish(TOPIC, { n: 1 })
    assert.deepEqual(sizes, [1], 'handed over within the turn it was published in')
    // ... but at its end, alone.
    await turns(() => sizes.length > 1, 5)
    assert.deepEqual(sizes, [1, 1], 'the lone envelope is written as a batch of one within a few turns, the window not waited for')

    // Five published in one turn: one batch of five.
    await idle(written)
    await Promise.all([2, 3, 4, 5, 6].map(async n => await publisher.publish(TOPIC, { n })))
    await turns(() => sizes.length > 2, 5)
    assert.deepEqual(sizes, [1, 1, 5])

    await waitFor(() => got.length === 7, `every envelope to arrive (${got.length} of 7)`, 30_000)
    assert.deepEqual(got.map(m => (m.payload as { n: number }).n), [0, 1, 2, 3, 4, 5, 6], 'each once, in publish order')
    await publisher.flush()
    assert.deepEqual(sizes, [1, 1, 5], 'nothing more was sent')
  } finally {
    await stopAll([subscriber, publisher])
  }
})
