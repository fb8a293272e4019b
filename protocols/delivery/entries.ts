/**
 * Outbox entries as the delivery service makes them: for a new reliable request, and for a
 * dead letter's replay (under its original id and key). Pure: the service adds them to the outbox.
 */
import { ValidationError } from '../core/errors.js'
import type { Envelope } from '../envelope/index.js'
import type { RequestOptions } from '../rpc/index.js'
import { HEADER_DELIVERY, HEADER_IDEMPOTENCY_KEY } from '../envelope/delivery.js'
import type { OutboxEntry } from './outbox.js'
import { isSealed } from '../sealing/index.js'

type Reliable = OutboxEntry['guarantee']

/** A new reliable request. `ttlMs` bounds its whole life (every retry, a sender restart): past it, it is dead-lettered `expired`. */
export function requestEntry (
  id: string, peer: string, subject: string, payload: unknown, guarantee: Reliable, options: RequestOptions, headers: Record<string, string>, timeoutMs: number
): OutboxEntry {
  if (options.ttlMs !== undefined && !(Number.isSafeInteger(options.ttlMs) && options.ttlMs > 0)) throw new ValidationError(`ttlMs must be a positive integer (ms), not ${String(options.ttlMs)}`)
  const now = Date.now()
  return {
    id,
    peer,
    subject,
    payload,
    guarantee,
    ...(options.encryptFor !== undefined ? { sealed: true as const } : {}),
    ...(guarantee === 'exactly-once' ? { key: options.idempotencyKey ?? id } : {}),
    type: options.type ?? 'REQUEST',
    headers,
    ...(options.conversationId !== undefined ? { conversationId: options.conversationId } : {}),
    timeoutMs,
    attempts: 0,
    firstAttemptAt: now,
    ...(options.ttlMs !== undefined ? { expiresAt: now + options.ttlMs } : {})
  }
}

/**
 * A replayed envelope: its original id and idempotency key, so an exactly-once receiver answers
 * it from its dedup window. No expiry: a person asked for it again, whatever its ttl said.
 */
export function replayEntry (envelope: Envelope, peer: string, guarantee: Reliable, headers: Record<string, string>, timeoutMs: number): OutboxEntry {
  return {
    id: envelope.id,
    peer,
    subject: envelope.subject,
    payload: envelope.payload,
    guarantee,
    ...(isSealed(envelope.payload) ? { sealed: true as const } : {}),
    ...(guarantee === 'exactly-once' ? { key: envelope.headers[HEADER_IDEMPOTENCY_KEY] ?? envelope.id } : {}),
    type: envelope.type as NonNullable<RequestOptions['type']>,
    headers,
    ...(envelope.conversationId !== undefined ? { conversationId: envelope.conversationId } : {}),
    timeoutMs,
    attempts: 0,
    firstAttemptAt: Date.now()
  }
}

/** The headers every attempt of an entry carries: its own, the guarantee and (exactly-once) the idempotency key. */
export function wireHeaders (e: OutboxEntry): Record<string, string> {
  const headers: Record<string, string> = { ...e.headers, [HEADER_DELIVERY]: e.guarantee }
  if (e.key !== undefined) headers[HEADER_IDEMPOTENCY_KEY] = e.key
  return headers
}
