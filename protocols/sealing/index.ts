/**
 * Sealed payloads (`encryptFor`, issue 13): a payload only its recipients can read, whoever
 * relays or stores it. Recipients are peer ids, or a role resolved when the payload is sealed;
 * their X25519 keys come from their peer ids (keys.ts), so no key exchange protocol is needed.
 * The format is in box.ts, rotation and caches in keyring.ts; this service holds this node's
 * keys and reports what an operator audits (a key made or received, a payload refused).
 * docs/security.md, "Sealed payloads", says what it protects and what it does not.
 */
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { SealedError, ValidationError } from '../core/errors.js'
import { noAudit, type AuditSink } from '../core/audit.js'
import { isSealed, seal as sealWith, type Binding } from './box.js'
import { sealGroup, sealGroupSection } from './group.js'
import type { GroupHead, GroupPart, SealedSingle } from './shape.js'
import { MAX_RECIPIENTS } from './constants.js'
import { ownKey, PeerKeys } from './keys.js'
import { ReceivedKeys, SenderKeys, type Opened } from './keyring.js'

export { isSealed, SealedPayload, type Binding } from './box.js'
export { isGroupHead, isGroupPart, type GroupHead, type GroupMember, type GroupPart } from './shape.js'
export type { Opened } from './keyring.js'

/** A group sealed for a batch with binary sections: its parts, and its ciphertext (the section's bytes, in pieces written one after another). */
export interface SealedSection { parts: GroupPart[], ct: readonly Uint8Array[] }

/** Who may read a sealed payload: peer ids, or every agent that holds a role when it is sealed. */
export type EncryptFor = readonly string[] | { role: string }

/** What pubsub (and later a relay or store) needs of sealing. */
export interface Sealer {
  /** Seal `payload`; `toSelf`: this node is among the recipients (its local subscribers may read it). */
  seal: (subject: string, payload: unknown, to: EncryptFor) => { payload: SealedSingle, toSelf: boolean }
  /**
   * Seal `payload` for the peers `to` with its key's wraps, always: a direct message (direct.ts)
   * is kept in an outbox or a dead letter and sent again, and must open by itself.
   */
  sealAlone: (subject: string, payload: unknown, to: readonly string[]) => SealedSingle
  /** Open a sealed payload sent by `source` under `subject`; `id` (the envelope's) goes to the audit. */
  open: (subject: string, source: string, payload: unknown, id?: string) => Opened
  /**
   * A publish to be sealed with its batch (version 3, group.ts): its recipients resolved and their
   * key made now, so a bad recipient fails the publish (SEC003, MSG001) rather than its batch.
   */
  forGroup: (subject: string, to: EncryptFor) => { recipients: readonly string[], toSelf: boolean }
  /** Seal the payloads (JSON texts) of one batch's envelopes `ids`, all for `recipients` (as forGroup gave them), as one group. */
  sealGroup: (subject: string, recipients: readonly string[], payloads: readonly string[], ids: readonly string[]) => GroupPart[]
  /** The same, for a batch with binary sections (wire byte 0x04): the head names `section`, whose bytes are `ct`. */
  sealGroupSection: (subject: string, recipients: readonly string[], payloads: readonly string[], ids: readonly string[], section: number) => SealedSection
  /**
   * Open a group's head with its envelopes' ids (head first): the value is the group's payloads, in
   * order. `section`: the bytes of the batch's section the head names (a head with `cs`).
   */
  openGroup: (subject: string, source: string, head: GroupHead, ids: readonly string[], section?: Uint8Array) => Opened
}

export interface SealingInit {
  privateKey: PrivateKey
  mesh: string
  /** Each sender key is replaced this often (security.keyRotationMs). */
  rotationMs: number
  /** A replaced key still opens payloads this long (security.keyGraceMs). */
  graceMs: number
  /**
   * The peers that hold a role: in a closed mesh the admitted peers whose credential grants it,
   * in an open one those whose card claims it (a claim, not a grant); with this node if it has it.
   */
  withRole: (role: string) => string[]
  audit?: AuditSink
  now?: () => number
}

export class SealingService implements Sealer {
  readonly self: string
  private readonly init: SealingInit
  private readonly sender: SenderKeys
  private received?: ReceivedKeys
  private readonly audit: AuditSink
  private readonly now: () => number
  private lastRecipients?: { given: string[], sorted: string[], toSelf: boolean }

  constructor (init: SealingInit) {
    this.init = init
    this.self = peerIdFromPrivateKey(init.privateKey).toString()
    this.audit = init.audit ?? noAudit
    this.now = init.now ?? Date.now
    this.sender = new SenderKeys({ rotationMs: init.rotationMs, graceMs: init.graceMs, mesh: init.mesh, self: this.self, peers: new PeerKeys() })
  }

  /** The recipients, sorted and without repeats; ValidationError when there are none or too many. */
  recipients (to: EncryptFor): string[] {
    const role = typeof to === 'object' && to !== null && !Array.isArray(to) ? (to as { role?: unknown }).role : undefined
    const list: unknown = typeof role === 'string' ? this.init.withRole(role) : to
    if (!Array.isArray(list) || list.some(p => typeof p !== 'string')) throw new ValidationError('encryptFor: a list of peer ids, or { role }')
    // A publisher seals for the same list message after message: the same sorted array (so the
    // sender's key is found by identity, keyring.ts) without sorting it again.
    const last = this.lastRecipients
    if (last !== undefined && sameList(last.given, list as string[])) return last.sorted
    const set = [...new Set(list as string[])].sort()
    if (set.length === 0) throw new ValidationError(`encryptFor: no recipient${role !== undefined ? ` holds the role "${String(role)}"` : ''}: the payload could be read by no one`)
    if (set.length > MAX_RECIPIENTS) throw new ValidationError(`encryptFor: ${set.length} recipients, at most ${MAX_RECIPIENTS}`)
    // Frozen: handed out again and again, and the key of the sender's cache.
    Object.freeze(set)
    this.lastRecipients = { given: [...list as string[]], sorted: set, toSelf: set.includes(this.self) }
    return set
  }

  seal (subject: string, payload: unknown, to: EncryptFor): { payload: SealedSingle, toSelf: boolean } {
    const recipients = this.recipients(to)
    const now = this.now()
    const { key, made } = this.sender.current(subject, recipients, now)
    if (made) this.audit.record({ kind: 'key.rotated', detail: { subject, kid: key.kid, recipients: recipients.length } })
    const toSelf = this.lastRecipients?.sorted === recipients ? this.lastRecipients.toSelf : recipients.includes(this.self)
    return { payload: sealWith(key, this.binding(subject, this.self), payload, now), toSelf }
  }

  sealAlone (subject: string, payload: unknown, to: readonly string[]): SealedSingle {
    const recipients = this.recipients(to)
    const now = this.now()
    const { key, made } = this.sender.current(subject, recipients, now)
    if (made) this.audit.record({ kind: 'key.rotated', detail: { subject, kid: key.kid, recipients: recipients.length } })
    return sealWith(key, this.binding(subject, this.self), payload, now, true)
  }

  forGroup (subject: string, to: EncryptFor): { recipients: readonly string[], toSelf: boolean } {
    const recipients = this.recipients(to)
    const { key, made } = this.sender.current(subject, recipients, this.now())
    if (made) this.audit.record({ kind: 'key.rotated', detail: { subject, kid: key.kid, recipients: recipients.length } })
    return { recipients, toSelf: this.lastRecipients?.sorted === recipients ? this.lastRecipients.toSelf : recipients.includes(this.self) }
  }

  sealGroup (subject: string, recipients: readonly string[], payloads: readonly string[], ids: readonly string[]): GroupPart[] {
    const now = this.now()
    const { key, made } = this.sender.current(subject, recipients, now)
    if (made) this.audit.record({ kind: 'key.rotated', detail: { subject, kid: key.kid, recipients: recipients.length } })
    return sealGroup(key, this.binding(subject, this.self), payloads, ids, now)
  }

  sealGroupSection (subject: string, recipients: readonly string[], payloads: readonly string[], ids: readonly string[], section: number): SealedSection {
    const now = this.now()
    const { key, made } = this.sender.current(subject, recipients, now)
    if (made) this.audit.record({ kind: 'key.rotated', detail: { subject, kid: key.kid, recipients: recipients.length } })
    return sealGroupSection(key, this.binding(subject, this.self), payloads, ids, now, section)
  }

  open (subject: string, source: string, payload: unknown, id?: string): Opened {
    const b = this.binding(subject, source)
    if (!isSealed(payload) || payload.sealed === 3) {
      const error = new SealedError(`${isSealed(payload) ? 'a part of a sealed group, which opens only with its batch' : 'malformed sealed payload'} (sealed by ${source} on "${subject}")`)
      return this.refused({ ok: false, reason: 'not_authentic', first: true, error }, b, id)
    }
    return this.openWith(payload, b, id)
  }

  openGroup (subject: string, source: string, head: GroupHead, ids: readonly string[], section?: Uint8Array): Opened {
    return this.openWith(head, this.binding(subject, source), ids[0], ids, section)
  }

  private openWith (payload: SealedSingle | GroupHead, b: Binding, id?: string, ids?: readonly string[], section?: Uint8Array): Opened {
    const source = b.source
    let received: ReceivedKeys
    try {
      // Made at the first sealed payload: a node whose identity is not Ed25519 still runs, and opens none.
      received = this.received ??= new ReceivedKeys({ rotationMs: this.init.rotationMs, graceMs: this.init.graceMs, own: ownKey(this.init.privateKey) })
    } catch (err) {
      return this.refused({ ok: false, reason: 'not_recipient', first: false, error: err as SealedError }, b, id)
    }
    const r = received.open(payload, b, this.now(), ids, section)
    if (r.ok && r.received) this.audit.record({ kind: 'key.received', peer: source, detail: { subject: b.subject, kid: payload.kid } })
    return r.ok ? r : this.refused(r, b, id, payload.kid)
  }

  private refused (r: Opened & { ok: false }, b: Binding, id?: string, kid?: string): Opened {
    if (r.first) {
      this.audit.record({
        kind: 'sealed.refused',
        peer: b.source,
        code: r.error.code,
        reason: r.reason,
        ...(id !== undefined ? { correlationId: id } : {}),
        detail: { subject: b.subject, ...(kid !== undefined ? { kid } : {}) }
      })
    }
    return r
  }

  private binding (subject: string, source: string): Binding { return { mesh: this.init.mesh, source, subject } }
}

function sameList (a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The sealer of a pubsub without one: it seals nothing and opens nothing. */
export const noSealer: Sealer = {
  seal: () => { throw new ValidationError('encryptFor: this node has no sealing service') },
  open: (subject, source) => ({ ok: false, reason: 'not_recipient', first: false, error: new SealedError(`this node opens no sealed payloads (sealed by ${source} on "${subject}")`) }),
  sealAlone: () => { throw new ValidationError('encryptFor: this node has no sealing service') },
  forGroup: () => { throw new ValidationError('encryptFor: this node has no sealing service') },
  sealGroup: () => { throw new ValidationError('encryptFor: this node has no sealing service') },
  sealGroupSection: () => { throw new ValidationError('encryptFor: this node has no sealing service') },
  openGroup: (subject, source) => noSealer.open(subject, source, undefined)
}
