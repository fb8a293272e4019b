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
/**
 * A gossip batch with binary sections (sections.ts): the JSON array of envelopes, then raw byte
 * sections that their sealed groups' heads name (`cs`) instead of carrying base64 (`ct`). What
 * this node writes for a batch with groups; 0x03 is still read. A node that knows neither refuses
 * it (MSG002), as one that knows only 0x01 refuses 0x03. Batches only.
 */
export const WIRE_JSON_SECTIONS = 0x04
/**
 * A batch whose envelopes' common fields travel once, in a head (shared-head.ts): what a fan-out
 * stream carries to a peer whose hello accepts it. A node that does not know it refuses it
 * (MSG002) and is never sent it. Batches only.
 */
export const WIRE_JSON_SHARED_HEAD = 0x05
/** The shortest section: a ciphertext is at least its AEAD's 16-byte tag. */
export const MIN_SECTION_BYTES = 16

/** Largest encoded envelope accepted or sent (R-MSG); checked before any decoding. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
/**
 * The largest envelope limit a node may be configured with: a frame is buffered whole before it
 * is decoded, so the limit is also the memory one message may cost each hop.
 */
export const MAX_MAX_MESSAGE_BYTES = 16 * 1024 * 1024

/** The bound on nesting of decoded JSON lives with the parser every decoder uses (protocols/core/json.ts). */
export { MAX_JSON_DEPTH } from '../core/json.js'
