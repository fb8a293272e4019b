/**
 * The shapes reliable delivery shares with the node: a dead letter, and the sink that keeps them
 * (protocols/delivery/dead-letters.ts). Contracts of issue 14; see constants.ts for the guarantees.
 */
import type { Envelope } from '../envelope/schema.js'
import type { AgentMeshError } from '../core/errors.js'
import type { DeliveryGuarantee } from '../envelope/delivery.js'
import type { BreakerChange } from './breaker.js'
import type { DedupResult } from './dedup.js'

/** Why a message became a dead letter. */
export const DEAD_LETTER_REASONS = [
  /** The sender's retries ran out (its last error is kept). */
  'retries_exhausted',
  /** Its `ttl` passed before it could be delivered or handled. */
  'expired',
  /** The receiver's handler kept failing on an at-least-once message. */
  'handler_failed',
  /**
   * Refused on receipt of a reliable send: validation (MSG001/MSG002), authorization (SEC*), unknown
   * command; or by its sender, a signed outbox entry whose signature no longer verifies (SEC004).
   */
  'refused',
  /** An exactly-once duplicate whose body differs from the first under the same key (MSG001). */
  'conflict',
  /** A breaker was open for its destination for longer than its deadline. */
  'circuit_open'
] as const
export type DeadLetterReason = typeof DEAD_LETTER_REASONS[number]

export interface DeadLetter {
  /** This entry's id: sortable by time of death (so `list` is oldest first), unique per node. */
  id: string
  /** Where it died: the sender's outbox, or the receiver's handling. */
  side: 'sender' | 'receiver'
  /** The envelope as first sent, with its original id: a replay sends it again under that id. */
  envelope: Envelope
  /** The peer it was for (sender side) or came from (receiver side); or a topic. */
  peer?: string
  topic?: string
  reason: DeadLetterReason
  /** The last error (an agentmesh code, its class name and message). */
  error: { code: string, name: string, message: string }
  attempts: number
  firstAttemptAt: number
  lastAttemptAt: number
  deadAt: number
  /** Times it was replayed from here (a replayed letter that dies again comes back as a new entry). */
  replays?: number
  /**
   * The storing node's signature over every other field but `replays` (base64url;
   * dead-letters.ts `letterSignature`): replay refuses a letter altered in the store, or put
   * there by anything but this node, with SEC004.
   */
  signature?: string
}

/** What reliable delivery hands a message to when it gives up on it. */
export interface DeadLetterSink {
  add: (letter: Omit<DeadLetter, 'id' | 'deadAt'>) => Promise<DeadLetter | undefined>
}

/** What DeliveryService reports (node/observe.ts turns it into metrics and log lines). */
export interface DeliveryEvents {
  /** A breaker changed state. */
  breaker: CustomEvent<BreakerChange>
  /** A reliable message failed an attempt and waits `delayMs` for its next. */
  retry: CustomEvent<{ peer: string, id: string, attempt: number, delayMs: number, error: AgentMeshError }>
  /** A reliable message ended: delivered (answered), failed (a final error answer), or given up. */
  outcome: CustomEvent<{ peer: string, id: string, guarantee: DeliveryGuarantee, outcome: 'delivered' | 'failed' | 'given_up', attempts: number, background: boolean }>
  /** Receiver: an exactly-once message was first seen, a duplicate, or a conflict. */
  dedup: CustomEvent<{ peer: string, result: DedupResult }>
  /** Receiver: keys forgotten (past the window, or past maxEntries). */
  evicted: CustomEvent<{ reason: 'age' | 'count', count: number }>
  /**
   * Receiver: a sequence gap stayed open past delivery.gapTimeoutMs; the messages after it ran
   * without it (`initial`: the stream's start, a receiver that joined late). `topic`: a publisher's sequence on a topic.
   */
  gap: CustomEvent<{ peer: string, from: number, to: number, initial: boolean, topic?: string }>
  /** A dead letter was handed to the sink (`id` undefined when the sink did not keep it). */
  'dead-letter': CustomEvent<{ side: DeadLetter['side'], reason: DeadLetterReason, peer?: string, messageId: string, id?: string }>
}
