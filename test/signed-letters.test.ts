/**
 * Signed dead letters (issue 13, "signed messages"): a node signs each letter it keeps with its
 * identity key and replays only those that verify. Through real nodes with a data directory: an
 * honest letter replays; one altered in the store, one put there with no signature and one
 * signed by another node are refused with SEC004, stay for a person to look at, and are audited.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { makeEnvelope, type AgentNode } from '../node/index.js'
import type { DeadLetter } from '../protocols/delivery/types.js'
import { DEAD_LETTER_SIGNATURE_DOMAIN } from '../protocols/delivery/dead-letters.js'
import { signValue } from '../protocols/envelope/signature.js'
import { privateKeyOf } from '../protocols/coordination/election-keys.js'
import { startMesh, stopAll, waitFor, withTempDir } from './helpers.js'

function letterOf (from: AgentNode, to: string, payload: unknown): Omit<DeadLetter, 'id' | 'deadAt'> {
  const envelope = makeEnvelope({ source: from.peerId, destination: { peer: to }, type: 'COMMAND', subject: 'echo', payload, headers: { 'am-delivery': 'at-least-once' } })
  const now = Date.now()
  return { side: 'sender', envelope, peer: to, reason: 'retries_exhausted', error: { code: 'COM002', name: 'ConnectionError', message: 'peer unreachable' }, attempts: 4, firstAttemptAt: now - 1000, lastAttemptAt: now }
}

test('signed dead letters: an honest letter replays; one altered in the store, injected unsigned, or signed by another node is refused with SEC004 and audited', async () => {
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
