import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  decodeBatch, decodeEnvelope, encodeBatch, encodeEnvelope, envelopeToJson, frameJson, makeEnvelope, isExpired
} from '../../../protocols/envelope/index.js'
import { MessageTooLargeError, SerializationError, UnsupportedVersionError, ValidationError } from '../../../protocols/core/errors.js'

const base = () => makeEnvelope({ source: '12D3KooWsource', destination: { topic: 'x' }, type: 'EVENT', subject: 'x', payload: { a: [1, 2, 3], s: 'é' } })

test('an envelope survives encode and decode unchanged', { timeout: 3 * 60_000 }, () => {
  const env = base()
  assert.deepEqual(decodeEnvelope(encodeEnvelope(env), 1 << 20), env)
})

test('a batch decodes into its envelopes in order', { timeout: 3 * 60_000 }, () => {
  const envs = [base(), base(), base()]
  const back = decodeBatch(encodeBatch(envs.map(envelopeToJson)), 1 << 20)
  assert.deepEqual(back.map(e => e.id), envs.map(e => e.id))
})

test('an oversized frame is refused before decoding, with MSG002', { timeout: 3 * 60_000 }, () => {
  const bytes = frameJson('"' + 'x'.repeat(5000) + '"')
  assert.throws(() => decodeEnvelope(bytes, 1024), (err: any) => err instanceof MessageTooLargeError && err.code === 'MSG002' && err.size === bytes.byteLength)
})

test('an unknown wire format byte and an unknown envelope version are MSG002', { timeout: 3 * 60_000 }, () => {
  const good = encodeEnvelope(base())
  const wrongWire = Uint8Array.from(good); wrongWire[0] = 0x7f
  assert.throws(() => decodeEnvelope(wrongWire, 1 << 20), (e: any) => e instanceof UnsupportedVersionError && e.code === 'MSG002')
  const v2 = frameJson(JSON.stringify({ ...base(), version: 2 }))
  assert.throws(() => decodeEnvelope(v2, 1 << 20), (e: any) => e instanceof UnsupportedVersionError && /unsupported version 2/.test(e.message))
})

test('an envelope failing its schema is MSG001 naming the field; garbage is MSG002', { timeout: 3 * 60_000 }, () => {
  const bad = frameJson(JSON.stringify({ ...base(), priority: 'urgent' }))
  assert.throws(() => decodeEnvelope(bad, 1 << 20), (e: any) => e instanceof ValidationError && e.code === 'MSG001' && /priority/.test(e.message))
  const extra = frameJson(JSON.stringify({ ...base(), sneaky: true }))
  assert.throws(() => decodeEnvelope(extra, 1 << 20), ValidationError)
  assert.throws(() => decodeEnvelope(Uint8Array.from([1, 0xff, 0xfe, 0x00]), 1 << 20), (e: any) => e instanceof SerializationError && e.code === 'MSG002')
})

test('ttl expiry is judged from the sender timestamp', { timeout: 3 * 60_000 }, () => {
  const env = { ...base(), ttl: 1000 }
  assert.equal(isExpired(env, env.timestamp + 999), false)
  assert.equal(isExpired(env, env.timestamp + 1001), true)
  assert.equal(isExpired(base(), Date.now() + 1e9), false)
})
