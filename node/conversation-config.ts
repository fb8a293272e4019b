/**
 * The stream protocols with a stream per conversation: negotiation and model updates
 * (protocols/negotiation/constants.ts and protocols/learning/constants.ts say why each default).
 */
import { z } from 'zod'
import * as learning from '../protocols/learning/constants.js'
import * as negotiation from '../protocols/negotiation/constants.js'

/** Negotiation (R-NEG): per-peer limits of the conversations this node answers. */
export const NegotiationConfig = z.strictObject({
  /** New conversations per second one peer may open here (a one-second burst); over it the stream is refused. 0 = no limit. */
  conversationsPerSec: z.number().min(0).default(negotiation.DEFAULT_CONVERSATIONS_PER_SEC),
  /** Conversations one peer may hold open here at once, whatever its connections; 0 = no limit. */
  conversationsPerPeer: z.number().int().min(0).default(negotiation.DEFAULT_CONVERSATIONS_PER_PEER)
})

/** Model updates (R-LEARN): the chunk size of transfers, the largest model accepted, the time a fetch may take, and what one peer may fetch here. */
export const LearningConfig = z.strictObject({
  chunkBytes: z.number().int().min(learning.MIN_CHUNK_BYTES).max(learning.MAX_CHUNK_BYTES).default(learning.DEFAULT_CHUNK_BYTES),
  maxModelBytes: z.number().int().min(1024).default(learning.DEFAULT_MAX_MODEL_BYTES),
  fetchTimeoutMs: z.number().int().min(100).default(learning.DEFAULT_FETCH_TIMEOUT_MS),
  /** New fetches per second one peer may start from this node (a one-second burst); over it, RATE001. 0 = no limit. */
  fetchesPerSec: z.number().min(0).default(learning.DEFAULT_FETCHES_PER_SEC),
  /** Fetches one peer may run from this node at once; 0 = no limit. */
  fetchesPerPeer: z.number().int().min(0).default(learning.DEFAULT_FETCHES_PER_PEER)
})
