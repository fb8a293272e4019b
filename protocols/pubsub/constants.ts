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
/**
 * Largest batch a node may be configured to build. Gossipsub drops messages over ~4 MiB
 * silently; half of that leaves room for the gossip framing and a last envelope that overshoots.
 */
export const MAX_BATCH_BYTES = 2 * 1024 * 1024
/**
 * Gossip messages one topic may cost per second before batches wait to fill further. Every
 * gossip message costs each receiver a fixed few ms whatever its size (measured: ~100/s
 * saturate 5 processes on 2 cores), so a busy publisher sends fuller batches, not more.
 */
export const DEFAULT_MAX_BATCHES_PER_SEC = 40
/**
 * Gossipsub's penalty for many peers on one IP. Off (0) by default: a mesh of agents on one
 * host, or behind one NAT, would otherwise score itself out of the gossip mesh (-405 past 10
 * peers) and deliver nothing. Set it negative (e.g. -53) on a public mesh to resist Sybils.
 */
export const DEFAULT_IP_COLOCATION_FACTOR_WEIGHT = 0
/**
 * Gossipsub's mesh degree D: how many peers each node forwards every message to. Each node
 * receives about D copies of each message, so D sets the price of redundancy; the other
 * degrees follow from it (Dlo = D - 2, Dhi = 2D, Dout = D / 3). 6 is gossipsub's own default.
 */
export const DEFAULT_MESH_DEGREE = 6
/**
 * Send own messages to every subscriber known, not only to mesh peers: the first hop reaches
 * everyone at once (lower latency on the small meshes agents form) at the price of more copies.
 */
export const DEFAULT_FLOOD_PUBLISH = true
