// Sealed payloads (encryptFor, issue 13): the box and the keyring alone, then real nodes.
import { test } from 'node:test'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import type { Message as GossipMessage } from '@libp2p/gossipsub'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { SealedError, ValidationError } from '../../../protocols/core/errors.js'
import type { AuditEvent } from '../../../protocols/core/audit.js'
import { makeContentKey, open, seal, SealedPayload, unwrap, type Binding } from '../../../protocols/sealing/box.js'
import { ownKey, PeerKeys } from '../../../protocols/sealing/keys.js'
import { XChaCha, xchachaOpen, xchachaSeal } from '../../../protocols/sealing/aead.js'
import { hasSealedShape, type SealedSingle } from '../../../protocols/sealing/shape.js'
import fc from 'fast-check'
import { hostile, mutationsOf, plantedIn } from '../../../harness/fuzz-inputs.js'
import { ReceivedKeys, SenderKeys } from '../../../protocols/sealing/keyring.js'
import { isSealed, SealingService } from '../../../protocols/sealing/index.js'
import { decodeBatch, encodeBatch, envelopeToJson, makeEnvelope } from '../../../protocols/envelope/index.js'
import { gossipTopic } from '../../../protocols/pubsub/index.js'
import { collect, nodeOptions, sleep, startMesh, stopAll, uniqueMesh, waitFor, withTempDir } from '../../helpers.js'
import { issueCredential, newOwnerKey } from '../../../protocols/admission/credential.js'

const SECRET = 'the launch code is 0000'

async function party (): Promise<{ key: PrivateKey, id: string }> {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

test('box: only the recipients open a sealed payload, and it is bound to its mesh, subject and source', { timeout: 3 * 60_000 }, async () => {
  const [a, b, c] = await Promise.all([party(), party(), party()])
  const peers = new PeerKeys()
  const bind: Binding = { mesh: 'm', source: a.id, subject: 'orders' }
  const k = makeContentKey([peers.of(b.id)], bind, Date.now())
  const s = seal(k, bind, { text: SECRET })
  assert.ok(SealedPayload.safeParse(s).success, 'the payload has the documented shape')
  assert.ok(!JSON.stringify(s).includes('launch'), 'no plaintext in the sealed payload')
  const key = unwrap(ownKey(b.key), s, bind)
  assert.ok(key !== undefined, 'B unwraps the content key')
  assert.deepEqual(open(key, s, bind), { text: SECRET })
  assert.equal(unwrap(ownKey(c.key), s, bind), undefined, 'C has no wrap')
  assert.equal(unwrap(ownKey(b.key), s, { ...bind, source: c.id }), undefined, 'a wrap claimed by another source does not open')
  assert.throws(() => open(key, s, { ...bind, subject: 'other' }), SealedError, 'replayed under another subject')
  assert.throws(() => open(key, s, { ...bind, mesh: 'n' }), SealedError, 'replayed in another mesh')
  const flipped = Buffer.from(s.ct, 'base64')
  flipped[0] ^= 1
  assert.throws(() => open(key, { ...s, ct: flipped.toString('base64') }, bind), SealedError, 'altered ciphertext')
  assert.throws(() => peers.of('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'), SealedError, 'an RSA peer id carries no key to seal for')
})

test('aead: XChaCha20-Poly1305 through Node\'s ChaCha20-Poly1305 is byte for byte @noble/ciphers\' own', { timeout: 3 * 60_000 }, () => {
  for (const len of [0, 1, 15, 16, 17, 64, 1000, 4096]) {
    const [key, nonce, ad, plain] = [randomBytes(32), randomBytes(24), randomBytes(len % 50), randomBytes(len)]
    const ours = xchachaSeal(key, nonce, ad, plain)
    assert.deepEqual(new Uint8Array(ours), xchacha20poly1305(key, nonce, ad).encrypt(plain), `sealed, ${len} bytes`)
    assert.deepEqual(xchachaOpen(key, nonce, ad, ours), plain)
    const bad = Buffer.from(ours)
    bad[bad.length - 1] ^= 1
    assert.throws(() => xchachaOpen(key, nonce, ad, bad), 'a bad tag does not open')
    assert.throws(() => xchachaOpen(key, nonce, Buffer.concat([ad, Buffer.from('x')]), ours), 'other associated data does not open')
  }
})

test('aead: the subkey cached by nonce prefix gives what a fresh derivation gives, whatever the order of prefixes', { timeout: 3 * 60_000 }, () => {
  const key = randomBytes(32)
  const cached = new XChaCha(key)
  const [p1, p2] = [randomBytes(16), randomBytes(16)]
  for (const prefix of [p1, p1, p2, p1, p2, p2]) {
    const nonce = Buffer.concat([prefix, randomBytes(8)])
    const [ad, plain] = [randomBytes(20), randomBytes(300)]
    const ct = cached.seal(nonce, ad, plain)
    assert.deepEqual(new Uint8Array(ct), xchacha20poly1305(key, nonce, ad).encrypt(plain))
    assert.deepEqual(cached.open(nonce, ad, ct), plain)
    assert.throws(() => cached.open(Buffer.concat([p1.subarray(0, 15), Buffer.from([p1[15] ^ 1]), nonce.subarray(16)]), ad, ct), 'another prefix does not open')
  }
})

test('box: nonces are one random prefix per key and a counter; a version 1 payload with a random nonce (older senders) still opens', { timeout: 3 * 60_000 }, async () => {
  const [a, b] = await Promise.all([party(), party()])
  const bind: Binding = { mesh: 'm', source: a.id, subject: 't' }
  const peers = new PeerKeys()
  const [k1, k2] = [makeContentKey([peers.of(b.id)], bind, Date.now()), makeContentKey([peers.of(b.id)], bind, Date.now())]
  const nonces = [seal(k1, bind, 1), seal(k1, bind, 2), seal(k1, bind, 3), seal(k2, bind, 1)].map(s => Buffer.from(s.nonce, 'base64'))
  assert.ok(nonces.slice(0, 3).every(n => n.subarray(0, 16).equals(nonces[0].subarray(0, 16))), 'one prefix per key')
  assert.deepEqual(nonces.slice(0, 3).map(n => n.readUInt32LE(16) + n.readUInt32LE(20) * 2 ** 32), [0, 1, 2], 'then a count')
  assert.ok(!nonces[3].subarray(0, 16).equals(nonces[0].subarray(0, 16)), 'another key, another prefix')
  const rb = new ReceivedKeys({ rotationMs: 60_000, graceMs: 1_000, own: ownKey(b.key) })
  // What a sender before this format change put on the wire: a random 24-byte nonce per payload.
  const legacy = (value: unknown): SealedSingle => {
    const s = seal(k1, bind, 0)
    const nonce = randomBytes(24)
    const ad = Buffer.from(`agentmesh/sealed/1/content\n${bind.mesh}\n${bind.subject}\n${bind.source}\n${k1.kid}`)
    const ct = xchachaSeal(k1.key, nonce, ad, Buffer.from(JSON.stringify(value))).toString('base64')
    return { sealed: 1, kid: s.kid, at: s.at, ek: k1.ek, wraps: k1.wraps, nonce: nonce.toString('base64'), ct }
  }
  const got = [legacy('x'), seal(k1, bind, 'y'), legacy('z'), seal(k1, bind, 'w')].map(s => rb.open(s, bind, Date.now()))
  assert.deepEqual(got.map(r => r.ok ? r.value : r.reason), ['x', 'y', 'z', 'w'])
})

test('shape: the hand-written check of the sealed shape answers as the zod schema, on valid, mutated and hostile values', { timeout: 3 * 60_000 }, async () => {
  const [a, ...rs] = await Promise.all([party(), party(), party(), party()])
  const bind: Binding = { mesh: 'm', source: a.id, subject: 't' }
  const peers = new PeerKeys()
  const one = JSON.parse(JSON.stringify(seal(makeContentKey([peers.of(rs[0].id)], bind, Date.now()), bind, { n: 1 }))) as unknown
  const three = JSON.parse(JSON.stringify(seal(makeContentKey(rs.map(r => peers.of(r.id)), bind, Date.now()), bind, 'x'))) as unknown
  const k = makeContentKey([peers.of(rs[0].id)], bind, Date.now())
  for (let i = 0; i < 4; i++) seal(k, bind, i)
  const bare = JSON.parse(JSON.stringify(seal(k, bind, { n: 5 }))) as unknown
  const v1 = { ...(one as object), sealed: 1 }
  for (const v of [one, three, bare, v1]) assert.ok(hasSealedShape(v) && SealedPayload.safeParse(v).success)
  assert.ok(!hasSealedShape({ ...(bare as object), sealed: 1 }), 'version 1 carries the wraps always')
  assert.ok(!hasSealedShape({ ...(one as object), wraps: undefined }), 'ek and wraps go together')
  const agree = (v: unknown): void => { assert.equal(hasSealedShape(v), SealedPayload.safeParse(v).success, JSON.stringify(v)?.slice(0, 300)) }
  const samples = fc.oneof(mutationsOf(one), mutationsOf(three), mutationsOf(bare), mutationsOf(v1), plantedIn(one), plantedIn(bare), hostile)
  fc.assert(fc.property(samples, agree), { numRuns: 4_000 })
  const edges = [{ at: -1 }, { at: 1.5 }, { at: 2 ** 53 }, { at: -0 }, { ct: 'x'.repeat(23) }, { wraps: [] }, { sealed: true }]
  for (const e of edges) agree({ ...(one as object), ...e })
  agree(Object.assign(Object.create({ extra: 1 }), one))
})

test('keyring: a sender key lasts rotationMs and per recipient set; a recipient reads across rotations until the grace ends', { timeout: 3 * 60_000 }, async () => {
  const [a, b, c] = await Promise.all([party(), party(), party()])
  const rotation = { rotationMs: 1_000, graceMs: 500 }
  const sender = new SenderKeys({ ...rotation, mesh: 'm', self: a.id, peers: new PeerKeys() })
  const bObs = new ReceivedKeys({ ...rotation, own: ownKey(b.key) })
  const cObs = new ReceivedKeys({ ...rotation, own: ownKey(c.key) })
  const bind: Binding = { mesh: 'm', source: a.id, subject: 't' }
  const t0 = 1_000_000
  const k1 = sender.current('t', [b.id], t0)
  assert.equal(k1.made, true)
  assert.equal(sender.current('t', [b.id], t0 + 999).key.kid, k1.key.kid, 'the same key within rotationMs')
  assert.notEqual(sender.current('t', [b.id, c.id].sort(), t0 + 10).key.kid, k1.key.kid, 'another recipient set, another key')
  const k2 = sender.current('t', [b.id], t0 + 1_000)
  assert.equal(k2.made, true, 'replaced after rotationMs')
  const old = seal(k1.key, bind, 1)
  const cur = seal(k2.key, bind, 2)
  const r1 = bObs.open(old, bind, t0 + 1_100)
  assert.ok(r1.ok && r1.value === 1 && r1.received, 'the old key opens within its grace, unwrapped once')
  const r1again = bObs.open(seal(k1.key, bind, 3), bind, t0 + 1_200)
  assert.ok(r1again.ok && !r1again.received, 'then from the cache')
  const r2 = bObs.open(cur, bind, t0 + 1_200)
  assert.ok(r2.ok && r2.value === 2)
  const late = bObs.open(old, bind, t0 + 1_501)
  assert.ok(!late.ok && late.reason === 'expired' && late.first && late.error.code === 'SEC003', 'past rotation + grace: refused')
  const later = bObs.open(old, bind, t0 + 1_600)
  assert.ok(!later.ok && !later.first, 'refused again, audited once')
  const cr = cObs.open(cur, bind, t0 + 1_200)
  assert.ok(!cr.ok && cr.reason === 'not_recipient' && cr.first)
  const cr2 = cObs.open(cur, bind, t0 + 1_300)
  assert.ok(!cr2.ok && !cr2.first, 'a refusal is cached: no second unwrap, no second audit')
})

test('keyring: wraps travel with a key\'s first payloads, then every 64th or once a second; a reader that missed them reads from the next', { timeout: 3 * 60_000 }, async () => {
  const [a, b, c] = await Promise.all([party(), party(), party()])
  const rotation = { rotationMs: 3_600_000, graceMs: 1_000 }
  const sender = new SenderKeys({ ...rotation, mesh: 'm', self: a.id, peers: new PeerKeys() })
  const bind: Binding = { mesh: 'm', source: a.id, subject: 't' }
  const t0 = 1_000_000
  const { key } = sender.current('t', [b.id], t0)
  const sent = Array.from({ length: 140 }, (_, i) => seal(key, bind, i, t0 + i))
  const carrying = sent.flatMap((p, i) => p.wraps !== undefined ? [i] : [])
  assert.deepEqual(carrying, [0, 1, 2, 3, 67, 131], 'the first four, then every 64th')
  assert.ok(sent.every(p => p.sealed === 2 && SealedPayload.safeParse(p).success))
  assert.ok(seal(key, bind, 'later', t0 + 139 + 1_000).wraps !== undefined, 'and the first a second after the last that carried them')
  assert.ok(JSON.stringify(sent[10]).length < JSON.stringify(sent[0]).length - 140, 'a payload without wraps is shorter by ek and the wrap')

  // b missed the first payloads (subscribed late): it reads from payload 67 on.
  const late = new ReceivedKeys({ ...rotation, own: ownKey(b.key) })
  const missed = late.open(sent[10], bind, t0 + 10)
  assert.ok(!missed.ok && missed.reason === 'no_key' && !missed.first && missed.error.code === 'SEC003')
  const r67 = late.open(sent[67], bind, t0 + 67)
  assert.ok(r67.ok && r67.value === 67 && r67.received, 'the next payload with the wraps opens')
  assert.ok(sent.slice(68).every(p => { const r = late.open(p, bind, t0 + 140); return r.ok && !r.received }), 'and every one after it, from the cache')
  // c, no recipient: refused without an audit until the wraps tell it is not one, then once audited.
  const other = new ReceivedKeys({ ...rotation, own: ownKey(c.key) })
  assert.ok(!other.open(sent[10], bind, t0).ok)
  const firstRefusal = other.open(sent[67], bind, t0)
  assert.ok(!firstRefusal.ok && firstRefusal.reason === 'not_recipient' && firstRefusal.first)
  const again = other.open(sent[68], bind, t0)
  assert.ok(!again.ok && again.reason === 'not_recipient' && !again.first)
})

test('service: roles resolve when sealing, this node reads only when it is a recipient, keys and refusals are audited', { timeout: 3 * 60_000 }, async () => {
  const [a, b, c] = await Promise.all([party(), party(), party()])
  const events: AuditEvent[] = []
  const audit = { record: (e: AuditEvent) => { events.push(e) } }
  const roles: Record<string, string[]> = { auditor: [b.id], nobody: [] }
  const make = (key: PrivateKey): SealingService =>
    new SealingService({ privateKey: key, mesh: 'm', rotationMs: 60_000, graceMs: 1_000, withRole: r => roles[r] ?? [], audit })
  const [sa, sb, sc] = [make(a.key), make(b.key), make(c.key)]
  const { payload, toSelf } = sa.seal('t', { n: 1 }, { role: 'auditor' })
  assert.equal(toSelf, false)
  assert.equal(sa.seal('t', 1, [a.id, b.id]).toSelf, true)
  assert.throws(() => sa.seal('t', 1, { role: 'nobody' }), ValidationError, 'sealed for no one')
  assert.throws(() => sa.seal('t', 1, [a.id, 'not a peer id']), SealedError)
  const rb = sb.open('t', a.id, payload, 'env-1')
  assert.ok(rb.ok && (rb.value as { n: number }).n === 1)
  const rc = sc.open('t', a.id, payload, 'env-1')
  assert.ok(!rc.ok && rc.reason === 'not_recipient')
  sc.open('t', a.id, sa.seal('t', { n: 2 }, { role: 'auditor' }).payload)
  const kinds = events.map(e => e.kind)
  assert.deepEqual(kinds.filter(k => k === 'key.rotated').length, 2, 'one key per recipient set')
  assert.deepEqual(kinds.filter(k => k === 'key.received').length, 1)
  const refused = events.filter(e => e.kind === 'sealed.refused')
  assert.equal(refused.length, 1, 'refused once per key')
  assert.deepEqual({ peer: refused[0].peer, code: refused[0].code, id: refused[0].correlationId }, { peer: a.id, code: 'SEC003', id: 'env-1' })
  const malformed = sb.open('t', a.id, { sealed: 1, kid: 'x' })
  assert.ok(!malformed.ok && malformed.reason === 'not_authentic')
})

/** What one node's gossipsub hears on a topic, before agentmesh opens anything (the meshes below gossip every batch: pubsub.directFanout 0). */
function rawGossip (node: AgentNode, topic: string): Uint8Array[] {
  const seen: Uint8Array[] = []
  const gossip = gossipTopic(node.config.mesh, topic)
  node.libp2p.services.pubsub.addEventListener('message', (e: CustomEvent<GossipMessage>) => { if (e.detail.topic === gossip) seen.push(e.detail.data) })
  return seen
}

test('encryptFor [B]: B reads it; C, subscribed, gets nothing and its gossipsub sees only ciphertext', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3, () => ({ preset: 'local', security: { mode: 'open' }, pubsub: { directFanout: 0 } }))
  const [a, b, c] = nodes
  try {
    const atB = collect(b, 'orders')
    const atC = collect(c, 'orders')
    const atA = collect(a, 'orders')
    const raw = rawGossip(c, 'orders')
    const sealedBefore = c.stats.get('messages_total', { direction: 'in', status: 'sealed' })
    await waitFor(() => a.topicPeers('orders').subscribers.length === 2, 'both subscriptions to reach a')
    await a.publish('orders', { text: SECRET }, { encryptFor: [b.peerId] })
    // An application's own payload with a `sealed` field is an ordinary payload.
    await a.publish('orders', { sealed: 1, text: 'plain marker' })
    await waitFor(() => atB.length === 2 && atC.length === 1, 'b to get both, c the plain one')
    assert.deepEqual(atB[0].payload, { text: SECRET })
    assert.equal(atB[0].sealed, true)
    assert.equal(atB[1].sealed, undefined, 'the marker was not sealed')
    assert.deepEqual(atB[0].envelope.payload, { text: SECRET }, 'the envelope B sees carries the opened payload')
    assert.deepEqual(atC.map(m => m.payload), [{ sealed: 1, text: 'plain marker' }], 'c never got the sealed one')
    assert.equal(c.stats.get('messages_total', { direction: 'in', status: 'sealed' }) - sealedBefore, 1, 'counted as sealed at c')
    const bytes = raw.map(d => Buffer.from(d).toString('utf8')).join('\n')
    assert.ok(bytes.includes('plain marker'), 'the raw listener does see gossip in clear (so the next check can fail)')
    assert.ok(!bytes.includes('launch code'), 'but not the sealed payload')
    const sealedEnv = raw.flatMap(d => decodeBatch(d, 1 << 20)).find(e => SealedPayload.safeParse(e.payload).success)
    assert.ok(sealedEnv !== undefined, 'c relayed-and-saw a sealed envelope')
    await waitFor(() => atA.length === 1, 'a\'s own subscriber to get the plain one')
    assert.deepEqual(atA.map(m => m.payload), [{ sealed: 1, text: 'plain marker' }], 'a is no recipient: its own subscriber does not read it')
  } finally {
    await stopAll(nodes)
  }
})

test('encryptFor [B, C]: C, subscribed after the key\'s wraps went out, reads from the next payload that carries them', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3, () => ({ preset: 'local', security: { mode: 'open' }, pubsub: { directFanout: 0 } }))
  const [a, b, c] = nodes
  try {
    const to = [b.peerId, c.peerId]
    const atB = collect(b, 'feed')
    await waitFor(() => a.topicPeers('feed').subscribers.length === 1, 'b\'s subscription to reach a')
    let n = 0
    for (; n < 8; n++) await a.publish('feed', n, { encryptFor: to })
    await waitFor(() => atB.length === 8, 'b to read the first eight (the first four carry the wraps)')
    const raw = rawGossip(c, 'feed')
    const atC = collect(c, 'feed')
    await waitFor(() => a.topicPeers('feed').subscribers.length === 2, 'c\'s subscription to reach a')
    const firstHeard = n
    const refusedBefore = c.stats.get('messages_total', { direction: 'in', status: 'sealed' })
    // One payload every 20 ms: the wraps come back within a second (or 64 payloads).
    await waitFor(async () => { await a.publish('feed', n++, { encryptFor: to }); await sleep(20); return atC.length > 0 }, 'c to read one', 10_000)
    await waitFor(() => atB.length === n, 'b to read every one')
    const heard = raw.flatMap(d => decodeBatch(d, 1 << 20)).filter(e => isSealed(e.payload))
    const carrying = heard.filter(e => (e.payload as { wraps?: unknown }).wraps !== undefined)
    assert.ok(carrying.length > 0, 'c heard a payload with the wraps')
    assert.equal(atC[0].envelope.id, carrying[0].id, 'c read from the first payload with the wraps it heard')
    assert.ok(c.stats.get('messages_total', { direction: 'in', status: 'sealed' }) > refusedBefore || heard[0].id === carrying[0].id, 'those before it were refused')
    const first = atC[0].payload as number
    assert.ok(first >= firstHeard && first - firstHeard < 64, `c missed ${first - firstHeard} payloads after it subscribed (fewer than 64)`)
    await waitFor(() => atC.length === n - first, 'c to read every one from there on')
    assert.deepEqual(atC.map(m => m.payload), Array.from({ length: n - first }, (_, i) => first + i))
  } finally {
    await stopAll(nodes)
  }
})

test('rotation: B reads across key rotations; a payload sealed with a key past its grace is refused', { timeout: 3 * 60_000 }, async () => {
  const security = { mode: 'open' as const, keyRotationMs: 1_000, keyGraceMs: 2_000 }
  const nodes = await startMesh(2, () => ({ preset: 'local', security, pubsub: { directFanout: 0 } }))
  const [a, b] = nodes
  try {
    const atB = collect(b, 'ticks')
    const raw = rawGossip(b, 'ticks')
    await waitFor(() => a.topicPeers('ticks').subscribers.length === 1, 'the subscription to reach a')
    const sent: number[] = []
    const start = Date.now()
    for (let i = 0; Date.now() - start < 2_600; i++) {
      await a.publish('ticks', i, { encryptFor: [b.peerId] })
      sent.push(i)
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    await waitFor(() => atB.length === sent.length, `b to read all ${sent.length}`)
    assert.deepEqual(atB.map(m => m.payload), sent)
    const kids = new Set(raw.flatMap(d => decodeBatch(d, 1 << 20)).map(e => (e.payload as { kid: string }).kid))
    assert.ok(kids.size >= 3, `the key rotated at least twice in 2.6 s (${kids.size} keys)`)

    // A payload A seals with a key made 10 s ago (past 1 s rotation + 2 s grace), signed and sent by A as usual.
    const bind = { mesh: a.config.mesh, source: a.peerId, subject: 'ticks' }
    const stale = makeContentKey([new PeerKeys().of(b.peerId)], bind, Date.now() - 10_000)
    const env = makeEnvelope({ source: a.peerId, destination: { topic: 'ticks' }, type: 'EVENT', subject: 'ticks', payload: seal(stale, bind, 'stale') })
    const refusedBefore = b.stats.get('messages_total', { direction: 'in', status: 'sealed' })
    await a.libp2p.services.pubsub.publish(gossipTopic(a.config.mesh, 'ticks'), encodeBatch([envelopeToJson(env)]))
    await waitFor(() => b.stats.get('messages_total', { direction: 'in', status: 'sealed' }) > refusedBefore, 'b to refuse the stale one')
    await a.publish('ticks', 'fresh', { encryptFor: [b.peerId] })
    await waitFor(() => atB.length === sent.length + 1, 'the next fresh one')
    assert.equal(atB.at(-1)?.payload, 'fresh', 'the stale one was never delivered')
  } finally {
    await stopAll(nodes)
  }
})

test('encryptFor { role }: agents holding the role read it, one that joins later reads from the next message', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3, i => ({ preset: 'local', security: { mode: 'open' }, roles: i === 1 ? ['auditor'] : ['agent'] }))
  const [a, b, c] = nodes
  let d: AgentNode | undefined
  try {
    const atB = collect(b, 'ledger')
    const atC = collect(c, 'ledger')
    await waitFor(() => a.topicPeers('ledger').subscribers.length === 2, 'both subscriptions to reach a')
    await a.publish('ledger', 1, { encryptFor: { role: 'auditor' } })
    await a.publish('ledger', 'marker')
    await waitFor(() => atB.length === 2 && atC.length === 1, 'b both, c the marker')
    assert.deepEqual(atB.map(m => m.payload), [1, 'marker'])
    assert.deepEqual(atC.map(m => m.payload), ['marker'])
    await assert.rejects(a.publish('ledger', 2, { encryptFor: { role: 'nobody-has-it' } }), ValidationError)

    d = await createAgentNode(nodeOptions(a.config.mesh, { name: 'd', preset: 'local', security: { mode: 'open' }, roles: ['auditor'], bootstrap: [a.addresses()[0]] }))
    await d.start()
    const atD = collect(d, 'ledger')
    await waitFor(() => a.findAgents({ role: 'auditor' }).length === 2 && a.topicPeers('ledger').subscribers.length === 3, 'a to know d, auditor and subscriber')
    await a.publish('ledger', 3, { encryptFor: { role: 'auditor' } })
    await waitFor(() => atB.length === 3 && atD.length === 1, 'b and the newcomer d to read it')
    assert.deepEqual(atD.map(m => m.payload), [3])
  } finally {
    await stopAll([...nodes, d])
  }
})

test('closed mesh: a role is resolved from credentials, so an agent that only claims it in its card is not sealed for', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const owner = await newOwnerKey()
    const now = Date.now()
    const nodes: AgentNode[] = []
    try {
      // b's credential grants 'auditor'; c's does not, though c's config (its card) claims it.
      for (const [i, granted] of [['agent'], ['agent', 'auditor'], ['agent']].entries()) {
        const key = await generateKeyPair('Ed25519')
        const subject = peerIdFromPrivateKey(key).toString()
        const cred = await issueCredential(owner, { mesh, subject, roles: granted, capabilities: [], issuedAt: now, expiresAt: now + 86_400_000 })
        const file = join(dir, `cred${i}.json`)
        await writeFile(file, JSON.stringify(cred))
        const node = await createAgentNode(nodeOptions(mesh, {
          name: `c${i}`,
          privateKey: key,
          preset: 'local',
          roles: i === 2 ? ['agent', 'auditor'] : ['agent'],
          security: { mode: 'closed', credential: file },
          ...(i > 0 ? { bootstrap: [nodes[0].addresses()[0]] } : {})
        }))
        await node.start()
        nodes.push(node)
      }
      const [a, b, c] = nodes
      await waitFor(() => nodes.every(n => n.peers().length === 2), 'the three to admit each other')
      assert.deepEqual(a.findAgents({ role: 'auditor' }).map(p => p.peerId), [b.peerId], 'roles shown are the credential\'s')
      const atB = collect(b, 'books')
      const atC = collect(c, 'books')
      await waitFor(() => a.topicPeers('books').subscribers.length === 2, 'both subscriptions to reach a')
      await a.publish('books', 'for auditors', { encryptFor: { role: 'auditor' } })
      await a.publish('books', 'marker')
      await waitFor(() => atB.length === 2 && atC.length === 1, 'b both, c the marker')
      assert.deepEqual(atB.map(m => m.payload), ['for auditors', 'marker'])
      assert.deepEqual(atC.map(m => m.payload), ['marker'], 'c claimed the role and got nothing sealed')
    } finally {
      await stopAll(nodes)
    }
  })
})
