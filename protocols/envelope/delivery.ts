/** The delivery guarantees an envelope may travel under, and the headers that carry them (issue 14; protocols/delivery). */

/**
 * What a caller asks of one message.
 * - `at-most-once`: sent once; a failure is the caller's (today's behaviour, the cheapest).
 * - `at-least-once`: kept in the sender's outbox (durable with a data directory) until the
 *   receiver acknowledges it after its handler ran; retried with backoff; dead-lettered after
 *   the last retry.
 * - `exactly-once`: at-least-once plus an idempotency key; the receiver answers a duplicate with
 *   the first result and does not run the handler again (also after its own restart, within the
 *   dedup window).
 */
export const DELIVERY_GUARANTEES = ['at-most-once', 'at-least-once', 'exactly-once'] as const
export type DeliveryGuarantee = typeof DELIVERY_GUARANTEES[number]

/**
 * Envelope headers of reliable delivery. The envelope schema is strict and shared with older
 * nodes, so these travel as headers rather than new fields.
 */
export const HEADER_DELIVERY = 'am-delivery'
/** The idempotency key of an exactly-once message (the caller's, or the message id). */
export const HEADER_IDEMPOTENCY_KEY = 'am-idempotency-key'
/** Per-sender sequence number (decimal) on ordered direct messages and topic envelopes. */
export const HEADER_SEQUENCE = 'am-seq'
/** The sender's lowest seq (of `am-seq`'s stream) still unanswered to this receiver: nothing below it will come, so none is waited for. */
export const HEADER_SEQUENCE_FLOOR = 'am-seq-floor'
/** Which attempt this is (1 = first); a receiver may log it, never trusts it for dedup. */
export const HEADER_ATTEMPT = 'am-attempt'
