/**
 * The shapes reliable delivery shares with the node: a dead letter, and the sink that keeps them
 * (protocols/delivery/dead-letters.ts). Contracts of issue 14; see constants.ts for the guarantees.
 */
import type { Envelope } from '../envelope/schema.js'

/** Why a message became a dead letter. */
export const DEAD_LETTER_REASONS = [
  /** The sender's retries ran out (its last error is kept). */
  'retries_exhausted',
  /** Its `ttl` passed before it could be delivered or handled. */
  'expired',
  /** The receiver's handler kept failing on an at-least-once message. */
  'handler_failed',
  /** Refused on receipt of a reliable send: validation (MSG001/MSG002), authorization (SEC*), unknown command. */
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
}

/** What reliable delivery hands a message to when it gives up on it. */
export interface DeadLetterSink {
  add: (letter: Omit<DeadLetter, 'id' | 'deadAt'>) => Promise<DeadLetter | undefined>
}
