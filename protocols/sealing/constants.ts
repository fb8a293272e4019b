/** The sealed-payload format's constants, each with why. */

/** Format version 1; part of every derivation and associated data, so a later format cannot be confused with it. */
export const SEALED_VERSION = 1

/** Domain of the content AEAD's associated data and of the wrap key derivation. */
export const CONTENT_DOMAIN = 'agentmesh/sealed/1/content'
export const WRAP_DOMAIN = 'agentmesh/sealed/1/wrap'

/** XChaCha20-Poly1305: a random 24-byte nonce per message never repeats in practice, whatever the rate. */
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
