/**
 * The sealed payload's shape, in its two versions: the zod schemas (the reference, and the
 * types), and `hasSealedShape`, the same check written out by hand. Every node that receives a
 * sealed payload asks, relays included, once per payload: the schema cost about 5 µs of a 1 KiB
 * payload's budget, the hand-written check a tenth of that. test/protocols/sealing/sealing.test.ts holds the two
 * to the same answers.
 *
 *   version 1: { sealed: 1, kid, at, ek, wraps: [{ to, ct }], nonce, ct }
 *   version 2: { sealed: 2, kid, at, nonce, ct }, with `ek` and `wraps` both or neither
 *   version 3: a group (group.ts): its head { sealed: 3, kid, at, nonce, ct, n } (with `ek` and
 *              `wraps` both or neither), then its members { sealed: 3, kid, i }, i = 1 .. n-1;
 *              in a batch with binary sections (wire byte 0x04) the head names its ciphertext's
 *              section, `cs`, in place of `ct`: { sealed: 3, kid, at, nonce, cs, n }
 */
import { z } from 'zod'
import { KEY_BYTES, MAX_GROUP, MAX_RECIPIENTS, NONCE_BYTES } from './constants.js'

const B64 = /^[A-Za-z0-9+/]+=*$/
const TAG = /^[A-Za-z0-9_-]{11}$/
const b64Length = (bytes: number): number => Math.ceil(bytes / 3) * 4
const b64 = (bytes: number): z.ZodString => z.string().length(b64Length(bytes)).regex(B64)

const Wraps = z.array(z.strictObject({ to: z.string().regex(TAG), ct: b64(KEY_BYTES + 16) })).min(1).max(MAX_RECIPIENTS)
const keyed = {
  kid: z.string().regex(TAG),
  at: z.number().int().nonnegative(),
  nonce: b64(NONCE_BYTES)
}
const common = {
  ...keyed,
  // No pattern on the ciphertext: every node would run it over the whole payload, and what is
  // not base64 fails the AEAD all the same.
  ct: z.string().min(24)
}

/** A payload sealed alone (versions 1 and 2): what opens by itself. */
export const SealedSingle = z.union([
  z.strictObject({ sealed: z.literal(1), ...common, ek: b64(32), wraps: Wraps }),
  z.strictObject({ sealed: z.literal(2), ...common, ek: b64(32).optional(), wraps: Wraps.optional() })
    .refine(v => (v.ek === undefined) === (v.wraps === undefined), 'ek and wraps go together')
])
export type SealedSingle = z.output<typeof SealedSingle>

const head = { sealed: z.literal(3), ...keyed, ek: b64(32).optional(), wraps: Wraps.optional(), n: z.number().int().min(1).max(MAX_GROUP) }
/**
 * The head of a version 3 group: the key's fields, and the ciphertext of the group's `n` payloads,
 * in base64 (`ct`, a 0x03 batch) or as the index of a binary section of its batch (`cs`, 0x04).
 */
export const GroupHead = z.union([
  z.strictObject({ ...head, ct: common.ct }),
  z.strictObject({ ...head, cs: z.number().int().min(0).max(MAX_GROUP - 1) })
])
  .refine(v => (v.ek === undefined) === (v.wraps === undefined), 'ek and wraps go together')
export type GroupHead = z.output<typeof GroupHead>
/** A member of a group: its payload is the `i`-th of the head's with the same key id, earlier in the same batch. */
export const GroupMember = z.strictObject({ sealed: z.literal(3), kid: z.string().regex(TAG), i: z.number().int().min(1).max(MAX_GROUP - 1) })
export type GroupMember = z.output<typeof GroupMember>
export type GroupPart = GroupHead | GroupMember

/** Every sealed shape. */
export const SealedPayload = z.union([SealedSingle, GroupHead, GroupMember])
export type SealedPayload = SealedSingle | GroupPart

const EK = b64Length(32)
const WRAP_CT = b64Length(KEY_BYTES + 16)
const NONCE = b64Length(NONCE_BYTES)

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isB64 = (v: unknown, length: number): boolean => typeof v === 'string' && v.length === length && B64.test(v)
/**
 * The last key tag that passed: a batch's group names one key in every member (50 tests of the
 * same 11 characters a batch, twice each), and comparing with it is cheaper than the pattern.
 */
let lastTag = ''
function isTag (v: unknown): boolean {
  if (typeof v !== 'string') return false
  if (v === lastTag) return true
  if (!TAG.test(v)) return false
  lastTag = v
  return true
}

/** No enumerable key (own or inherited, as zod looks) outside `names`; the values are checked apart. */
function onlyKeys (v: Record<string, unknown>, names: ReadonlySet<string>): boolean {
  for (const k in v) if (!names.has(k)) return false
  return true
}

const PAYLOAD_KEYS = new Set(['sealed', 'kid', 'at', 'ek', 'wraps', 'nonce', 'ct'])
const HEAD_KEYS = new Set([...PAYLOAD_KEYS, 'n'])
const SECTION_HEAD_KEYS = new Set(['sealed', 'kid', 'at', 'ek', 'wraps', 'nonce', 'cs', 'n'])
const MEMBER_KEYS = new Set(['sealed', 'kid', 'i'])
const isCount = (v: unknown, min: number, max: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
const WRAP_KEYS = new Set(['to', 'ct'])

function isWrap (w: unknown): boolean {
  return isRecord(w) && isTag(w.to) && isB64(w.ct, WRAP_CT) && onlyKeys(w, WRAP_KEYS)
}

function areWraps (wraps: unknown): boolean {
  if (!Array.isArray(wraps) || wraps.length < 1 || wraps.length > MAX_RECIPIENTS) return false
  for (let i = 0; i < wraps.length; i++) if (!isWrap(wraps[i])) return false
  return true
}

/** What `SealedPayload.safeParse(v).success` answers, without zod. */
export function hasSealedShape (v: unknown): v is SealedPayload {
  if (!isRecord(v) || (v.sealed !== 1 && v.sealed !== 2 && v.sealed !== 3)) return false
  const { kid, at, ek, wraps, nonce, ct } = v
  if (!isTag(kid)) return false
  const inSection = v.sealed === 3 && 'cs' in v
  if (v.sealed === 3 && !('ct' in v) && !inSection) return isCount(v.i, 1, MAX_GROUP - 1) && onlyKeys(v, MEMBER_KEYS)
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) return false
  if (!isB64(nonce, NONCE)) return false
  if (inSection ? !isCount(v.cs, 0, MAX_GROUP - 1) : typeof ct !== 'string' || ct.length < 24) return false
  const keys = inSection ? SECTION_HEAD_KEYS : v.sealed === 3 ? HEAD_KEYS : PAYLOAD_KEYS
  if (v.sealed === 3 && !isCount(v.n, 1, MAX_GROUP)) return false
  // Version 1 carries the wraps always, versions 2 and 3 now and then.
  if (v.sealed !== 1 && ek === undefined && wraps === undefined) return onlyKeys(v, keys)
  return isB64(ek, EK) && areWraps(wraps) && onlyKeys(v, keys)
}

/** Whether a sealed payload is a part of a version 3 group (opened only with its batch). */
export function isGroupPart (v: SealedPayload): v is GroupPart { return v.sealed === 3 }

/** Whether a group part is its group's head (it carries the ciphertext, or names its section), not a member. */
export function isGroupHead (v: GroupPart): v is GroupHead { return 'n' in v }
