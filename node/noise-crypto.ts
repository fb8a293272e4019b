/**
 * Noise's X25519 in Node.js without importing the private key for every Diffie-Hellman.
 *
 * @chainsafe/libp2p-noise keeps its keys as raw bytes, and its Node.js crypto turns them back
 * into OpenSSL key objects for each of the three DH operations a side does per handshake:
 * `createPrivateKey` from PKCS#8 takes ~360 µs here, `createPublicKey` ~80 µs, the DH itself
 * ~35 µs. Per connection that was ~2.8 ms of CPU over both ends, 4.6% of the busy CPU of the
 * seeds' process during a 200-agent join (docs/benchmarks.md). bench/wire-micro.ts: 585 µs a
 * DH with its ephemeral key pair made, 197 µs here.
 *
 * Here the key pairs Noise asks for (its static key, once; an ephemeral one per handshake) are
 * made as key objects, and each private key's object is kept beside the bytes handed to Noise,
 * in a WeakMap keyed by that very Uint8Array, which Noise passes back for the DH. A key this
 * module did not make (a byte array from elsewhere) is imported as before. Public keys (the
 * peer's, each used once or twice) are imported as before.
 *
 * ChaCha20-Poly1305, every transport message's cipher, runs in Noise's WebAssembly below
 * CHACHA_OPENSSL_FROM bytes and in OpenSSL from it. Noise switches at 1,200 bytes; on this machine
 * OpenSSL's fixed cost (a cipher object per message) is paid back from ~500 bytes
 * (bench/wire-micro.ts, a message sealed and opened, three runs: 12.4-14.6 µs against 14.8-19.4 at
 * 600 bytes, 12.7-13.1 against 21.3-24.7 at 1,000; at 400, 11.1-12.7 against 12.3-13.1 either
 * way). A 1-KiB envelope's batch frame, and most answers that carry data, fall between the two.
 * Hashing and HKDF are Noise's own default.
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { asCrypto, defaultCrypto, nodeCrypto } from '@chainsafe/libp2p-noise/crypto'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'

/** DER headers of an X25519 private key (PKCS#8) and public key (SPKI), before the 32 raw bytes. */
const PKCS8_PREFIX = Buffer.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20])
const SPKI_PREFIX = Buffer.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00])

/** The key object of each private key handed to Noise (by identity: Noise passes the same array back). */
const objects = new WeakMap<Uint8Array, KeyObject>()

/** Noise hands a key as one array or a list of chunks (a Uint8ArrayList, of its own version). */
function raw (bytes: Uint8Array | { subarray: () => Uint8Array }): Buffer {
  const b = bytes instanceof Uint8Array ? bytes : bytes.subarray()
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength)
}

function pair (privateKey: KeyObject, publicKey = createPublicKey(privateKey)): { publicKey: Uint8Array, privateKey: Uint8Array } {
  const priv = new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' }).subarray(PKCS8_PREFIX.length))
  objects.set(priv, privateKey)
  return { publicKey: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }).subarray(SPKI_PREFIX.length)), privateKey: priv }
}

/** From this many bytes (the plaintext, or the ciphertext with its 16-byte tag) ChaCha20-Poly1305 runs in OpenSSL. */
export const CHACHA_OPENSSL_FROM = 512

const chachaSwitch: Pick<ICryptoInterface, 'chaCha20Poly1305Encrypt' | 'chaCha20Poly1305Decrypt'> = {
  chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
    return (plaintext.byteLength < CHACHA_OPENSSL_FROM ? asCrypto : nodeCrypto).chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
  },
  chaCha20Poly1305Decrypt (ciphertext, nonce, ad, k, dst) {
    return (ciphertext.byteLength < CHACHA_OPENSSL_FROM ? asCrypto : nodeCrypto).chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
  }
}

export const noiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  // Electron's crypto library has no ChaCha20-Poly1305: there Noise's default (WebAssembly throughout) stays.
  ...(process.versions.electron === undefined ? chachaSwitch : {}),
  generateX25519KeyPair () {
    const { privateKey, publicKey } = generateKeyPairSync('x25519')
    return pair(privateKey, publicKey)
  },
  generateX25519KeyPairFromSeed (seed) {
    return pair(createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), type: 'pkcs8', format: 'der' }))
  },
  generateX25519SharedKey (privateKey, publicKey) {
    // A key this module did not make is imported each time (its bytes may change under it).
    const own = (privateKey instanceof Uint8Array ? objects.get(privateKey) : undefined) ??
      createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw(privateKey)]), type: 'pkcs8', format: 'der' })
    const theirs = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw(publicKey)]), type: 'spki', format: 'der' })
    return diffieHellman({ privateKey: own, publicKey: theirs })
  }
}
