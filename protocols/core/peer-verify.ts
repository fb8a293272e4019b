/**
 * Signatures checked against the signer's peer id alone (member statements, envelope signatures,
 * election votes), with an Ed25519 key imported into Node's crypto once per peer: libp2p's
 * Ed25519PublicKey.verify builds a KeyObject from a JWK on every call, and every agent checks
 * every member statement of the mesh (at 200 agents on two cores, ~15% of all CPU was
 * signature checks; the import was a fifth of that). Other key types go through libp2p's key.
 * The browser bundle takes peer-verify.browser.ts, which has no Node crypto.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { keyVerifies, PeerCache, publicKeyOf } from './peer-keys.js'

/** DER of an Ed25519 SubjectPublicKeyInfo up to the 32 key bytes (RFC 8410). */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
/** Undefined: a key type Node's verify is not used for (libp2p's key checks it). */
const imported = new PeerCache<KeyObject | null | undefined>()

function importKey (peer: string): KeyObject | null | undefined {
  const key = publicKeyOf(peer)
  if (key === null) return null
  if (key.type !== 'Ed25519') return undefined
  try {
    return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, key.raw]), format: 'der', type: 'spki' })
  } catch {
    return null
  }
}

/** Whether `sig` is `peer`'s signature over `data`; false for anything malformed, never a throw. */
export function peerSignatureVerifies (peer: string, data: Uint8Array, sig: Uint8Array): boolean {
  const k = imported.get(peer, importKey)
  if (k === null) return false
  if (k === undefined) return keyVerifies(peer, data, sig)
  try {
    return verify(null, data, k, sig)
  } catch {
    return false
  }
}
