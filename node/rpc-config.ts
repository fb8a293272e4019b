/** Request-response (protocols/rpc/constants.ts says why each default). */
import { z } from 'zod'
import * as rpc from '../protocols/rpc/constants.js'

export const RpcConfig = z.strictObject({
  /** Deadline of a request when the caller gives no signal (R-PATTERN). */
  timeoutMs: z.number().int().positive().default(rpc.DEFAULT_REQUEST_TIMEOUT_MS),
  /** Requests in flight per peer and direction before callers wait (R-REL flow control). */
  window: z.number().int().min(1).max(rpc.MAX_WINDOW).default(rpc.DEFAULT_WINDOW),
  /** An inbound stream that sends nothing, or leaves a frame half-sent, this long is closed. */
  stallTimeoutMs: z.number().int().positive().default(rpc.DEFAULT_STALL_TIMEOUT_MS),
  /** Requests per second one peer may send before it is answered RATE001; 0 = no limit. */
  requestsPerSec: z.number().min(0).default(rpc.DEFAULT_REQUESTS_PER_SEC),
  /** Request bytes per second one peer may send (the burst always admits two maximal messages); 0 = no limit. */
  bytesPerSec: z.number().int().min(0).default(rpc.DEFAULT_BYTES_PER_SEC),
  /** Membership probes, election messages and card exchanges per second per peer, a bucket of their own; 0 = no limit. */
  internalPerSec: z.number().min(0).default(rpc.DEFAULT_INTERNAL_PER_SEC),
  /** A peer over its rpc, negotiation or learning limits in every second for this many seconds is disconnected; 0 = never. */
  floodSeconds: z.number().int().min(0).max(3_600).default(rpc.DEFAULT_FLOOD_SECONDS),
  /** How long a disconnected flooder's connections and dials are refused. */
  cooldownMs: z.number().int().min(0).default(rpc.DEFAULT_COOLDOWN_MS)
})
