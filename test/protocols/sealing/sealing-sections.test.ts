// Batches with binary sections (wire byte 0x04): a sealed group's ciphertext as raw bytes after
// the batch's JSON. The frame alone, then real nodes fed hand-made frames by their publisher.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { SerializationError, UnsupportedVersionError } from '../../../protocols/core/errors.js'
import { SealingService } from '../../../protocols/sealing/index.js'
import { decodeBatch, decodeBatchFrame, decodeEnvelope, encodeSectionBatch, makeEnvelope, splitJson, WIRE_JSON_SEALED_GROUPS, WIRE_JSON_SECTIONS } from '../../../protocols/envelope/index.js'
import { gossipTopic } from '../../../protocols/pubsub/index.js'
import { encodeSealedBatch, grouped, openGroups, sealBatch, type BatchItem } from '../../../protocols/pubsub/sealed-batch.js'
import { privateKeyOf } from '../../../protocols/coordination/election-keys.js'
import { collect, startMesh, stopAll, waitFor } from '../../helpers.js'

async function party (): Promise<{ key: PrivateKey, id: string }> {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

const service = (key: PrivateKey, mesh = 'm'): SealingService =>
  new SealingService({ privateKey: key, mesh, rotationMs: 60_000, graceMs: 1_000, withRole: () => [] })

/** A batch as a publisher queues it on `topic`: `values[i]` sealed for `to[i]` (undefined: plain), from `source`. */
function items (s: SealingService, source: string, topic: string, values: unknown[], to: Array<string[] | undefined>): BatchItem[] {
  return values.map((v, i) => {
    const env = makeEnvelope({ source, destination: { topic }, type: 'EVENT', subject: topic, payload: v })
    const recipients = to[i]
    return recipients === undefined ? splitJson(env) : grouped(env, v, s.forGroup(topic, recipients).recipients)
  })
}

const values = (r: ReturnType<typeof openGroups>): unknown[] => Array.from(r ?? [], o => o?.ok === true ? o.value : o?.reason)

test('sections: a batch with groups is 0x04, its ciphertexts raw after the JSON; older readers refuse it with MSG002; 0x03 is still read', { timeout: 3 * 60_000 }, async () => {
  const [a, b, c] = await Promise.all([party(), party(), party()])
  const [sa, sb, sc] = [service(a.key), service(b.key), service(c.key)]
  const secret = { card: '4111 1111', pad: 'x'.repeat(600) }
  const batch = items(sa, a.id, 't', [secret, 'plain', secret, 'for c'], [[b.id], undefined, [b.id], [c.id]])
  const frame = encodeSealedBatch(sealBatch(sa, 't', batch))
  assert.equal(frame[0], WIRE_JSON_SECTIONS)
  const { envs, sections } = decodeBatchFrame(frame, 1 << 20)
  assert.equal(sections.length, 2, 'one section per group (a recipient set)')
  assert.deepEqual(envs.map(e => (e.payload as { cs?: number }).cs), [0, undefined, undefined, 1], 'each head names its section')
  assert.ok(envs.every(e => !Object.hasOwn(e.payload as object, 'ct')) && !Buffer.from(frame).includes('4111 1111'), 'no ciphertext in the JSON, no payload in clear')
  assert.deepEqual(values(openGroups(sb, 't', envs, sections)), [secret, undefined, secret, 'not_recipient'])
  assert.deepEqual(values(openGroups(sc, 't', envs, sections)), ['not_recipient', undefined, 'not_recipient', 'for c'])
  assert.equal(envs[1].payload, 'plain', 'a plain envelope of the batch is as it was')

  // Base64 form (what the build before sent, 0x03): a third longer, and still read.
  const old = encodeSealedBatch(sealBatch(sa, 't', items(sa, a.id, 't', [secret, secret], [[b.id], [b.id]]), 'base64'))
  const now = encodeSealedBatch(sealBatch(sa, 't', items(sa, a.id, 't', [secret, secret], [[b.id], [b.id]])))
  assert.equal(old[0], WIRE_JSON_SEALED_GROUPS)
  assert.ok(now.byteLength < old.byteLength * 0.85, `sections ${now.byteLength} bytes, base64 ${old.byteLength}`)
  assert.deepEqual(values(openGroups(sb, 't', decodeBatch(old, 1 << 20))), [secret, secret], 'a 0x03 batch opens as before')

  // A node before 0x03 decoded a batch as one frame (0x01 only), a node of the 0x03 build took 0x01 and 0x03: both refuse 0x04.
  assert.throws(() => decodeEnvelope(frame, 1 << 20), (e: Error) => e instanceof UnsupportedVersionError && e.code === 'MSG002')
  // A head naming a section its batch lacks (its frame cut, or a 0x03 batch) opens nothing.
  assert.deepEqual(values(openGroups(sb, 't', envs, [])), ['not_authentic', undefined, 'not_authentic', 'not_recipient'])
})

test('sections: an altered section fails its group only; bad framing is MSG002', { timeout: 3 * 60_000 }, async () => {
  const [a, b] = await Promise.all([party(), party()])
  const [sa, sb] = [service(a.key), service(b.key)]
  const frame = Buffer.from(encodeSealedBatch(sealBatch(sa, 't', items(sa, a.id, 't', ['one', 'two', 'plain', 'three'], [[b.id], [b.id], undefined, [a.id, b.id]]))))
  const { envs, sections } = decodeBatchFrame(frame, 1 << 20)
  assert.equal(sections.length, 2)
  // Flip a byte inside the first section (the frame's own bytes: sections are views of it).
  const at = frame.byteLength - sections[1].byteLength - 2 - 5
  frame[at] ^= 0x01
  const altered = decodeBatchFrame(frame, 1 << 20)
  assert.deepEqual(values(openGroups(sb, 't', altered.envs, altered.sections)), ['not_authentic', 'not_authentic', undefined, 'three'], 'the altered group is refused whole, the other opens')
  // Sections swapped: each head now names the other's ciphertext.
  assert.deepEqual(values(openGroups(sb, 't', envs, [sections[1], sections[0]])), ['not_authentic', 'not_authentic', undefined, 'not_authentic'])

  const json = '[' + envs.map(e => JSON.stringify(e)).join(',') + ']'
  const bad: Array<[string, Uint8Array]> = [
    ['the JSON part runs past the end', Uint8Array.from([WIRE_JSON_SECTIONS, 0x7f, 0x5b, 0x5d])],
    ['an unterminated length', Uint8Array.from([WIRE_JSON_SECTIONS, 0xff, 0xff, 0xff, 0xff, 0x01])],
    ['a section cut short', frame.subarray(0, frame.byteLength - 3)],
    ['a section shorter than a tag', encodeSectionBatch([json.slice(1, -1)], [sections[0], new Uint8Array(8)])],
    ['more sections than envelopes', encodeSectionBatch([JSON.stringify(envs[2])], [sections[0], sections[1]])]
  ]
  for (const [what, bytes] of bad) {
    assert.throws(() => decodeBatchFrame(bytes, 1 << 20), (e: Error) => e instanceof SerializationError && e.code === 'MSG002', what)
  }
  assert.throws(() => decodeBatchFrame(frame, 64), (e: Error) => (e as { code?: string }).code === 'MSG002', 'the size limit first')
})

test('a publisher\'s 0x04 batch with an altered section: B refuses that group (counted), delivers the rest of the batch, reads the next and an old 0x03 batch', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(2, () => ({ preset: 'local', security: { mode: 'open' }, pubsub: { directFanout: 0 } }))
  const [a, b] = nodes
  try {
    const atB = collect(b, 'orders')
    await waitFor(() => a.topicPeers('orders').subscribers.length === 1, 'the subscription to reach a')
    // A's own key and mesh: what its pubsub would seal with, so the envelopes' source is the gossip signer.
    const sa = service(privateKeyOf(a.libp2p), a.config.mesh)
    const gossip = gossipTopic(a.config.mesh, 'orders')
    const publish = async (frame: Uint8Array): Promise<void> => { await a.libp2p.services.pubsub.publish(gossip, frame) }
    const sealedBefore = b.stats.get('messages_total', { direction: 'in', status: 'sealed' })

    const tampered = Buffer.from(encodeSealedBatch(sealBatch(sa, 'orders', items(sa, a.peerId, 'orders', [{ n: 1 }, { n: 2 }, 'marker 1'], [[b.peerId], [b.peerId], undefined]))))
    tampered[tampered.byteLength - 20] ^= 0xff // inside the one section (the ciphertext's last bytes before its tag)
    await publish(tampered)
    await waitFor(() => atB.length === 1, 'the plain envelope of the altered batch')
    assert.deepEqual(atB.map(m => m.payload), ['marker 1'])
    await waitFor(() => b.stats.get('messages_total', { direction: 'in', status: 'sealed' }) - sealedBefore === 2, 'the altered group counted: its two payloads')

    await publish(encodeSealedBatch(sealBatch(sa, 'orders', items(sa, a.peerId, 'orders', [{ n: 3 }, 'marker 2'], [[b.peerId], undefined]))))
    // An older build's batch (0x03, base64) from the same publisher: a mesh mid-upgrade.
    await publish(encodeSealedBatch(sealBatch(sa, 'orders', items(sa, a.peerId, 'orders', [{ n: 4 }], [[b.peerId]]), 'base64')))
    await waitFor(() => atB.length === 4, 'the next batch and the 0x03 one')
    assert.deepEqual(atB.map(m => m.payload), ['marker 1', { n: 3 }, 'marker 2', { n: 4 }])
    assert.ok(atB.filter(m => typeof m.payload === 'object').every(m => m.sealed === true))
    assert.ok(b.gossipScore(a.peerId) >= 0, 'an altered ciphertext is no invalid gossip: the publisher is not penalised for it')
  } finally {
    await stopAll(nodes)
  }
})

test('sections: groups sealed one after another from reused memory open to what was sealed (a large group, then small ones, any text)', { timeout: 3 * 60_000 }, async () => {
  const [a, b] = await Promise.all([party(), party()])
  const [sa, sb] = [service(a.key), service(b.key)]
  // A group past the memory kept between batches (1 MiB), then a shorter one: no byte of the first in the second.
  const big = Array.from({ length: 40 }, (_, i) => ({ i, pad: 'y'.repeat(40_000) }))
  const odd = ['é ü 漢字 🙂', 'lone \ud800 surrogate', '', { nested: ['"quoted"', '\\', '\u0000'] }, 12.5, null]
  const small = [{ short: 1 }, 'two']
  for (const group of [big, odd, small, odd]) {
    const frame = encodeSealedBatch(sealBatch(sa, 't', items(sa, a.id, 't', group, group.map(() => [b.id]))))
    const { envs, sections } = decodeBatchFrame(frame, 1 << 24)
    // What the receiver gets is what JSON would carry: a lone surrogate becomes U+FFFD, as it did when the payloads were joined first.
    assert.deepEqual(values(openGroups(sb, 't', envs, sections)), group.map(v => JSON.parse(Buffer.from(JSON.stringify(v)).toString('utf8'))))
  }
})
