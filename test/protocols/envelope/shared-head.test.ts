// The batch with a shared head (wire byte 0x05, protocols/envelope/shared-head.ts): what it
// decodes to against the 0x01 batch of the same envelopes, and what it refuses.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  decodeBatch, decodeBatchFrame, encodeBatch, encodeSharedBatch, hasValidSignature, joinJson, makeEnvelope, signEnvelope, splitJson,
  decodeSharedBatch, Envelope, SHARED_FIELDS, WIRE_JSON_SHARED_HEAD
} from '../../../protocols/envelope/index.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { AgentMeshError } from '../../../protocols/core/errors.js'
import { BatchForms, sealBatch } from '../../../protocols/pubsub/sealed-batch.js'
import { noSealer } from '../../../protocols/sealing/index.js'

const SOURCE = '12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5'
const event = (payload: unknown, extra: Partial<Envelope> = {}): Envelope =>
  ({ ...makeEnvelope({ source: SOURCE, destination: { topic: 'news' }, type: 'EVENT', subject: 'news', payload }), ...extra })

/** A head's JSON with its `headers` replaced. */
const withHeaders = (shared: string, headers: Record<string, string>): string => JSON.stringify({ ...JSON.parse(shared), headers })

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

test('a batch of envelopes with the same shared fields decodes to what its 0x01 batch decodes to, in fewer bytes', { timeout: 60_000 }, () => {
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

test('an own part\'s field stands over the head\'s; a signed envelope\'s signature still verifies', { timeout: 60_000 }, async () => {
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

test('each decoded envelope owns its destination and headers: a change to one reaches no other', { timeout: 60_000 }, () => {
  // Headers in the head (as a peer may write them), shared by both envelopes on the wire.
  const owns = [event(1), event(2)].map(e => splitJson(e).own)
  const [x, y] = decodeBatch(encodeSharedBatch(withHeaders(splitJson(event(0)).shared, { trace: 'a' }), owns), 1 << 20)
  x.headers.added = 'by a handler'
  ;(x.destination as { topic: string }).topic = 'elsewhere'
  assert.deepEqual(y.headers, { trace: 'a' })
  assert.deepEqual(y.destination, { topic: 'news' })
})

test('refused whole, with the spec\'s codes: a head that is not an object of shared fields, envelopes not an array, a bad envelope, broken framing', { timeout: 60_000 }, () => {
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

test('a large head over many small envelopes decodes only when the batch written plainly would be within the limit', { timeout: 60_000 }, () => {
  // 4 KiB of headers, shared by 200 envelopes of ~70 bytes: 18 KB on the wire, ~840 KB written plainly.
  // Written by hand: this build's writer keeps headers that hold anything with each envelope, but a peer may put them in the head.
  const head = withHeaders(splitJson(event(0)).shared, { note: 'h'.repeat(4_000) })
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

test('the head holds exactly the fields a topic batch\'s envelopes have alike', { timeout: 60_000 }, () => {
  const s = splitJson(event({ ok: 1 }, { ttl: 10 }))
  assert.deepEqual(Object.keys(JSON.parse(s.shared)), [...SHARED_FIELDS])
  assert.deepEqual(Object.keys(JSON.parse(s.own)).sort(), ['id', 'payload', 'timestamp', 'ttl'])
  // Headers that hold anything (a trace context differs in every envelope) go with the envelope's own fields.
  const traced = splitJson(event(1, { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } }))
  assert.deepEqual(Object.keys(JSON.parse(traced.shared)), SHARED_FIELDS.filter(k => k !== 'headers'))
  assert.deepEqual(Object.keys(JSON.parse(traced.own)).sort(), ['headers', 'id', 'payload', 'timestamp'])
})

test('a traced publisher\'s batch, each envelope with its own trace context, still goes with a shared head and decodes to its envelopes', { timeout: 60_000 }, () => {
  const envs = Array.from({ length: 5 }, (_, i) => event({ i }, { headers: { traceparent: `00-${String(i).repeat(32)}-${'b'.repeat(16)}-01` } }))
  const forms = new BatchForms(sealBatch(noSealer, 'news', envs.map(splitJson)))
  const shared = forms.sharedHead()
  assert.ok(shared !== undefined, 'the batch has a shared head')
  assert.deepEqual(decodeBatch(shared, 1 << 20), envs)
  assert.deepEqual(decodeBatch(forms.plain(), 1 << 20), envs)
  assert.ok(shared.byteLength < forms.plain().byteLength)
  // One envelope with no headers among traced ones: the shared fields differ, the batch goes plain.
  const mixed = new BatchForms(sealBatch(noSealer, 'news', [...envs, event({ i: 9 })].map(splitJson)))
  assert.equal(mixed.sharedHead(), undefined)
  assert.equal(decodeBatch(mixed.plain(), 1 << 20).length, 6)
})

test('the limit a 0x05 batch is held to is its 0x01 form\'s exact size: a batch at the limit passes in either form', { timeout: 60_000 }, () => {
  const envs = Array.from({ length: 50 }, (_, i) => event({ i, text: 'y'.repeat(100) }))
  const splits = envs.map(splitJson)
  const plain = encodeBatch(splits.map(joinJson))
  const shared = encodeSharedBatch(splits[0].shared, splits.map(s => s.own))
  assert.equal(decodeBatch(shared, plain.byteLength).length, 50)
  assert.equal(refusal(() => decodeBatch(shared, plain.byteLength - 1)), 'MSG002 MessageTooLargeError')
  assert.equal(refusal(() => decodeBatch(plain, plain.byteLength - 1)), 'MSG002 MessageTooLargeError')
})

test('every field of the envelope schema survives the split and the batch: a field added to the schema and not to the split fails here', { timeout: 60_000 }, () => {
  const all: Record<string, unknown> = {}
  const sample: Record<string, unknown> = {
    version: 1,
    id: 'e-1',
    timestamp: 1,
    source: SOURCE,
    destination: { topic: 'news' },
    type: 'RESPONSE',
    subject: 'news',
    payload: { a: 1 },
    headers: { h: 'v' },
    priority: 'high',
    ttl: 60_000,
    replyTo: 'r',
    correlationId: 'c',
    conversationId: 'v',
    error: { code: 'CMD001', name: 'UnknownCommandError', message: 'no' }
  }
  for (const k of Object.keys(Envelope.shape)) {
    if (k === 'signature') continue // set by signing, below
    assert.ok(k in sample, `the test's sample lacks the schema's field "${k}": add it`)
    all[k] = sample[k]
  }
  const env = Envelope.parse(all)
  const s = splitJson(env)
  assert.deepEqual(JSON.parse(joinJson(s)), env)
  assert.deepEqual(decodeBatch(encodeSharedBatch(s.shared, [s.own]), 1 << 20), [env])
  const signed = { ...env, signature: 'c2lnbmF0dXJl' }
  const t = splitJson(signed)
  assert.deepEqual(JSON.parse(joinJson(t)), signed)
  assert.deepEqual(decodeBatch(encodeSharedBatch(t.shared, [t.own]), 1 << 20), [signed])
})

test('a head of some shared fields, the rest in each own part; an envelope lacking a field neither holds is refused before it is built', { timeout: 60_000 }, () => {
  const env = event('x')
  const { priority, headers, ...rest } = env
  const head = JSON.stringify({ version: 1, source: env.source, destination: env.destination, type: env.type, subject: env.subject })
  const own = JSON.stringify({ id: rest.id, timestamp: rest.timestamp, payload: rest.payload, priority, headers })
  assert.deepEqual(decodeBatch(encodeSharedBatch(head, [own]), 1 << 20), [env])
  const asIs = (bytes: Uint8Array): Array<Record<string, unknown>> => decodeSharedBatch(bytes, 1 << 20, v => v as Record<string, unknown>).envs
  // Refused at the first such envelope, whatever follows: a head of nothing over 100,000 empty parts does no work per part.
  const lacking = JSON.stringify({ id: rest.id, timestamp: rest.timestamp, payload: rest.payload, headers })
  assert.throws(() => asIs(encodeSharedBatch(head, [own, lacking, own])), (err: Error) => err instanceof AgentMeshError && err.code === 'MSG001' && /envelope 1 has no priority/.test(err.message))
  assert.throws(() => asIs(encodeSharedBatch('{}', new Array(100_000).fill('{}'))), /envelope 0 has no id/)
  // An own part without a payload is an envelope without one: refused, not delivered with `undefined`.
  assert.throws(() => asIs(encodeSharedBatch(splitJson(env).shared, [JSON.stringify({ id: 'x', timestamp: 1 })])), /envelope 0 has no payload/)
  // "__proto__" in an own part is a key like any other (refused by the check), never the object's prototype.
  const [proto] = asIs(encodeSharedBatch(splitJson(env).shared, ['{"id":"x","timestamp":1,"payload":1,"__proto__":{"polluted":true}}']))
  assert.equal(Object.getPrototypeOf(proto), Object.prototype)
  assert.equal((proto as { polluted?: unknown }).polluted, undefined)
  assert.equal(refusal(() => decodeBatch(encodeSharedBatch(splitJson(env).shared, ['{"id":"x","timestamp":1,"payload":1,"__proto__":{}}']), 1 << 20)), 'MSG001 ValidationError')
})

test('not an object where one is due: a head of null, an own part of null or a list, each refused with its code, never a TypeError', { timeout: 60_000 }, () => {
  const s = splitJson(event(1))
  for (const head of ['null', '"text"', '[]', '12']) assert.equal(refusal(() => decodeBatch(encodeSharedBatch(head, [s.own]), 1 << 20)), 'MSG001 ValidationError', head)
  for (const own of ['null', '[]', '"x"', '7']) assert.equal(refusal(() => decodeBatch(encodeSharedBatch(s.shared, [s.own, own]), 1 << 20)), 'MSG001 ValidationError', own)
})

test('a multicast head: each envelope gets its own list of peers', { timeout: 60_000 }, () => {
  const head = JSON.stringify({ version: 1, source: SOURCE, destination: { peers: ['p1', 'p2'] }, type: 'EVENT', subject: 's', headers: {}, priority: 'normal' })
  const owns = [1, 2].map(i => JSON.stringify({ id: `e-${i}`, timestamp: 1, payload: i }))
  const [x, y] = decodeSharedBatch(encodeSharedBatch(head, owns), 1 << 20, v => v as Envelope).envs
  assert.notEqual((x.destination as { peers: string[] }).peers, (y.destination as { peers: string[] }).peers)
  ;(x.destination as { peers: string[] }).peers.push('p3')
  assert.deepEqual(y.destination, { peers: ['p1', 'p2'] })
})

test('a batch weighs its 0x01 form: what the decoder reports, and what a compressed frame would weigh inflated', { timeout: 60_000 }, () => {
  const head = withHeaders(splitJson(event(0)).shared, { note: 'n'.repeat(2_000) })
  const owns = Array.from({ length: 20 }, (_, i) => splitJson(event(i)).own)
  const plain = encodeBatch(owns.map(own => joinJson({ shared: head, own })))
  const shared = encodeSharedBatch(head, owns)
  assert.ok(shared.byteLength * 10 < plain.byteLength)
  assert.equal(decodeBatchFrame(shared, 1 << 20).plainBytes, plain.byteLength)
  assert.equal(decodeBatchFrame(plain, 1 << 20).plainBytes, plain.byteLength)
})
