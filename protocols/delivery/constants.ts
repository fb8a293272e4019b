/**
 * Reliable delivery (R-REL, issue 14): the guarantees a send, request or publish may ask for,
 * retries, duplicate detection, ordering, the circuit breaker and dead letters. Each default is
 * defined here once, with its reason; node/delivery-config.ts reads them into the config schema.
 */

import type { DeliveryGuarantee } from '../envelope/delivery.js'

export { DELIVERY_GUARANTEES, type DeliveryGuarantee, HEADER_ATTEMPT, HEADER_DELIVERY, HEADER_IDEMPOTENCY_KEY, HEADER_SEQUENCE } from '../envelope/delivery.js'

/** R-CONF's default guarantee: at-most-once, so a mesh without a data directory pays nothing it did not ask for. */
export const DEFAULT_DELIVERY: DeliveryGuarantee = 'at-most-once'

/** R-REL: a reliable message is retried up to 3 times, with exponential backoff from 1 s to 30 s (plus jitter). */
export const DEFAULT_MAX_RETRIES = 3
export const DEFAULT_RETRY_INITIAL_DELAY_MS = 1_000
export const DEFAULT_RETRY_MAX_DELAY_MS = 30_000
/**
 * Each delay is drawn from [d * (1 - jitter), d * (1 + jitter)], so senders that failed together
 * (a receiver restarted) do not all come back in the same millisecond.
 */
export const DEFAULT_RETRY_JITTER = 0.2

/**
 * How long a receiver remembers an idempotency key and the first answer it gave (exactly-once).
 * A duplicate later than this runs the handler again: the window must outlast the sender's whole
 * retry schedule (3 retries up to 30 s each, and a sender restart); an hour covers that many times.
 */
export const DEFAULT_DEDUP_WINDOW_MS = 60 * 60_000
/** Keys remembered at most; past it the oldest go first (counted), whatever their age. */
export const DEFAULT_DEDUP_MAX_ENTRIES = 100_000

/** Out-of-order messages buffered per sender (and per topic) while waiting for a gap to fill. */
export const DEFAULT_REORDER_BUFFER = 1_000
/** A gap still open after this long is reported (event and metric) and the buffer delivered past it. */
export const DEFAULT_GAP_TIMEOUT_MS = 5_000

/** R-REL circuit breaker per destination: open after 5 consecutive failures, half-open after 30 s. */
export const DEFAULT_BREAKER_FAILURES = 5
export const DEFAULT_BREAKER_RESET_MS = 30_000

/** Dead letters kept at most, and for how long; past either bound the oldest are evicted (and counted). */
export const DEFAULT_DEAD_LETTERS_MAX = 10_000
export const DEFAULT_DEAD_LETTERS_MAX_AGE_MS = 7 * 24 * 60 * 60_000

/**
 * Reliable publish: how long a named recipient's acknowledgement of the gossip copy may take
 * before the publisher sends it the envelope directly. Gossip reaches a meshed peer in
 * milliseconds (LIBP2P-NOTES: p99 17 ms paced); 2 s leaves room for a loaded mesh and for
 * the ack batching, while a peer outside the mesh gets its copy soon enough.
 */
export const DEFAULT_TOPIC_ACK_TIMEOUT_MS = 2_000
/**
 * Named recipients of one reliable publish at most: their ids travel in the `am-ack` header
 * (8 KiB, a peer id is ~53 characters) and each costs an outbox entry. More is a job for send().
 */
export const TOPIC_MAX_RECIPIENTS = 100
/** Recipients gather their acknowledgements to one publisher this long, and send them as one request. */
export const TOPIC_ACK_BATCH_MS = 20
