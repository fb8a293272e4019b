/**
 * Sealed direct messages (`encryptFor` on request and send, issue 13; docs/security.md "Sealed
 * payloads", protocols/sealing/direct.ts), with real nodes: the handler sees the plain payload,
 * the sender's outbox and its dead letters hold only ciphertext, the answer travels sealed back
 * to the requester, and a payload sealed for another peer is refused (SEC003) before the handler.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { z } from 'zod'
import { defineCommand, type AgentNode } from '../../../surfaces/index.js'
import { isSealed, type Sealer } from '../../../protocols/sealing/index.js'
import { openAnswer } from '../../../protocols/sealing/direct.js'
import type { OutboxEntry } from '../../../protocols/delivery/outbox.js'
import { startMesh, stopAll, waitFor } from '../../helpers.js'

const SECRET = 'the vault code is 4711'
const Vault = defineCommand('vault', {
  request: z.object({ text: z.string() }),
  response: z.object({ echoed: z.string() })
})

interface Seen { text: string, sealed: boolean | undefined, envelopeText: unknown }

function serveVault (node: AgentNode, seen: Seen[]): void {
  node.handle(Vault, (req, ctx) => {
    seen.push({ text: req.text, sealed: ctx.sealed, envelopeText: (ctx.envelope.payload as { text?: unknown }).text })
    return { echoed: req.text }
  })
}

const sealerOf = (node: AgentNode): Sealer => (node as any).s.rpc.init.sealer
const rpcOf = (node: AgentNode): any => (node as any).s.rpc
const outboxOf = (node: AgentNode): OutboxEntry[] => (node as any).s.delivery.outbox.entries()

test('a sealed request and send reach the handler in clear, marked sealed; the answer comes back sealed and only the requester opens it', { timeout: 3 * 60_000 }, async () => {
  const [a, b, c] = await startMesh(3)
  try {
    const seen: Seen[] = []
    serveVault(b, seen)
    for (const delivery of ['at-most-once', 'at-least-once', 'exactly-once'] as const) {
      const answer = await a.request(b.peerId, Vault, { text: SECRET }, { encryptFor: [b.peerId], delivery })
      assert.deepEqual(answer, { echoed: SECRET }, `${delivery}: the requester reads the answer`)
      assert.deepEqual(seen.at(-1), { text: SECRET, sealed: true, envelopeText: SECRET }, `${delivery}: the handler sees the plain payload, marked sealed`)
    }
    const sent = await a.send(b.peerId, Vault, { text: SECRET }, { encryptFor: [b.peerId], delivery: 'at-least-once' })
    assert.deepEqual(sent, [{ peer: b.peerId, ok: true, reply: { echoed: SECRET } }])

    // An unsealed request is still answered in clear, and not marked.
    assert.deepEqual(await a.request(b.peerId, Vault, { text: 'plain' }), { echoed: 'plain' })
    assert.equal(seen.at(-1)?.sealed, undefined)

    // What travels back: the request sealed as `encryptFor` seals it, sent as an untyped payload,
    // so the raw answer payload (what was on the wire) comes back unopened.
    const sealed = rpcOf(a).sealFor(b.peerId, 'vault', { text: SECRET }, [b.peerId])
    assert.ok(isSealed(sealed) && !JSON.stringify(sealed).includes(SECRET), 'the request payload is ciphertext')
    const raw = await rpcOf(a).request(b.peerId, 'vault', sealed)
    assert.ok(isSealed(raw), 'the answer to a sealed request is sealed')
    assert.ok(!JSON.stringify(raw).includes(SECRET), 'no clear text in the answer')
    assert.deepEqual(openAnswer(sealerOf(a), b.peerId, 'vault', raw, 'x'), { echoed: SECRET }, 'the requester opens it')
    assert.throws(() => openAnswer(sealerOf(c), b.peerId, 'vault', raw, 'x'), { code: 'SEC003' }, 'a third node cannot')
  } finally {
    await stopAll([a, b, c])
  }
})

test('encryptFor on a direct message names its destination only: another peer or a role is refused with MSG001, nothing sent', { timeout: 3 * 60_000 }, async () => {
  const [a, b, c] = await startMesh(3)
  try {
    const seen: Seen[] = []
    serveVault(b, seen)
    for (const to of [[c.peerId], [b.peerId, c.peerId], [], { role: 'auditor' }]) {
      await assert.rejects(a.request(b.peerId, Vault, { text: SECRET }, { encryptFor: to as any }), { code: 'MSG001' }, `encryptFor ${JSON.stringify(to)}`)
      await assert.rejects(a.request(b.peerId, Vault, { text: SECRET }, { encryptFor: to as any, delivery: 'at-least-once' }), { code: 'MSG001' })
    }
    const [r] = await a.send(b.peerId, Vault, { text: SECRET }, { encryptFor: [c.peerId] })
    assert.equal(r.ok, false)
    assert.equal(!r.ok && r.error.code, 'MSG001')
    assert.equal(seen.length, 0, 'no handler ran')
    assert.equal(outboxOf(a).length, 0, 'nothing left in the outbox')
  } finally {
    await stopAll([a, b, c])
  }
})

test('a payload sealed for C and sent to B is refused with SEC003 before the schema and the handler, and counted', { timeout: 3 * 60_000 }, async () => {
  const [a, b, c] = await startMesh(3)
  try {
    const seen: Seen[] = []
    serveVault(b, seen)
    const before = b.stats.get('messages_total', { direction: 'in', status: 'sealed' })
    const forC = rpcOf(a).sealFor(c.peerId, 'vault', { text: SECRET }, [c.peerId])
    await assert.rejects(rpcOf(a).request(b.peerId, 'vault', forC), { code: 'SEC003' })
    // Reliable: refused at once (no retry would open it), kept as the receiver's dead letter, sealed.
    await assert.rejects(rpcOf(a).requestAs(undefined, b.peerId, 'vault', forC, { delivery: 'at-least-once' }, true), { code: 'SEC003' })
    assert.equal(seen.length, 0, 'the handler never ran')
    assert.equal(b.stats.get('messages_total', { direction: 'in', status: 'sealed' }) - before, 2, 'counted as sealed at B')
    // B still serves others.
    assert.deepEqual(await a.request(b.peerId, Vault, { text: 'hi' }, { encryptFor: [b.peerId] }), { echoed: 'hi' })
  } finally {
    await stopAll([a, b, c])
  }
})

test('a sealed reliable send to a peer that is down: its outbox entry and its dead letter hold no clear text, and the replayed letter arrives in clear', { timeout: 3 * 60_000 }, async () => {
  const retry = { maxRetries: 2, initialDelayMs: 100, maxDelayMs: 200, jitter: 0 }
  const [a, b] = await startMesh(2, (i) => i === 0 ? { retry, breaker: { failures: 0, resetMs: 1_000 } } : {})
  try {
    const seen: Seen[] = []
    serveVault(b, seen)
    await rpcOf(b).stop()
    const retries: number[] = []
    a.delivery.addEventListener('retry', (e) => { retries.push(e.detail.attempt) })
    const pending = a.send(b.peerId, Vault, { text: SECRET }, { encryptFor: [b.peerId], delivery: 'at-least-once' })
    await waitFor(() => retries.length >= 1, 'a first failed attempt and a retry')
    const held = outboxOf(a)
    assert.equal(held.length, 1, 'the message waits in the outbox')
    assert.ok(isSealed(held[0].payload), 'kept sealed')
    assert.ok(!JSON.stringify(held).includes(SECRET), 'the outbox holds no clear text')
    const [r] = await pending
    assert.equal(r.ok, false, 'given up')
    const letters = a.deadLetters.list().letters
    assert.equal(letters.length, 1)
    assert.ok(isSealed(letters[0].envelope.payload), 'the dead letter is sealed')
    assert.ok(!JSON.stringify(letters).includes(SECRET), 'the dead letter holds no clear text')

    await rpcOf(b).start()
    const [replayed] = await a.deadLetters.replay([letters[0].id])
    assert.equal(replayed.status, 'resent')
    await waitFor(() => seen.length === 1, 'the replayed letter to reach the handler')
    assert.deepEqual(seen[0], { text: SECRET, sealed: true, envelopeText: SECRET }, 'opened at B as the first attempt would have been')
  } finally {
    await rpcOf(b).start().catch(() => {})
    await stopAll([a, b])
  }
})
