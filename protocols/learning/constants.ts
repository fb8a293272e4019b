/**
 * Chunk size of model transfers over the learning protocol: large enough that the framing and
 * the per-chunk work cost little, small enough that each frame (held whole before it is read)
 * costs little memory and a stalled transfer is noticed chunk by chunk.
 */
export const DEFAULT_CHUNK_BYTES = 256 * 1024
/** Chunks above this cost memory per frame for no gain in throughput. */
export const MAX_CHUNK_BYTES = 4 * 1024 * 1024
/** The smallest chunk allowed: below it the per-chunk framing outweighs the data. */
export const MIN_CHUNK_BYTES = 1024
/**
 * The largest model version published or fetched. A fetch is assembled in memory while its hash
 * is computed, so this is also the memory one fetch may take.
 */
export const DEFAULT_MAX_MODEL_BYTES = 512 * 1024 * 1024
/**
 * Time one fetch of a model may take before the next source is tried: a 512 MiB model at a
 * modest 5 MB/s takes about 100 s.
 */
export const DEFAULT_FETCH_TIMEOUT_MS = 120_000
/**
 * Per-peer limits of model fetches served here (issue 13). An honest agent fetches one version
 * of a model at a time (updates of a model are queued), after an announcement, which comes
 * seconds or hours apart: 10 new fetches a second and 8 at once per peer are far above that,
 * and a flooder is stopped there (libp2p alone allows 8 per connection, times its connections).
 */
export const DEFAULT_FETCHES_PER_SEC = 10
export const DEFAULT_FETCHES_PER_PEER = 8
