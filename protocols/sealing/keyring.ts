/**
 * Rotation and caches, pure (time passed in). A sender keeps one content key per subject and
 * recipient set and replaces it every `rotationMs` (or when the set changes, which is another
 * key: so a peer added to a role reads from its first message after the change, and a peer
 * removed cannot read what follows). A recipient opens each key's wrap once and caches the key by
 * sender and key id; a key is refused once it is older than `rotationMs + graceMs` (the sender
 * stopped using it at `rotationMs`; the grace is for messages in flight and late readers).
 */
import { MAX_RECEIVED_KEYS, MAX_SENDER_KEYS } from './constants.js'
import { makeContentKey, open, unwrap, type Binding, type ContentKey, type OpenKey } from './box.js'
import { openGroup } from './group.js'
import type { GroupHead, SealedSingle } from './shape.js'
import { XChaCha } from './aead.js'
import type { OwnKey, PeerKeys } from './keys.js'
import { SealedError } from '../core/errors.js'

export interface Rotation { rotationMs: number, graceMs: number }

export class SenderKeys {
  private readonly keys = new Map<string, ContentKey>()
  private readonly init: Rotation & { mesh: string, self: string, peers: PeerKeys }
  private last?: { subject: string, recipients: readonly string[], id: string }

  constructor (init: Rotation & { mesh: string, self: string, peers: PeerKeys }) { this.init = init }

  /**
   * The key to seal with for `subject` and these recipients (peer ids, sorted, no repeats); a new
   * one (`made`) when there is none yet or the last is `rotationMs` old.
   */
  current (subject: string, recipients: readonly string[], now: number): { key: ContentKey, made: boolean } {
    // The same list as last time (the service hands the same array): no join of up to 256 peer ids.
    const last = this.last
    const id = last !== undefined && last.recipients === recipients && last.subject === subject ? last.id : `${subject}\n${recipients.join(',')}`
    this.last = { subject, recipients, id }
    const held = this.keys.get(id)
    if (held !== undefined && now - held.at < this.init.rotationMs && now >= held.at) return { key: held, made: false }
    const key = makeContentKey(recipients.map(p => this.init.peers.of(p)), { mesh: this.init.mesh, source: this.init.self }, now)
    this.keys.delete(id)
    if (this.keys.size >= MAX_SENDER_KEYS) this.keys.delete(this.keys.keys().next().value as string)
    this.keys.set(id, key)
    return { key, made: true }
  }

  get size (): number { return this.keys.size }
}

export type Opened =
  | { ok: true, value: unknown, /** the key was opened from its wrap just now */ received: boolean }
  | {
    ok: false
    /** no_key: under a key whose wraps this node has not seen yet (it missed the payloads that carried them) */
    reason: 'not_recipient' | 'expired' | 'not_authentic' | 'no_key'
    /** first refusal of this key (audited) */
    first: boolean
    error: SealedError
  }

type Refusal = Extract<Opened, { ok: false }>

interface Held {
  key: OpenKey | null
  at: number
  expired?: true
  /** The refusal of a key not for us, made once: a non-recipient meets every payload under it, and an error's stack costs more than the rest. */
  refusal?: Refusal
}

export class ReceivedKeys {
  private readonly keys = new Map<string, Held>() // by source and key id; null: not for us
  private readonly init: Rotation & { own: OwnKey }

  constructor (init: Rotation & { own: OwnKey }) { this.init = init }

  /**
   * A payload sealed alone; or, with `ids` (its envelopes' ids), a group's head, whose value is the
   * group's payloads (`section`: the bytes of the binary section the head names, if it names one).
   */
  open (s: SealedSingle | GroupHead, b: Binding, now: number, ids?: readonly string[], section?: Uint8Array): Opened {
    const id = `${b.source}\n${s.kid}`
    const refuse = (reason: Refusal['reason'], message: string, first: boolean): Refusal =>
      ({ ok: false, reason, first, error: new SealedError(`${message} (sealed by ${b.source} on "${b.subject}", key ${s.kid})`) })
    if (now > s.at + this.init.rotationMs + this.init.graceMs) {
      return refuse('expired', `sealed with a key past its grace: made ${now - s.at} ms ago, rotation ${this.init.rotationMs} ms + grace ${this.init.graceMs} ms`, this.expire(id, s.at))
    }
    let held = this.keys.get(id)
    let received = false
    // Not cached: the next payload that carries the wraps tells whether the key is for us.
    if (held === undefined && s.wraps === undefined) return refuse('no_key', 'the key\'s wraps have not reached this node yet', false)
    if (held === undefined) {
      const raw = unwrap(this.init.own, s, b)
      const key = raw !== undefined ? { cipher: new XChaCha(raw) } : null
      held = { key, at: s.at }
      this.remember(id, held)
      received = key !== null
      if (key === null) {
        const r = refuse('not_recipient', 'not sealed for this node', true)
        held.refusal = { ...r, first: false }
        return r
      }
    }
    if (held.key === null) return held.refusal ?? refuse('not_recipient', 'not sealed for this node', false)
    if (held.at !== s.at) return refuse('not_authentic', 'key id reused with another date', false)
    try {
      const value = s.sealed === 3 ? openGroup(held.key, s, b, ids ?? [], section) : open(held.key, s, b)
      return { ok: true, value, received }
    } catch (err) {
      return { ok: false, reason: 'not_authentic', first: false, error: err as SealedError }
    }
  }

  private remember (id: string, held: Held): void {
    if (this.keys.size >= MAX_RECEIVED_KEYS) this.keys.delete(this.keys.keys().next().value as string)
    this.keys.set(id, held)
  }

  /** Drop an expired key, keeping the fact; true the first time (for the audit). */
  private expire (id: string, at: number): boolean {
    const held = this.keys.get(id)
    if (held?.expired === true) return false
    this.keys.delete(id)
    this.remember(id, { key: null, at, expired: true })
    return true
  }

  get size (): number { return this.keys.size }
}
