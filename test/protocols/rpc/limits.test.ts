// Per-peer limits (issue 13): a flooding peer is refused with RATE001, counted, then disconnected
// and kept out for the cool-down, while an honest peer's requests all succeed; stream limits per
// protocol hold against a peer that opens many.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Stream } from '@libp2p/interface'
import { RPC_PROTOCOL, type AgentNode } from '../../../surfaces/index.js'
import { AgentMeshError, RateLimitedError } from '../../../protocols/core/errors.js'
import { MAX_INBOUND_STREAMS, RATE_LIMIT_RETRIES, RATE_PACED_RETRIES } from '../../../protocols/rpc/constants.js'
import { PeerLimiter, type RateLimits } from '../../../protocols/rpc/limits.js'
import { sleep, startMesh, stopAll, waitFor } from '../../helpers.js'
import { pino } from 'pino'
import type { AuditEvent } from '../../../protocols/core/audit.js'
import { encodeBatch, envelopeToJson, makeEnvelope } from '../../../protocols/envelope/index.js'
import { GossipGuard, gossipTopic } from '../../../protocols/pubsub/index.js'
import { NegotiationService, StreamGuard } from '../../../protocols/negotiation/index.js'
import { PerPeerConnections } from '../../../node/libp2p.js'
import { RateGuard } from '../../../protocols/rpc/guard.js'
import { CallerPacer, type Paced } from '../../../protocols/rpc/pacer.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { LearningService } from '../../../protocols/learning/index.js'

const LIMITS: RateLimits = { requestsPerSec: 10, bytesPerSec: 10_000, internalPerSec: 5, floodSeconds: 3, cooldownMs: 60_000, maxMessageBytes: 2_000 }

test('limiter: buckets per peer, liveness messages apart, bytes counted, a run of refusals cools the peer down', { timeout: 3 * 60_000 }, () => {
  const l = new PeerLimiter(LIMITS)
  let now = 1_000_000
  for (let i = 0; i < 10; i++) assert.equal(l.check('a', 'work', 10, now).ok, true, `request ${i} within the burst`)
  const refused = l.check('a', 'work', 10, now)
  assert.ok(!refused.ok && refused.limit === 'requests' && refused.retryAfterMs === 100 && !refused.flooding)
  // Another peer, and this peer's liveness messages, have buckets of their own.
  assert.equal(l.check('b', 'work', 10, now).ok, true)
  for (const subject of ['$agentmesh/probe', '$agentmesh/election', '$agentmesh/card']) assert.equal(l.check('a', subject, 10, now).ok, true, subject)
  // Other $agentmesh subjects are requests like any.
  assert.equal(l.check('a', '$agentmesh/task/query', 10, now).ok, false)
  // The bytes bucket holds two frames of the maximum size, whatever the rate.
  assert.equal(l.check('c', 'big', 2_000, now).ok, true)
  assert.equal(l.check('c', 'big', 10_000, now).ok, false)
  // Refill: a tenth of a second gives one request back.
  now += 100
  assert.equal(l.check('a', 'work', 10, now).ok, true)
  // Refused in every second for floodSeconds: cooled down, then free again after it.
  let flooding = false
  for (let t = 0; t <= 3_000 && !flooding; t += 50) {
    const v = l.check('a', 'work', 10, now + t)
    if (!v.ok) flooding = v.flooding
  }
  assert.equal(flooding, true)
  assert.equal(l.coolingDown('a', now + 3_100), true)
  assert.deepEqual(l.cooled(now + 3_100), ['a'])
  assert.equal(l.coolingDown('a', now + 3_100 + LIMITS.cooldownMs), false)
  // A refusal now and then (runs broken by quiet seconds) never cools a peer down.
  const m = new PeerLimiter({ ...LIMITS, requestsPerSec: 1 })
  for (let t = 0; t < 20_000; t += 1_500) {
    m.check('d', 'work', 1, now + t)
    const v = m.check('d', 'work', 1, now + t)
    assert.ok(!v.ok && !v.flooding)
  }
  // 0 turns a limit off.
  const off = new PeerLimiter({ ...LIMITS, requestsPerSec: 0, bytesPerSec: 0 })
  for (let i = 0; i < 1_000; i++) assert.equal(off.check('e', 'work', 1e9, now).ok, true)
})

async function serves (victim: AgentNode, honest: AgentNode): Promise<void> {
  assert.equal(await honest.request(victim.peerId, 'work', 'ping'), 'ping')
}

test('rpc: a flooding peer gets RATE001 unrun, is counted, then disconnected and refused; an honest peer is served throughout', { timeout: 3 * 60_000 }, async () => {
  // Only the victim limits: 40 requests/s per peer, a flooder out after 2 s over it.
  const [victim, honest, flooder] = await startMesh(3, i => i === 0 ? { rpc: { requestsPerSec: 40, floodSeconds: 2, cooldownMs: 60_000 } } : {})
  try {
    const ran = new Map<string, number>()
    victim.handle('work', (x, ctx) => { ran.set(ctx.peer, (ran.get(ctx.peer) ?? 0) + 1); return x })

    // An honest burst of twice the limit: the refused part is retried in its paced slots and
    // succeeds. (Three tries each lost 2 requests in 480 to a loaded host: refused again behind
    // the burst's other requests.)
    const burst = await Promise.all(Array.from({ length: 80 }, async (_, i) => await honest.request(victim.peerId, 'work', i)))
    assert.deepEqual(burst, Array.from({ length: 80 }, (_, i) => i))
    assert.ok(victim.stats.get('rpc_rate_limited_total', { peer: honest.peerId }) >= 1, 'part of the burst was refused, then retried')
    await sleep(1_200) // the honest peer's run of refusals ends

    // The flood: 20 at a time, no retries, until the victim hangs up.
    const run = { stop: false }
    const codes = new Map<string, number>()
    let sent = 0
    const flood = (async () => {
      while (!run.stop) {
        const batch = await Promise.allSettled(Array.from({ length: 20 }, async () => { sent++; return await flooder.request(victim.peerId, 'work', 'x', { rateLimitRetries: 0, timeoutMs: 2_000 }) }))
        for (const r of batch) {
          const code = r.status === 'fulfilled' ? 'ok' : (r.reason as AgentMeshError).code
          codes.set(code, (codes.get(code) ?? 0) + 1)
          if (r.status === 'rejected' && code === 'RATE001') assert.ok(r.reason instanceof RateLimitedError)
        }
        await sleep(5)
      }
    })()
    // The honest peer's sequential requests, under the limit, all succeed during the flood.
    let honestDone = 0
    const honestLoop = (async () => {
      while (!run.stop) { await serves(victim, honest); honestDone++; await sleep(50) }
    })()
    try {
      await waitFor(() => victim.stats.get('rpc_flooders_disconnected_total', { peer: flooder.peerId }) === 1, 'the flooder to be disconnected', 20_000)
      await waitFor(() => victim.libp2p.getConnections(flooder.libp2p.peerId).length === 0, 'the flooder\'s connections to close')
      await sleep(500)
    } finally {
      run.stop = true
      await Promise.all([flood, honestLoop])
    }
    assert.ok(honestDone >= 10, `the honest peer made ${honestDone} requests during the flood`)
    assert.ok((codes.get('RATE001') ?? 0) > 0, `the flooder was answered RATE001: ${JSON.stringify([...codes])}`)
    const limited = victim.stats.get('rpc_rate_limited_total', { peer: flooder.peerId, limit: 'requests' })
    assert.ok(limited >= (codes.get('RATE001') ?? 0), 'every refusal counted by peer')
    // Refused requests never reached the handler.
    assert.ok((ran.get(flooder.peerId) ?? 0) + limited <= sent)
    assert.ok((ran.get(flooder.peerId) ?? 0) < sent / 2, `handler ran ${ran.get(flooder.peerId) ?? 0} times for ${sent} requests`)
    // Its liveness messages were never refused for its application flood.
    assert.equal(victim.stats.get('rpc_rate_limited_total', { peer: flooder.peerId, limit: 'internal' }), 0)
    const body = (await victim.stats.exposition()).body
    assert.match(body, new RegExp(`rpc_rate_limited_total\\{peer="${flooder.peerId}",limit="requests"\\} \\d+`))

    // Refused for the cool-down: its dial fails, and the victim does not dial it either.
    // (The dialler may finish its side of the handshake before the victim's gater closes it.)
    const redial = await flooder.libp2p.dial(victim.libp2p.getMultiaddrs()[0]).catch(() => undefined)
    await waitFor(() => redial === undefined || redial.status !== 'open', 'the redial to be refused', 5_000)
    await assert.rejects(flooder.request(victim.peerId, 'work', 'again', { timeoutMs: 2_000 }), (e: AgentMeshError) => e.code === 'COM002' || e.code === 'COM001')
    await assert.rejects(victim.libp2p.dial(flooder.libp2p.peerId))
    assert.equal(victim.libp2p.getConnections(flooder.libp2p.peerId).length, 0)
    await serves(victim, honest)
  } finally {
    await stopAll([victim, honest, flooder])
  }
})

test('rpc: a caller with more to send than the peer admits is slowed to its limit, never disconnected as a flooder', { timeout: 3 * 60_000 }, async () => {
  // 50 requests/s per peer, a flooder out after 2 s refused in every second: the caller's demand
  // (sequential, then 8 at a time) stays over the limit for ~3.5 s. Backing off on each refusal
  // alone left a refusal in every second, and the caller was hung up on (COM002 for 60 s).
  const [peer, caller] = await startMesh(2, i => i === 0 ? { rpc: { requestsPerSec: 50, floodSeconds: 2, cooldownMs: 60_000 } } : {})
  try {
    peer.handle('work', (x) => x)
    const sequential: number[] = []
    for (let i = 0; i < 100; i++) sequential.push(await caller.request(peer.peerId, 'work', i) as number)
    assert.deepEqual(sequential, Array.from({ length: 100 }, (_, i) => i))
    let next = 0
    const answers = await Promise.all(Array.from({ length: 8 }, async () => {
      const got: number[] = []
      while (next < 100) got.push(await caller.request(peer.peerId, 'work', next++) as number)
      return got
    }))
    assert.equal(answers.flat().length, 100)
    // 150 at once with a second each: those whose slot would come after their deadline fail at
    // once with RATE001 (not after waiting out a timeout), and leave their slots to the others.
    const burst = await Promise.allSettled(Array.from({ length: 150 }, async (_, i) => await caller.request(peer.peerId, 'work', i, { timeoutMs: 1_000 })))
    const codes = burst.map(r => r.status === 'fulfilled' ? 'ok' : (r.reason as AgentMeshError).code)
    const count = (c: string): number => codes.filter(x => x === c).length
    assert.ok(count('ok') >= 20 && count('RATE001') >= 50, `answered ${count('ok')}, RATE001 ${count('RATE001')}: ${[...new Set(codes)].join(',')}`)
    assert.equal(peer.stats.get('rpc_flooders_disconnected_total', { peer: caller.peerId }), 0, 'the caller was never taken for a flooder')
    const refused = peer.stats.get('rpc_rate_limited_total', { peer: caller.peerId })
    assert.ok(refused >= 1 && refused <= 10, `the caller went over the limit, and was refused ${refused} times, not in every second`)
    assert.ok(peer.libp2p.getConnections(caller.libp2p.peerId).length > 0, 'still connected')
  } finally {
    await stopAll([peer, caller])
  }
})

test('caller pacer: a refusal paces that peer\'s limit at nine tenths of its rate, in reserved slots, for 10 s after the last refusal', { timeout: 3 * 60_000 }, () => {
  const pacer = new CallerPacer()
  const now = 1_000_000
  const req = (peer: string, weight = 1, bytes = 100, subject = 'work', until = now + 60_000): Paced => ({ peer, subject, weight, bytes, until })
  assert.equal(pacer.slot(req('a'), now), 0, 'nothing refused yet: at once')
  const said = 'over the requests limit for this peer (100/s): retry after 30 ms'
  // The refused request waits the 30 ms named, and each one after it 1/90 s more.
  assert.equal(pacer.refused(req('a'), said, 0, now), 30)
  const close = (got: number | undefined, want: number): boolean => got !== undefined && Math.abs(got - want) < 1e-9
  assert.ok(close(pacer.slot(req('a'), now), 30 + 1000 / 90))
  assert.ok(close(pacer.slot(req('a', 5), now), 30 + 2000 / 90), 'in order, whatever the weight')
  assert.ok(close(pacer.slot(req('a'), now), 30 + 7000 / 90), 'a weight of five takes five slots')
  // A slot past the deadline is not taken: the request fails at once and the next gets it.
  assert.equal(pacer.slot(req('a', 1, 100, 'work', now + 50), now), undefined)
  assert.ok(close(pacer.slot(req('a'), now), 30 + 8000 / 90), 'the slot refused was left to the next')
  assert.equal(pacer.slot(req('b'), now), 0, 'another peer is not paced')
  assert.equal(pacer.slot(req('a', 1, 100, '$agentmesh/probe'), now), 0, 'liveness messages have a limit of their own')
  assert.ok((pacer.slot(req('a'), now + 10_000) ?? 0) === 0, 'dropped 10 s after the refusal, its slots all past')
  // Slots taken beyond the 10 s keep the pace: else the queue behind them and new requests would go out together.
  const queued = new CallerPacer()
  queued.refused(req('q'), said, 0, now)
  for (let i = 0; i < 1_200; i++) queued.slot(req('q'), now) // 1,200 / 90 a second: ~13 s ahead
  assert.ok((queued.slot(req('q'), now + 10_500) ?? 0) > 2_000, 'still paced 10.5 s on, behind the queue')
  // No request is charged more than a second of the rate (the peer's bucket holds one); a fractional rate is read.
  const heavy = new CallerPacer()
  heavy.refused(req('h'), 'over the requests limit for this peer (2.5/s): retry after 0 ms', 0, now)
  assert.ok(close(heavy.slot(req('h', 1_000), now), 1000 / 2.25))
  assert.ok(close(heavy.slot(req('h'), now), 1000 / 2.25 + 2.5 * 1000 / 2.25), 'a weight of 1,000 at 2.5/s is charged 2.5')
  // A bytes limit paces by size; both limits apply to a request under both.
  const later = now + 20_000
  pacer.refused({ ...req('a', 1, 900), until: later + 60_000 }, 'over the bytes limit for this peer (1000/s): retry after 0 ms', 0, later)
  pacer.refused({ ...req('a', 1, 0), until: later + 60_000 }, said, 0, later)
  const wait = pacer.slot({ ...req('a', 1, 450), until: later + 60_000 }, later) ?? -1
  assert.ok(wait >= 900 / 0.9 - 1e-9, `the 900 bytes refused take a second of the pace first (${wait} ms)`)
  // A refusal it cannot read: only the backoff, 50 ms doubling with up to half again, or the wait named.
  const other = pacer.refused(req('c'), 'slow down', 1, now) ?? -1
  assert.ok(other >= 100 && other <= 150, String(other))
  assert.ok((pacer.refused(req('c'), 'busy: retry after 400 ms', 0, now) ?? -1) >= 400)
  assert.equal(pacer.refused(req('c', 1, 100, 'work', now + 100), 'busy: retry after 400 ms', 0, now), undefined, 'not past the deadline')
  assert.equal(pacer.slot(req('c'), now), 0, 'and no pace')
  // How often: an unreadable refusal `retries` times (3 by default); one that names its rate in
  // every slot before the deadline, up to RATE_PACED_RETRIES, whatever `retries` says (a burst's
  // requests already on the wire are refused again while the peer works through them).
  assert.equal(pacer.refused(req('c'), 'slow down', 3, now), undefined, 'an unreadable refusal: three tries by default')
  assert.ok((pacer.refused(req('c'), 'slow down', 3, now, 5) ?? -1) > 0, 'or as many as asked')
  const tries = new CallerPacer()
  const named = (attempt: number): number | undefined => tries.refused(req('t'), said, attempt, now)
  assert.ok((named(RATE_LIMIT_RETRIES) ?? -1) >= 30, 'a refusal naming its rate is tried past RATE_LIMIT_RETRIES')
  assert.ok((named(RATE_PACED_RETRIES - 1) ?? -1) >= 30, 'up to RATE_PACED_RETRIES')
  assert.equal(named(RATE_PACED_RETRIES), undefined, 'and no more')
})

test('streams: 50 rpc streams opened by one peer on one connection do not all get through', { timeout: 3 * 60_000 }, async () => {
  const [victim, attacker] = await startMesh(2)
  try {
    victim.handle('work', (x) => x)
    const inbound = (): number => victim.libp2p.getConnections(attacker.libp2p.peerId)
      .flatMap(c => c.streams).filter(s => s.protocol === RPC_PROTOCOL && s.direction === 'inbound' && s.status === 'open').length
    const streams: Stream[] = []
    const opened = await Promise.allSettled(Array.from({ length: 50 }, async () => await attacker.libp2p.dialProtocol(victim.libp2p.peerId, RPC_PROTOCOL)))
    for (const r of opened) if (r.status === 'fulfilled') streams.push(r.value)
    // libp2p negotiates each stream, then resets those over the protocol's limit.
    await waitFor(() => streams.filter(s => s.status === 'open').length <= MAX_INBOUND_STREAMS, 'the streams over the limit to be reset')
    assert.ok(inbound() <= MAX_INBOUND_STREAMS, `the victim holds ${inbound()} rpc streams from the attacker (limit ${MAX_INBOUND_STREAMS})`)
    await sleep(300)
    assert.ok(streams.filter(s => s.status === 'open').length <= MAX_INBOUND_STREAMS)
    for (const s of streams) s.abort(new Error('done'))
    // The attacker's connection is fine for honest use afterwards.
    assert.equal(await attacker.request(victim.peerId, 'work', 'ok'), 'ok')
  } finally {
    await stopAll([victim, attacker])
  }
})

test('gossip guard: the publisher is charged whoever relays, penalised when it sent directly, audited once a second', { timeout: 3 * 60_000 }, () => {
  const counted: Array<[string, Record<string, string> | undefined]> = []
  const events: AuditEvent[] = []
  const guard = new GossipGuard({
    libp2p: { services: {}, hangUp: async () => {} } as any,
    stats: { inc: (name: string, labels?: Record<string, string>) => { counted.push([name, labels]) } } as any,
    log: pino({ level: 'silent' }),
    publishPerSec: 5,
    floodSeconds: 0,
    audit: { record: (e) => { events.push(e) } },
    penalise: (peer) => { penalised.push(peer) }
  })
  const penalised: string[] = []
  // One instant for every call: the audit's once-a-second pacing does not depend on how fast the machine runs the test.
  const now = Date.now()
  // Relays share the publisher's bucket: five through three relays use it up.
  for (const via of ['p', 'r1', 'r2', 'p', 'r1']) assert.equal(guard.check(via, 'p', 't', 1, now), true)
  assert.equal(guard.check('r2', 'p', 't', 1, now), false, 'relayed over the limit: dropped')
  assert.deepEqual(penalised, [], 'the relay is not penalised, nor the publisher for what others relay')
  assert.equal(guard.check('p', 'p', 't', 1, now), false, 'sent directly over the limit: dropped, the publisher penalised')
  for (let i = 0; i < 50; i++) guard.check('p', 'p', 't', 1, now)
  assert.equal(penalised.length, 51)
  assert.ok(penalised.every(p => p === 'p'))
  // Another publisher is unaffected.
  assert.equal(guard.check('r1', 'r1', 't', 1, now), true)
  assert.equal(counted.filter(([n, l]) => n === 'gossip_rate_limited_total' && l?.peer === 'p').length, 52)
  // One limit.exceeded for the run so far (the run began with a relayed message: no graylisting audited).
  assert.deepEqual(events.map(e => e.kind), ['limit.exceeded'])
  // A publisher whose run starts with its own messages is audited as graylisted.
  for (let i = 0; i < 6; i++) guard.check('q', 'q', 't', 1, now)
  assert.deepEqual(events.filter(e => e.peer === 'q').map(e => e.kind), ['limit.exceeded', 'gossip.graylisted'])
  // A batch of 120 envelopes costs three messages.
  assert.equal(GossipGuard.weightOf(120), 3)
  assert.equal(GossipGuard.weightOf(1), 1)
  // A frame of the direct fan-out costs a receiver less than a gossip message: half, per unit.
  assert.equal(GossipGuard.weightOf(1, 'direct'), 0.5)
  assert.equal(GossipGuard.weightOf(120, 'direct'), 1.5)
  // Or by bytes, whichever weighs more: a unit per 256 KiB, whatever the way (one envelope of 1 MiB is four).
  assert.equal(GossipGuard.weightOf(1, 'gossip', 1024 * 1024), 4)
  assert.equal(GossipGuard.weightOf(1, 'direct', 1024 * 1024), 4)
  assert.equal(GossipGuard.weightOf(1, 'direct', 256 * 1024), 1)
  assert.equal(GossipGuard.weightOf(1, 'direct', 64 * 1024), 0.5)
  assert.equal(GossipGuard.weightOf(50, 'gossip', 256 * 1024), 1, 'a batch up to the default batchMaxBytes weighs its envelopes, as every build budgets it')
  assert.equal(GossipGuard.weightOf(50, 'gossip', 384 * 1024), 1.5)
  // On the stream of an older build (no weighs:direct-half in its hello): in full, its bytes counted alike.
  assert.equal(GossipGuard.weightOf(1, 'direct-legacy', 100), 1)
  assert.equal(GossipGuard.weightOf(120, 'direct-legacy', 100), 3)
  assert.equal(GossipGuard.weightOf(1, 'direct-legacy', 1024 * 1024), 4)
})

test('gossip: a publisher far over its limit is dropped, counted and graylisted; an honest publisher\'s messages all arrive and its relaying costs it nothing', { timeout: 3 * 60_000 }, async () => {
  const open = { security: { mode: 'open' as const } }
  // Only the victim limits tightly: 20 gossip messages/s per publisher, a flooder out after 2 s over it.
  const [victim, honest, flooder] = await startMesh(3, i => i === 0 ? { ...open, pubsub: { publishPerSec: 20, floodSeconds: 2 } } : open)
  try {
    const got: unknown[] = []
    const sub = victim.subscribe('news')
    void (async () => { for await (const m of sub) if (m.from === honest.peerId) got.push(m.payload) })()
    honest.subscribe('news')
    await waitFor(() => flooder.topicPeers('news').subscribers.includes(victim.peerId), 'the flooder to see the victim subscribe')
    await waitFor(() => honest.topicPeers('news').subscribers.includes(victim.peerId), 'the honest publisher to see the victim subscribe')
    const topic = gossipTopic(victim.config.mesh, 'news')
    const gossip = flooder.libp2p.services.pubsub
    const run = { stop: false }
    let sent = 0
    // Valid, signed gossip, one envelope per message, as fast as the flooder goes (not batched).
    const flood = (async () => {
      while (!run.stop) {
        const env = makeEnvelope({ source: flooder.peerId, destination: { topic: 'news' }, type: 'EVENT', subject: 'news', payload: sent++ })
        await gossip.publish(topic, encodeBatch([envelopeToJson(env)])).catch(() => {})
        if (sent % 10 === 0) await sleep(1)
      }
    })()
    // The honest publisher, under the limit (10/s), all through the flood.
    const honestSent: number[] = []
    const honestLoop = (async () => {
      for (let i = 0; i < 30 && !run.stop; i++) { await honest.publish('news', i); honestSent.push(i); await sleep(100) }
    })()
    try {
      await waitFor(() => victim.stats.get('gossip_rate_limited_total', { peer: flooder.peerId }) > 0, 'the flooder to be rate limited')
      await waitFor(() => victim.gossipScore(flooder.peerId) < -80, 'the flooder to fall below the graylist threshold')
      await honestLoop
    } finally {
      run.stop = true
      await Promise.all([flood, honestLoop])
    }
    // Every honest message arrived, the honest relay was never penalised for the flood it relayed.
    await waitFor(() => got.length === honestSent.length, `the honest publisher's ${honestSent.length} messages to arrive (got ${got.length})`)
    assert.deepEqual(got, honestSent)
    assert.ok(victim.gossipScore(honest.peerId) >= 0, `honest score ${victim.gossipScore(honest.peerId)}`)
    assert.ok(victim.libp2p.getConnections(honest.libp2p.peerId).length > 0)
    assert.ok(sent > 20 * 3, `the flooder sent ${sent}`)
    const body = (await victim.stats.exposition()).body
    assert.match(body, new RegExp(`gossip_rate_limited_total\\{peer="${flooder.peerId}"\\} \\d+`))
    sub.unsubscribe()
  } finally {
    await stopAll([victim, honest, flooder])
  }
})

test('rpc guard: limit.exceeded audited at most once a second per peer, with the count since, and limit.disconnected', { timeout: 3 * 60_000 }, async () => {
  const events: AuditEvent[] = []
  const hungUp: string[] = []
  const guard = new RateGuard({
    libp2p: { services: {}, hangUp: async (p: unknown) => { hungUp.push(String(p)) } } as any,
    stats: { inc: () => {} } as any,
    log: pino({ level: 'silent' }),
    maxMessageBytes: 2_000,
    limiter: new PeerLimiter({ ...LIMITS, requestsPerSec: 2, floodSeconds: 1 }),
    audit: { record: (e) => { events.push(e) } }
  })
  const peer = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
  const env = makeEnvelope({ source: peer, destination: { peer: 'x' }, type: 'REQUEST', subject: 'work', payload: 1 })
  const refusals = Array.from({ length: 10 }, () => guard.check(env, peer, 10))
  assert.equal(refusals.filter(r => r?.code === 'RATE001').length, 8)
  assert.deepEqual(events.map(e => [e.kind, e.peer, e.code, e.detail?.limit]), [['limit.exceeded', peer, 'RATE001', 'requests']], 'one event for the second')
  // Still over it for a second (floodSeconds): disconnected; the second event counts the refusals since the first.
  for (let i = 0; i < 30 && !events.some(e => e.kind === 'limit.disconnected'); i++) {
    for (let j = 0; j < 3; j++) guard.check(env, peer, 10)
    await sleep(100)
  }
  assert.deepEqual(events.map(e => e.kind), ['limit.exceeded', 'limit.exceeded', 'limit.disconnected'])
  assert.ok(Number(events[1].detail?.refused) > 8, `refused since the first event: ${String(events[1].detail?.refused)}`)
  await waitFor(() => hungUp.length === 1, 'the flooder to be hung up on', 2_000)
})

test('stream guard: new conversations per second and open at once per peer, counted, audited once a second', { timeout: 3 * 60_000 }, () => {
  const counted: Array<Record<string, string> | undefined> = []
  const events: AuditEvent[] = []
  const guard = new StreamGuard({
    protocol: 'negotiation',
    limits: { perSec: 5, concurrent: 3 },
    stats: { inc: (_name, labels) => { counted.push(labels) } },
    audit: { record: (e) => { events.push(e) } }
  })
  const now = 1_000_000
  const held = [guard.admit('a', now), guard.admit('a', now), guard.admit('a', now)]
  assert.ok(held.every(v => v.ok))
  const over = guard.admit('a', now)
  assert.ok(!over.ok && over.limit === 'concurrent' && over.error.code === 'RATE001')
  assert.ok(guard.admit('b', now).ok, 'another peer has limits of its own')
  for (const v of held) if (v.ok) { v.release(); v.release() }
  assert.equal(guard.openBy('a'), 0, 'a release counts once')
  // Two more tokens in the burst of five, then refused for the rate.
  assert.ok(guard.admit('a', now).ok && guard.admit('a', now).ok)
  const fast = guard.admit('a', now)
  assert.ok(!fast.ok && fast.limit === 'rate')
  assert.ok(guard.admit('a', now + 200).ok, 'a fifth of a second gives one back')
  assert.equal(counted.length, 2)
  assert.deepEqual(counted[0], { peer: 'a', protocol: 'negotiation' })
  assert.deepEqual(events.map(e => [e.kind, e.peer, e.code]), [['limit.exceeded', 'a', 'RATE001']], 'one audit event in the second')
  guard.admit('a', now + 1_500); guard.admit('a', now + 1_500); guard.admit('a', now + 1_500)
  assert.equal(events.length, 2)
  assert.equal(events[1].detail?.refused, 2, 'the next event counts the refusals since the last')
  // 0 turns both off.
  const off = new StreamGuard({ protocol: 'learning', limits: { perSec: 0, concurrent: 0 } })
  for (let i = 0; i < 1_000; i++) assert.ok(off.admit('a', now).ok)
})

test('negotiation and learning: a peer opening conversations too fast or too many is refused and counted; an honest peer\'s complete', { timeout: 3 * 60_000 }, async () => {
  const open = { security: { mode: 'open' as const } }
  const [victim, honest, flooder] = await startMesh(3, i => i === 0 ? { ...open, learning: { fetchesPerSec: 5, fetchesPerPeer: 2 } } : open)
  // The victim's services as the node builds them, with its counters and an audit sink (node/services.ts passes the same).
  const events: AuditEvent[] = []
  const audit = { record: (e: AuditEvent) => { events.push(e) } }
  await victim.negotiation.stop()
  await victim.learning.stop()
  const { libp2p, stats, peerId: self } = victim
  const negotiation = new NegotiationService({ libp2p, maxMessageBytes: victim.config.maxMessageBytes, limits: { perSec: 20, concurrent: 4 }, stats, audit })
  const learning = new LearningService({ self, libp2p, pubsub: undefined as any, ...victim.config.learning, stats, audit })
  await negotiation.start()
  await learning.start()
  try {
    assert.deepEqual(learning.guard.limits, { perSec: 5, concurrent: 2 }, 'the config keys reach the service')
    // The victim takes a while to answer, so conversations stay open.
    negotiation.onNegotiation<number>('price', async (theirs) => { await sleep(200); return theirs >= 10 ? { accept: true } : { counter: 10 } })
    const offer = (node: AgentNode, terms: number) => node.negotiation.negotiate({ peer: victim.peerId, subject: 'price', terms, respond: () => ({ accept: true }), deadlineMs: 5_000 })
    const flood = await Promise.allSettled(Array.from({ length: 40 }, async () => await offer(flooder, 10)))
    const agreed = flood.filter(r => r.status === 'fulfilled').length
    assert.ok(agreed >= 1 && agreed <= 24, `${agreed} of the flooder's 40 conversations went through`)
    // libp2p itself resets streams over 16 per connection before they reach the service: the rest are counted.
    const refused = victim.stats.get('stream_rate_limited_total', { peer: flooder.peerId, protocol: 'negotiation' })
    assert.ok(refused >= 1 && refused + agreed <= 40, `${refused} refused, ${agreed} agreed`)
    assert.equal((await offer(honest, 12)).terms, 12, 'the honest peer\'s conversation completes')
    assert.equal(victim.stats.get('stream_rate_limited_total', { peer: honest.peerId, protocol: 'negotiation' }), 0)
    await waitFor(() => negotiation.guard.openBy(flooder.peerId) === 0, 'the flooder\'s conversations to be released')

    // Model fetches: 12 at once from the flooder (libp2p resets those over 8 per connection),
    // then 12 one after the other; over 2 open or 5 a second, they are answered RATE001.
    const data = new Uint8Array(64 * 1024).fill(7)
    const m = learning.offer('ranker', 1, data)
    const wanted = { model_id: 'ranker', version: 1, size: data.byteLength, sha256: m.sha256 }
    const fetchCode = async (): Promise<string> => await flooder.learning.fetch(victim.peerId, wanted).then(() => 'ok', (err: AgentMeshError) => String(err.code))
    const codes = await Promise.all(Array.from({ length: 12 }, fetchCode))
    assert.ok(codes.includes('RATE001'), `too many at once: ${JSON.stringify(codes)}`)
    for (let i = 0; i < 12; i++) codes.push(await fetchCode())
    assert.ok(codes.filter(c => c === 'ok').length <= 5 + 2, `at most the burst and a second's refill went through: ${JSON.stringify(codes)}`)
    assert.ok(codes.slice(12).includes('RATE001'), `too many a second: ${JSON.stringify(codes)}`)
    assert.equal(victim.stats.get('stream_rate_limited_total', { peer: flooder.peerId, protocol: 'learning' }), codes.filter(c => c === 'RATE001').length)
    assert.deepEqual(await honest.learning.fetch(victim.peerId, wanted), Buffer.from(data), 'the honest peer\'s fetch completes')
    const kinds = events.filter(e => e.peer === flooder.peerId).map(e => `${e.kind} ${String(e.detail?.limit)}`)
    assert.ok(kinds.some(k => k.startsWith('limit.exceeded negotiation_')) && kinds.some(k => k.startsWith('limit.exceeded learning_')), kinds.join(', '))
    assert.ok(events.length <= 6, `audited at most once a second per peer and protocol: ${events.length}`)
    const body = (await victim.stats.exposition()).body
    assert.match(body, new RegExp(`stream_rate_limited_total\\{peer="${flooder.peerId}",protocol="learning"\\} \\d+`))
  } finally {
    await negotiation.stop()
    await learning.stop()
    await stopAll([victim, honest, flooder])
  }
})

test('connections per peer: the ones let through but not open yet count, until they open or fail', { timeout: 3 * 60_000 }, () => {
  let open = 0
  const cap = new PerPeerConnections(4, () => open)
  const peer = peerIdFromString('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')
  const now = 1_000_000
  // Ten upgrades at once: four pass, whatever has opened yet.
  assert.deepEqual(Array.from({ length: 10 }, () => cap.denies(peer, now)), [false, false, false, false, true, true, true, true, true, true])
  // As they open they move from pending to open: still four.
  for (let i = 0; i < 4; i++) { open++; cap.opened(peer) }
  assert.equal(cap.denies(peer, now), true)
  open = 2
  assert.equal(cap.denies(peer, now), false, 'two closed: room for another')
  // One let through that never opens stops counting after a while.
  open = 0
  const c = new PerPeerConnections(1, () => open)
  assert.equal(c.denies(peer, now), false)
  assert.equal(c.denies(peer, now + 1_000), true)
  assert.equal(c.denies(peer, now + 20_000), false)
})

test('connections: a peer opening 10 connections holds at most connections.maxPerPeer of them', { timeout: 3 * 60_000 }, async () => {
  const open = { security: { mode: 'open' as const } }
  const [victim, other] = await startMesh(2, () => open)
  try {
    const max = victim.config.connections.maxPerPeer
    assert.equal(max, 4)
    const inbound = (): number => victim.libp2p.getConnections(other.libp2p.peerId).filter(c => c.status === 'open' && c.direction === 'inbound').length
    const addr = victim.libp2p.getMultiaddrs()[0]
    // Each dial with force opens a new connection (libp2p joins dials to one address made at once, so one after the other).
    for (let i = 0; i < 10; i++) {
      const c = await other.libp2p.dial(addr, { force: true }).catch(() => undefined)
      // The dialler may finish its side of the handshake before the victim's gater closes it.
      if (c !== undefined) await waitFor(() => c.status === 'open' || c.status === 'closed', 'the connection to settle', 5_000)
      await sleep(50)
    }
    await waitFor(() => other.libp2p.getConnections(victim.libp2p.peerId).length <= max + 1, 'the refused connections to close', 5_000)
    const held = inbound()
    assert.ok(held <= max, `the victim holds ${held} inbound connections from one peer (cap ${max})`)
    assert.ok(held >= 1)
    // The peer is still served over what it holds.
    victim.handle('work', (x) => x)
    assert.equal(await other.request(victim.peerId, 'work', 'ok'), 'ok')
  } finally {
    await stopAll([victim, other])
  }
})
