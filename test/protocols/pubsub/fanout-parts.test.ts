// The pure parts of the fan-out (issue 15): who a publisher reaches, the stream's frames, the
// compressed frames, and the hand-written envelope check held to the zod schema.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { deflateRawSync, brotliCompressSync } from 'node:zlib'
import fc from 'fast-check'
import {
  Envelope, compressFrame, decodeBatch, encodeBatch, envelopeToJson, inflateFrame, makeEnvelope, WIRE_COMPRESSED, WIRE_JSON_V1
} from '../../../protocols/envelope/index.js'
import { MessageTooLargeError, SerializationError } from '../../../protocols/core/errors.js'
import { quickCheck } from '../../../protocols/envelope/quick-check.js'
import { ReachTable, ownReach } from '../../../protocols/pubsub/reach.js'
import { batchFrame, controlFrame, parseFrame } from '../../../protocols/pubsub/fanout-wire.js'
import { FrameDecoder } from '../../../protocols/rpc/frames.js'
import { hostile, mutationsOf, plantedIn } from '../../../harness/fuzz-inputs.js'

const P = '12D3KooWLTDZ8mNdoC2YAkgd4emA2M6w6ZVNQ7Ew5yFmyrCWF2kC'

test('reach: a publisher writes directly only when every subscriber it can see lists no one beyond them', { timeout: 3 * 60_000 }, () => {
  const t = new ReachTable()
  assert.equal(t.covers('p', 'news', []), true, 'no subscriber: nothing to reach')
  assert.equal(t.covers('p', 'news', ['a']), false, 'a has not told its reach yet')
  t.set('a', { news: ['p', 'b'] })
  t.set('b', { news: ['a', 'p'] })
  assert.equal(t.covers('p', 'news', ['a', 'b']), true, 'full mesh')
  assert.equal(t.covers('p', 'news', ['a']), false, 'a reaches b, whom p does not see')
  assert.deepEqual(t.beyond('p', 'news', ['a', 'b']), [], 'no one beyond a full mesh')
  assert.deepEqual(t.beyond('p', 'news', ['a']), ['b'], 'b is beyond a')
  t.set('b', { news: ['a', 'p', 'c'] })
  assert.equal(t.covers('p', 'news', ['a', 'b']), false, 'c is behind b')
  assert.deepEqual(t.beyond('p', 'news', ['a', 'b']), ['c'], 'c is behind b')
  t.set('b', { news: null })
  assert.equal(t.covers('p', 'news', ['a', 'b']), false, 'b has too many to list')
  t.set('b', { other: ['p'] })
  assert.equal(t.covers('p', 'news', ['a', 'b']), false, 'b told no reach for this topic')
  t.forget('b')
  assert.equal(t.covers('p', 'news', ['a', 'b']), false, 'b forgotten (disconnected)')
  assert.deepEqual(ownReach(['z', 'a'], topic => topic === 'a' ? ['y', 'x'] : ['1', '2', '3'], 2), { a: ['x', 'y'], z: null })
})

test('fan-out frames: a batch keeps its topic and bytes; control frames are checked; bad frames are MSG002', { timeout: 3 * 60_000 }, () => {
  const batch = encodeBatch([envelopeToJson(makeEnvelope({ source: P, destination: { topic: 'news' }, type: 'EVENT', subject: 'news', payload: 1 }))])
  const decoder = new FrameDecoder(1 << 20)
  const frames = [...decoder.push(Buffer.concat([batchFrame('news', batch), controlFrame({ hello: { mesh: 'm', accepts: ['brotli'] }, reach: { news: [P] } })]))]
  assert.equal(frames.length, 2)
  const b = parseFrame(frames[0])
  assert.ok(b.kind === 'batch')
  assert.equal(b.topic, 'news')
  assert.deepEqual(Buffer.from(b.batch), Buffer.from(batch))
  assert.deepEqual(parseFrame(frames[1]), { kind: 'control', control: { hello: { mesh: 'm', accepts: ['brotli'] }, reach: { news: [P] } } })
  const bad = [
    new Uint8Array(0),
    Uint8Array.of(0x09, 1, 2),
    Uint8Array.of(0x01, 0x00, WIRE_JSON_V1), // empty topic
    Uint8Array.of(0x01, 0xff, 0xff, 0xff, 0x01), // topic length runs on
    Uint8Array.of(0x01, 0x05, 0x61), // topic longer than the frame
    Buffer.concat([Uint8Array.of(0x02), Buffer.from('{"reach":{"t":"not a list"}}')]),
    Buffer.concat([Uint8Array.of(0x02), Buffer.from('{"hello":{"mesh":"m","accepts":[]},"extra":1}')]),
    Buffer.concat([Uint8Array.of(0x02), Buffer.from('{not json')])
  ]
  for (const f of bad) assert.throws(() => parseFrame(f), SerializationError, Buffer.from(f).toString('hex'))
})

test('compression: both codecs give back the frame; a bomb is refused after maxBytes of output; garbage is MSG002', { timeout: 3 * 60_000 }, () => {
  const envs = Array.from({ length: 50 }, (_, i) => envelopeToJson(makeEnvelope({ source: P, destination: { topic: 't' }, type: 'EVENT', subject: 't', payload: { i, text: 'agent status '.repeat(40) } })))
  const plain = encodeBatch(envs)
  for (const codec of ['deflate', 'brotli'] as const) {
    const packed = compressFrame(plain, codec)
    assert.equal(packed[0], WIRE_COMPRESSED[codec])
    assert.ok(packed.byteLength < plain.byteLength / 4, `${codec}: ${packed.byteLength} of ${plain.byteLength} bytes`)
    assert.deepEqual(Buffer.from(inflateFrame(packed, 1 << 20)), Buffer.from(plain))
    assert.equal(decodeBatch(inflateFrame(packed, 1 << 20), 1 << 20).length, 50)
  }
  assert.equal(inflateFrame(plain, 1 << 20), plain, 'a plain frame passes as it is')
  const zeros = Buffer.alloc(8 << 20)
  const bombs = [
    Buffer.concat([Uint8Array.of(WIRE_COMPRESSED.deflate), deflateRawSync(zeros)]),
    Buffer.concat([Uint8Array.of(WIRE_COMPRESSED.brotli), brotliCompressSync(zeros)])
  ]
  for (const bomb of bombs) {
    assert.ok(bomb.byteLength < 20_000)
    assert.throws(() => inflateFrame(bomb, 1 << 20), MessageTooLargeError)
  }
  assert.throws(() => inflateFrame(Uint8Array.of(WIRE_COMPRESSED.brotli, 1, 2, 3, 4), 1 << 20), SerializationError)
  assert.throws(() => inflateFrame(Uint8Array.of(WIRE_COMPRESSED.deflate, 0xff, 0xff), 1 << 20), SerializationError)
})

test('quick check: it accepts the envelopes agentmesh builds, and nothing the zod schema refuses', { timeout: 3 * 60_000 }, () => {
  const built = [
    makeEnvelope({ source: P, destination: { topic: 'news' }, type: 'EVENT', subject: 'news', payload: { a: [1, 'x', null] } }),
    makeEnvelope({ source: P, destination: { peer: P }, type: 'REQUEST', subject: 'echo', payload: 1, ttl: 30_000, headers: { traceparent: '00-x' }, conversationId: 'c' }),
    makeEnvelope({ source: P, destination: { peers: [P, P] }, type: 'RESPONSE', subject: 'echo', payload: null, correlationId: 'id', replyTo: 'r', priority: 'high' })
  ].map(e => JSON.parse(JSON.stringify(e)) as unknown)
  for (const e of built) assert.ok(quickCheck(e) && Envelope.safeParse(e).success, 'the common case takes the quick path')
  const withError = { ...(built[2] as object), error: { code: 'MSG001', name: 'ValidationError', message: 'x' } }
  assert.ok(!quickCheck(withError) && Envelope.safeParse(withError).success, 'an error answer goes to zod')
  // The one direction that matters: what the quick check accepts, zod accepts.
  const implies = (v: unknown): void => { if (quickCheck(v)) assert.ok(Envelope.safeParse(v).success, JSON.stringify(v)?.slice(0, 300)) }
  const samples = fc.oneof(...built.map(mutationsOf), ...built.map(plantedIn), hostile)
  fc.assert(fc.property(samples, implies), { numRuns: 6_000, seed: 15 })
  const edges = [{ timestamp: -1 }, { timestamp: 1.5 }, { timestamp: 2 ** 53 }, { timestamp: -0 }, { ttl: 0 }, { ttl: 2.5 }, { id: '' }, { id: 'x'.repeat(129) },
    { subject: 'x'.repeat(257) }, { headers: { ['k'.repeat(257)]: 'v' } }, { headers: { k: 'v'.repeat(8193) } }, { headers: { k: 1 } }, { destination: {} },
    { destination: { peers: [] } }, { destination: { topic: 't', peer: P } }, { version: 2 }, { priority: 'urgent' }, { type: 'PING' }, { payload: undefined }, { extra: 1 }]
  for (const e of edges) implies({ ...(built[0] as object), ...e })
  const { payload: _payload, ...noPayload } = built[0] as Record<string, unknown>
  assert.ok(!quickCheck(noPayload), 'zod wants the payload key')
  implies(Object.assign(Object.create({ extra: 1 }), built[0]))
  implies(JSON.parse(JSON.stringify(built[0]).replace('"headers":{}', '"headers":{"__proto__":"x"}')))
})
