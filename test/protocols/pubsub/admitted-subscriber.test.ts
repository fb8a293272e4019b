/**
 * A closed mesh's publisher and a subscriber it has just admitted. Gossipsub is told a peer not
 * yet admitted scores under its publish threshold (node/libp2p.ts), and keeps a score it computed
 * for a heartbeat: a batch gossiped in the second after the admission reached no subscriber whose
 * score was computed just before it, and nothing repaired it (the next heartbeat grafts the
 * subscriber into the mesh, and mesh peers get no IHAVE). README's calc.ts, run closed, lost one
 * alert in two runs. Here the publisher's scores are read as the newcomer joins, as the debug
 * endpoint's /gossip reads them, and fan-out is off, so every batch goes by gossip: without
 * SCORE_REFRESH_WAIT_MS's wait the first newcomer gets nothing.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AgentNode } from '../../../node/index.js'
import { newOwnerKey } from '../../../protocols/admission/credential.js'
import { closedAgent, stopAll, uniqueMesh, waitFor, withTempDir } from '../../helpers.js'

test('closed mesh: a batch gossiped the moment its subscriber is admitted reaches it, each of three newcomers in turn', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const owner = await newOwnerKey()
    const nodes: AgentNode[] = []
    try {
      const grant = { roles: ['agent', 'coordinator'] }
      const quiet = { pubsub: { directFanout: 0 } }
      const publisher = (await closedAgent(dir, mesh, owner, 'publisher', grant, quiet)).node
      nodes.push(publisher)
      // A subscriber itself, as calc.ts is: gossipsub then publishes into the topic's mesh, which the next heartbeat grafts the newcomer into.
      const own = publisher.subscribe('news')
      for (let i = 0; i < 3; i++) {
        const got: unknown[] = []
        // Every peer's score read every 20 ms from before the newcomer connects until the batch is published.
        const reading = setInterval(() => { for (const p of publisher.libp2p.getPeers()) publisher.gossipScore(p.toString()) }, 20)
        const newcomer = (await closedAgent(dir, mesh, owner, `newcomer-${i}`, grant, { ...quiet, bootstrapFrom: publisher })).node
        nodes.push(newcomer)
        const sub = newcomer.subscribe('news')
        void (async () => { for await (const m of sub) got.push(m.payload) })()
        // As calc.ts does: publish as soon as the subscriber is known, which is as soon as it is admitted.
        await publisher.waitForSubscribers('news', { min: i + 1, signal: AbortSignal.timeout(30_000) })
        clearInterval(reading)
        await publisher.publish('news', `to newcomer ${i}`)
        await waitFor(() => got.includes(`to newcomer ${i}`), `newcomer ${i} to get the batch published as it was admitted`, 15_000)
        assert.equal(publisher.stats.get('broadcast_batches_total', { direction: 'out', via: 'direct' }), 0, 'every batch by gossip')
      }
      own.unsubscribe()
    } finally {
      await stopAll(nodes)
    }
  })
})
