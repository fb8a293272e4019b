/**
 * Signed reliable messages (issue 13, docs/security.md "Signed messages"). The gateway signs what
 * it sends for its clients; a reliable request is sent from its outbox entry, attempt after
 * attempt and across a restart of the node, so the entry keeps the envelope as signed (`signed`):
 * every attempt is that envelope, under the same id, with a signature that verifies.
 *
 * - The first attempt, in the run that signed it, goes out as signed: no second signature.
 * - A retry is the signed envelope with its own timestamp and per-attempt headers (its number,
 *   the sequence floor, trace context; after a restart, without its old sequence), signed again
 *   by this node: a receiver's deadline counts from the attempt, and its order is the attempt's.
 *   Every other field (payload, subject, destination, the client headers `am-via`, `am-client`,
 *   the guarantee and idempotency key) is the signed envelope's, not the entry's own copy.
 * - An entry this run did not make (read back from the store after a restart, or a dead letter's
 *   replay) is checked first: an envelope that no longer verifies for this node, or an entry
 *   whose id, peer or command no longer match it, was altered where it was kept and is refused
 *   with SEC004 rather than sent (or signed again). The same holds for the topic envelope a
 *   reliable publish's direct copy carries.
 *
 * Unsigned entries (the default) pay a field check: `signedOf` returns undefined at once.
 */
import type { PrivateKey } from '@libp2p/interface'
import { BadSignatureError, ConfigError } from '../core/errors.js'
import type { Envelope } from '../envelope/index.js'
import { entryEnvelope } from './attempts.js'
import { HEADER_ATTEMPT, HEADER_SEQUENCE, HEADER_SEQUENCE_FLOOR } from '../envelope/delivery.js'
import { hasValidSignature } from '../envelope/signature.js'
import type { SignedAttempt } from '../rpc/outgoing.js'
import { HEADER_STREAM } from './in-order.js'
import type { OutboxEntry } from './outbox.js'
import { TopicDeliverCommand } from './topic-commands.js'

/** Headers an attempt sets itself, left out of what is taken from the signed envelope. */
export const PER_ATTEMPT_HEADERS: readonly string[] = [HEADER_ATTEMPT, HEADER_SEQUENCE_FLOOR, HEADER_STREAM, HEADER_SEQUENCE, 'traceparent', 'tracestate']

/** The node that signs: its peer id (every signed envelope's source) and identity key. */
export interface Signer { peer: string, privateKey: PrivateKey }

/**
 * The signed envelope an entry carries: its own (a signed request), or the topic envelope of a
 * reliable publish's direct copy when that one is signed. Undefined for everything else.
 */
export function signedOf (e: OutboxEntry): Envelope | undefined {
  if (e.signed !== undefined) return e.signed
  if (e.subject !== TopicDeliverCommand.name) return undefined
  const inner = (e.payload as { envelope?: Envelope } | null | undefined)?.envelope
  return inner !== null && typeof inner === 'object' && inner.signature !== undefined ? inner : undefined
}

/** Why an entry's signed envelope may not go out, or undefined when it may. */
export function refusalOf (e: OutboxEntry, signed: Envelope, self: string | undefined): string | undefined {
  if (typeof signed.source !== 'string' || !hasValidSignature(signed)) return `outbox message ${e.id}: its envelope's signature does not verify (altered since it was signed)`
  if (self !== undefined && signed.source !== self) return `outbox message ${e.id}: signed by ${signed.source}, not by this node (${self})`
  // A request's entry must be the signed envelope's: else a valid signature would go to another peer, or under another id.
  if (e.signed !== undefined) {
    const to = 'peer' in signed.destination ? signed.destination.peer : undefined
    if (signed.id !== e.id || to !== e.peer || signed.subject !== e.subject) return `outbox message ${e.id}: the entry no longer matches its signed envelope (id, peer or command changed)`
  }
  return undefined
}

export class SignedAttempts {
  private readonly signer?: Signer
  /** Entries signed in this run: their first attempt goes as signed, unchecked (nothing but this process touched them). */
  private readonly madeHere = new WeakSet<OutboxEntry>()

  constructor (signer?: Signer) {
    if (signer !== undefined) this.signer = signer
  }

  get self (): string | undefined { return this.signer?.peer }

  /**
   * Sign a new reliable request's envelope as its first attempt will carry it (`headers`: the
   * entry's, with the guarantee, key, floor and attempt 1) and keep it in the entry, before the
   * entry is written to the outbox.
   */
  sign (e: OutboxEntry, sign: (env: Envelope) => Envelope, headers: Record<string, string>): void {
    if (this.signer === undefined) throw new ConfigError('a signed reliable request needs a delivery service with a signer (the node\'s identity)')
    e.signed = sign(entryEnvelope(e, this.signer.peer, headers))
    this.madeHere.add(e)
  }

  /** SEC004 when an entry this run did not make carries a signed envelope that may not go out. */
  check (e: OutboxEntry, signed: Envelope): BadSignatureError | undefined {
    if (this.madeHere.has(e)) return undefined
    const why = refusalOf(e, signed, this.signer?.peer)
    return why === undefined ? undefined : new BadSignatureError(why)
  }

  /**
   * What one attempt of a signed request carries, handed down to rpc as a value (its frame step
   * signs, rpc/outgoing.ts `signedFor`): the stored envelope, as it is on the first attempt of the
   * run that signed it, else signed again with the attempt's timestamp and per-attempt headers.
   * Without a signer (a service built by hand), the stored envelope is all there is: it still verifies.
   */
  attempt (e: OutboxEntry, signed: Envelope): SignedAttempt {
    return {
      envelope: signed,
      asSigned: e.attempts === 1 && this.madeHere.has(e),
      ...(this.signer !== undefined ? { key: this.signer.privateKey } : {}),
      perAttempt: PER_ATTEMPT_HEADERS
    }
  }
}
