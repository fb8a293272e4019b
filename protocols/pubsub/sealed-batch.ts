/**
 * Sealed groups in batches (format version 3, protocols/sealing/group.ts): an at-most-once
 * publish with `encryptFor` is queued with its payload in clear, in this node's memory, and sealed
 * when its batch is written, together with the batch's other payloads for the same recipients:
 * one AEAD and one base64 per batch instead of one per payload. A reliable publish is sealed alone
 * (version 2) when it is made, since its envelope also travels alone (direct copies, the outbox).
 *
 * On receipt the groups of a batch are opened before its envelopes are delivered, each once.
 */
import { envelopeToJson, type Envelope } from '../envelope/index.js'
import { isGroupPart, isSealed, type GroupHead, type Opened, type Sealer } from '../sealing/index.js'
import { SealedError } from '../core/errors.js'

/** What a queued publish's envelope carries until its batch seals it (the message log and `publish`'s answer show it). */
export const PENDING_GROUP = Object.freeze({ sealed: 3 })

/** A publish waiting for its batch to seal it. */
export interface Grouped {
  env: Envelope
  /** The envelope's JSON up to its payload (which it ends with), and the payload's JSON text. */
  head: string
  payload: string
  /** As `Sealer.forGroup` gave them: the same array for the same set, which is how a batch groups them. */
  recipients: readonly string[]
  /** Its bytes on the wire, sealed (an estimate, a little over: base64 and a member's fields). */
  size: number
  /** Its JSON as queued (the payload PENDING_GROUP). */
  json: string
}

export type BatchItem = string | Grouped

/** How the JSON of an envelope whose payload (its last field) is PENDING_GROUP ends. */
const TAIL = `"payload":${JSON.stringify(PENDING_GROUP)}}`

/** A publish to be sealed with its batch: `env` as made, `value` its payload. */
export function grouped (env: Envelope, value: unknown, recipients: readonly string[]): Grouped {
  const { payload: _, ...rest } = env
  // The payload last (one copy of the envelope, which is also what the message log shows), so
  // the sealed part is appended to a fixed prefix when the batch is written.
  const pending = { ...rest, payload: PENDING_GROUP } as Envelope
  const shell = envelopeToJson(pending)
  if (!shell.endsWith(TAIL)) throw new Error('envelope JSON does not end with its payload')
  const payload = JSON.stringify(value) ?? 'null'
  const head = shell.slice(0, shell.length - TAIL.length + '"payload":'.length)
  const size = Buffer.byteLength(head) + Math.ceil(Buffer.byteLength(payload) * 4 / 3) + 48
  return { env: pending, head, payload, recipients, size, json: shell }
}

/**
 * The JSON texts of a batch's envelopes, its grouped publishes sealed: one group per recipient
 * set, its head where its first envelope is. `groups`: whether any was (the batch's wire byte).
 */
export function sealBatch (sealer: Sealer, topic: string, items: readonly BatchItem[]): { jsons: string[], groups: boolean } {
  const jsons = new Array<string>(items.length)
  let sets: Map<readonly string[], number[]> | undefined
  for (let i = 0; i < items.length; i++) {
    const item = items[i]
    if (typeof item === 'string') { jsons[i] = item; continue }
    sets ??= new Map()
    const at = sets.get(item.recipients)
    if (at === undefined) sets.set(item.recipients, [i])
    else at.push(i)
  }
  if (sets === undefined) return { jsons, groups: false }
  for (const [recipients, at] of sets) {
    const group = at.map(i => items[i] as Grouped)
    const parts = sealer.sealGroup(topic, recipients, group.map(g => g.payload), group.map(g => g.env.id))
    for (let j = 0; j < at.length; j++) jsons[at[j]] = group[j].head + JSON.stringify(parts[j]) + '}'
  }
  return { jsons, groups: true }
}

/**
 * The payloads of a batch's sealed groups, opened for this node, by envelope index (undefined
 * where the envelope is no group part); undefined when the batch has none. A part out of place
 * (before its head, out of order, past `n`) or a group that came incomplete is refused.
 */
export function openGroups (sealer: Sealer, topic: string, envs: readonly Envelope[]): Array<Opened | undefined> | undefined {
  let out: Array<Opened | undefined> | undefined
  let heads: Map<string, { head: GroupHead, at: number[] }> | undefined
  for (let i = 0; i < envs.length; i++) {
    const p = envs[i].payload
    if (!isSealed(p) || !isGroupPart(p)) continue
    out ??= new Array(envs.length)
    heads ??= new Map()
    if ('ct' in p) { heads.set(p.kid, { head: p, at: [i] }); continue }
    const g = heads.get(p.kid)
    if (g !== undefined && p.i === g.at.length && g.at.length < g.head.n) g.at.push(i)
    else out[i] = outOfPlace(envs[i], topic)
  }
  if (out === undefined || heads === undefined) return undefined
  for (const { head, at } of heads.values()) {
    const source = envs[at[0]].source
    const r = at.length === head.n
      ? sealer.openGroup(topic, source, head, at.map(i => envs[i].id))
      : outOfPlace(envs[at[0]], topic, `came with ${at.length} of its ${head.n} payloads`)
    for (let j = 0; j < at.length; j++) {
      out[at[j]] = r.ok ? { ok: true, value: (r.value as unknown[])[j], received: r.received } : r
    }
  }
  return out
}

function outOfPlace (env: Envelope, topic: string, what = 'is out of place in its batch'): Opened {
  return { ok: false, reason: 'not_authentic', first: false, error: new SealedError(`a part of a sealed group ${what} (sealed by ${env.source} on "${topic}", envelope ${env.id})`) }
}
