/** The request-response and command protocol. Bumped only for an incompatible frame change. */
export const RPC_PROTOCOL = '/agentmesh/rpc/1.0.0'

/** Deadline of a request when the caller gives no signal (R-PATTERN: 30 s). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

/**
 * Requests in flight on one channel, each way (R-REL flow control, default 100). Past it the
 * caller waits for a slot and the serving side stops reading the stream, so yamux's window
 * pushes back on the sender instead of requests piling up in memory.
 */
export const DEFAULT_WINDOW = 100

/**
 * An inbound stream must carry its first frame, and finish any frame it starts, within this
 * time. A peer that opens streams and never writes, or sends half a frame and stops, would
 * otherwise hold one of the few inbound stream slots per connection forever.
 */
export const DEFAULT_STALL_TIMEOUT_MS = 10_000

/**
 * Streams one peer may open to us at once. One long-lived stream per peer is what agentmesh
 * opens; a few more cover reconnects, and any more are refused by libp2p.
 */
export const MAX_INBOUND_STREAMS = 8
export const MAX_OUTBOUND_STREAMS = 8
/**
 * Upper bound of the window a node may be configured with: past a few thousand requests in
 * flight on one stream, the memory held per peer matters more than the round trips saved.
 */
export const MAX_WINDOW = 10_000
