/**
 * Sealed groups in batches (format version 3, protocols/sealing/group.ts): an at-most-once
 * publish with `encryptFor` is queued with its payload in clear, in this node's memory, and sealed
 * when its batch is written, together with the batch's other payloads for the same recipients:
 * one AEAD per batch instead of one per payload, and each group's ciphertext carried as a binary
 * section of the batch (wire byte 0x04, envelope/sections.ts), not as base64 in its JSON. A
 * reliable publish is sealed alone (version 2) when it is made, since its envelope also travels
 * alone (direct copies, the outbox).
 *
 * On receipt the groups of a batch are opened before its envelopes are delivered, each once.
 */
import { randomBytes } from 'node:crypto'
import { encodeBatch, encodeSectionBatch, encodeSharedBatch, envelopeToJson, joinJson, plainSize, type Envelope, type SplitJson } from '../envelope/index.js'
import { varintSize } from '../envelope/sections.js'
import { isGroupHead, isGroupPart, isSealed, type GroupHead, type GroupPart, type Opened, type SealedPayload, type Sealer } from '../sealing/index.js'
import { SealedError } from '../core/errors.js'

/** What a queued publish's envelope carries until its batch seals it (the message log and `publish`'s answer show it). */
export const PENDING_GROUP = Object.freeze({ sealed: 3 })
const PENDING_JSON = JSON.stringify(PENDING_GROUP)

/** A publish waiting for its batch to seal it. */
export interface Grouped {
  env: Envelope
  /** The envelope's JSON before and after its payload, and the payload's JSON text. */
  head: string
  tail: string
  payload: string
  /** As `Sealer.forGroup` gave them (a publisher repeating a list gets the same array; equal lists are merged in sealBatch). */
  recipients: readonly string[]
  /**
   * Its bytes in a batch with sections, sealed (a member's fields and its payload in the group's
   * ciphertext): what the batcher counts. The head's fields and wraps are paid once a group.
   */
  size: number
  /** At most what it takes alone in a batch: `size` with a head's fields, the wraps for its recipients, the tag and the section's framing. */
  bound: number
  /** Its JSON as queued (the payload PENDING_GROUP). */
  json: string
}

/** A queued publish: its envelope's JSON in two parts (envelope/shared-head.ts), or waiting to be sealed with its batch. */
export type BatchItem = SplitJson | Grouped

function isGrouped (item: BatchItem): item is Grouped {
  return 'recipients' in item
}

/**
 * What a grouped envelope's payload is while it is written to JSON once, at publish: a string no
 * envelope field holds (random per process), found again in the JSON to cut it in two.
 */
const MARK = `\u0001sealed-group-${randomBytes(8).toString('hex')}`
const MARK_JSON = `"payload":${JSON.stringify(MARK)}`
const KEY_JSON = '"payload":'

/**
 * A member part (`{"sealed":3,"kid":"<11>","i":<up to 4 digits>}`, 41 bytes) and the comma before
 * its payload in the group's plaintext. Its few bytes over a two-digit member's pay for the head's
 * fields (key time, nonce, section, count), the AEAD's tag and the section's framing in a batch
 * of tens; a key's wraps, carried now and then, are not counted.
 */
const MEMBER_BYTES = 42
/** A head's fields beyond a member's (key time, nonce, ek, section, count), the AEAD's tag and the section's framing. */
const HEAD_BYTES = 256
/** A key's wrap for one recipient, as the head carries it (`{"to":"<11>","ct":"<64>"}`, 95 bytes). */
const WRAP_BYTES = 100

/** A publish to be sealed with its batch: `env` as prepare made it (its payload is replaced), `value` its payload. */
export function grouped (env: Envelope, value: unknown, recipients: readonly string[]): Grouped {
  env.payload = MARK
  const json = envelopeToJson(env)
  env.payload = PENDING_GROUP
  const at = json.indexOf(MARK_JSON)
  if (at === -1) throw new Error('a grouped envelope\'s JSON lost its payload mark')
  const head = json.slice(0, at + KEY_JSON.length)
  const tail = json.slice(at + MARK_JSON.length)
  const payload = JSON.stringify(value) ?? 'null'
  const size = Buffer.byteLength(head) + Buffer.byteLength(tail) + Buffer.byteLength(payload) + MEMBER_BYTES
  return { env, head, tail, payload, recipients, size, bound: size + HEAD_BYTES + WRAP_BYTES * recipients.length, json: head + PENDING_JSON + tail }
}

/** A batch ready to encode: its envelopes' JSON texts and, when its groups' ciphertexts travel as sections, those. */
export interface SealedBatch {
  jsons: string[]
  /** Whether any group was sealed (the batch's wire byte: 0x04 with sections, 0x03 without). */
  groups: boolean
  /** The groups' ciphertexts (each in pieces: its bytes, then its tag), in the order their heads name them; undefined in the base64 form. */
  sections?: Array<readonly Uint8Array[]>
  /** A batch with no group whose envelopes share their SHARED_FIELDS: the head and each one's own part, for a 0x05 batch. */
  shared?: { head: string, owns: string[] }
}

/**
 * The JSON texts of a batch's envelopes, its grouped publishes sealed: one group per recipient
 * set, its head where its first envelope is. `form`: where a group's ciphertext travels, a binary
 * section (what this node sends) or base64 in its head (the 0x03 form, still read; kept for
 * measuring the two side by side, bench/sealing.ts).
 */
export function sealBatch (sealer: Sealer, topic: string, items: readonly BatchItem[], form: 'sections' | 'base64' = 'sections'): SealedBatch {
  const jsons = new Array<string>(items.length)
  let sets: Map<readonly string[], number[]> | undefined
  let alike = true
  for (let i = 0; i < items.length; i++) {
    const item = items[i]
    if (!isGrouped(item)) {
      jsons[i] = joinJson(item)
      alike &&= item.shared === (items[0] as SplitJson).shared
      continue
    }
    sets ??= new Map()
    const at = sets.get(item.recipients)
    if (at === undefined) sets.set(item.recipients, [i])
    else at.push(i)
  }
  if (sets === undefined) {
    if (!alike || items.length === 0) return { jsons, groups: false }
    return { jsons, groups: false, shared: { head: (items[0] as SplitJson).shared, owns: items.map(item => (item as SplitJson).own) } }
  }
  if (sets.size > 1) sets = sameContent(sets)
  const sections: Array<readonly Uint8Array[]> | undefined = form === 'sections' ? [] : undefined
  for (const [recipients, at] of sets) {
    const group = at.map(i => items[i] as Grouped)
    const payloads = group.map(g => g.payload)
    const ids = group.map(g => g.env.id)
    let parts: GroupPart[]
    if (sections !== undefined) {
      const sealed = sealer.sealGroupSection(topic, recipients, payloads, ids, sections.length)
      sections.push(sealed.ct)
      parts = sealed.parts
    } else parts = sealer.sealGroup(topic, recipients, payloads, ids)
    for (let j = 0; j < at.length; j++) jsons[at[j]] = group[j].head + partJson(parts[j]) + group[j].tail
  }
  return sections !== undefined ? { jsons, groups: true, sections } : { jsons, groups: true }
}

/** The batch's frame: 0x01 without groups, 0x04 with their sections, 0x03 with their base64. */
export function encodeSealedBatch (b: SealedBatch): Uint8Array {
  return b.sections !== undefined ? encodeSectionBatch(b.jsons, b.sections) : encodeBatch(b.jsons, b.groups)
}

/**
 * A batch's bytes in the forms its peers may be sent, each encoded when first asked for: `plain`
 * (encodeSealedBatch: what gossip carries and every build reads), and `sharedHead` (0x05) when
 * the batch has one. `bytes`: the plain form's, what receivers charge either form by and so what
 * the sender's budget charges.
 */
export class BatchForms {
  private readonly b: SealedBatch
  private plainBytes?: Uint8Array
  private sharedBytes?: Uint8Array

  constructor (b: SealedBatch) { this.b = b }

  plain (): Uint8Array {
    return (this.plainBytes ??= encodeSealedBatch(this.b))
  }

  /** The 0x05 form, or undefined when the batch has none (groups, or envelopes whose shared fields differ). */
  sharedHead (): Uint8Array | undefined {
    const s = this.b.shared
    if (s === undefined) return undefined
    return (this.sharedBytes ??= encodeSharedBatch(s.head, s.owns))
  }

  get bytes (): number {
    if (this.plainBytes !== undefined || this.sharedBytes === undefined) return this.plain().byteLength
    const s = this.b.shared as { head: string, owns: string[] }
    const head = Buffer.byteLength(s.head)
    return plainSize(head, s.owns.length, this.sharedBytes.byteLength - 1 - varintSize(head) - head)
  }
}

/**
 * Recipient lists equal in content but not in identity (a publisher alternating between lists)
 * merged: one set is one key, and a key must head one group per batch (a receiver keys them by kid).
 */
function sameContent (sets: Map<readonly string[], number[]>): Map<readonly string[], number[]> {
  const byText = new Map<string, { recipients: readonly string[], at: number[] }>()
  for (const [recipients, at] of sets) {
    const text = recipients.join(',')
    const held = byText.get(text)
    if (held === undefined) byText.set(text, { recipients, at })
    else held.at = [...held.at, ...at].sort((x, y) => x - y)
  }
  return new Map([...byText.values()].map(g => [g.recipients, g.at]))
}

/**
 * A part's JSON, written out: its fields are numbers, base64 and key tags, nothing to escape, and
 * JSON.stringify would scan the head's ciphertext (the whole batch's payloads) once more for
 * characters to escape.
 */
export function partJson (p: GroupPart): string {
  if (!isGroupHead(p)) return `{"sealed":3,"kid":"${p.kid}","i":${p.i}}`
  const wraps = p.wraps !== undefined ? `,"ek":"${p.ek as string}","wraps":${JSON.stringify(p.wraps)}` : ''
  const ct = 'ct' in p ? `"ct":"${p.ct}"` : `"cs":${p.cs}`
  return `{"sealed":3,"kid":"${p.kid}","at":${p.at}${wraps},"nonce":"${p.nonce}",${ct},"n":${p.n}}`
}

/**
 * The payloads of a batch's sealed groups, opened for this node, by envelope index (undefined
 * where the envelope is no group part); undefined when the batch has none. A part out of place
 * (before its head, out of order, past `n`) or a group that came incomplete is refused.
 * `sections`: the batch's binary sections (0x04), which heads with `cs` name. `sealed`: which
 * envelopes' payloads have a sealed shape, when the batch's check found it (else each is checked).
 */
export function openGroups (
  sealer: Sealer, topic: string, envs: readonly Envelope[], sections: readonly Uint8Array[] = [], sealed?: readonly boolean[]
): Array<Opened | undefined> | undefined {
  let out: Array<Opened | undefined> | undefined
  const groups: Array<{ head: GroupHead, at: number[] }> = []
  // The group each key id heads now: a member belongs to the last head of its key before it.
  let heads: Map<string, { head: GroupHead, at: number[] }> | undefined
  for (let i = 0; i < envs.length; i++) {
    const payload = envs[i].payload
    if (sealed !== undefined ? sealed[i] !== true : !isSealed(payload)) continue
    const p = payload as SealedPayload
    if (!isGroupPart(p)) continue
    out ??= new Array(envs.length)
    heads ??= new Map()
    if (isGroupHead(p)) {
      const g = { head: p, at: [i] }
      groups.push(g)
      heads.set(p.kid, g)
      continue
    }
    const g = heads.get(p.kid)
    if (g !== undefined && p.i === g.at.length && g.at.length < g.head.n) g.at.push(i)
    else out[i] = outOfPlace(envs[i], topic)
  }
  if (out === undefined) return undefined
  for (const { head, at } of groups) {
    const source = envs[at[0]].source
    const r = at.length === head.n
      ? sealer.openGroup(topic, source, head, at.map(i => envs[i].id), sectionOf(head, sections))
      : outOfPlace(envs[at[0]], topic, `came with ${at.length} of its ${head.n} payloads`)
    for (let j = 0; j < at.length; j++) {
      out[at[j]] = r.ok ? { ok: true, value: (r.value as unknown[])[j], received: r.received } : r
    }
  }
  return out
}

/** The bytes of the section a head names (`cs`); undefined for a head with base64 (`ct`) or a section its batch lacks. */
function sectionOf (head: GroupHead, sections: readonly Uint8Array[]): Uint8Array | undefined {
  return 'cs' in head ? sections[head.cs] : undefined
}

function outOfPlace (env: Envelope, topic: string, what = 'is out of place in its batch'): Opened {
  return { ok: false, reason: 'not_authentic', first: false, error: new SealedError(`a part of a sealed group ${what} (sealed by ${env.source} on "${topic}", envelope ${env.id})`) }
}
