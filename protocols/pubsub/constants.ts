/** Envelopes published within this window travel in one gossip message (R-REL: 10 ms). */
export const DEFAULT_BATCH_WINDOW_MS = 10
/** ... or as soon as this many are waiting (R-REL: 50). */
export const DEFAULT_BATCH_MAX_ENVELOPES = 50
/**
 * ... or as soon as the batch reaches this many bytes. Gossipsub drops messages over ~4 MiB
 * without an error; batches stay far below that (a single envelope may still reach the 1 MiB
 * envelope limit and then travels alone).
 */
export const DEFAULT_BATCH_MAX_BYTES = 256 * 1024
/**
 * Envelopes a node holds for gossip before `publish` makes its caller wait (backpressure): a
 * publisher faster than the mesh is slowed down instead of growing a queue without bound.
 */
export const DEFAULT_PUBLISH_WINDOW = 2_000
/** Messages a subscription holds for a consumer that is not reading; past it the oldest go. */
export const DEFAULT_SUBSCRIPTION_BUFFER = 10_000
/** How long a batch waits for gossip streams to drain before it is written anyway. */
export const DRAIN_WAIT_MS = 1_000
