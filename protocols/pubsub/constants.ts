/**
 * The longest an envelope waits in an open batch while the link is busy (R-REL: 10 ms); on an
 * idle link its batch goes at the end of the turn it was published in (flusher.ts).
 */
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
 * A batch goes at the end of its turn when the link is idle, and the link counts as busy for this
 * many times as long as the last write took (at most the batch window): on loopback a socket
 * takes every write at once, so there is no acknowledgement to clock batches by, and the write's
 * own cost is the clock (protocols/pubsub/flusher.ts, rule 3). 1: writes take at most about half
 * of a busy publisher's time; a quiet machine's writes (~0.3 ms to nine peers) hold nothing back.
 */
export const WRITE_HOLD_FACTOR = 1
/**
 * What one Noise message holds after yamux's 12-byte frame header (65,519 bytes of plaintext a
 * message): the room for a fan-out frame, whose head (its length, kind and topic) and the
 * batch's own brackets and wire byte are taken off where the batcher is made. A batch that ends
 * a little past a multiple of this costs a whole further Noise message on each side for its last
 * bytes, and every receiver a copy of the batch joined from two pieces: measured, a 1 KiB-payload
 * batch of 65,562 bytes against one of 65,052 cost +1.4 to +3.7 µs a message over the three
 * processes of bench/security.ts.
 */
export const NOISE_BATCH_BYTES = 65_519 - 12
/**
 * A batch about to cross a multiple of NOISE_BATCH_BYTES is cut there when, at its envelopes'
 * present size, it would end by count at most this many bytes past it (Batcher, `spills`).
 */
export const MAX_SPILL_BYTES = 8 * 1024
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
 * How long batches wait for gossipsub's own stream to a subscriber whose subscription came first,
 * from the first batch that found it without one (gossip-tuning.ts `waitForGossipStreams`): a
 * stream not open by then is not waited for again.
 */
export const STREAM_OPEN_WAIT_MS = 5_000
/**
 * How long batches wait for gossipsub to score a just-admitted subscriber at or above its publish
 * threshold (gossip-tuning.ts `publishesTo`), from the first batch that found it under: a closed
 * mesh scores a peer not yet admitted under that threshold (node/libp2p.ts), and gossipsub keeps a
 * peer's score for a heartbeat (@libp2p/gossipsub 17.1.1: `scoreCacheValidityMs` is the
 * `heartbeatInterval`, 1 s). A batch gossiped in that second reached no such subscriber and was
 * not repaired: at the next heartbeat it is grafted into the mesh, and mesh peers get no IHAVE.
 * README's calc.ts, run closed, lost calc-1's alert to calc-2 in 3 runs of 6. A heartbeat and a margin.
 */
export const SCORE_REFRESH_WAIT_MS = 1_200
/**
 * Largest batch a node may be configured to build. Gossipsub drops messages over ~4 MiB
 * silently; half of that leaves room for the gossip framing and a last envelope that overshoots.
 */
export const MAX_BATCH_BYTES = 2 * 1024 * 1024
/**
 * Gossip messages one topic may cost per second before batches wait to fill further. Every
 * gossip message costs each receiver a fixed few ms whatever its size (measured: ~100/s
 * saturate 5 processes on 2 cores), so a busy publisher sends fuller batches, not more. Batches
 * written over the direct fan-out streams (one stream frame to each receiver) are not held to it:
 * it bound a publisher paced at 1,000/s to batches of 25 and a p99 of ~31 ms (issue 46).
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
/**
 * Gossip messages one publisher may get this node to take per second, whoever relays them
 * (a burst of one second's worth); 0 = no limit. Counted in gossip messages, not envelopes: a
 * receiver's cost is mostly per gossip message (~3 ms of CPU each at 5 nodes: signature,
 * duplicates, IDONTWANT, control traffic), and an agentmesh publisher batches, so by gossip it
 * sends at most `maxBatchesPerSec` (40) messages per topic and second however many envelopes it
 * publishes: the broadcast bench's flat-out publisher (2,000-4,000 envelopes/s) sends 40 (over
 * the direct fan-out streams only the node's OWN_PUBLISH_SHARE holds its batches). A
 * message carrying more than GOSSIP_ENVELOPES_PER_MESSAGE envelopes, or GOSSIP_BYTES_PER_MESSAGE
 * bytes, counts as one per that many, so packing envelopes (or bytes) into huge batches does not
 * escape the limit. 400/s is ten topics
 * flat out, and a node holds all its topics to OWN_PUBLISH_SHARE of it; the flood in issue 13 was ~800/s.
 */
export const DEFAULT_PUBLISH_PER_SEC = 400
/**
 * The share of its own `publishPerSec` a node sends itself, all topics together (a mesh shares
 * its config; the rest is room for a burst of full batches, which go at once in debt).
 */
export const OWN_PUBLISH_SHARE = 0.75
/** Envelopes a gossip message may carry for the price of one (the default batch size). */
export const GOSSIP_ENVELOPES_PER_MESSAGE = 50
/**
 * Bytes that cost a gossip message, whatever way they come: a message is charged what its
 * envelopes weigh (a unit per GOSSIP_ENVELOPES_PER_MESSAGE, DIRECT_FRAME_WEIGHT a unit on a fan-out
 * stream) or its bytes / this, whichever is more. So a batch up to the default batchMaxBytes costs
 * what its envelopes do, as every build before 2026-11-30 budgeted it, and only larger messages
 * (one envelope past it, or a batch limit set higher) cost more: counted by envelopes alone, one
 * envelope of 16 MiB cost what one of 100 bytes did (review of 2026-11-30). Per byte a direct frame
 * costs what a gossip message does: a receiver's cost is mostly per frame and per envelope (~200 µs
 * a frame, ~9 µs an envelope of 1 KiB, from the paced and flat-out figures in docs/benchmarks.md),
 * and the bytes' share (the cipher ~1.6 µs a KiB, the parse) is the same either way. Estimated, not
 * measured for large frames.
 */
export const GOSSIP_BYTES_PER_MESSAGE = 256 * 1024
/**
 * What a frame written over the direct fan-out streams is charged, in gossip messages per
 * GOSSIP_ENVELOPES_PER_MESSAGE envelopes (at least one such unit): half, when its publisher's
 * hello says WEIGHS_DIRECT_HALF (its bytes weigh as a gossip message's: GOSSIP_BYTES_PER_MESSAGE;
 * an older build's frames are charged in full, as it budgets them). A receiver reads it
 * from a stream of its publisher's, with no gossipsub around it (no signature, duplicates,
 * IDONTWANT or control traffic): measured with bench's 5 agents each publishing 200/s, warm
 * (issue 46, 2026-11-30), all the nodes' CPU came to ~270 µs per direct frame and receiver (one
 * envelope a frame) against ~2,000 µs per gossip message and receiver (4.7 a message). At a full
 * charge a publisher flat out was held to its own share of the limit, 300 batches of 50 a
 * second (15,000 envelopes/s), while its core had room for ~23,600 (the bench, the limit lifted);
 * at half, 600 batches a second go directly. A flood of one-envelope direct frames may then
 * cost a receiver twice as many frames as before, each much cheaper than a gossip message.
 */
export const DIRECT_FRAME_WEIGHT = 0.5
/**
 * A publisher over its limit in every second for this many seconds in a row is disconnected
 * and refused for rpc.cooldownMs. Before that, each message over the limit it sends directly is
 * rejected: gossipsub's invalid-message penalty puts it below the graylist threshold at once.
 */
export const DEFAULT_GOSSIP_FLOOD_SECONDS = 5
/** The name of the libp2p service holding the gossip limiter, shared with the connection gater. */
export const GOSSIP_LIMITER_SERVICE = 'gossipLimits'
/**
 * Subscribers a topic may have for its batches to be written to each of them over the fan-out
 * streams (when they are all connected to the publisher) rather than gossiped; 0 turns the
 * fan-out off. Direct writes cost the publisher one stream write (and one encryption) per
 * subscriber, gossip costs every subscriber duplicates and signatures: measured in
 * docs/benchmarks.md ("Fan-out over direct streams"), direct wins on CPU at every size tried up
 * to 20, and on latency at N = 5 and 10 (the table there, loaded: p99 2-23× lower); past a few
 * dozen subscribers a publisher's one core becomes the mesh's limit.
 */
export const DEFAULT_DIRECT_FANOUT = 16
/** `compression`: off, or the codec fan-out batches of at least `compressMinBytes` are compressed with. */
export const DEFAULT_COMPRESSION: 'off' | 'deflate' | 'brotli' = 'off'
export const DEFAULT_COMPRESS_MIN_BYTES = 16 * 1024
