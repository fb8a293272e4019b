/**
 * protocols/core/peer-verify.ts: the one check behind member statements, envelope signatures and
 * election votes, with the Ed25519 key imported into Node's crypto once per peer. It must say
 * exactly what libp2p's own key says, for every key type a peer id can carry, and never throw.
 * protocols/core/peer-sign.ts, the signing side with the node's key imported once, must make the
 * signatures libp2p's key makes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { peerSignatureVerifies } from '../../../protocols/core/peer-verify.js'
import { signWith } from '../../../protocols/core/peer-sign.js'

const data = Buffer.from('agentmesh/member/1\nmesh\n{"seq":1}')

for (const type of ['Ed25519', 'secp256k1'] as const) {
  test(`${type}: the signer's signature verifies; other bytes, another signer, a cut or garbage signature do not`, { timeout: 3 * 60_000 }, async () => {
    const key = await generateKeyPair(type)
    const other = await generateKeyPair(type)
    const peer = peerIdFromPrivateKey(key).toString()
    const sig = await key.sign(data)
    // Twice: the first imports the key, the second uses the one kept.
    assert.equal(peerSignatureVerifies(peer, data, sig), true)
    assert.equal(peerSignatureVerifies(peer, data, sig), true)
    assert.equal(peerSignatureVerifies(peer, Buffer.from(data.toString().replace('1', '2')), sig), false, 'other bytes')
    assert.equal(peerSignatureVerifies(peer, data, await other.sign(data)), false, 'another signer')
    assert.equal(peerSignatureVerifies(peerIdFromPrivateKey(other).toString(), data, sig), false, 'claimed by another peer')
    assert.equal(peerSignatureVerifies(peer, data, sig.subarray(0, 32)), false, 'cut')
    assert.equal(peerSignatureVerifies(peer, data, new Uint8Array(0)), false, 'empty')
    assert.equal(peerSignatureVerifies(peer, data, new Uint8Array(sig.byteLength).fill(0xff)), false, 'garbage')
  })
}

test('a peer id that is malformed or carries no key verifies nothing, and does not throw', { timeout: 3 * 60_000 }, async () => {
  const key = await generateKeyPair('Ed25519')
  const sig = key.sign(data) as Uint8Array
  for (const peer of ['', 'not-a-peer-id', '12D3KooW', 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N']) {
    assert.equal(peerSignatureVerifies(peer, data, sig), false, peer)
  }
})

for (const type of ['Ed25519', 'secp256k1'] as const) {
  test(`${type}: signWith makes a signature that verifies for the signer, as libp2p's key does`, { timeout: 3 * 60_000 }, async () => {
    const key = await generateKeyPair(type)
    const peer = peerIdFromPrivateKey(key).toString()
    for (const bytes of [data, new Uint8Array(0), new Uint8Array(70_000).fill(7)]) {
      // Twice: the first imports the key, the second uses the one kept.
      for (let i = 0; i < 2; i++) {
        const sig = signWith(key, bytes, 'test statements')
        assert.equal(peerSignatureVerifies(peer, bytes, sig), true)
        assert.equal(await key.publicKey.verify(bytes, sig), true, 'by libp2p\'s own key')
        // Ed25519 signatures are deterministic: byte for byte libp2p's.
        if (type === 'Ed25519') assert.deepEqual(Buffer.from(sig), Buffer.from(await key.sign(bytes)))
      }
    }
    const other = await generateKeyPair(type)
    assert.equal(peerSignatureVerifies(peer, data, signWith(other, data, 'test statements')), false, 'another key signed')
  })
}
