// The batch with a shared head (wire byte 0x05, protocols/envelope/shared-head.ts): what it
// decodes to against the 0x01 batch of the same envelopes, and what it refuses.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  decodeBatch, encodeBatch, encodeSharedBatch, hasValidSignature, joinJson, makeEnvelope, signEnvelope, splitJson,
  SHARED_FIELDS, WIRE_JSON_SHARED_HEAD, type Envelope
} from '../../../protocols/envelope/index.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { AgentMeshError } from '../../../protocols/core/errors.js'

const SOURCE = '12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5'
const event = (payload: unknown, extra: Partial<Envelope> = {}): Envelope =>
  ({ ...makeEnvelope({ source: SOURCE, destination: { topic: 'news' }, type: 'EVENT', subject: 'news', payload }), ...extra })

/** The code an error thrown by `fn` carries (the spec's MSG00x), and its class's name. */
function refusal (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof AgentMeshError, `a typed error, not ${String(err)}`)
    return `${err.code} ${err.name}`
  }
  assert.fail('not refused')
}

test('a batch of envelopes with the same shared fields decodes to what its 0x01 batch decodes to, in fewer bytes', () => {
  const envs = [
    event({ headline: 'first' }),
    event({ headline: 'second', n: 2 }, { ttl: 5_000, correlationId: 'c-1' }),
    event(null, { conversationId: 'talk' }),
    event('x'.repeat(200))
  ]
  const splits = envs.map(splitJson)
  // Each envelope's whole JSON is its two parts joined: nothing lost, nothing added.
  for (const [i, s] of splits.entries()) assert.deepEqual(JSON.parse(joinJson(s)), envs[i])
  assert.ok(splits.every(s => s.shared === splits[0].shared), 'the shared fields are alike')
  const plain = encodeBatch(splits.map(joinJson))
  const shared = encodeSharedBatch(splits[0].shared, splits.map(s => s.own))
  assert.equal(shared[0], WIRE_JSON_SHARED_HEAD)
  assert.deepEqual(decodeBatch(shared, 1 << 20), envs)
  assert.deepEqual(decodeBatch(shared, 1 << 20), decodeBatch(plain, 1 << 20))
  // The head's ~190 bytes once instead of four times.
  assert.ok(plain.byteLength - shared.byteLength > 3 * (Buffer.byteLength(splits[0].shared) - 10), `${shared.byteLength} against ${plain.byteLength} bytes`)
})

test('an own part\'s field stands over the head\'s; a signed envelope\'s signature still verifies', async () => {
  const key = await generateKeyPair('Ed25519')
  const source = peerIdFromPrivateKey(key).toString()
  const signed = signEnvelope(makeEnvelope({ source, destination: { topic: 'news' }, type: 'EVENT', subject: 'news', payload: { ok: true } }), key)
  const head = splitJson(signed).shared
  // An urgent one among normal ones: it carries its priority in its own part.
  const urgent = { ...makeEnvelope({ source, destination: { topic: 'news' }, type: 'EVENT', subject: 'news', payload: 'now' }), priority: 'critical' as const }
  const batch = encodeSharedBatch(head, [splitJson(signed).own, JSON.stringify(urgent)])
  const [a, b] = decodeBatch(batch, 1 << 20)
  assert.deepEqual(a, signed)
  assert.equal(hasValidSignature(a), true, 'the signature is over the fields, not their order')
  assert.equal(b.priority, 'critical')
  assert.deepEqual(b, urgent)
})

test('each decoded envelope owns its destination and headers: a change to one reaches no other', () => {
  const envs = [event(1, { headers: { trace: 'a' } }), event(2, { headers: { trace: 'a' } })]
  const splits = envs.map(splitJson)
  const [x, y] = decodeBatch(encodeSharedBatch(splits[0].shared, splits.map(s => s.own)), 1 << 20)
  x.headers.added = 'by a handler'
  ;(x.destination as { topic: string }).topic = 'elsewhere'
  assert.deepEqual(y.headers, { trace: 'a' })
  assert.deepEqual(y.destination, { topic: 'news' })
})

test('refused whole, with the spec\'s codes: a head that is not an object of shared fields, envelopes not an array, a bad envelope, broken framing', () => {
  const s = splitJson(event({ ok: 1 }))
  const frame = (head: string, items: string): Uint8Array => encodeSharedBatch(head, [items])
  // A head may hold only the shared fields: an id, payload or timestamp there would give every envelope the same.
  for (const field of ['"id":"same"', '"payload":"same"', '"timestamp":1', '"__proto__":{}']) {
    assert.equal(refusal(() => decodeBatch(frame(s.shared.slice(0, -1) + ',' + field + '}', s.own), 1 << 20)), 'MSG001 ValidationError', field)
  }
  assert.equal(refusal(() => decodeBatch(frame('[1,2]', s.own), 1 << 20)), 'MSG001 ValidationError')
  assert.equal(refusal(() => decodeBatch(frame('{"version":', s.own), 1 << 20)), 'MSG002 SerializationError')
  // The envelopes' part: an object instead of an array; not JSON; an envelope the schema refuses (no id).
  const whole = (items: string): Uint8Array => {
    const b = encodeSharedBatch(s.shared, [])
    return Buffer.concat([b.subarray(0, b.byteLength - 2), Buffer.from(items)])
  }
  assert.equal(refusal(() => decodeBatch(whole(s.own), 1 << 20)), 'MSG001 ValidationError')
  assert.equal(refusal(() => decodeBatch(whole('[{"id":'), 1 << 20)), 'MSG002 SerializationError')
  assert.equal(refusal(() => decodeBatch(whole('[{"timestamp":1,"payload":2}]'), 1 << 20)), 'MSG001 ValidationError')
  assert.equal(refusal(() => decodeBatch(whole('[' + s.own + ',' + '{"id":"x","timestamp":-1,"payload":0}]'), 1 << 20)), 'MSG001 ValidationError')
  // Framing: the head's length past the frame's end; a varint that never ends; nothing after the head.
  const good = frame(s.shared, s.own)
  assert.equal(refusal(() => decodeBatch(Uint8Array.of(WIRE_JSON_SHARED_HEAD, 0xff, 0x7f, ...good.subarray(3)), 1 << 20)), 'MSG002 SerializationError')
  assert.equal(refusal(() => decodeBatch(Uint8Array.of(WIRE_JSON_SHARED_HEAD, 0x80, 0x80, 0x80, 0x80, 0x01), 1 << 20)), 'MSG002 SerializationError')
  assert.equal(refusal(() => decodeBatch(good.subarray(0, good.byteLength - Buffer.byteLength(s.own) - 2), 1 << 20)), 'MSG002 SerializationError')
  assert.equal(refusal(() => decodeBatch(Uint8Array.of(WIRE_JSON_SHARED_HEAD), 1 << 20)), 'MSG002 SerializationError')
  // What is left whole decodes.
  assert.equal(decodeBatch(good, 1 << 20).length, 1)
})

test('a large head over many small envelopes decodes only when the batch written plainly would be within the limit', () => {
  // 4 KiB of headers, shared by 200 envelopes of ~70 bytes: 18 KB on the wire, ~840 KB written plainly.
  const head = splitJson(event(0, { headers: { note: 'h'.repeat(4_000) } })).shared
  const owns = Array.from({ length: 200 }, (_, i) => JSON.stringify({ id: `e-${i}`, timestamp: 1, payload: i }))
  const batch = encodeSharedBatch(head, owns)
  assert.ok(batch.byteLength < 20_000)
  assert.equal(refusal(() => decodeBatch(batch, 256 * 1024)), 'MSG002 MessageTooLargeError')
  const envs = decodeBatch(batch, 1 << 20)
  assert.equal(envs.length, 200)
  assert.equal(envs[199].headers.note.length, 4_000)
  // And the frame's own size is checked first, as a 0x01 batch's is.
  assert.equal(refusal(() => decodeBatch(batch, 1_000)), 'MSG002 MessageTooLargeError')
})

test('the head holds exactly the fields a topic batch\'s envelopes have alike', () => {
  const s = splitJson(event({ ok: 1 }, { ttl: 10 }))
  assert.deepEqual(Object.keys(JSON.parse(s.shared)), [...SHARED_FIELDS])
  assert.deepEqual(Object.keys(JSON.parse(s.own)).sort(), ['id', 'payload', 'timestamp', 'ttl'])
})
