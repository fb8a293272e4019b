// A flooder of gossip (issue 13): once over its limit it is held (its RPCs dropped before
// gossipsub decodes or verifies them), disconnected when it keeps on, and refused for the
// cool-down; the streams of every peer are read in turns, so a backlog cannot stall the node.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import type { AuditEvent } from '../../../protocols/core/audit.js'
import { encodeBatch, envelopeToJson, makeEnvelope } from '../../../protocols/envelope/index.js'
import { GossipGuard, gossipTopic } from '../../../protocols/pubsub/index.js'
import { intake, SLICE_RPCS } from '../../../protocols/pubsub/gossip-intake.js'
import { sleep, startMesh, stopAll, waitFor } from '../../helpers.js'

/** Real peer ids: the guard hangs up on a flooder by its id. */
const P = '12D3KooWK1CnnJqu9B6ADomEiVi4wejxjoFQ367AN3Kc48LV3YEB'
const G = '12D3KooWPcGSsWHfqCH53ViMVTfQ4Hi3V8bUFqjiXiomQwhyTvKE'

function guardWith (opts: { publishPerSec: number, floodSeconds: number, graylisted?: Set<string> }): {
  guard: GossipGuard, counted: Array<[string, Record<string, string> | undefined]>, events: AuditEvent[], hungUp: string[]
} {
  const counted: Array<[string, Record<string, string> | undefined]> = []
  const events: AuditEvent[] = []
  const hungUp: string[] = []
  const guard = new GossipGuard({
    libp2p: { services: {}, hangUp: async (p: unknown) => { hungUp.push(String(p)) } } as any,
    stats: { inc: (name: string, labels?: Record<string, string>) => { counted.push([name, labels]) } } as any,
    log: pino({ level: 'silent' }),
    publishPerSec: opts.publishPerSec,
    floodSeconds: opts.floodSeconds,
    audit: { record: (e) => { events.push(e) } },
    penalise: () => {},
    graylisted: (peer) => opts.graylisted?.has(peer) === true
  })
  return { guard, counted, events, hungUp }
}

const dropped = (counted: Array<[string, Record<string, string> | undefined]>, reason: string): number =>
  counted.filter(([n, l]) => n === 'gossip_rpcs_dropped_total' && l?.reason === reason).length

test('gossip guard: a publisher over its limit sending directly is held, its RPCs dropped unread and charged, let go once it slows down', { timeout: 3 * 60_000 }, () => {
  const { guard, counted } = guardWith({ publishPerSec: 10, floodSeconds: 0 })
  const now = Date.now()
  for (let i = 0; i < 10; i++) assert.equal(guard.check('p', 'p', 't', 1, now), true)
  assert.equal(guard.admitsRpc('p', now), true, 'under the limit: read')
  // Relayed over the limit: the relay is not held, nor the publisher for what others relay.
  assert.equal(guard.check('r', 'p', 't', 1, now), false)
  assert.equal(guard.admitsRpc('r', now), true)
  assert.equal(guard.admitsRpc('p', now), true)
  // Sent directly over the limit: held from now on.
  assert.equal(guard.check('p', 'p', 't', 1, now), false)
  for (let i = 0; i < 20; i++) assert.equal(guard.admitsRpc('p', now + i), false, 'held: dropped unread')
  assert.equal(dropped(counted, 'held'), 20)
  assert.equal(guard.admitsRpc('q', now), true, 'another peer is read')
  // Still sending at five times its limit for 1.5 s: each RPC is charged, so its bucket stays
  // empty and nothing it sends is read (a flooder costs no validation once held).
  let t = now + 20
  let read = 0
  for (; t < now + 1_500; t += 20) if (guard.admitsRpc('p', t)) { read++; guard.check('p', 'p', 't', 1, t) }
  assert.equal(read, 0)
  // At its limit (10/s) for 2 s: still held, as its bucket does not refill.
  for (; t < now + 3_500; t += 100) assert.equal(guard.admitsRpc('p', t), false, 'at its limit: still held')
  // Under its limit for a while: the bucket is half full again, and it is read.
  let released: number | undefined
  for (; t < now + 6_000 && released === undefined; t += 200) if (guard.admitsRpc('p', t)) released = t
  assert.ok(released !== undefined, 'let go once under its limit for a while')
  assert.equal(guard.admitsRpc('p', t + 501), true)
})

test('gossip guard: a held or graylisted peer that keeps sending is disconnected after floodSeconds, then dropped while it goes', { timeout: 3 * 60_000 }, () => {
  const graylisted = new Set([G])
  const { guard, counted, events, hungUp } = guardWith({ publishPerSec: 10, floodSeconds: 2, graylisted })
  const now = Date.now()
  // Graylisted by gossipsub (a forger, say): dropped unread, and charged like a held peer.
  assert.equal(guard.admitsRpc(G, now), false)
  assert.equal(dropped(counted, 'graylisted'), 1)
  // Held, then flooding for 2 s: disconnected, and in the cool-down.
  for (let i = 0; i <= 10; i++) guard.check(P, P, 't', 1, now)
  for (let t = now; t <= now + 2_500; t += 10) {
    if (guard.admitsRpc(P, t)) guard.check(P, P, 't', 1, t) // read: the validator charges its message
    guard.admitsRpc(G, t)
  }
  assert.equal(counted.filter(([n]) => n === 'gossip_flooders_disconnected_total').length, 2)
  assert.equal(guard.limiter.coolingDown(P, now + 2_600), true)
  assert.equal(guard.limiter.coolingDown(G, now + 2_600), true)
  assert.equal(guard.admitsRpc(P, now + 2_600), false)
  assert.ok(dropped(counted, 'cooling') >= 1, 'what it sends while being hung up on is dropped')
  assert.deepEqual(events.filter(e => e.kind === 'limit.disconnected').map(e => e.peer).sort(), [G, P].sort())
  // Audited once a second at most per peer, not per RPC.
  assert.ok(events.filter(e => e.kind === 'limit.exceeded' && e.peer === P).length <= 4)
  return sleep(50).then(() => { assert.deepEqual(hungUp.sort(), [G, P].sort()) })
})

test('gossip intake: a backlog already read is handed on in slices, with the event loop turning between them', { timeout: 3 * 60_000 }, async () => {
  // 2,000 RPCs queued at once, each taking ~50 µs of the consumer's time: read in one run of
  // microtasks, as gossipsub reads, the timer below would fire only after the last.
  const backlog = (async function * () { for (let i = 0; i < 2_000; i++) yield i })()
  let timerFiredAfter: number | undefined
  let read = 0
  setTimeout(() => { timerFiredAfter = read }, 0)
  // Every 100th is refused: dropped, never handed on.
  let asked = 0
  const handed: number[] = []
  for await (const i of intake('p', backlog, { admits: () => ++asked % 100 !== 0 })) {
    const until = performance.now() + 0.05
    while (performance.now() < until) { /* the RPC's handling */ }
    handed.push(i)
    read++
  }
  assert.equal(read, 1_980)
  assert.ok(!handed.includes(99) && !handed.includes(1_999) && handed.includes(100))
  assert.ok(timerFiredAfter !== undefined && timerFiredAfter < read, `the timer fired after ${String(timerFiredAfter)} of ${read}`)
  assert.ok(timerFiredAfter! <= 10 * SLICE_RPCS, `the timer waited for ${String(timerFiredAfter)} RPCs`)
})

test('gossip: a flooder sending directly is held (RPCs dropped unread), disconnected after pubsub.floodSeconds and refused; the honest broadcast all arrives', { timeout: 3 * 60_000 }, async () => {
  const open = { security: { mode: 'open' as const } }
  // Only the victim limits: 20 gossip messages/s per publisher, a flooder out after 2 s over it.
  const [victim, honest, flooder] = await startMesh(3, i => i === 0 ? { ...open, pubsub: { publishPerSec: 20, floodSeconds: 2 } } : open)
  try {
    // The flooder's gossip reaches the victim directly only (not relayed by the honest peer).
    await honest.libp2p.hangUp(flooder.libp2p.peerId)
    const got: unknown[] = []
    const sub = victim.subscribe('news')
    void (async () => { for await (const m of sub) if (m.from === honest.peerId) got.push(m.payload) })()
    await waitFor(() => flooder.topicPeers('news').subscribers.includes(victim.peerId), 'the flooder to see the victim subscribe')
    await waitFor(() => honest.topicPeers('news').subscribers.includes(victim.peerId), 'the honest publisher to see the victim subscribe')
    const topic = gossipTopic(victim.config.mesh, 'news')
    const gossip = flooder.libp2p.services.pubsub
    const run = { stop: false }
    let sent = 0
    const flood = (async () => {
      while (!run.stop) {
        const env = makeEnvelope({ source: flooder.peerId, destination: { topic: 'news' }, type: 'EVENT', subject: 'news', payload: sent++ })
        await gossip.publish(topic, encodeBatch([envelopeToJson(env)])).catch(() => {})
        if (sent % 10 === 0) await sleep(1)
      }
    })()
    const honestSent: number[] = []
    const honestLoop = (async () => {
      for (let i = 0; i < 40 && !run.stop; i++) { await honest.publish('news', i); honestSent.push(i); await sleep(100) }
    })()
    try {
      await waitFor(() => victim.stats.get('gossip_rpcs_dropped_total', { peer: flooder.peerId, reason: 'held' }) > 0, 'the flooder\'s RPCs to be dropped unread')
      await waitFor(() => victim.stats.get('gossip_flooders_disconnected_total', { peer: flooder.peerId }) === 1, 'the flooder to be disconnected', 20_000)
      await waitFor(() => victim.libp2p.getConnections(flooder.libp2p.peerId).length === 0, 'the flooder\'s connections to close')
      await honestLoop
    } finally {
      run.stop = true
      await Promise.all([flood, honestLoop])
    }
    await waitFor(() => got.length === honestSent.length, `the honest publisher's ${honestSent.length} messages to arrive (got ${got.length})`)
    assert.deepEqual(got, honestSent)
    // Most of the flood was never validated: what the validator refused is a small part of what was sent.
    const validated = victim.stats.get('gossip_rate_limited_total', { peer: flooder.peerId })
    assert.ok(validated < sent / 2, `the validator saw ${validated} refusals of ${sent} messages sent`)
    const body = (await victim.stats.exposition()).body
    assert.match(body, new RegExp(`gossip_rpcs_dropped_total\\{peer="${flooder.peerId}",reason="held"\\} \\d+`))
    // Refused for the cool-down.
    const redial = await flooder.libp2p.dial(victim.libp2p.getMultiaddrs()[0]).catch(() => undefined)
    await waitFor(() => redial === undefined || redial.status !== 'open', 'the redial to be refused', 5_000)
    assert.equal(victim.libp2p.getConnections(flooder.libp2p.peerId).length, 0)
    sub.unsubscribe()
  } finally {
    await stopAll([victim, honest, flooder])
  }
})

test('gossip: an honest agent publishing flat out on ten topics stays under what its receivers charge it, every message arrives and it is not disconnected', { timeout: 3 * 60_000 }, async () => {
  // Each topic's batcher may send 40 gossip messages a second; the receiver charges the
  // publisher for all topics together (100 a second here, out after 2 s over it). Without the
  // node-wide budget, ten busy topics sent ~400 a second and the publisher was hung up on.
  const pubsub = { directFanout: 0, publishPerSec: 100, floodSeconds: 2 }
  const [reader, publisher] = await startMesh(2, () => ({ pubsub }))
  try {
    const topics = Array.from({ length: 10 }, (_, i) => `busy-${i}`)
    let got = 0
    const subs = topics.map(t => reader.subscribe(t))
    for (const s of subs) void (async () => { for await (const _ of s) got++ })()
    for (const t of topics) await publisher.waitForSubscribers(t, { min: 1, signal: AbortSignal.timeout(10_000) })
    let sent = 0
    for (const until = Date.now() + 3_500; Date.now() < until;) {
      await Promise.all(topics.map(async t => { await publisher.publish(t, { n: sent++ }) }))
      await sleep(1)
    }
    await publisher.flush()
    await waitFor(() => got === sent, `every message to arrive (${got} of ${sent})`, 20_000)
    assert.equal(reader.stats.get('gossip_flooders_disconnected_total', { peer: publisher.peerId }), 0)
    assert.equal(reader.stats.get('gossip_rate_limited_total', { peer: publisher.peerId }), 0, 'never over the limit')
    assert.ok(reader.libp2p.getConnections(publisher.libp2p.peerId).length > 0)
    for (const s of subs) s.unsubscribe()
  } finally {
    await stopAll([reader, publisher])
  }
})
