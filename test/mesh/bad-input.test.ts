// The bad-input list of the mesh core: each attack gets a typed error (or is dropped and its
// sender penalised), a counter goes up, and the node keeps serving everyone else.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { Stream } from '@libp2p/interface'
import { RPC_PROTOCOL, type AgentNode } from '../../surfaces/index.js'
import { decodeEnvelope, encodeBatch, encodeEnvelope, envelopeToJson, frameJson, makeEnvelope, type Envelope } from '../../protocols/envelope/index.js'
import { gossipTopic } from '../../protocols/pubsub/index.js'
import { encodeLength, FrameDecoder, joinFrames } from '../../protocols/rpc/frames.js'
import { MAX_INBOUND_STREAMS } from '../../protocols/rpc/constants.js'
import { sleep, startMesh, stopAll, waitFor } from '../helpers.js'

interface Raw { stream: Stream, received: Envelope[], closed: () => boolean }

async function rawRpc (from: AgentNode, to: AgentNode): Promise<Raw> {
  const stream = await from.libp2p.dialProtocol(to.libp2p.peerId, RPC_PROTOCOL)
  const decoder = new FrameDecoder(1 << 20)
  const received: Envelope[] = []
  let closed = false
  stream.addEventListener('message', (e) => { for (const f of decoder.push(e.data)) received.push(decodeEnvelope(f, 1 << 20)) })
  stream.addEventListener('close', () => { closed = true })
  return { stream, received, closed: () => closed }
}

/** The victim still answers an honest third peer. */
async function stillServes (victim: AgentNode, honest: AgentNode): Promise<void> {
  assert.equal(await honest.request(victim.peerId, 'echo', 'still here', { timeoutMs: 5_000 }), 'still here')
}

function request (from: AgentNode, to: AgentNode, patch: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...makeEnvelope({ source: from.peerId, destination: { peer: to.peerId }, type: 'REQUEST', subject: 'echo', payload: 1 }), ...patch }
}

test('rpc: oversized frames, random bytes, schema failures, unknown versions and forged sources', { timeout: 3 * 60_000 }, async () => {
  const [victim, attacker, honest] = await startMesh(3, () => ({ rpc: { stallTimeoutMs: 1_000 } }))
  try {
    victim.handle('echo', (x) => x)

    // 1. A length prefix over the limit: refused before the body, answered MSG002, stream ended.
    let raw = await rawRpc(attacker, victim)
    raw.stream.send(joinFrames([]))
    raw.stream.send(Uint8Array.from([...encodeLength(2 * 1024 * 1024), 1, 2, 3]))
    await waitFor(() => raw.received.length > 0, 'an answer to the oversized frame')
    assert.equal(raw.received[0].error?.code, 'MSG002')
    assert.equal(raw.received[0].error?.name, 'MessageTooLargeError')
    await waitFor(() => raw.closed(), 'the stream to close')
    assert.equal(victim.stats.get('rpc_errors_total', { reason: 'MessageTooLargeError' }), 1)
    await stillServes(victim, honest)

    // 2. Random bytes, several times over (they may start with a plausible length, or not):
    //    typed errors, or the stream closed once a frame is left unfinished; never a crash.
    for (let round = 0; round < 5; round++) {
      raw = await rawRpc(attacker, victim)
      const before = victim.stats.get('rpc_errors_total') + victim.stats.get('streams_aborted_total')
      raw.stream.send(randomBytes(64 * 1024))
      await waitFor(() => raw.closed() || raw.received.length > 0, 'a reaction to random bytes')
      assert.ok(raw.received.every(e => e.error?.code === 'MSG002' || e.error?.code === 'MSG001'), JSON.stringify(raw.received.map(e => e.error)))
      await waitFor(() => victim.stats.get('rpc_errors_total') + victim.stats.get('streams_aborted_total') > before, 'the bad bytes to be counted')
      raw.stream.abort(new Error('next round'))
    }
    await stillServes(victim, honest)

    // 2b. Half a frame, then silence: the stream is closed after the stall timeout.
    raw = await rawRpc(attacker, victim)
    const stalled = victim.stats.get('streams_aborted_total', { reason: 'stalled' })
    raw.stream.send(Uint8Array.from([...encodeLength(500), 1, 0x7b]))
    await waitFor(() => raw.closed(), 'the half-sent frame\'s stream to close')
    assert.equal(victim.stats.get('streams_aborted_total', { reason: 'stalled' }), stalled + 1)

    // 3-5. Well-framed but wrong envelopes: each answered with its code, the stream stays usable.
    raw = await rawRpc(attacker, victim)
    const frames = [
      frameJson(JSON.stringify(request(attacker, victim, { id: 'bad-schema', priority: 'urgent' }))),
      frameJson(JSON.stringify(request(attacker, victim, { id: 'bad-version', version: 2 }))),
      frameJson(JSON.stringify(request(attacker, victim, { id: 'forged', source: honest.peerId }))),
      // Stamped an hour ago with a minute to live (a caller whose clock is behind): answered, not handled.
      encodeEnvelope(request(attacker, victim, { id: 'expired', timestamp: Date.now() - 3_600_000, ttl: 60_000 }) as Envelope),
      encodeEnvelope(request(attacker, victim, { id: 'good' }) as Envelope)
    ]
    raw.stream.send(joinFrames(frames))
    await waitFor(() => raw.received.length === 5, 'five answers')
    const byId = new Map(raw.received.map(e => [e.correlationId, e]))
    assert.equal(byId.get('bad-schema')?.error?.code, 'MSG001')
    assert.match(byId.get('bad-schema')?.error?.message ?? '', /priority/)
    assert.equal(byId.get('bad-version')?.error?.code, 'MSG002')
    assert.equal(byId.get('bad-version')?.error?.name, 'UnsupportedVersionError')
    assert.equal(byId.get('forged')?.error?.code, 'MSG001')
    assert.match(byId.get('forged')?.error?.message ?? '', /not the authenticated peer/)
    assert.equal(byId.get('expired')?.error?.code, 'COM001')
    assert.match(byId.get('expired')?.error?.message ?? '', /expired before it arrived/)
    assert.equal(byId.get('good')?.payload, 1)
    assert.equal(raw.closed(), false)
    assert.ok(victim.stats.get('messages_total', { direction: 'in', status: 'invalid' }) >= 3)
    raw.stream.abort(new Error('done'))
    await stillServes(victim, honest)
  } finally {
    await stopAll([victim, attacker, honest])
  }
})

test('rpc: a peer that opens streams and never writes loses them; others are served meanwhile', { timeout: 3 * 60_000 }, async () => {
  const [victim, attacker, honest] = await startMesh(3, () => ({ rpc: { stallTimeoutMs: 600 } }))
  try {
    victim.handle('echo', (x) => x)
    // The attacker already holds rpc streams to the victim (its card exchange); libp2p resets
    // any beyond the per-connection limit, and our timer closes those it accepted.
    const inboundFromAttacker = (): number => victim.libp2p.getConnections(attacker.libp2p.peerId)
      .flatMap(c => c.streams).filter(s => s.protocol === RPC_PROTOCOL && s.direction === 'inbound' && s.status === 'open').length
    const accepted = MAX_INBOUND_STREAMS - inboundFromAttacker()
    const streams: Stream[] = []
    for (let i = 0; i < MAX_INBOUND_STREAMS + 4; i++) {
      try { streams.push(await attacker.libp2p.dialProtocol(victim.libp2p.peerId, RPC_PROTOCOL)) } catch { /* over the limit */ }
    }
    await stillServes(victim, honest)
    await waitFor(() => streams.every(s => s.status !== 'open'), 'the silent streams to be closed')
    // At least every silent stream it accepted; on a loaded machine a stream of the mesh's own
    // (a card exchange, a member sync) may also wait past the 600 ms and be closed, and counted
    // (a CI-local pass counted 10 for 7 while the machine ran other jobs).
    const stalled = victim.stats.get('streams_aborted_total', { reason: 'stalled' })
    assert.ok(stalled >= accepted && stalled <= MAX_INBOUND_STREAMS + 4, `${stalled} streams closed as stalled for ${accepted} silent ones accepted`)
    await stillServes(victim, honest)
    // The attacker's own connection is fine afterwards for honest use.
    assert.equal(await attacker.request(victim.peerId, 'echo', 'ok'), 'ok')
  } finally {
    await stopAll([victim, attacker, honest])
  }
})

test('rpc: a flooding peer is slowed by the window, every request answered, others still served', { timeout: 3 * 60_000 }, async () => {
  const [victim, attacker, honest] = await startMesh(3, () => ({ rpc: { window: 32, requestsPerSec: 0 } }))
  try {
    victim.handle('echo', async (x) => { await sleep(1); return x })
    const flood = Promise.all(Array.from({ length: 3000 }, async (_, i) => await attacker.request(victim.peerId, 'echo', i, { timeoutMs: 60_000 })))
    await stillServes(victim, honest)
    const answers = await flood
    assert.equal(answers.length, 3000)
    assert.ok(answers.every((a, i) => a === i))
  } finally {
    await stopAll([victim, attacker, honest])
  }
})

test('gossip: a forged source, garbage and an unknown version are rejected and the sender penalised', { timeout: 3 * 60_000 }, async () => {
  const [victim, attacker, honest] = await startMesh(3)
  try {
    const got: Array<{ from: string, payload: unknown }> = []
    const sub = victim.subscribe('news')
    void (async () => { for await (const m of sub) got.push({ from: m.from, payload: m.payload }) })()
    attacker.subscribe('news')
    honest.subscribe('news')
    await waitFor(() => attacker.topicPeers('news').subscribers.includes(victim.peerId), 'the attacker to see the victim subscribe')
    const topic = gossipTopic(victim.config.mesh, 'news')
    const gossip = attacker.libp2p.services.pubsub
    const forged = makeEnvelope({ source: honest.peerId, destination: { topic: 'news' }, type: 'EVENT', subject: 'news', payload: 'forged' })
    await gossip.publish(topic, encodeBatch([envelopeToJson(forged)]))
    await waitFor(() => victim.stats.get('gossip_rejected_total', { reason: 'forged_source' }) >= 1, 'the forgery to be rejected')
    await gossip.publish(topic, randomBytes(300))
    await gossip.publish(topic, frameJson(JSON.stringify([{ ...forged, source: attacker.peerId, version: 9 }])))
    await waitFor(() => victim.stats.get('gossip_rejected_total') >= 3, 'garbage and the unknown version to be rejected')
    // Scores are cached for a second by gossipsub: wait for the penalty to show.
    await waitFor(() => victim.gossipScore(attacker.peerId) < 0, 'the attacker\'s gossip score to go negative')
    assert.equal(victim.gossipScore(honest.peerId) >= 0, true)
    // Honest broadcasts still arrive; none of the attacker's did.
    await honest.publish('news', 'real news')
    await waitFor(() => got.some(g => g.payload === 'real news'), 'honest news to arrive')
    assert.deepEqual(got.filter(g => g.payload !== 'real news'), [])
    sub.unsubscribe()
  } finally {
    await stopAll([victim, attacker, honest])
  }
})

test('negotiation and learning streams: garbage, an oversized frame, a stall or a hang-up end that conversation only; the node keeps negotiating and serving models', { timeout: 3 * 60_000 }, async () => {
  const { NEGOTIATE_PROTOCOL, LEARNING_PROTOCOL } = await import('../../surfaces/index.js')
  const nodes = await startMesh(2)
  try {
    const [attacker, victim] = nodes
    victim.negotiation.onCallForProposals('job', { propose: () => ({ cost: 1 }), award: () => 'ok' })
    victim.learning.offer('m', 1, randomBytes(4096))
    const bad: Stream[] = []
    // Not JSON; JSON of the wrong shape; a length prefix far over the limit; a hang-up mid-frame.
    for (const payload of [joinFrames([randomBytes(64)]), joinFrames([Buffer.from('{"type":"cfp","subject":7}')]), encodeLength(1 << 30), encodeLength(500).subarray(0, 1)]) {
      for (const proto of [NEGOTIATE_PROTOCOL, LEARNING_PROTOCOL]) {
        const s = await attacker.libp2p.dialProtocol(victim.libp2p.peerId, proto)
        s.send(payload)
        bad.push(s)
      }
    }
    await waitFor(async () => /negotiations_total\{kind="bilateral",role="participant",outcome="MSG00[12]"\} [1-9]/.test((await victim.stats.exposition()).body), 'the bad openings to be counted')
    const m = (await victim.stats.exposition()).body
    assert.match(m, /outcome="MSG002"/)
    assert.match(m, /outcome="MSG001"/)
    for (const s of bad) s.abort(new Error('done'))
    // The victim still serves everyone else.
    const r = await attacker.negotiation.contractNet({ subject: 'job', candidates: [victim.peerId], task: {}, replyWithinMs: 300 })
    assert.equal(r.winner?.peer, victim.peerId)
    const bytes = await attacker.learning.fetch(victim.peerId, { model_id: 'm', version: 1, size: 4096, sha256: (await import('node:crypto')).createHash('sha256').update((victim.learning as unknown as { store: Map<string, { data: Uint8Array }> }).store.get('m')!.data).digest('hex') })
    assert.equal(bytes.byteLength, 4096)
    await assert.rejects(attacker.learning.fetch(victim.peerId, { model_id: 'm', version: 2, size: 1, sha256: '0'.repeat(64) }), (e: Error & { code?: string }) => e.code === 'LRN003')
  } finally {
    await stopAll(nodes)
  }
})
