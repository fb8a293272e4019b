/**
 * Sealed payloads (issue 13, R-SEC): the format and its two halves. A sender's content key is
 * wrapped once per recipient when the key is made (an ephemeral X25519 key, ECDH with each
 * recipient's key, HKDF-SHA256, ChaCha20-Poly1305), and the wraps travel with every payload
 * sealed under it; each payload is then one XChaCha20-Poly1305 encryption with a random nonce,
 * whose associated data binds it to the mesh, subject, source and key id, so it cannot be
 * replayed under another topic or claimed by another sender. This is HPKE's base mode in
 * shape (RFC 9180: DHKEM(X25519), HKDF-SHA256, ChaCha20Poly1305), with one encapsulated key
 * shared by the recipients of one content key.
 *
 * On the wire, inside the envelope's `payload` (JSON, binary fields base64):
 *   { sealed: 1, kid, at, ek, wraps: [{ to, ct }], nonce, ct }
 * `at` is when the key was made (checked against rotation and grace); `to` is the recipient's
 * tag (keys.ts). Overhead (JSON): about 190 bytes per payload, plus 93 bytes per recipient,
 * plus base64's third on the plaintext.
 */
import { x25519 } from '@noble/curves/ed25519.js'
import { chacha20poly1305 } from '@noble/ciphers/chacha.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { randomBytes, randomFillSync } from 'node:crypto'
import { z } from 'zod'
import { parseJson } from '../core/json.js'
import { SealedError } from '../core/errors.js'
import { CONTENT_DOMAIN, KEY_BYTES, KID_BYTES, MAX_RECIPIENTS, NONCE_BYTES, SEALED_VERSION, WRAP_DOMAIN } from './constants.js'
import { tagOf, type OwnKey } from './keys.js'
import { xchachaOpen, xchachaSeal } from './aead.js'

const b64 = (bytes: number): z.ZodString => z.string().length(Math.ceil(bytes / 3) * 4).regex(/^[A-Za-z0-9+/]+=*$/)

export const SealedPayload = z.strictObject({
  sealed: z.literal(SEALED_VERSION),
  kid: z.string().regex(/^[A-Za-z0-9_-]{11}$/),
  at: z.number().int().nonnegative(),
  ek: b64(32),
  wraps: z.array(z.strictObject({ to: z.string().regex(/^[A-Za-z0-9_-]{11}$/), ct: b64(KEY_BYTES + 16) })).min(1).max(MAX_RECIPIENTS),
  nonce: b64(NONCE_BYTES),
  // No pattern on the ciphertext: every node would run it over the whole payload, and what is
  // not base64 fails the AEAD all the same.
  ct: z.string().min(24)
})
export type SealedPayload = z.output<typeof SealedPayload>

/** Payloads already found sealed: the validator, the delivery and the sealer each ask, about the same object. */
const seen = new WeakSet<object>()

/**
 * Whether a payload is sealed: exactly the sealed shape, nothing less. An application's own
 * payload with a `sealed` field stays an ordinary payload.
 */
export function isSealed (payload: unknown): payload is SealedPayload {
  if (typeof payload !== 'object' || payload === null || (payload as { sealed?: unknown }).sealed !== SEALED_VERSION) return false
  if (seen.has(payload)) return true
  if (!SealedPayload.safeParse(payload).success) return false
  seen.add(payload)
  return true
}

/** What a sealed payload is bound to: who sent it, in which mesh, under which subject (topic or command). */
export interface Binding { mesh: string, source: string, subject: string }

/** A sender's content key, with its wraps for the recipients it was made for. */
export interface ContentKey {
  kid: string
  /** When it was made (ms since the epoch). */
  at: number
  key: Uint8Array
  ek: string
  wraps: Array<{ to: string, ct: string }>
}

const utf8 = new TextEncoder()
const ZERO_NONCE = new Uint8Array(12)

function wrapKey (shared: Uint8Array, ek: Uint8Array, recipient: Uint8Array, b: Omit<Binding, 'subject'>, kid: string, at: number): Uint8Array {
  const salt = new Uint8Array(64)
  salt.set(ek, 0)
  salt.set(recipient, 32)
  return hkdf(sha256, shared, salt, utf8.encode(`${WRAP_DOMAIN}\n${b.mesh}\n${b.source}\n${kid}\n${at}`), KEY_BYTES)
}

/** A fresh content key, wrapped for each recipient's X25519 public key. */
export function makeContentKey (recipients: Uint8Array[], b: Omit<Binding, 'subject'>, now: number): ContentKey {
  const kid = randomBytes(KID_BYTES).toString('base64url')
  const key = new Uint8Array(randomBytes(KEY_BYTES))
  const eSecret = x25519.utils.randomSecretKey()
  const ek = x25519.getPublicKey(eSecret)
  const wraps = recipients.map(pub => {
    // Each wrap key is used once (fresh ephemeral key, one recipient): a zero nonce is safe.
    const k = wrapKey(x25519.getSharedSecret(eSecret, pub), ek, pub, b, kid, now)
    return { to: tagOf(pub), ct: Buffer.from(chacha20poly1305(k, ZERO_NONCE).encrypt(key)).toString('base64') }
  })
  return { kid, at: now, key, ek: Buffer.from(ek).toString('base64'), wraps }
}

/** Nonces come from a pool filled 4 KiB at a time: one randomBytes call per nonce costs more than the AEAD. */
const pool = Buffer.alloc(NONCE_BYTES * 170)
let used = pool.length
function nonce (): Buffer {
  if (used + NONCE_BYTES > pool.length) { randomFillSync(pool); used = 0 }
  used += NONCE_BYTES
  return Buffer.from(pool.subarray(used - NONCE_BYTES, used)) // a copy: the pool is refilled in place
}

function contentAd (b: Binding, kid: string): Uint8Array {
  return utf8.encode(`${CONTENT_DOMAIN}\n${b.mesh}\n${b.subject}\n${b.source}\n${kid}`)
}

/** Seal one payload (its JSON) under a content key: one AEAD, the wraps as they are. */
export function seal (k: ContentKey, b: Binding, payload: unknown): SealedPayload {
  const n = nonce()
  const ct = xchachaSeal(k.key, n, contentAd(b, k.kid), Buffer.from(JSON.stringify(payload) ?? 'null'))
  return { sealed: SEALED_VERSION, kid: k.kid, at: k.at, ek: k.ek, wraps: k.wraps, nonce: n.toString('base64'), ct: ct.toString('base64') }
}

/** The content key of a sealed payload, if one of its wraps is for `own`; undefined when none is. */
export function unwrap (own: OwnKey, s: SealedPayload, b: Omit<Binding, 'subject'>): Uint8Array | undefined {
  const mine = s.wraps.filter(w => w.to === own.tag)
  if (mine.length === 0) return undefined
  const ek = Buffer.from(s.ek, 'base64')
  let shared: Uint8Array
  try {
    shared = x25519.getSharedSecret(own.secret, ek)
  } catch {
    return undefined // a low-order ephemeral key: no wrap made with it can be for us
  }
  const k = wrapKey(shared, ek, own.public, b, s.kid, s.at)
  for (const w of mine) {
    try {
      return chacha20poly1305(k, ZERO_NONCE).decrypt(Buffer.from(w.ct, 'base64'))
    } catch {} // a tag collision with another recipient's wrap, or a forged one
  }
  return undefined
}

/** The payload a content key opens; SealedError when the ciphertext does not authenticate. */
export function open (key: Uint8Array, s: SealedPayload, b: Binding): unknown {
  let plain: Buffer
  try {
    plain = xchachaOpen(key, Buffer.from(s.nonce, 'base64'), contentAd(b, s.kid), Buffer.from(s.ct, 'base64'))
  } catch (err) {
    throw new SealedError(`sealed payload from ${b.source} on "${b.subject}" does not authenticate (altered, or bound to another subject)`, { cause: err })
  }
  try {
    // The same nesting bound as any frame: the outer frame's check saw only base64.
    return parseJson(plain.toString('utf8'), plain.byteLength)
  } catch (err) {
    throw new SealedError(`sealed payload from ${b.source} on "${b.subject}" is not JSON inside, or nests too deep`, { cause: err })
  }
}
