/**
 * Model updates through real nodes: a model of nine chunks reaching every agent intact over the
 * chunked stream protocol (20 MiB goes through examples/model-rollout, test/repo/examples.test.ts),
 * answers on learning.metrics, an older version refused, and bytes that do not match the
 * announced hash refused with LRN001, counted, and not applied.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import type { AgentNode } from '../../../surfaces/index.js'
import { FetchRequest, LEARNING_PROTOCOL, type LearningMetrics } from '../../../protocols/learning/index.js'
import { DEFAULT_CHUNK_BYTES } from '../../../protocols/learning/constants.js'
import { FramedStream } from '../../../protocols/rpc/framed-stream.js'
import { startMesh, stopAll, waitFor } from '../../helpers.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

test('learning: a model update of nine chunks, the last one partial, reaches every agent intact; an older version never replaces a newer; a hash mismatch is refused', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(5)
  try {
    const [publisher, ...agents] = nodes
    const got = new Map<AgentNode, Array<{ version: number, hash: string, size: number }>>()
    for (const a of agents) {
      got.set(a, [])
      a.learning.onModelUpdate('policy', (u) => { got.get(a)?.push({ version: u.version, hash: sha(u.data), size: u.data.byteLength }); return { accuracy: 0.9 } })
    }
    const answers: LearningMetrics[] = []
    const sub = publisher.subscribe('learning.metrics')
    void (async () => { for await (const m of sub) answers.push(m.payload as LearningMetrics) })()
    await waitFor(() => agents.every(a => publisher.topicPeers('learning.metrics').subscribers.includes(a.peerId)) && agents.every(a => a.topicPeers('learning.model_update').mesh.length > 0), 'the learning topics to form')

    const model = randomBytes(8 * DEFAULT_CHUNK_BYTES + 12_345)
    const announced = await publisher.learning.publishModel({ model_id: 'policy', version: 1, data: model, metadata: { epoch: 12 } })
    assert.equal(announced.size, model.byteLength)
    assert.equal(announced.sha256, sha(model))
    await waitFor(() => agents.every(a => a.learning.version('policy') === 1), 'every agent to apply version 1', 60_000)
    for (const a of agents) assert.deepEqual(got.get(a), [{ version: 1, hash: sha(model), size: model.byteLength }], `${a.name} got the bytes intact`)
    await waitFor(() => answers.filter(m => m.version === 1 && m.status === 'applied').length === 4, 'four answers on learning.metrics')
    assert.ok(answers.every(m => m.metrics.accuracy === 0.9 && m.bytes === model.byteLength))

    // Version 3, then a version 2 announced late by an agent that holds it: refused as stale.
    const v3 = randomBytes(64 * 1024)
    await publisher.learning.publishModel({ model_id: 'policy', version: 3, data: v3 })
    await waitFor(() => agents.every(a => a.learning.version('policy') === 3), 'every agent to apply version 3', 30_000)
    const v2 = randomBytes(64 * 1024)
    const late = agents[0]
    late.learning.offer('policy', 2, v2)
    await late.publish('learning.model_update', { type: 'learning.model_update', model_id: 'policy', version: 2, size: v2.byteLength, sha256: sha(v2), source: late.peerId, timestamp: new Date().toISOString() })
    // Every agent refuses it, the one that announced it included.
    await waitFor(() => answers.filter(m => m.version === 2 && m.status === 'stale').length === 4, 'the agents to refuse version 2 as stale')
    assert.ok(answers.filter(m => m.version === 2).every(m => m.error?.code === 'LRN002'))
    assert.ok(agents.every(a => a.learning.version('policy') === 3))

    // Version 4 announced with the hash of other bytes than it serves: nobody applies it.
    const served = randomBytes(128 * 1024)
    const liar = agents[1]
    liar.learning.offer('policy', 4, served)
    await liar.publish('learning.model_update', { type: 'learning.model_update', model_id: 'policy', version: 4, size: served.byteLength, sha256: sha(randomBytes(128 * 1024)), source: liar.peerId, timestamp: new Date().toISOString() })
    await waitFor(() => answers.filter(m => m.version === 4 && m.status === 'hash_mismatch').length === 4, 'the agents to refuse version 4 (hash mismatch)')
    assert.ok(answers.filter(m => m.version === 4).every(m => m.error?.code === 'LRN001'))
    for (const a of agents) assert.equal(a.learning.version('policy'), 3)
    for (const a of agents.filter(x => x !== liar)) assert.ok(!got.get(a)?.some(g => g.version === 4))

    // Version 5 served by a source whose header agrees with the announcement (size and hash)
    // but whose bytes differ by one: only the hash of the streamed bytes can tell.
    const v5 = randomBytes(64 * 1024)
    const corrupted = Uint8Array.from(v5)
    corrupted[1234] ^= 0xff
    await publisher.libp2p.unhandle(LEARNING_PROTOCOL)
    await publisher.libp2p.handle(LEARNING_PROTOCOL, async (stream) => {
      const fs = new FramedStream(stream, 4096)
      try {
        await fs.readJson(FetchRequest, AbortSignal.timeout(5_000))
        await fs.writeJson({ ok: true, size: v5.byteLength, sha256: sha(v5) })
        await fs.write(corrupted)
        await fs.close()
      } catch (err) { fs.abort(err as Error) }
    })
    await publisher.publish('learning.model_update', { type: 'learning.model_update', model_id: 'policy', version: 5, size: v5.byteLength, sha256: sha(v5), source: publisher.peerId, timestamp: new Date().toISOString() })
    await waitFor(() => answers.filter(m => m.version === 5 && m.status === 'hash_mismatch').length === 4, 'the agents to refuse version 5 (streamed bytes mismatch)')
    assert.ok(answers.filter(m => m.version === 5).every(m => m.error?.code === 'LRN001' && /hashes to/.test(m.error.message)), JSON.stringify(answers.filter(m => m.version === 5)))
    for (const a of agents) assert.equal(a.learning.version('policy'), 3)
    for (const a of agents) assert.ok(!got.get(a)?.some(g => g.version === 5), `${a.name} did not apply the corrupted bytes`)
    const m = (await agents[2].stats.exposition()).body
    assert.match(m, /model_updates_total\{outcome="hash_mismatch"\} 2/)
    assert.match(m, /model_updates_total\{outcome="applied"\} 2/)
    // An update announced for someone else's bytes is not taken at all.
    await assert.rejects(publisher.learning.publishModel({ model_id: 'policy', version: 1, data: v3 }), (e: Error & { code?: string }) => e.code === 'LRN002')
    sub.unsubscribe()
  } finally {
    await stopAll(nodes)
  }
})

test('learning: when the publisher is gone, an agent fetches the version from agents that answered they applied it', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(4)
  try {
    const [publisher, a, b, late] = nodes
    for (const n of [a, b]) n.learning.onModelUpdate('policy', () => {})
    // The late agent is still applying version 1 when version 2 is announced, and only gets to
    // version 2 once the publisher has stopped.
    let release: () => void = () => {}
    const held = new Promise<void>(resolve => { release = resolve })
    const lateGot: Array<{ version: number, hash: string }> = []
    let lateApplying = 0
    late.learning.onModelUpdate('policy', async (u) => {
      lateApplying = u.version
      if (u.version === 1) await held
      lateGot.push({ version: u.version, hash: sha(u.data) })
    })
    const heard: LearningMetrics[] = []
    const sub = late.subscribe('learning.metrics')
    void (async () => { for await (const m of sub) heard.push(m.payload as LearningMetrics) })()
    await waitFor(() => [a, b, late].every(n => n.topicPeers('learning.model_update').mesh.length > 0) &&
      [a, b].every(n => n.topicPeers('learning.metrics').subscribers.includes(late.peerId)), 'the learning topics to form')

    const v1 = randomBytes(1024)
    await publisher.learning.publishModel({ model_id: 'policy', version: 1, data: v1 })
    await waitFor(() => [a, b].every(n => n.learning.version('policy') === 1), 'a and b to apply version 1')
    // Version 1 may reach the late agent after a and b have applied it (by gossip, where the others
    // got it written to them directly): version 2 is announced once the late agent is applying 1.
    await waitFor(() => lateApplying === 1, 'the late agent to be applying version 1')
    const v2 = randomBytes(600 * 1024)
    await publisher.learning.publishModel({ model_id: 'policy', version: 2, data: v2 })
    await waitFor(() => [a, b].every(n => heard.some(m => m.agent === n.peerId && m.version === 2 && m.status === 'applied')), 'the late agent to hear a and b applied version 2')
    await publisher.stop()
    release()
    await waitFor(() => late.learning.version('policy') === 2, 'the late agent to apply version 2 from a or b', 20_000)
    assert.deepEqual(lateGot, [{ version: 1, hash: sha(v1) }, { version: 2, hash: sha(v2) }])
    sub.unsubscribe()
  } finally {
    await stopAll(nodes)
  }
})
