/**
 * X25519 keys from the Ed25519 keys agentmesh already has: a recipient's from its peer id (an
 * Ed25519 peer id carries its public key), this node's own from its libp2p private key. So
 * sealing for a peer needs no key distribution protocol: knowing its peer id is enough.
 */
import type { PrivateKey } from '@libp2p/interface'
import { publicKeyOf } from '../core/peer-keys.js'
import { ed25519 } from '@noble/curves/ed25519.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { SealedError } from '../core/errors.js'
import { toBase64url } from '../core/base64url.js'
import { MAX_PEER_KEYS, TAG_BYTES } from './constants.js'

/** This node's X25519 key pair, from its Ed25519 identity (RFC 7748 birational map). */
export interface OwnKey { secret: Uint8Array, public: Uint8Array, tag: string }

export function ownKey (privateKey: PrivateKey): OwnKey {
  if (privateKey.type !== 'Ed25519') throw new SealedError(`sealed payloads need an Ed25519 identity, not ${privateKey.type}`)
  // libp2p keeps an Ed25519 private key as seed (32 bytes) then public key (32 bytes).
  const secret = ed25519.utils.toMontgomerySecret(privateKey.raw.subarray(0, 32))
  const pub = ed25519.utils.toMontgomery(privateKey.publicKey.raw)
  return { secret, public: pub, tag: tagOf(pub) }
}

/** How a wrap names its recipient: the first bytes of the hash of its X25519 public key. */
export function tagOf (x25519Public: Uint8Array): string {
  return toBase64url(sha256(x25519Public).subarray(0, TAG_BYTES))
}

/** Recipients' X25519 public keys by peer id, derived once each (bounded). */
export class PeerKeys {
  private readonly keys = new Map<string, Uint8Array>()

  /** The X25519 public key of a peer; SealedError for a peer id that carries no Ed25519 key. */
  of (peer: string): Uint8Array {
    let key = this.keys.get(peer)
    if (key !== undefined) return key
    const pub = publicKeyOf(peer)
    if (pub?.type !== 'Ed25519') throw new SealedError(`cannot seal for ${peer}: not an Ed25519 peer id (its public key is not in it)`)
    key = ed25519.utils.toMontgomery(pub.raw)
    if (this.keys.size >= MAX_PEER_KEYS) this.keys.delete(this.keys.keys().next().value as string)
    this.keys.set(peer, key)
    return key
  }
}
