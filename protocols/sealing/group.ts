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
  const n = payloads.length
  if (n === 0 || n !== ids.length) throw new RangeError('a sealed group needs one envelope id per payload')
  const wraps = wrapsDue(k, now, n)
  const nonce = nextNonce(k)
  const ct = k.cipher.seal(nonce, groupAd(b, k.kid, ids), Buffer.from(`[${payloads.join(',')}]`))
  const head: GroupHead = wraps
    ? { sealed: GROUP_VERSION, kid: k.kid, at: k.at, ek: k.ek, wraps: k.wraps, nonce: nonce.toString('base64'), ct: ct.toString('base64'), n }
    : { sealed: GROUP_VERSION, kid: k.kid, at: k.at, nonce: nonce.toString('base64'), ct: ct.toString('base64'), n }
  const parts: GroupPart[] = [head]
  for (let i = 1; i < n; i++) parts.push({ sealed: GROUP_VERSION, kid: k.kid, i } satisfies GroupMember)
  return parts
}

/** The `n` payloads of a group, in order; SealedError when it does not authenticate or is not what it says. */
export function openGroup (key: OpenKey, head: GroupHead, b: Binding, ids: readonly string[]): unknown[] {
  const fail = (what: string, cause?: unknown): SealedError =>
    new SealedError(`sealed group from ${b.source} on "${b.subject}" ${what}`, cause !== undefined ? { cause } : undefined)
  if (ids.length !== head.n) throw fail(`names ${head.n} payloads but came with ${ids.length}`)
  let plain: Buffer
  try {
    plain = key.cipher.open(Buffer.from(head.nonce, 'base64'), groupAd(b, head.kid, ids), fromBase64(head.ct))
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
