/**
 * Sealed payloads (issue 13, R-SEC): the format and its two halves. A sender's content key is
 * wrapped once per recipient when the key is made (an ephemeral X25519 key, ECDH with each
 * recipient's key, HKDF-SHA256, ChaCha20-Poly1305), and the wraps travel with the first payloads
 * sealed under it and then now and then (constants.ts, WRAPS_*); each payload is one
 * XChaCha20-Poly1305 encryption (nonce: a random prefix per key, then a count), whose
 * associated data binds it to the mesh, subject, source and key id, so it cannot be
 * replayed under another topic or claimed by another sender. This is HPKE's base mode in
 * shape (RFC 9180: DHKEM(X25519), HKDF-SHA256, ChaCha20Poly1305), with one encapsulated key
 * shared by the recipients of one content key.
 *
 * On the wire, inside the envelope's `payload` (JSON, binary fields base64; shape.ts):
 *   { sealed: 2, kid, at, ek?, wraps?: [{ to, ct }], nonce, ct }     (version 1: ek and wraps always)
 * `at` is when the key was made (checked against rotation and grace); `to` is the recipient's
 * tag (keys.ts). Overhead (JSON): about 95 bytes per payload and base64's third on the
 * plaintext, plus 50 bytes and 93 per recipient on the payloads that carry the wraps.
 */
import { x25519 } from '@noble/curves/ed25519.js'
import { chacha20poly1305 } from '@noble/ciphers/chacha.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { randomBytes } from 'node:crypto'
import { parseJson } from '../core/json.js'
import { toBase64url } from '../core/base64url.js'
import { SealedError } from '../core/errors.js'
import { CONTENT_DOMAIN, KEY_BYTES, KID_BYTES, NONCE_BYTES, SEALED_VERSION, WRAP_DOMAIN, WRAPS_EVERY, WRAPS_EVERY_MS, WRAPS_FIRST } from './constants.js'
import { tagOf, type OwnKey } from './keys.js'
import { XChaCha } from './aead.js'
import { hasSealedShape, type GroupHead, type SealedPayload, type SealedSingle } from './shape.js'

export { SealedPayload } from './shape.js'

/**
 * Whether a payload is sealed: exactly the sealed shape, nothing less. An application's own
 * payload with a `sealed` field stays an ordinary payload. Asked two or three times of one
 * payload (the validator, the delivery, the sealer), and checked each time: a WeakSet of the
 * payloads already found sealed cost more than the check (~0.1 µs) once a receiver held a
 * hundred thousand of them for the collector (5% of a receiver's busy CPU in a sealed broadcast).
 */
export function isSealed (payload: unknown): payload is SealedPayload {
  if (typeof payload !== 'object' || payload === null) return false
  const version = (payload as { sealed?: unknown }).sealed
  if (version !== 1 && version !== 2 && version !== 3) return false
  return hasSealedShape(payload)
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
  /** The key's AEAD, its HChaCha20 subkey derived once (aead.ts). */
  cipher: XChaCha
  /** The first 16 bytes of every nonce under this key (random), then `sealedCount`. */
  prefix: Buffer
  sealedCount: number
  /** When the wraps last travelled, and how many payloads went without them since (WRAPS_*). */
  wrapsAt: number
  sinceWraps: number
  ad?: { b: Binding, bytes: Uint8Array }
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
  const kid = toBase64url(randomBytes(KID_BYTES))
  const key = new Uint8Array(randomBytes(KEY_BYTES))
  const eSecret = x25519.utils.randomSecretKey()
  const ek = x25519.getPublicKey(eSecret)
  const wraps = recipients.map(pub => {
    // Each wrap key is used once (fresh ephemeral key, one recipient): a zero nonce is safe.
    const k = wrapKey(x25519.getSharedSecret(eSecret, pub), ek, pub, b, kid, now)
    return { to: tagOf(pub), ct: Buffer.from(chacha20poly1305(k, ZERO_NONCE).encrypt(key)).toString('base64') }
  })
  return { kid, at: now, key, ek: Buffer.from(ek).toString('base64'), wraps, cipher: new XChaCha(key), prefix: randomBytes(16), sealedCount: 0, wrapsAt: -Infinity, sinceWraps: 0 }
}

/**
 * The next nonce of a key: its random 16-byte prefix, then a little-endian count of the payloads
 * sealed under it. Unique per key as long as the count is (the key lives in this process only,
 * and 2^53 payloads is beyond any rotation period), and one prefix means one HChaCha20 subkey.
 */
export function nextNonce (k: ContentKey): Buffer {
  const n = k.sealedCount++
  const out = Buffer.allocUnsafe(NONCE_BYTES)
  k.prefix.copy(out, 0)
  out.writeUInt32LE(n >>> 0, 16)
  out.writeUInt32LE(Math.floor(n / 0x1_0000_0000), 20)
  return out
}

function contentAd (b: Binding, kid: string): Uint8Array {
  return utf8.encode(`${CONTENT_DOMAIN}\n${b.mesh}\n${b.subject}\n${b.source}\n${kid}`)
}

/** The associated data of a key's payloads under one binding, made once while the binding stays the same. */
export function adOf (cache: { ad?: { b: Binding, bytes: Uint8Array } }, b: Binding, kid: string): Uint8Array {
  const held = cache.ad
  if (held !== undefined && held.b.subject === b.subject && held.b.source === b.source && held.b.mesh === b.mesh) return held.bytes
  const bytes = contentAd(b, kid)
  cache.ad = { b: { mesh: b.mesh, source: b.source, subject: b.subject }, bytes }
  return bytes
}

/**
 * Whether the next payload under `k` (or group of `count` payloads: what a reader that missed
 * the wraps loses is counted in payloads) carries its wraps (constants.ts, WRAPS_*); counts it.
 */
export function wrapsDue (k: ContentKey, now: number, count = 1): boolean {
  if (k.sealedCount < WRAPS_FIRST || k.sinceWraps + count >= WRAPS_EVERY || now - k.wrapsAt >= WRAPS_EVERY_MS || now < k.wrapsAt) {
    k.wrapsAt = now
    k.sinceWraps = 0
    return true
  }
  k.sinceWraps += count
  return false
}

/**
 * Seal one payload (its JSON) under a content key: one AEAD, and the wraps when they are due, or
 * always (`alone`: a direct message, which may be kept and sent again later, must open by itself).
 */
export function seal (k: ContentKey, b: Binding, payload: unknown, now = Date.now(), alone = false): SealedSingle {
  const wraps = alone || wrapsDue(k, now)
  const n = nextNonce(k)
  const ct = k.cipher.seal(n, adOf(k, b, k.kid), Buffer.from(JSON.stringify(payload) ?? 'null'))
  return wraps
    ? { sealed: SEALED_VERSION, kid: k.kid, at: k.at, ek: k.ek, wraps: k.wraps, nonce: n.toString('base64'), ct: ct.toString('base64') }
    : { sealed: SEALED_VERSION, kid: k.kid, at: k.at, nonce: n.toString('base64'), ct: ct.toString('base64') }
}

/** The content key of a sealed payload, if one of its wraps is for `own`; undefined when none is. */
export function unwrap (own: OwnKey, s: SealedSingle | GroupHead, b: Omit<Binding, 'subject'>): Uint8Array | undefined {
  if (s.ek === undefined || s.wraps === undefined) return undefined
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

/**
 * The bytes of a base64 text, decoded into a buffer kept for it when they fit: valid only until
 * the next call (the AEAD reads them at once and writes its plaintext elsewhere). One 1 KiB
 * allocation less per payload opened, which the garbage collector would otherwise pay for.
 */
const scratch = Buffer.allocUnsafe(64 * 1024)
export function fromBase64 (text: string): Buffer {
  if (text.length > (scratch.byteLength / 3) * 4) return Buffer.from(text, 'base64')
  return scratch.subarray(0, scratch.write(text, 'base64'))
}

/** A received content key as keyring.ts holds it: the AEAD and the associated data last used. */
export interface OpenKey { cipher: XChaCha, ad?: { b: Binding, bytes: Uint8Array } }

/** The payload a content key opens; SealedError when the ciphertext does not authenticate. */
export function open (key: Uint8Array | OpenKey, s: SealedSingle, b: Binding): unknown {
  const k = key instanceof Uint8Array ? { cipher: new XChaCha(key) } : key
  let plain: Buffer
  try {
    plain = k.cipher.open(Buffer.from(s.nonce, 'base64'), adOf(k, b, s.kid), fromBase64(s.ct))
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
