/**
 * A message goes one way (issue 41; docs/layout.md "How a request and a broadcast travel"): a
 * request's payload is checked once, where the caller's payload enters, and every attempt sends
 * it as checked; rpc's outgoing steps (protocols/rpc/outgoing.ts) are pure and said here one by
 * one; a publish's reach waits on the readiness pubsub hands down (node/topic-links.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { z } from 'zod'
import { hasValidSignature, makeEnvelope, signEnvelope, type Envelope } from '../../../protocols/envelope/index.js'
import { anyCommand, defineCommand } from '../../../protocols/rpc/index.js'
import { checkedOutgoing, checkRequest, frameRequest, issueOnly, signedFor } from '../../../protocols/rpc/outgoing.js'
import { TopicLinks } from '../../../node/topic-links.js'
import { topicKey } from '../../../protocols/discovery/topic-rendezvous.js'
import { startMesh, stopAll } from '../../helpers.js'

const Job = defineCommand('one-way-job', { request: z.object({ n: z.number() }), response: z.object({ n: z.number() }) })

test('outgoing: the check says MSG001 naming the field (rpc) or the issue (reliable delivery\'s wording), and returns the parsed payload', { timeout: 3 * 60_000 }, () => {
  assert.deepEqual(checkRequest(Job, { n: 1 }), { n: 1 })
  assert.throws(() => checkRequest(Job, { n: 'x' }), (e: any) => e.code === 'MSG001' && /^request for "one-way-job": n: /.test(e.message))
  assert.throws(() => checkRequest(Job, { n: 'x' }, issueOnly), (e: any) => e.code === 'MSG001' && e.message.startsWith('request for "one-way-job": ') && !e.message.includes('": n: '))
  // What was checked before is taken as it is, and weighed as it goes.
  const out = checkedOutgoing('peer', anyCommand('x'), { anything: true }, false)
  assert.deepEqual(out, { peer: 'peer', command: out.command, payload: { anything: true }, sealed: false, weight: 1 })
})

test('outgoing: a frame past the size limit is MSG002 before anything is sent', { timeout: 3 * 60_000 }, () => {
  const out = checkedOutgoing('peer', Job, { n: 1 }, false)
  const framed = frameRequest(out, 'me', {}, { id: 'the-id' }, 1_000, {}, 1 << 20)
  assert.equal(framed.env.id, 'the-id')
  assert.equal(framed.env.subject, 'one-way-job')
  assert.throws(() => frameRequest(out, 'me', {}, {}, 1_000, {}, 10), (e: any) => e.code === 'MSG002')
})

test('outgoing: a signed attempt goes as signed the first time, signed again with the attempt\'s timestamp and headers after', { timeout: 3 * 60_000 }, async () => {
  const key = await generateKeyPair('Ed25519')
  const me = peerIdFromPrivateKey(key).toString()
  const signed = signEnvelope(makeEnvelope({ id: 'm1', source: me, destination: { peer: 'p' }, type: 'REQUEST', subject: 's', payload: { a: 1 }, headers: { 'am-via': 'gateway', 'am-attempt': '1' } }), key)
  const built = (headers: Record<string, string>): Envelope => ({ ...makeEnvelope({ id: 'm1', source: me, destination: { peer: 'p' }, type: 'REQUEST', subject: 's', payload: { a: 1 }, headers }), timestamp: signed.timestamp + 5 })
  const perAttempt = ['am-attempt', 'traceparent']
  assert.equal(signedFor({ envelope: signed, asSigned: true, key, perAttempt }, built({ 'am-attempt': '1' })), signed, 'first attempt: as signed')
  assert.equal(signedFor({ envelope: signed, asSigned: false, perAttempt }, built({ 'am-attempt': '2' })), signed, 'no key: as stored')
  const again = signedFor({ envelope: signed, asSigned: false, key, perAttempt }, built({ 'am-attempt': '2', other: 'dropped' }))
  assert.ok(hasValidSignature(again))
  assert.deepEqual(again.headers, { 'am-via': 'gateway', 'am-attempt': '2' }, 'the signed headers, with the attempt\'s own')
  assert.equal(again.timestamp, signed.timestamp + 5)
  const traced = signedFor({ envelope: signed, asSigned: true, key, perAttempt }, built({ 'am-attempt': '1', traceparent: '00-x' }))
  assert.notEqual(traced, signed, 'trace context added: signed again')
  assert.equal(traced.headers.traceparent, '00-x')
})

test('a request\'s payload is checked once on the sender, at most once and reliable alike', { timeout: 3 * 60_000 }, async () => {
  const [a, b] = await startMesh(2)
  try {
    b.handle(Job, (req) => ({ n: req.n + 1 }))
    // The sender's own command, same name and shape, counts its checks (the receiver checks with its own).
    let checks = 0
    const Counted = defineCommand('one-way-job', { request: z.object({ n: z.number() }).refine(() => { checks++; return true }), response: z.object({ n: z.number() }) })
    for (const delivery of ['at-most-once', 'at-least-once', 'exactly-once'] as const) {
      checks = 0
      assert.deepEqual(await a.request(b.peerId, Counted, { n: 1 }, { delivery }), { n: 2 })
      assert.equal(checks, 1, `${delivery}: checked once`)
    }
    // Refused where it enters, before any breaker, outbox or sequence number.
    await assert.rejects(a.request(b.peerId, Job, { n: 'x' } as any, { delivery: 'at-least-once' }), (e: any) => e.code === 'MSG001')
    assert.equal((a as any).s.delivery.outbox.entries().length, 0)
  } finally {
    await stopAll([a, b])
  }
})

test('topic links: a reach waits on the readiness pubsub hands down, not on its own reading of pubsub', { timeout: 3 * 60_000 }, async (t) => {
  const connected = new Set<string>()
  let dials = 0
  const l = new TopicLinks({
    self: 'me',
    subscriptions: () => [],
    // Its own view never sees a subscriber: a reach that read it would wait out reachWaitMs.
    subscribers: () => [],
    sendsTo: () => false,
    members: { subscribersOf: key => key === topicKey('t') ? ['s1'] : [], retell: () => {} },
    live: () => 10,
    connected: p => connected.has(p),
    dial: async (p) => { dials++; connected.add(p) },
    room: () => true,
    intervalMs: 50,
    states: true,
    dialTimeoutMs: 1_000,
    reachWaitMs: 5_000
  })
  l.start()
  t.after(() => { l.stop() })
  const began = Date.now()
  await l.reach('t', () => connected.has('s1'))
  assert.equal(dials, 1)
  assert.ok(Date.now() - began < 2_000, `ready as soon as pubsub said so (${Date.now() - began} ms)`)
})
