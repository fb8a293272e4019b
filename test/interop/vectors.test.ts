/**
 * The shared wire vectors (interop/vectors/, made by vectors.ts): each is made again from the
 * code and compared byte for byte with the committed file, so a wire change that forgets the
 * vectors fails here; and each committed file is decoded and verified by the TypeScript code, so
 * the vectors say what a node actually accepts (the rules the docs state included: the signed
 * texts are checked against the real verifiers).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { buildVectors, FILES, identity, readCommitted, T0, MESH, gossipMessageId, type Who } from './vectors.js'
import { canonicalJson, decodeBatch, decodeEnvelope, hasValidSignature, type Envelope } from '../../protocols/envelope/index.js'
import { peerSignatureVerifies } from '../../protocols/core/peer-verify.js'
import { verifyCredential, type Credential } from '../../protocols/admission/credential.js'
import { verifyRevocations } from '../../protocols/admission/revocation.js'
import { CardExchange } from '../../protocols/discovery/card.js'
import { FrameDecoder } from '../../protocols/rpc/frames.js'
import { parseFrame } from '../../protocols/pubsub/fanout-wire.js'
import { statementKeys } from '../../protocols/discovery/statement-keys.js'
import { MemberGossip } from '../../protocols/discovery/member-wire.js'
import { SealingService } from '../../protocols/sealing/index.js'
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256, sha512 } from '@noble/hashes/sha2.js'

const REGENERATE = 'npx tsc -p tsconfig.json && node dist/test/interop/vectors.js --write'

const load = (name: string): any => {
  const body = readCommitted(name)
  assert.ok(body !== undefined, `interop/vectors/${name} is missing: ${REGENERATE}`)
  return JSON.parse(body)
}
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'))

/** The frames of a byte string of length-prefixed frames (rpc's own decoder). */
function frames (h: string): Uint8Array[] {
  return [...new FrameDecoder(1024 * 1024).push(bytes(h))]
}
const oneEnvelope = (h: string): Envelope => {
  const f = frames(h)
  assert.equal(f.length, 1)
  return decodeEnvelope(f[0], 1024 * 1024)
}

test('the committed vectors are what the code makes now, byte for byte', { timeout: 3 * 60_000 }, async () => {
  const made = await buildVectors()
  assert.deepEqual([...made.keys()], [...FILES])
  for (const [name, body] of made) {
    assert.equal(readCommitted(name), body, `interop/vectors/${name} differs from what the code makes: a wire change? Check it, then ${REGENERATE}`)
  }
})

test('each committed vector decodes and verifies with the TypeScript code', { timeout: 3 * 60_000 }, async (t) => {
  await t.test('keys: seed to peer id', async () => {
    const keys = load('keys.json')
    for (const who of ['alice', 'bob', 'owner', 'carol'] as Who[]) {
      const id = await identity(who)
      assert.equal(keys[who].peer_id, id.peerId)
      assert.equal(peerIdFromPrivateKey(privateKeyFromProtobuf(Buffer.from(keys[who].private_key_protobuf_base64, 'base64'))).toString(), id.peerId)
      assert.equal(Buffer.from(peerIdFromString(id.peerId).toMultihash().bytes).toString('hex'), keys[who].peer_id_bytes_hex)
    }
  })

  await t.test('canonical JSON', () => {
    for (const c of load('canonical-json.json').cases) {
      assert.equal(canonicalJson(JSON.parse(c.input_json)), c.output, c.name)
      assert.equal(Buffer.from(c.output, 'utf8').toString('hex'), c.output_hex, c.name)
    }
  })

  await t.test('envelopes decode, the signed one verifies, and not once altered', () => {
    const v = load('envelope.json')
    for (const c of v.cases) {
      assert.deepEqual(decodeEnvelope(bytes(c.encoded_hex), 1024 * 1024), c.envelope, c.name)
      assert.equal(Buffer.from(c.encoded_hex, 'hex').subarray(1).toString('utf8'), c.json)
    }
    const signed = decodeEnvelope(bytes(v.signed.encoded_hex), 1024 * 1024)
    assert.equal(hasValidSignature(signed), true)
    assert.equal(peerSignatureVerifies(signed.source, bytes(v.signed.signed_bytes_hex), Buffer.from(v.signed.signature_base64url, 'base64url')), true)
    assert.equal(hasValidSignature({ ...signed, payload: { ...(signed.payload as object), a: 2 } }), false)
  })

  await t.test('the credential and the revocation list verify, by the docs\' signed texts too', async () => {
    const v = load('credential.json')
    const c = v.credential as Credential
    await verifyCredential(c, { issuer: v.owner.issuer, mesh: MESH, subject: c.subject, now: T0 })
    const owner = peerIdFromString(v.owner.issuer).publicKey
    assert.ok(owner !== undefined)
    assert.equal(await owner.verify(bytes(v.signed_bytes_hex), bytes(v.signature_hex)), true)
    assert.equal(Buffer.from(v.signed_text, 'utf8').toString('hex'), v.signed_bytes_hex)
    assert.deepEqual(JSON.parse(v.credential_file_text), c)
    const file = JSON.parse(v.owner.key_file_text)
    assert.equal(peerIdFromPrivateKey(privateKeyFromProtobuf(Buffer.from(file.privateKey, 'base64'))).toString(), v.owner.issuer)
    // Outside its window (clock skew included) or altered, it is refused with SEC001.
    await assert.rejects(verifyCredential(c, { issuer: v.owner.issuer, mesh: MESH, subject: c.subject, now: v.check.valid_until_ms }), { code: 'SEC001' })
    await assert.rejects(verifyCredential({ ...c, roles: ['agent'] }, { issuer: v.owner.issuer, mesh: MESH, subject: c.subject, now: T0 }), { code: 'SEC001' })
    await verifyRevocations(v.revocation_list, { mesh: MESH, issuer: v.owner.issuer })
    assert.equal(await owner.verify(Buffer.from(v.revocation_signed_text, 'utf8'), bytes(v.revocation_signature_hex)), true)
  })

  await t.test('the card exchange: request, answer, refusal of a forged credential', async () => {
    const v = load('card.json')
    const req = oneEnvelope(v.request_frame_hex)
    assert.deepEqual(req, v.request_envelope)
    assert.equal(req.subject, CardExchange.name)
    const payload = CardExchange.request.parse(req.payload)
    assert.equal(payload.card.peerId, req.source)
    await verifyCredential(payload.credential, { issuer: (payload.credential as Credential).issuer, mesh: MESH, subject: req.source, now: T0 })
    const res = oneEnvelope(v.response_frame_hex)
    assert.equal(res.correlationId, req.id)
    CardExchange.response.parse(res.payload)
    const bad = oneEnvelope(v.bad_signature.request_frame_hex)
    const forged = CardExchange.request.parse(bad.payload).credential as Credential
    await assert.rejects(verifyCredential(forged, { issuer: forged.issuer, mesh: MESH, subject: bad.source, now: T0 }), { code: 'SEC001', message: 'credential signature does not verify' })
    const refusal = oneEnvelope(v.bad_signature.answer_frame_hex)
    assert.equal(refusal.correlationId, bad.id)
    assert.equal(refusal.error?.code, 'SEC001')
  })

  await t.test('rpc frames: request, answer, errors', () => {
    const v = load('rpc.json')
    const req = oneEnvelope(v.request.frame_hex)
    assert.deepEqual(req, v.request.envelope)
    assert.equal(req.type, 'REQUEST')
    const res = oneEnvelope(v.response.frame_hex)
    assert.equal(res.type, 'RESPONSE')
    assert.equal(res.correlationId, req.id)
    assert.equal(oneEnvelope(v.unknown_command.answer_frame_hex).error?.code, 'CMD001')
    assert.equal(oneEnvelope(v.handler_error.answer_frame_hex).error?.code, 'CMD002')
    assert.equal(frames(v.two_frames_in_one_write_hex).length, 2)
  })

  await t.test('bad input: the codes a node answers', () => {
    const v = load('bad-input.json')
    const expected = ['MSG002', 'MSG002', 'MSG002', 'MSG002', 'MSG001', 'MSG001', 'MSG002', 'MSG002', undefined]
    assert.deepEqual(v.cases.map((c: any) => c.answers[0]?.error?.code), expected)
    for (const c of v.cases) for (const a of c.answers) assert.equal(a.type, 'RESPONSE')
  })

  await t.test('gossip: the batch, its fan-out frame, the message id', async () => {
    const v = load('gossip.json')
    assert.deepEqual(decodeBatch(bytes(v.batch_hex), 1024 * 1024), v.envelopes)
    assert.equal(v.gossip_topic, `agentmesh/${MESH}/${v.topic as string}`)
    const [frame] = frames(v.fanout.batch_frame_hex)
    const parsed = parseFrame(frame)
    assert.equal(parsed.kind, 'batch')
    if (parsed.kind === 'batch') {
      assert.equal(parsed.topic, v.topic)
      assert.equal(Buffer.from(parsed.batch).toString('hex'), v.batch_hex)
    }
    // The same envelopes from the batch with a shared head, and its frame on the fan-out stream.
    assert.deepEqual(decodeBatch(bytes(v.fanout.shared_head.batch_hex), 1024 * 1024), v.envelopes)
    const shared = parseFrame(frames(v.fanout.shared_head.batch_frame_hex)[0])
    assert.equal(shared.kind === 'batch' ? Buffer.from(shared.batch).toString('hex') : undefined, v.fanout.shared_head.batch_hex)
    const hello = parseFrame(frames(v.fanout.hello_frame_hex)[0])
    assert.equal(hello.kind === 'control' ? hello.control.hello?.mesh : undefined, MESH)
    const id = await gossipMessageId(await identity('alice'), BigInt('0x' + (v.message_id.seqno_hex as string)))
    assert.equal(Buffer.from(id).toString('hex'), v.message_id.js_libp2p_id_hex)
  })

  await t.test('member statement: its signature verifies, and not once altered', async () => {
    const v = load('member-statement.json')
    const keys = statementKeys((await identity('bob')).key, MESH)
    assert.equal(keys.verify(v.author, v.body, v.sig), true)
    assert.equal(keys.verify(v.author, v.body.replace('"incarnation":3', '"incarnation":4'), v.sig), false)
    assert.equal(statementKeys((await identity('bob')).key, 'other-mesh').verify(v.author, v.body, v.sig), false)
    assert.equal(peerSignatureVerifies(v.author, bytes(v.signed_bytes_hex), Buffer.from(v.sig, 'base64')), true)
    MemberGossip.request.parse(v.member_gossip_request_payload)
  })

  await t.test('sealed payload: opens for bob to the plaintext, under its binding only', async () => {
    const v = load('sealed.json')
    const bob = await identity('bob')
    const opener = new SealingService({ privateKey: bob.key, mesh: MESH, rotationMs: 86_400_000, graceMs: 3_600_000, withRole: () => [], now: () => T0 })
    const r = opener.open(v.binding.subject, v.binding.source, v.sealed_payload)
    assert.ok(r.ok, 'the sealed vector does not open for bob')
    if (r.ok) assert.deepEqual(r.value, v.plaintext)
    const other = new SealingService({ privateKey: bob.key, mesh: MESH, rotationMs: 86_400_000, graceMs: 3_600_000, withRole: () => [], now: () => T0 })
    const wrong = other.open('rpc request other', v.binding.source, v.sealed_payload)
    assert.equal(wrong.ok, false)
    const carol = new SealingService({ privateKey: (await identity('carol')).key, mesh: MESH, rotationMs: 86_400_000, graceMs: 3_600_000, withRole: () => [], now: () => T0 })
    assert.equal(carol.open(v.binding.subject, v.binding.source, v.sealed_payload).ok, false)
  })
  await t.test('sealed payload: opened from primitives by the recipe docs/wire-format.md gives (section 8)', async () => {
    const v = load('sealed.json')
    const keys = load('keys.json')
    const s = v.sealed_payload
    // 1. bob's X25519 key from his Ed25519 seed: the clamped first half of SHA-512(seed); the public key by the birational map.
    const secret = sha512(bytes(keys.bob.seed_hex)).slice(0, 32)
    secret[0] &= 248; secret[31] &= 127; secret[31] |= 64
    assert.equal(Buffer.from(secret).toString('hex'), keys.bob.x25519_secret_hex)
    const pub = ed25519.utils.toMontgomery(bytes(keys.bob.public_key_hex))
    assert.equal(Buffer.from(x25519.getPublicKey(secret)).toString('hex'), Buffer.from(pub).toString('hex'))
    const tag = Buffer.from(sha256(pub).subarray(0, 8)).toString('base64url')
    assert.equal(tag, keys.bob.sealing_tag)
    // 2-4. the wrap for bob's tag, its key by HKDF, the content key.
    const wrap = s.wraps.find((w: { to: string }) => w.to === tag)
    assert.ok(wrap !== undefined)
    const ek = Buffer.from(s.ek, 'base64')
    const shared = x25519.getSharedSecret(secret, ek)
    const info = `agentmesh/sealed/1/wrap\n${MESH as string}\n${v.binding.source as string}\n${s.kid as string}\n${String(s.at)}`
    assert.equal(info, v.wrap_info_text)
    const wrapKey = hkdf(sha256, shared, Buffer.concat([ek, pub]), Buffer.from(info), 32)
    const contentKey = chacha20poly1305(wrapKey, new Uint8Array(12)).decrypt(Buffer.from(wrap.ct, 'base64'))
    assert.equal(Buffer.from(contentKey).toString('hex'), v.content_key_hex)
    // 5. the payload.
    const ad = `agentmesh/sealed/1/content\n${MESH as string}\n${v.binding.subject as string}\n${v.binding.source as string}\n${s.kid as string}`
    assert.equal(ad, v.content_ad_text)
    const plain = xchacha20poly1305(contentKey, Buffer.from(s.nonce, 'base64'), Buffer.from(ad)).decrypt(Buffer.from(s.ct, 'base64'))
    assert.equal(Buffer.from(plain).toString('utf8'), v.plaintext_json)
  })
})
