/**
 * The public key inside an Ed25519 (or any inlined-key) peer id, parsed once: envelope
 * signatures, election votes and certificates are all checked against the signer's peer id alone.
 */
import type { PublicKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'

/** Parsing costs more than a verify's hashing of a small message; bounded, so made-up ids cannot grow it. */
const KEYS_KEPT = 4096
const keys = new Map<string, PublicKey | null>()

/** The peer id's public key; null when the id is malformed or carries no key (RSA ids hash theirs). */
export function publicKeyOf (peer: string): PublicKey | null {
  let key = keys.get(peer)
  if (key !== undefined) return key
  try {
    key = peerIdFromString(peer).publicKey ?? null
  } catch {
    key = null
  }
  if (keys.size >= KEYS_KEPT) keys.clear()
  keys.set(peer, key)
  return key
}

/**
 * Whether `sig` is `peer`'s signature over `data`, by libp2p's key (peer-verify.ts's way for key
 * types other than Ed25519, and the browser's for all); false for anything malformed, never a throw.
 */
export function keyVerifies (peer: string, data: Uint8Array, sig: Uint8Array): boolean {
  try {
    const ok = publicKeyOf(peer)?.verify(data, sig) ?? false
    // An asynchronous verifier does not fit the synchronous paths that call this: a bad signature.
    if (ok instanceof Promise) { ok.catch(() => {}); return false }
    return ok
  } catch {
    return false
  }
}
