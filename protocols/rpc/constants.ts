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

/*
 * Per-peer limits (issue 13). One flooding peer (~8,000 requests/s measured) took an honest
 * caller's p99 from a few ms to a second: every request it sends is decoded, checked and run
 * before anyone else's. Each remote peer therefore has its own token buckets, whatever the
 * number of connections or streams it opens; 0 turns a limit off.
 */

/**
 * Requests per second one peer may send (a burst of one second's worth is allowed). An honest
 * agent calling one peer sequentially makes ~2,000/s at most on loopback; 1,000/s is a fifth of
 * what this node serves on two cores, so a few flooding peers cannot take all of it.
 */
export const DEFAULT_REQUESTS_PER_SEC = 1_000
/** Request bytes per second one peer may send; the burst always admits two frames of the maximum size. */
export const DEFAULT_BYTES_PER_SEC = 16 * 1024 * 1024
/**
 * The mesh's own liveness messages (membership probes, election, card exchange) have a bucket
 * of their own, so an agent whose application floods a peer is not also declared offline or
 * deposed there. Their rates are set by the mesh's timers (at most ~20 election heartbeats and
 * ~5 probes per second and peer in the local preset): 200/s is ten times that.
 */
export const DEFAULT_INTERNAL_PER_SEC = 200
/** The subjects of that bucket; every other subject, agentmesh's or the application's, is a request. */
export const INTERNAL_SUBJECTS: ReadonlySet<string> = new Set(['$agentmesh/probe', '$agentmesh/election', '$agentmesh/card'])
/**
 * A peer refused in every second for this many seconds in a row is flooding, not bursting: it is
 * disconnected and refused for the cool-down. An honest caller paces its requests to the rate a
 * refusal names (pacer.ts) and is not refused again while it keeps to it.
 */
export const DEFAULT_FLOOD_SECONDS = 5
/** How long a disconnected flooder is refused (connection gater: inbound and dials). */
export const DEFAULT_COOLDOWN_MS = 60_000
/**
 * A caller answered RATE001 in words it cannot read (another implementation's) tries again this
 * many times within its deadline, after 50, 100, 200 ms or the wait it names if longer (plus up to
 * half again). A burst over the limit costs latency, not an error.
 */
export const RATE_LIMIT_RETRIES = 3
/**
 * A refusal that names its rate is tried again in its slot of the pace it set (pacer.ts) within
 * the deadline, up to this many times: enough for a burst several times the peer's limit, whose
 * requests on the wire are refused again while the peer works through them; few enough that a
 * peer whose refusals never end (its limit is not the one it names) is not asked without end.
 */
export const RATE_PACED_RETRIES = 32
export const RATE_LIMIT_RETRY_BASE_MS = 50
/** A caller refused keeps to this share of the rate the refusal named: the rest covers its timers' jitter. */
export const RATE_PACE_SHARE = 0.9
/** A caller's pace for a peer's limit lasts this long after its last refusal (then it may burst again, once). */
export const RATE_PACE_KEPT_MS = 10_000
/** A paced request's slot leaves this much of its timeout for the answer (or a quarter of a shorter timeout). */
export const RATE_PACE_ANSWER_MS = 1_000
/** Peers named in the rate-limit counters' labels; the others are counted as "other" (bounded cardinality). */
export const MAX_LABELLED_PEERS = 64
/** The name of the libp2p service holding the limiter, shared by the rpc protocol and the connection gater. */
export const LIMITER_SERVICE = 'rpcLimits'

/**
 * What a node starts by itself on a new connection besides libp2p's own (the card exchange, and
 * with it the member sync that follows the card; the fan-out stream) waits this long, so that a request the
 * application makes on the connection at once is served first: dial to first answer p50 18-20
 * ms, as vanilla libp2p's in the same runs, against 22.5-28.4 ms without the wait (docs/benchmarks.md,
 * "Dial to first answer"). Both waits are needed; either alone gained nothing. Not in a closed
 * mesh's card exchange, which is its admission: requests wait for it there, so the default
 * (closed) mesh gains little. The price, in an open mesh: a first request to a command with
 * `allow` waits for the caller's card (its claims), now up to 25 ms longer.
 */
export const CONNECTION_BACKGROUND_DELAY_MS = 25
