/** protocols/core/peer-keys.ts: peer ids and their keys parsed once, in a bounded cache. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { PeerCache, peerIdOf, publicKeyOf } from '../../../protocols/core/peer-keys.js'

test('peerIdOf: the same PeerId object for the same string, equal to a fresh parse, printing back the string', { timeout: 60_000 }, async () => {
  const s = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const a = peerIdOf(s)
  assert.equal(peerIdOf(s), a, 'a second call parses nothing: the same object')
  assert.ok(a.equals(peerIdFromString(s)))
  assert.equal(a.toString(), s)
  assert.ok(publicKeyOf(s)?.equals(a.publicKey), 'the key parsed from the same string')
})

test('peerIdOf: a malformed id throws as libp2p does, and is not kept', { timeout: 60_000 }, () => {
  for (const bad of ['', 'not-a-peer-id', '12D3KooW', 'QmNotBase58!!']) {
    assert.throws(() => peerIdOf(bad), (err: Error) => err instanceof Error, bad)
    assert.throws(() => peerIdOf(bad), (err: Error) => err instanceof Error, `${bad}, asked again`)
  }
  assert.equal(publicKeyOf('not-a-peer-id'), null)
})

test('PeerCache: bounded; full, it forgets all and builds up again', { timeout: 60_000 }, () => {
  const made: string[] = []
  const c = new PeerCache<string>(2)
  const make = (p: string): string => { made.push(p); return p.toUpperCase() }
  assert.equal(c.get('a', make), 'A')
  assert.equal(c.get('a', make), 'A')
  c.get('b', make)
  assert.deepEqual(made, ['a', 'b'])
  c.get('c', make)
  c.get('a', make)
  assert.deepEqual(made, ['a', 'b', 'c', 'a'], 'the third id cleared the cache: "a" was made again')
  // A make that throws keeps nothing.
  assert.throws(() => c.get('x', () => { throw new Error('bad') }))
  assert.equal(c.get('x', make), 'X')
})
