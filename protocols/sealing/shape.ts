/**
 * The sealed payload's shape: the zod schema (the reference, and the type), and `isSealed`, the
 * same check written out by hand. Every node that receives a sealed payload asks, relays
 * included, once per payload: the schema cost about 5 µs of a 1 KiB payload's budget, the
 * hand-written check a tenth of that. test/sealing.test.ts holds the two to the same answers.
 */
import { z } from 'zod'
import { KEY_BYTES, MAX_RECIPIENTS, NONCE_BYTES, SEALED_VERSION } from './constants.js'

const B64 = /^[A-Za-z0-9+/]+=*$/
const TAG = /^[A-Za-z0-9_-]{11}$/
const b64Length = (bytes: number): number => Math.ceil(bytes / 3) * 4
const b64 = (bytes: number): z.ZodString => z.string().length(b64Length(bytes)).regex(B64)

export const SealedPayload = z.strictObject({
  sealed: z.literal(SEALED_VERSION),
  kid: z.string().regex(TAG),
  at: z.number().int().nonnegative(),
  ek: b64(32),
  wraps: z.array(z.strictObject({ to: z.string().regex(TAG), ct: b64(KEY_BYTES + 16) })).min(1).max(MAX_RECIPIENTS),
  nonce: b64(NONCE_BYTES),
  // No pattern on the ciphertext: every node would run it over the whole payload, and what is
  // not base64 fails the AEAD all the same.
  ct: z.string().min(24)
})
export type SealedPayload = z.output<typeof SealedPayload>

const EK = b64Length(32)
const WRAP_CT = b64Length(KEY_BYTES + 16)
const NONCE = b64Length(NONCE_BYTES)

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isB64 = (v: unknown, length: number): boolean => typeof v === 'string' && v.length === length && B64.test(v)
const isTag = (v: unknown): boolean => typeof v === 'string' && TAG.test(v)

/** Exactly `n` enumerable keys (own or inherited, as zod counts them), each one of `names`. */
function keysAre (v: Record<string, unknown>, names: ReadonlySet<string>): boolean {
  let n = 0
  for (const k in v) {
    if (!names.has(k)) return false
    n++
  }
  return n === names.size
}

const PAYLOAD_KEYS = new Set(['sealed', 'kid', 'at', 'ek', 'wraps', 'nonce', 'ct'])
const WRAP_KEYS = new Set(['to', 'ct'])

function isWrap (w: unknown): boolean {
  return isRecord(w) && isTag(w.to) && isB64(w.ct, WRAP_CT) && keysAre(w, WRAP_KEYS)
}

/** What `SealedPayload.safeParse(v).success` answers, without zod. */
export function hasSealedShape (v: unknown): v is SealedPayload {
  if (!isRecord(v) || v.sealed !== SEALED_VERSION) return false
  const { kid, at, ek, wraps, nonce, ct } = v
  if (!isTag(kid) || typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) return false
  if (!isB64(ek, EK) || !isB64(nonce, NONCE) || typeof ct !== 'string' || ct.length < 24) return false
  if (!Array.isArray(wraps) || wraps.length < 1 || wraps.length > MAX_RECIPIENTS) return false
  for (let i = 0; i < wraps.length; i++) if (!isWrap(wraps[i])) return false
  return keysAre(v, PAYLOAD_KEYS)
}
