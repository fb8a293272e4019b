import { z } from 'zod'

/** Message kinds of R-MSG: the patterns, then the agent-communication acts. */
export const MessageType = z.enum([
  'REQUEST', 'RESPONSE', 'EVENT', 'COMMAND', 'NOTIFICATION', 'HEARTBEAT',
  'INFORM', 'QUERY', 'PROPOSE', 'ACCEPT', 'REJECT'
])
export type MessageType = z.infer<typeof MessageType>

export const Priority = z.enum(['low', 'normal', 'high', 'critical'])
export type Priority = z.infer<typeof Priority>

/** An Ed25519 signature is 86 base64url characters; room for a DER secp256k1 one (up to 96), no more. */
const MAX_SIGNATURE_CHARS = 128

const PeerIdString = z.string().min(1).max(128)

/** One peer, a set of peers (multicast), or a topic (broadcast to its subscribers). */
export const Destination = z.union([
  z.strictObject({ peer: PeerIdString }),
  z.strictObject({ peers: z.array(PeerIdString).min(1).max(1024) }),
  z.strictObject({ topic: z.string().min(1).max(256) })
])
export type Destination = z.infer<typeof Destination>

/** An error answer: the spec's code, the error class's name and a message (never a stack). */
export const WireError = z.strictObject({
  code: z.string().max(16),
  name: z.string().max(64),
  message: z.string().max(4096)
})
export type WireError = z.infer<typeof WireError>

/**
 * The envelope of every application message (R-MSG). `subject` names what the message is about:
 * the command of a REQUEST/COMMAND, the event type of an EVENT. It is the one field the spec's
 * list does not name, and without it handlers could not be registered by command type.
 */
export const Envelope = z.strictObject({
  version: z.literal(1),
  id: z.string().min(1).max(128),
  /** Milliseconds since the epoch, set by the sender. */
  timestamp: z.number().int().nonnegative(),
  /** The sender's peer id; checked against the authenticated peer on receipt. */
  source: PeerIdString,
  destination: Destination,
  type: MessageType,
  subject: z.string().min(1).max(256),
  payload: z.unknown(),
  headers: z.record(z.string().max(256), z.string().max(8192)),
  priority: Priority,
  /** Milliseconds after `timestamp` when the message expires; expired messages are dropped and counted. */
  ttl: z.number().int().positive().optional(),
  replyTo: z.string().max(256).optional(),
  correlationId: z.string().max(128).optional(),
  conversationId: z.string().max(128).optional(),
  /** Set only on a RESPONSE that reports a failure. */
  error: WireError.optional(),
  /**
   * The source's signature over every other field (base64url; signature.ts), on envelopes that
   * outlive their stream: stored, forwarded, replayed. Absent on the others, which Noise
   * (rpc) or gossipsub's own signature (gossip) authenticate; unsigned envelopes decode as ever.
   */
  signature: z.string().min(1).max(MAX_SIGNATURE_CHARS).regex(/^[A-Za-z0-9_-]+$/).optional()
})
export type Envelope = z.infer<typeof Envelope>
