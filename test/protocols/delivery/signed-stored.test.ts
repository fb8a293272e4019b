/**
 * Signed messages where a stream no longer vouches for them (issue 13): dead letters and what the
 * gateway injects. A node signs each dead letter it keeps with its identity key and replays only
 * those that verify: through real nodes with a data directory, an honest letter replays; one
 * altered in the store, one put there with no signature and one signed by another node are
 * refused with SEC004, stay for a person to look at, and are audited. A gateway signs what it
 * publishes and requests for its clients, naming the client in headers the signature covers; the
 * receiver checks it, and refuses an envelope whose signature does not verify.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { makeEnvelope, type AgentNode } from '../../../surfaces/index.js'
import type { DeadLetter } from '../../../protocols/delivery/types.js'
import { DEAD_LETTER_SIGNATURE_DOMAIN } from '../../../protocols/delivery/dead-letters.js'
import { hasValidSignature, signEnvelope, signValue } from '../../../protocols/envelope/signature.js'
import type { Envelope } from '../../../protocols/envelope/schema.js'
import { privateKeyOf } from '../../../protocols/coordination/election-keys.js'
import { startMesh, stopAll, waitFor, withTempDir } from '../../helpers.js'

function letterOf (from: AgentNode, to: string, payload: unknown): Omit<DeadLetter, 'id' | 'deadAt'> {
  const envelope = makeEnvelope({ source: from.peerId, destination: { peer: to }, type: 'COMMAND', subject: 'echo', payload, headers: { 'am-delivery': 'at-least-once' } })
  const now = Date.now()
  return { side: 'sender', envelope, peer: to, reason: 'retries_exhausted', error: { code: 'COM002', name: 'ConnectionError', message: 'peer unreachable' }, attempts: 4, firstAttemptAt: now - 1000, lastAttemptAt: now }
}

test('signed dead letters: an honest letter replays; one altered in the store, injected unsigned, or signed by another node is refused with SEC004 and audited', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const [a, b] = await startMesh(2, (i) => i === 0 ? { debug: '127.0.0.1:0', dataDir: join(dir, 'a') } : {})
    try {
      const seen: unknown[] = []
      b.handle('echo', (x) => { seen.push(x); return x })
      const space = a.store.space<DeadLetter>('dead-letters')
      const honest = await a.deadLetters.add(letterOf(a, b.peerId, { n: 1 })) as DeadLetter
      assert.match(honest.signature ?? '', /^[A-Za-z0-9_-]{86}$/, 'kept with an Ed25519 signature')
      const altered = await a.deadLetters.add(letterOf(a, b.peerId, { n: 2 })) as DeadLetter
      // Someone with the data directory changes what the letter would send, and who to.
      await space.put(altered.id, { ...altered, envelope: { ...altered.envelope, payload: { n: 2000 } } })
      const unsigned = { ...letterOf(a, b.peerId, { n: 3 }), id: `${altered.id}x`, deadAt: Date.now() }
      await space.put(unsigned.id, unsigned)
      const byOther = { ...letterOf(a, b.peerId, { n: 4 }), id: `${altered.id}y`, deadAt: Date.now() }
      const forged: DeadLetter = { ...byOther, signature: signValue(DEAD_LETTER_SIGNATURE_DOMAIN, byOther, privateKeyOf(b.libp2p)) }
      await space.put(forged.id, forged)

      const results = await a.deadLetters.replay([honest.id, altered.id, unsigned.id, forged.id])
      assert.deepEqual(results[0], { id: honest.id, status: 'resent' })
      for (const r of results.slice(1)) {
        assert.equal(r.status, 'failed', r.id)
        assert.equal((r as any).error.code, 'SEC004', r.id)
      }
      assert.match((results[2] as any).error.message, /carries no signature/)
      await waitFor(() => seen.length === 1, 'the honest letter to arrive')
      assert.deepEqual(seen, [{ n: 1 }], 'only the honest letter was sent')
      for (const id of [altered.id, unsigned.id, forged.id]) assert.ok(a.deadLetters.get(id) !== undefined, 'a refused letter stays, for a person to look at')
      const audit = await (await fetch(`${a.debugUrl as string}/audit?kind=signature.refused`)).json() as any[]
      // The audit log writes the first of a second in full and counts the rest of it into one line.
      assert.equal(audit[0]?.detail.deadLetter, altered.id, 'the refusal audited')
      assert.ok(audit.every(e => e.code === 'SEC004'))
    } finally {
      await stopAll([a, b])
    }
  })
})

test('gateway-injected envelopes: a publish and a command sent through the gateway arrive signed by the gateway node, the client named under the signature; a bad signature is refused SEC004', { timeout: 3 * 60_000 }, async () => {
  const [gw, b] = await startMesh(2, (i) => i === 0 ? { gateway: { listen: '127.0.0.1:0' } } : {})
  try {
    const events: Envelope[] = []
    const sub = b.subscribe('news')
    void (async () => { for await (const m of sub) events.push(m.envelope) })()
    const commands: Envelope[] = []
    b.handle('echo', (x, ctx) => { commands.push(ctx.envelope); return x })
    await waitFor(() => gw.topicPeers('news').subscribers.length === 1, 'the gateway node to see b\'s subscription')
    const post = async (path: string, body: unknown): Promise<Response> => await fetch(`${gw.gatewayUrl as string}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    assert.equal((await post('/v1/topics/news/publish', { n: 1 })).status, 200)
    assert.deepEqual(await (await post(`/v1/agents/${b.peerId}/commands/echo`, { n: 2 })).json(), { n: 2 })
    await waitFor(() => events.length === 1 && commands.length === 1, 'the event and the command at b')
    for (const env of [events[0], commands[0]]) {
      assert.equal(env.source, gw.peerId, 'the gateway node is the source')
      assert.ok(hasValidSignature(env), `${env.subject}: the signature verifies at the receiver`)
      assert.deepEqual([env.headers['am-via'], env.headers['am-client']], ['gateway', 'loopback'])
      assert.ok(!hasValidSignature({ ...env, headers: { ...env.headers, 'am-client': 'someone-else' } }), 'the client is covered by the signature')
    }
    // What nodes send themselves stays unsigned: Noise or gossipsub authenticate it.
    await gw.publish('news', { n: 3 })
    await waitFor(() => events.length === 2, 'a direct publish')
    assert.equal(events[1].signature, undefined)
    // A signature that does not verify (the payload changed after signing) is refused before the handler.
    const rpc = (gw as any).s.rpc
    const tamper = (env: Envelope): Envelope => ({ ...signEnvelope(env, privateKeyOf(gw.libp2p)), payload: { n: 999 } })
    await assert.rejects(rpc.request(b.peerId, 'echo', { n: 4 }, { sign: tamper }), (e: any) => e.code === 'SEC004')
    assert.equal(commands.length, 1, 'the handler never ran')
    sub.unsubscribe()
  } finally {
    await stopAll([gw, b])
  }
})
