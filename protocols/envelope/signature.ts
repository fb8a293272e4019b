/**
 * Envelope signatures (issue 13, "signed messages"): for envelopes that outlive the stream that
 * carried them (stored, forwarded, replayed), whose sender Noise no longer vouches for. The
 * signer is the envelope's `source`: its peer id carries its public key (Ed25519, the identity
 * agentmesh makes), so a signature is checked from the envelope alone, by anyone, at any time.
 *
 * What is signed: the domain prefix, then a canonical JSON of every field but `signature`
 * (object keys sorted at every level, values as JSON writes them), so the bytes do not depend on
 * the order fields were set in, nor on a JSON round trip through another node.
 */
import type { PrivateKey } from '@libp2p/interface'
import { BadSignatureError } from '../core/errors.js'
import { peerSignatureVerifies } from '../core/peer-verify.js'
import { signWith } from '../core/peer-sign.js'
import { fromBase64url, toBase64url } from '../core/base64url.js'
import type { Envelope } from './schema.js'

/**
 * Written before the canonical envelope: a signature made for an envelope cannot be passed off
 * as one of the node's other statements (election votes, credentials), nor the reverse.
 */
export const ENVELOPE_SIGNATURE_DOMAIN = 'agentmesh envelope v1\n'

/** Sorted keys at every level; what JSON.stringify leaves out (undefined, functions) is left out here too. */
function sortedKeys (_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(value).sort()) out[k] = (value as Record<string, unknown>)[k]
  return out
}

/** The canonical JSON of a value: keys sorted, no spaces (JSON.stringify's numbers and escapes are already deterministic). */
export function canonicalJson (value: unknown): string {
  return JSON.stringify(value, sortedKeys)
}

/** What an envelope's signature covers, as text: the domain, then the canonical envelope without its signature. */
export function signedText (env: Envelope): string {
  const { signature: _signature, ...rest } = env
  return ENVELOPE_SIGNATURE_DOMAIN + canonicalJson(rest)
}

/** The bytes an envelope's signature covers: signedText in UTF-8. */
export function signedBytes (env: Envelope): Uint8Array {
  return Buffer.from(signedText(env), 'utf8')
}

/**
 * The envelope with its source's signature. `privateKey` must be the source's own key
 * (the node's identity): a signature by any other key would not verify.
 */
export function signEnvelope<E extends Envelope> (env: E, privateKey: PrivateKey): E {
  // Node's crypto signs Ed25519 (and secp256k1) synchronously; an async signer would not fit the hot paths.
  const sig = signWith(privateKey, signedBytes(env), 'envelope signatures')
  return { ...env, signature: toBase64url(sig) }
}

/** Whether `signature` (base64url) is `source`'s signature of `bytes` (what signedBytes made). */
export function signatureVerifies (source: string, bytes: Uint8Array, signature: string): boolean {
  return peerSignatureVerifies(source, bytes, fromBase64url(signature))
}

/** Whether the envelope carries a signature that verifies for its source (false when it has none). */
export function hasValidSignature (env: Envelope): boolean {
  return env.signature !== undefined && signatureVerifies(env.source, signedBytes(env), env.signature)
}

/**
 * Check the envelope's signature: BadSignatureError (SEC004) when it has none, or one that does
 * not verify for its source (altered after signing, signed by another key, or a source whose
 * peer id holds no public key, as an RSA one does not). Returns the envelope.
 */
export function verifyEnvelope<E extends Envelope> (env: E): E {
  if (env.signature === undefined) throw new BadSignatureError(`envelope ${env.id} from ${env.source} must be signed and is not`)
  if (!hasValidSignature(env)) throw new BadSignatureError(`envelope ${env.id}: the signature does not verify for its source ${env.source}`)
  return env
}

/**
 * Statements other than envelopes signed the same way (a domain line, then the canonical JSON of
 * the value), with the signer's identity key: what a node keeps and must find unaltered later,
 * e.g. its dead letters (protocols/delivery/dead-letters.ts, DEAD_LETTER_SIGNATURE_DOMAIN).
 */
export function signValue (domain: string, value: unknown, privateKey: PrivateKey): string {
  const sig = signWith(privateKey, Buffer.from(domain + canonicalJson(value), 'utf8'), 'signed values')
  return toBase64url(sig)
}

/** Whether `signature` is `signer`'s (a peer id) signValue of `value` under `domain`. */
export function valueSignatureVerifies (signer: string, domain: string, value: unknown, signature: string): boolean {
  return signatureVerifies(signer, Buffer.from(domain + canonicalJson(value), 'utf8'), signature)
}
