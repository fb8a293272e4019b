/**
 * Noise's X25519 with key objects kept (node/noise-crypto.ts): the shared secrets are Noise's
 * own, and a handshake between two real agents imports no private key (Noise's default crypto
 * imports one for each of the three DH operations a side does: ~360 µs each here).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { syncBuiltinESMExports } from 'node:module'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { CHACHA_OPENSSL_FROM, noiseCrypto } from '../../node/noise-crypto.js'
import { createAgentNode } from '../../surfaces/index.js'
import { nodeOptions, stopAll, uniqueMesh, waitFor } from '../helpers.js'

test('noise crypto: the same shared secrets as Noise\'s default, for keys it made and keys it did not', { timeout: 3 * 60_000 }, () => {
  const a = noiseCrypto.generateX25519KeyPair()
  const b = noiseCrypto.generateX25519KeyPair()
  const ab = noiseCrypto.generateX25519SharedKey(a.privateKey, b.publicKey)
  assert.deepEqual(ab, noiseCrypto.generateX25519SharedKey(b.privateKey, a.publicKey))
  // A copy of the bytes is a key this module never saw: imported, with the same result.
  assert.deepEqual(ab, noiseCrypto.generateX25519SharedKey(new Uint8Array(a.privateKey), b.publicKey))
  assert.deepEqual(Buffer.from(ab), Buffer.from(defaultCrypto.generateX25519SharedKey(new Uint8Array(a.privateKey), b.publicKey)))
  const seed = crypto.randomBytes(32)
  const fromSeed = noiseCrypto.generateX25519KeyPairFromSeed(seed)
  assert.deepEqual(Buffer.from(fromSeed.publicKey), Buffer.from(defaultCrypto.generateX25519KeyPairFromSeed(seed).publicKey))
  assert.deepEqual(Buffer.from(fromSeed.privateKey), seed)
})

test('noise crypto: ChaCha20-Poly1305 on either side of the switch to OpenSSL is byte for byte Noise\'s default, and a changed byte fails', { timeout: 3 * 60_000 }, () => {
  const k = crypto.randomBytes(32)
  const ad = crypto.randomBytes(32)
  for (const size of [0, 1, 15, CHACHA_OPENSSL_FROM - 17, CHACHA_OPENSSL_FROM - 16, CHACHA_OPENSSL_FROM - 1, CHACHA_OPENSSL_FROM, 1_199, 1_200, 4_000]) {
    const nonce = crypto.randomBytes(12)
    const plain = crypto.randomBytes(size)
    const sealed = Buffer.from(noiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k).subarray())
    assert.deepEqual(sealed, Buffer.from(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k).subarray()), `${size} bytes sealed`)
    assert.deepEqual(Buffer.from(noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, k).subarray()), plain, `${size} bytes opened`)
    sealed[sealed.length - 1] ^= 1
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, k), `${size} bytes with a changed tag`)
  }
})

test('noise crypto: two agents connect without a private key imported for a Diffie-Hellman', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const nodes = [await createAgentNode(nodeOptions(mesh, { name: 'a' })), await createAgentNode(nodeOptions(mesh, { name: 'b' }))]
  const real = crypto.createPrivateKey
  const realDh = noiseCrypto.generateX25519SharedKey
  let imported = 0
  let dh = 0
  let control = 0
  try {
    for (const n of nodes) await n.start()
    // The named import in node/noise-crypto.ts follows the module's export once synced.
    crypto.createPrivateKey = ((...args: Parameters<typeof real>) => {
      // Noise's X25519 keys come as PKCS#8 DER; libp2p's Ed25519 signatures (identify's signed record) import theirs as JWK.
      const key = args[0] as { format?: string, key?: Buffer }
      if (key.format === 'der' && key.key?.[11] === 0x6e) imported++
      return real(...args)
    }) as typeof real
    syncBuiltinESMExports()
    // Noise looks this method up on each Diffie-Hellman (its wrapCrypto): counted, not changed.
    noiseCrypto.generateX25519SharedKey = (...args) => { dh++; return realDh(...args) }
    await nodes[1].dial(nodes[0].addresses()[0])
    await waitFor(() => nodes[0].peers().length === 1 && nodes[1].peers().length === 1, 'the two agents to see each other')
    // The control, counted the same way: a key this module did not make is imported, once. If the
    // counting above stops seeing node/noise-crypto.ts's imports, this fails.
    const before = imported
    const a = noiseCrypto.generateX25519KeyPair()
    realDh(new Uint8Array(a.privateKey), noiseCrypto.generateX25519KeyPair().publicKey)
    control = imported - before
    imported = before
  } finally {
    crypto.createPrivateKey = real
    noiseCrypto.generateX25519SharedKey = realDh
    syncBuiltinESMExports()
    await stopAll(nodes)
  }
  assert.equal(control, 1, `${control} private keys counted for one key from elsewhere: the counting does not see this module's imports`)
  // An XX handshake is three Diffie-Hellmans a side: fewer means the handshake went another way.
  assert.ok(dh >= 6, `${dh} Diffie-Hellmans through this module's crypto for one handshake (3 a side)`)
  assert.equal(imported, 0, `${imported} private keys imported during one handshake (Noise's default: 3 a side)`)
})
