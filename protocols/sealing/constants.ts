/** The sealed-payload format's constants, each with why. */

/**
 * The layout this node writes: version 2, where a payload carries the wraps of its key only now
 * and then (WRAPS_*). Version 1 (wraps in every payload, what nodes before it wrote) is still
 * read. A node that reads only version 1 takes a version 2 payload for an ordinary one: a
 * mesh upgrades all its nodes before sealing with version 2.
 */
export const SEALED_VERSION: 2 = 2

/**
 * Version 3: the payloads of one batch sealed for the same recipients as one group, under one
 * AEAD (group.ts). Pubsub writes it for at-most-once publishes, in a batch whose wire byte says
 * so (WIRE_JSON_SEALED_GROUPS), so a node that reads only versions 1 and 2 refuses the batch with
 * MSG002 rather than taking a group's parts for ordinary payloads. Reliable publishes, whose
 * envelopes travel alone too (direct copies, the outbox), stay version 2.
 */
export const GROUP_VERSION: 3 = 3
/** Payloads in one group: a batch holds at most `pubsub.batchMaxEnvelopes` (its schema's cap). */
export const MAX_GROUP = 10_000

/**
 * Domains of the content AEAD's associated data and of the wrap key derivation: they name the
 * construction (version 1's), which version 2 keeps unchanged; only where the wraps travel
 * differs, so a version 2 payload relabelled 1 (or the reverse) opens to the same plaintext
 * under the same binding, or fails the shape check.
 */
export const CONTENT_DOMAIN = 'agentmesh/sealed/1/content'
export const WRAP_DOMAIN = 'agentmesh/sealed/1/wrap'
/** A group's associated data has its own domain (it binds the envelope ids too): a group's ciphertext never opens as a single payload, nor the reverse. */
export const GROUP_DOMAIN = 'agentmesh/sealed/3/group'

/**
 * A key's wraps travel with its first WRAPS_FIRST payloads, then again with every WRAPS_EVERY-th
 * payload and with the first sealed WRAPS_EVERY_MS or more after the last that carried them. A
 * recipient that missed them (subscribed late, restarted, lost that gossip message) reads from
 * the next that carries them: it loses at most that many payloads, or that long, of a topic
 * that is at-most-once anyway. On a busy topic the wraps then cost about 1/WRAPS_EVERY of their
 * size per payload (93 bytes per recipient) instead of all of it.
 */
export const WRAPS_FIRST = 4
export const WRAPS_EVERY = 64
export const WRAPS_EVERY_MS = 1_000

/**
 * XChaCha20-Poly1305's 24-byte nonce: a random 16-byte prefix per key, then a count of the
 * payloads sealed under it (box.ts), never repeated under one key.
 */
export const NONCE_BYTES = 24
export const KEY_BYTES = 32
/** A key id: random, only to tell one sender's keys apart (cached per sender, so collisions across senders do not matter). */
export const KID_BYTES = 8
/** A wrap names its recipient by 8 bytes of a hash of its X25519 key: shorter than a peer id, and a collision only costs a failed try. */
export const TAG_BYTES = 8

/** Sender keys kept (one per subject and recipient set); the oldest goes first past this. */
export const MAX_SENDER_KEYS = 1_024
/** Content keys (and refusals) a recipient keeps, by sender and key id; the oldest goes first. */
export const MAX_RECEIVED_KEYS = 4_096
/** Peer ids whose X25519 keys are kept (deriving one costs about half a millisecond). */
export const MAX_PEER_KEYS = 1_024
/** A payload may be sealed for at most this many recipients (each adds 93 bytes to every payload). */
export const MAX_RECIPIENTS = 256
