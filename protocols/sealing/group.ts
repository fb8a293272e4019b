/**
 * Sealed groups (format version 3): the payloads a publisher seals for the same recipients in
 * one batch, sealed together under one AEAD. Version 2 paid Node's cipher set-up (most of a 1 KiB
 * payload's ~8 µs) and a base64 per payload on the publisher and on every recipient; a group pays
 * them once per batch (up to `pubsub.batchMaxEnvelopes` payloads).
 *
 * The content key, its wraps, rotation and nonces are version 2's (box.ts, keyring.ts). The first
 * envelope of the group (its head) carries the ciphertext of the JSON array of the group's `n`
 * payloads; each other envelope (a member) names the key and its place `i` in the array:
 *
 *   head:   { sealed: 3, kid, at, [ek, wraps], nonce, ct, n }
 *   member: { sealed: 3, kid, i }          (after its head, in the same batch, i = 1 .. n-1)
 *
 * In a batch with binary sections (wire byte 0x04, envelope/sections.ts) the head carries `cs`,
 * the index of the section that holds the ciphertext's bytes, in place of `ct` (its base64): no
 * base64 on either side, a third fewer bytes, and no ciphertext in the JSON a receiver parses.
 * The ciphertext and its associated data are the same in both forms.
 *
 * The associated data binds the group to the mesh, subject, source, key id and the ids of its
 * envelopes in order, so a payload cannot move to another envelope, nor a group lose or gain
 * one, without the AEAD failing. A part opens only with the batch it came in.
 */
import { parseJson } from '../core/json.js'
import { SealedError } from '../core/errors.js'
import { GROUP_DOMAIN, GROUP_VERSION } from './constants.js'
import { fromBase64, nextNonce, wrapsDue, type Binding, type ContentKey, type OpenKey } from './box.js'
import type { GroupHead, GroupMember, GroupPart } from './shape.js'

/**
 * Memory reused for what the cipher reads and lets go before it returns (a group's plaintext and
 * associated data): a batch of 50 1 KiB payloads would otherwise take a fresh 50 KiB buffer and a
 * 1.5 KiB one per group, and on a busy host the fresh pages cost as much as the AEAD itself
 * (measured: a 52 KB seal 29 µs in a loop, 70 µs inside a flat-out publisher). Nothing sealed
 * or opened is left in it that the caller does not hold as well. Kept up to SCRATCH_KEEP bytes.
 */
class Scratch {
  private buf = Buffer.allocUnsafe(0)
  /** A buffer of at least `size` bytes, valid until the next call. */
  take (size: number): Buffer {
    if (this.buf.byteLength >= size) return this.buf
    const fresh = Buffer.allocUnsafe(Math.max(size, SCRATCH_MIN))
    if (size <= SCRATCH_KEEP) this.buf = fresh
    return fresh
  }
}
const SCRATCH_MIN = 4 * 1024
const SCRATCH_KEEP = 1024 * 1024
const plainScratch = new Scratch()
const adScratch = new Scratch()

/** Whatever the string, its UTF-8 fits in 3 bytes per UTF-16 code unit. */
const MAX_UTF8_PER_UNIT = 3

/** The associated data of a group: its binding, key and envelope ids (JSON: no id can pass for two). */
function groupAd (b: Binding, kid: string, ids: readonly string[]): Buffer {
  const text = `${GROUP_DOMAIN}\n${b.mesh}\n${b.subject}\n${b.source}\n${kid}\n${JSON.stringify(ids)}`
  const buf = adScratch.take(text.length * MAX_UTF8_PER_UNIT)
  return buf.subarray(0, buf.write(text, 0, 'utf8'))
}

/** The group's plaintext, the JSON array of its payloads' texts, written straight to UTF-8 (no joined string). */
function groupPlain (payloads: readonly string[]): Buffer {
  let bound = 1 + payloads.length
  for (const p of payloads) bound += p.length * MAX_UTF8_PER_UNIT
  const buf = plainScratch.take(bound)
  buf[0] = 0x5b // [
  let at = 1
  for (let i = 0; i < payloads.length; i++) {
    if (i > 0) buf[at++] = 0x2c // ,
    at += buf.write(payloads[i], at, 'utf8')
  }
  buf[at++] = 0x5d // ]
  return buf.subarray(0, at)
}

/**
 * Seal the payloads (their JSON texts) of the envelopes `ids` as one group under `k`: the head's
 * payload first, then one member per other envelope, in the same order.
 */
export function sealGroup (k: ContentKey, b: Binding, payloads: readonly string[], ids: readonly string[], now: number): GroupPart[] {
  const { parts, ct } = sealGroupBytes(k, b, payloads, ids, now)
  parts[0] = { ...parts[0], ct: Buffer.concat(ct).toString('base64') } as GroupHead
  return parts
}

/**
 * The same group for a batch with binary sections: its head names section `section`, and `ct` is
 * that section's bytes in two pieces (the ciphertext, then its tag), for the batch's encoder to
 * write one after the other.
 */
export function sealGroupSection (
  k: ContentKey, b: Binding, payloads: readonly string[], ids: readonly string[], now: number, section: number
): { parts: GroupPart[], ct: [Buffer, Buffer] } {
  const sealed = sealGroupBytes(k, b, payloads, ids, now)
  sealed.parts[0] = { ...sealed.parts[0], cs: section } as GroupHead
  return sealed
}

/** The group's ciphertext, and its parts with the head still to be told where the ciphertext travels. */
function sealGroupBytes (
  k: ContentKey, b: Binding, payloads: readonly string[], ids: readonly string[], now: number
): { parts: GroupPart[], ct: [Buffer, Buffer] } {
  const n = payloads.length
  if (n === 0 || n !== ids.length) throw new RangeError('a sealed group needs one envelope id per payload')
  const wraps = wrapsDue(k, now, n)
  const nonce = nextNonce(k)
  const ct = k.cipher.sealParts(nonce, groupAd(b, k.kid, ids), groupPlain(payloads))
  // Without `ct` or `cs` yet: the callers add the one their batch's form carries.
  const head = wraps
    ? { sealed: GROUP_VERSION, kid: k.kid, at: k.at, ek: k.ek, wraps: k.wraps, nonce: nonce.toString('base64'), n }
    : { sealed: GROUP_VERSION, kid: k.kid, at: k.at, nonce: nonce.toString('base64'), n }
  const parts: GroupPart[] = [head as GroupHead]
  for (let i = 1; i < n; i++) parts.push({ sealed: GROUP_VERSION, kid: k.kid, i } satisfies GroupMember)
  return { parts, ct }
}

/**
 * The `n` payloads of a group, in order; SealedError when it does not authenticate or is not what
 * it says. `section`: the bytes of the section a head with `cs` names (undefined when its batch has none).
 */
export function openGroup (key: OpenKey, head: GroupHead, b: Binding, ids: readonly string[], section?: Uint8Array): unknown[] {
  const fail = (what: string, cause?: unknown): SealedError =>
    new SealedError(`sealed group from ${b.source} on "${b.subject}" ${what}`, cause !== undefined ? { cause } : undefined)
  if (ids.length !== head.n) throw fail(`names ${head.n} payloads but came with ${ids.length}`)
  const ct = 'ct' in head ? fromBase64(head.ct) : section
  if (ct === undefined) throw fail(`names section ${'cs' in head ? head.cs : '?'}, which its batch does not have`)
  let plain: Buffer
  try {
    plain = key.cipher.open(Buffer.from(head.nonce, 'base64'), groupAd(b, head.kid, ids), ct)
  } catch (err) {
    throw fail('does not authenticate (altered, reordered, or bound to other envelopes or another subject)', err)
  }
  let values: unknown
  try {
    values = parseJson(plain.toString('utf8'), plain.byteLength)
  } catch (err) {
    throw fail('is not JSON inside, or nests too deep', err)
  }
  if (!Array.isArray(values) || values.length !== head.n) throw fail(`does not hold the ${head.n} payloads it names`)
  return values
}
