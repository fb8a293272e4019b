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

const utf8 = new TextEncoder()

/** The associated data of a group: its binding, key and envelope ids (JSON: no id can pass for two). */
function groupAd (b: Binding, kid: string, ids: readonly string[]): Uint8Array {
  return utf8.encode(`${GROUP_DOMAIN}\n${b.mesh}\n${b.subject}\n${b.source}\n${kid}\n${JSON.stringify(ids)}`)
}

/**
 * Seal the payloads (their JSON texts) of the envelopes `ids` as one group under `k`: the head's
 * payload first, then one member per other envelope, in the same order.
 */
export function sealGroup (k: ContentKey, b: Binding, payloads: readonly string[], ids: readonly string[], now: number): GroupPart[] {
  const { parts, ct } = sealGroupBytes(k, b, payloads, ids, now)
  parts[0] = { ...parts[0], ct: ct.toString('base64') } as GroupHead
  return parts
}

/**
 * The same group for a batch with binary sections: its head names section `section`, and `ct` is
 * that section's bytes (the ciphertext with its tag), for the batch's encoder to carry as they are.
 */
export function sealGroupSection (
  k: ContentKey, b: Binding, payloads: readonly string[], ids: readonly string[], now: number, section: number
): { parts: GroupPart[], ct: Buffer } {
  const sealed = sealGroupBytes(k, b, payloads, ids, now)
  sealed.parts[0] = { ...sealed.parts[0], cs: section } as GroupHead
  return sealed
}

/** The group's ciphertext, and its parts with the head still to be told where the ciphertext travels. */
function sealGroupBytes (k: ContentKey, b: Binding, payloads: readonly string[], ids: readonly string[], now: number): { parts: GroupPart[], ct: Buffer } {
  const n = payloads.length
  if (n === 0 || n !== ids.length) throw new RangeError('a sealed group needs one envelope id per payload')
  const wraps = wrapsDue(k, now, n)
  const nonce = nextNonce(k)
  const ct = k.cipher.seal(nonce, groupAd(b, k.kid, ids), Buffer.from(`[${payloads.join(',')}]`))
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
