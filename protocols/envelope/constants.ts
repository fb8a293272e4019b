/** The envelope schema version this node writes and accepts (the envelope's `version` field). */
export const ENVELOPE_VERSION = 1
export const SUPPORTED_ENVELOPE_VERSIONS = [1] as const

/**
 * The first byte of every frame and gossip message: the wire format's version. It lets a future
 * format (CBOR, protobuf) live beside this one; a byte we do not know is a typed MSG002 error.
 */
export const WIRE_JSON_V1 = 0x01
/**
 * A gossip batch (WIRE_JSON_V1's JSON array) holding sealed groups (protocols/sealing/group.ts):
 * its own byte so a node that does not know groups refuses the batch (MSG002) rather than taking
 * their parts for ordinary payloads. Batches only; 0x02 is kept for CBOR.
 */
export const WIRE_JSON_SEALED_GROUPS = 0x03

/** Largest encoded envelope accepted or sent (R-MSG); checked before any decoding. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
/**
 * The largest envelope limit a node may be configured with: a frame is buffered whole before it
 * is decoded, so the limit is also the memory one message may cost each hop.
 */
export const MAX_MAX_MESSAGE_BYTES = 16 * 1024 * 1024

/** The bound on nesting of decoded JSON lives with the parser every decoder uses (protocols/core/json.ts). */
export { MAX_JSON_DEPTH } from '../core/json.js'
