/**
 * Signing with the node's identity key, imported into Node's crypto once. libp2p's
 * Ed25519PrivateKey.sign builds a KeyObject from a JWK on every call: 83 µs a signature here,
 * 37 µs with the key imported once (a 600-byte message, node dist/bench/wire-micro.js; the same
 * signature, byte for byte). The node signs on hot paths: every member statement it makes, every
 * task record version the coordinator sends its voters (2.9% of a busy coordinator's CPU was that
 * import, bench:tasks), votes and signed envelopes. Other key types sign through libp2p's key.
 * The browser bundle takes peer-sign.browser.ts, which has no Node crypto.
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'

/** DER of an Ed25519 PKCS #8 private key up to its 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const imported = new WeakMap<PrivateKey, KeyObject | null>()

function importKey (key: PrivateKey): KeyObject | null {
  if (key.type !== 'Ed25519') return null
  try {
    // libp2p's raw Ed25519 private key is the seed, then the public key. The DER is built in a
    // buffer of its own (not from Node's shared pool) and wiped once imported.
    const der = Buffer.alloc(ED25519_PKCS8_PREFIX.byteLength + 32)
    ED25519_PKCS8_PREFIX.copy(der)
    der.set(key.raw.subarray(0, 32), ED25519_PKCS8_PREFIX.byteLength)
    try {
      return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    } finally {
      der.fill(0)
    }
  } catch {
    return null
  }
}

/**
 * `key`'s signature over `data`, made synchronously (a TypeError names `what` when the key can
 * only sign asynchronously: the paths that sign do not wait).
 */
export function signWith (key: PrivateKey, data: Uint8Array, what: string): Uint8Array {
  let k = imported.get(key)
  if (k === undefined) {
    k = importKey(key)
    imported.set(key, k)
  }
  if (k !== null) return sign(null, data, k)
  const sig = key.sign(data)
  if (!(sig instanceof Uint8Array)) throw new TypeError(`${what} need a key that signs synchronously, not ${key.type}`)
  return sig
}
