/**
 * A peer id, and the public key inside an Ed25519 (or any inlined-key) peer id, parsed once:
 * envelope signatures, election votes and certificates are all checked against the signer's peer
 * id alone, and the members, views and links name peers by their strings, which libp2p's calls
 * (getConnections, dial, hangUp) take as PeerId objects.
 */
import type { PeerId, PublicKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'

/**
 * What is worked out once per peer id (a parsed key, an imported one), kept for the next message;
 * bounded, so made-up ids cannot grow it (full: forgotten all at once, then built up again).
 */
export class PeerCache<T> {
  private readonly kept = new Map<string, T>()
  constructor (private readonly max = 4096) {}

  /** The value kept for `peer`, or `make(peer)` kept from now on. */
  get (peer: string, make: (peer: string) => T): T {
    if (this.kept.has(peer)) return this.kept.get(peer) as T
    const value = make(peer)
    if (this.kept.size >= this.max) this.kept.clear()
    this.kept.set(peer, value)
    return value
  }
}

/**
 * Parsed once and printed once: `peerIdFromString` decodes the base58, builds the key, and the
 * id it returns has not kept its string, so libp2p's own maps (getConnections' PeerMap, keyed by
 * the string) encode it back to base58 on every call. The two were 3.3% of a 100-agent join's CPU
 * (the election's and the views' "connected?" over every member, the addresses learnt).
 */
const ids = new PeerCache<PeerId>()

/** The PeerId of `peer`, parsed once; throws as `peerIdFromString` does for a malformed one (nothing kept). */
export function peerIdOf (peer: string): PeerId {
  return ids.get(peer, (p) => {
    const id = peerIdFromString(p)
    // Kept in the id from now on (PeerIdImpl's own cache): every later `toString()` is a read.
    id.toString()
    return id
  })
}

/** Parsing costs more than a verify's hashing of a small message. */
const keys = new PeerCache<PublicKey | null>()

/** The peer id's public key; null when the id is malformed or carries no key (RSA ids hash theirs). */
export function publicKeyOf (peer: string): PublicKey | null {
  return keys.get(peer, (p) => {
    try {
      return peerIdFromString(p).publicKey ?? null
    } catch {
      return null
    }
  })
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
