/**
 * Reliable delivery's configuration (R-CONF: delivery guarantee, retry policy, dead letter
 * switch); protocols/delivery/constants.ts says why each default.
 */
import { z } from 'zod'
import * as delivery from '../protocols/delivery/constants.js'

export const DeliveryConfig = z.strictObject({
  /** The guarantee of a send or request that names none (a reliable publish names its own, with recipients). */
  guarantee: z.enum(delivery.DELIVERY_GUARANTEES).default(delivery.DEFAULT_DELIVERY),
  /** Reliable publish: how long a recipient's ack of the gossip copy may take before it is sent the envelope directly. */
  topicAckTimeoutMs: z.number().int().min(1).default(delivery.DEFAULT_TOPIC_ACK_TIMEOUT_MS),
  /** How long a receiver remembers an exactly-once message's key and first answer. */
  dedupWindowMs: z.number().int().min(1_000).default(delivery.DEFAULT_DEDUP_WINDOW_MS),
  /** Idempotency keys remembered at most (oldest evicted first, counted). */
  dedupMaxEntries: z.number().int().min(1).default(delivery.DEFAULT_DEDUP_MAX_ENTRIES),
  /** Out-of-order messages buffered per sender and stream of sequence numbers. */
  reorderBuffer: z.number().int().min(1).max(100_000).default(delivery.DEFAULT_REORDER_BUFFER),
  /** A sequence gap open this long is reported, and delivery goes on past it. */
  gapTimeoutMs: z.number().int().min(10).default(delivery.DEFAULT_GAP_TIMEOUT_MS)
})

export const RetryConfig = z.strictObject({
  /** Retries of an at-least-once or exactly-once message after its first attempt. */
  maxRetries: z.number().int().min(0).max(100).default(delivery.DEFAULT_MAX_RETRIES),
  /** First delay; doubled on each failure up to maxDelayMs. */
  initialDelayMs: z.number().int().min(1).default(delivery.DEFAULT_RETRY_INITIAL_DELAY_MS),
  maxDelayMs: z.number().int().min(1).default(delivery.DEFAULT_RETRY_MAX_DELAY_MS),
  /** Each delay is drawn within ± this fraction of itself. */
  jitter: z.number().min(0).max(1).default(delivery.DEFAULT_RETRY_JITTER)
})

export const BreakerConfig = z.strictObject({
  /** Consecutive failures to one destination that open its breaker (calls then fail fast, COM002); 0 = no breaker. */
  failures: z.number().int().min(0).default(delivery.DEFAULT_BREAKER_FAILURES),
  /** How long an open breaker waits before it lets one call through (half-open). */
  resetMs: z.number().int().min(10).default(delivery.DEFAULT_BREAKER_RESET_MS)
})

export const DeadLettersConfig = z.strictObject({
  /** Keep what could not be delivered (R-CONF's dead letter switch); off, such messages are logged and counted only. */
  enabled: z.boolean().default(true),
  maxEntries: z.number().int().min(1).default(delivery.DEFAULT_DEAD_LETTERS_MAX),
  maxAgeMs: z.number().int().min(1_000).default(delivery.DEFAULT_DEAD_LETTERS_MAX_AGE_MS)
})
