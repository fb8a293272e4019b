// Sealed groups (format version 3): the payloads of one batch sealed for the same recipients
// under one AEAD. The parts alone, then real nodes publishing flat out.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import type { Message as GossipMessage } from '@libp2p/gossipsub'
import { SealedError, UnsupportedVersionError } from '../../../protocols/core/errors.js'
import type { AuditEvent } from '../../../protocols/core/audit.js'
import { isGroupHead, isGroupPart, isSealed, SealingService, type GroupHead, type GroupPart } from '../../../protocols/sealing/index.js'
import { hasSealedShape, SealedPayload } from '../../../protocols/sealing/shape.js'
import { decodeBatch, decodeBatchFrame, decodeEnvelope, encodeBatch, makeEnvelope, type Envelope } from '../../../protocols/envelope/index.js'
import { WIRE_JSON_SEALED_GROUPS, WIRE_JSON_SECTIONS } from '../../../protocols/envelope/constants.js'
import { gossipTopic } from '../../../protocols/pubsub/index.js'
import { encodeSealedBatch, grouped, openGroups, partJson, sealBatch } from '../../../protocols/pubsub/sealed-batch.js'
import { hostile, mutationsOf, plantedIn } from '../../../harness/fuzz-inputs.js'
import { collect, startMesh, stopAll, waitFor } from '../../helpers.js'
import type { Message } from '../../../surfaces/index.js'

async function party (): Promise<{ key: PrivateKey, id: string }> {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

const service = (key: PrivateKey, audit?: AuditEvent[]): SealingService =>
  new SealingService({ privateKey: key, mesh: 'm', rotationMs: 60_000, graceMs: 1_000, withRole: () => [], ...(audit !== undefined ? { audit: { record: e => { audit.push(e) } } } : {}) })

/** A batch as a publisher writes it: `values` sealed as one group for `to`, in envelopes from `source`. */
function groupBatch (sa: SealingService, source: string, to: string[], values: unknown[]): Envelope[] {
  const { recipients } = sa.forGroup('t', to)
  const envs = values.map(() => makeEnvelope({ source, destination: { topic: 't' }, type: 'EVENT', subject: 't', payload: 0 }))
  const parts = sa.sealGroup('t', recipients, values.map(v => JSON.stringify(v)), envs.map(e => e.id))
  return envs.map((e, i) => ({ ...e, payload: parts[i] }))
}

const values = (r: ReturnType<typeof openGroups>): unknown[] => (r ?? []).map(o => o?.ok === true ? o.value : o?.reason)

test('groups: one head and n-1 members; only recipients open them, each payload in its envelope, nothing moved or lost unnoticed', { timeout: 3 * 60_000 }, async () => {
  const [a, b, c] = await Promise.all([party(), party(), party()])
  const audit: AuditEvent[] = []
  const [sa, sb, sc] = [service(a.key), service(b.key, audit), service(c.key, audit)]
  const sent = [{ n: 1 }, 'two', [3], null]
  const envs = groupBatch(sa, a.id, [b.id], sent)
  const [head, ...members] = envs.map(e => e.payload as GroupPart)
  assert.ok('ct' in head && head.n === 4 && head.wraps !== undefined, 'the head carries the ciphertext, the count and (first payloads of a key) the wraps')
  assert.deepEqual(members, [1, 2, 3].map(i => ({ sealed: 3, kid: head.kid, i })), 'members name the key and their place only')
  assert.ok(envs.every(e => isSealed(e.payload) && SealedPayload.safeParse(e.payload).success))
  assert.ok(!JSON.stringify(envs).includes('two'), 'no payload in clear')
  for (const p of [head, members[0], ...groupBatch(sa, a.id, [b.id], [1, 2, 3, 4, 5]).map(e => e.payload as GroupPart)]) {
    assert.deepEqual(JSON.parse(partJson(p)), p, 'a part written out is its JSON')
  }

  assert.deepEqual(values(openGroups(sb, 't', envs)), sent, 'the recipient opens every payload, in its own envelope')
  assert.deepEqual(values(openGroups(sc, 't', envs)), Array(4).fill('not_recipient'), 'another subscriber opens none')
  assert.equal(audit.filter(e => e.kind === 'sealed.refused' && e.code === 'SEC003').length, 1, 'refused once per key, audited')
  assert.equal(openGroups(sb, 't', [makeEnvelope({ source: a.id, destination: { topic: 't' }, type: 'EVENT', subject: 't', payload: 1 })]), undefined, 'a batch with no group')

  const swapped = [envs[0], envs[2], envs[1], envs[3]].map((e, i) => i === 0 ? e : { ...e, payload: { sealed: 3, kid: head.kid, i } })
  assert.deepEqual(values(openGroups(sb, 't', swapped)), Array(4).fill('not_authentic'), 'two envelopes swapped: the ids are bound, nothing opens')
  assert.deepEqual(values(openGroups(sb, 't', envs.slice(0, 3))), Array(3).fill('not_authentic'), 'a member lost: the group is refused whole')
  assert.deepEqual(values(openGroups(sb, 't', [envs[1], envs[0], envs[2], envs[3]])), ['not_authentic', 'not_authentic', 'not_authentic', 'not_authentic'], 'a member before its head')
  assert.deepEqual(values(openGroups(sb, 'other', envs)), Array(4).fill('not_authentic'), 'bound to its topic')
  const alone = sb.open('t', a.id, envs[1].payload, envs[1].id)
  assert.ok(!alone.ok && alone.error instanceof SealedError && alone.error.code === 'SEC003', 'a part alone (a direct copy) is refused with SEC003, never taken for a payload')
  // A publisher alternating between recipient lists (equal sets as other arrays): one group per key in a batch.
  const items = ['p', 'q', 'r'].map((v, i) => grouped(makeEnvelope({ source: a.id, destination: { topic: 't' }, type: 'EVENT', subject: 't', payload: 0 }), v,
    sa.forGroup('t', i === 1 ? [c.id] : [b.id]).recipients))
  const mixed = decodeBatchFrame(encodeSealedBatch(sealBatch(sa, 't', items)), 1 << 20)
  assert.equal(mixed.envs.filter(e => 'cs' in (e.payload as object)).length, 2, 'two sets, two groups, each naming its section')
  assert.equal(mixed.sections.length, 2)
  assert.deepEqual(values(openGroups(sb, 't', mixed.envs, mixed.sections)), ['p', 'not_recipient', 'r'], 'b reads both of its own, around c\'s')
  assert.deepEqual(values(openGroups(sc, 't', mixed.envs, mixed.sections)), ['not_recipient', 'q', 'not_recipient'])
  const next = groupBatch(sa, a.id, [b.id], ['x', 'y'])
  assert.deepEqual(values(openGroups(sb, 't', next)), ['x', 'y'], 'the next group under the same key, from the cache')
})

test('groups: the wire byte 0x03 marks a batch with groups, which a reader of 0x01 only refuses with MSG002', { timeout: 3 * 60_000 }, () => {
  const env = makeEnvelope({ source: 'a', destination: { topic: 't' }, type: 'EVENT', subject: 't', payload: 1 })
  const batch = encodeBatch([JSON.stringify(env)], true)
  assert.equal(batch[0], WIRE_JSON_SEALED_GROUPS)
  assert.deepEqual(decodeBatch(batch, 1 << 20).map(e => e.id), [env.id], 'this node reads it')
  // Every node before version 3 decoded a batch as it decodes one frame: wire format 0x01 only.
  assert.throws(() => decodeEnvelope(batch, 1 << 20), (e: Error) => e instanceof UnsupportedVersionError && e.code === 'MSG002')
  assert.equal(encodeBatch([JSON.stringify(env)])[0], 0x01, 'a batch without groups keeps 0x01')
})

test('groups: the hand-written shape check answers as the zod schema on heads, members, mutations and hostile values', { timeout: 3 * 60_000 }, async () => {
  const [a, b] = await Promise.all([party(), party()])
  const sa = service(a.key)
  const envs = groupBatch(sa, a.id, [b.id], [1, 2])
  for (let i = 0; i < 4; i++) groupBatch(sa, a.id, [b.id], [i])
  const bare = groupBatch(sa, a.id, [b.id], [1, 2])
  const [head, member] = envs.map(e => JSON.parse(JSON.stringify(e.payload)) as unknown)
  const headBare = JSON.parse(JSON.stringify(bare[0].payload)) as GroupHead
  assert.ok(headBare.wraps === undefined && hasSealedShape(headBare))
  const agree = (v: unknown): void => { assert.equal(hasSealedShape(v), SealedPayload.safeParse(v).success, JSON.stringify(v)?.slice(0, 300)) }
  for (const v of [head, member, headBare]) assert.ok(hasSealedShape(v) && SealedPayload.safeParse(v).success)
  const samples = fc.oneof(mutationsOf(head), mutationsOf(member), mutationsOf(headBare), plantedIn(member), hostile)
  fc.assert(fc.property(samples, agree), { numRuns: 3_000, seed: 13 })
  const edges = [{ i: 0 }, { i: 10_000 }, { i: 1.5 }, { i: '1' }, { at: 1 }, { ct: 'x'.repeat(30) }]
  for (const e of edges) agree({ ...(member as object), ...e })
  for (const e of [{ n: 0 }, { n: 10_001 }, { n: 2.5 }, { i: 1 }, { ek: undefined }]) agree({ ...(head as object), ...e })
  agree(Object.assign(Object.create({ ct: 'x'.repeat(30) }), member))
})

for (const directFanout of [0, 8]) {
  test(`publish flat out with encryptFor [B] (${directFanout === 0 ? 'gossip' : 'fan-out streams'}): batches carry groups, B reads every payload in order, C none`, { timeout: 3 * 60_000 }, async () => {
    const nodes = await startMesh(3, () => ({ preset: 'local', security: { mode: 'open' }, pubsub: { directFanout } }))
    const [a, b, c] = nodes
    try {
      const atB = collect(b, 'orders')
      const atC = collect(c, 'orders')
      const real = (xs: Message[]): Message[] => xs.filter(m => m.payload !== 'warm-up')
      const raw: Uint8Array[] = []
      const gossip = gossipTopic(c.config.mesh, 'orders')
      c.libp2p.services.pubsub.addEventListener('message', (e: CustomEvent<GossipMessage>) => { if (e.detail.topic === gossip) raw.push(e.detail.data) })
      await waitFor(() => a.topicPeers('orders').subscribers.length === 2, 'both subscriptions to reach a')
      if (directFanout > 0) {
        // At-most-once publishes are not ordered across a change of path (docs/delivery.md): a batch
        // gossiped before a's fan-out streams reach both can arrive after a later direct one. The
        // order is asserted on one path: published once a batch has gone directly.
        const direct = (): number => a.stats.get('broadcast_batches_total', { direction: 'out', via: 'direct' })
        await waitFor(async () => { await a.publish('orders', 'warm-up'); await a.flush(); return direct() > 0 }, 'a batch written on the fan-out streams')
        await waitFor(() => atB.filter(m => m.payload === 'warm-up').length > 0 && atC.filter(m => m.payload === 'warm-up').length > 0, 'the warm-ups to land')
      }
      const sealedBefore = c.stats.get('messages_total', { direction: 'in', status: 'sealed' })
      const n = 200
      await Promise.all(Array.from({ length: n }, async (_, i) => await a.publish('orders', { i, secret: `s${i}` }, { encryptFor: [b.peerId] })))
      await a.publish('orders', 'plain marker')
      await waitFor(() => real(atB).length === n + 1 && real(atC).length === 1, 'b to read all and the marker, c the marker', 30_000)
      assert.deepEqual(real(atB).slice(0, n).map(m => (m.payload as { i: number }).i), Array.from({ length: n }, (_, i) => i), 'in publish order')
      assert.ok(real(atB).slice(0, n).every(m => m.sealed === true))
      assert.deepEqual(real(atC).map(m => m.payload), ['plain marker'])
      await waitFor(() => c.stats.get('messages_total', { direction: 'in', status: 'sealed' }) - sealedBefore === n, 'c to count every sealed one it could not open')
      if (directFanout === 0) {
        const sealedBatches = raw.filter(d => d[0] === WIRE_JSON_SECTIONS)
        const heads = sealedBatches.flatMap(d => decodeBatch(d, 1 << 20)).filter(e => isSealed(e.payload) && isGroupPart(e.payload) && isGroupHead(e.payload))
        assert.ok(sealedBatches.length > 0 && heads.length < n / 4, `${n} payloads sealed in ${heads.length} groups`)
        assert.ok(!raw.map(d => Buffer.from(d).toString('utf8')).join('\n').includes('"secret"'), 'no payload in clear on the wire')
      }
    } finally {
      await stopAll(nodes)
    }
  })
}

test('a reliable publish with encryptFor is sealed alone (version 2): its envelope also travels alone', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(2, () => ({ preset: 'local', security: { mode: 'open' }, pubsub: { directFanout: 0 } }))
  const [a, b] = nodes
  try {
    const atB = collect(b, 'ledger')
    const raw: Uint8Array[] = []
    const gossip = gossipTopic(b.config.mesh, 'ledger')
    b.libp2p.services.pubsub.addEventListener('message', (e: CustomEvent<GossipMessage>) => { if (e.detail.topic === gossip) raw.push(e.detail.data) })
    await waitFor(() => a.topicPeers('ledger').subscribers.length === 1, 'the subscription to reach a')
    await a.publish('ledger', { amount: 5 }, { encryptFor: [b.peerId], delivery: 'at-least-once', recipients: [b.peerId] })
    await waitFor(() => atB.length === 1, 'b to read it')
    assert.deepEqual(atB[0].payload, { amount: 5 })
    const envs = raw.flatMap(d => decodeBatch(d, 1 << 20))
    assert.ok(envs.length > 0 && envs.every(e => (e.payload as { sealed?: number }).sealed === 2), 'version 2 on the wire')
  } finally {
    await stopAll(nodes)
  }
})
