/**
 * The message envelope of R-MSG: its zod schema, a codec with a wire version byte, and the
 * helpers that build envelopes. Every message sent or received by agentmesh passes through here.
 */
import { randomUUID } from 'node:crypto'
import type { Destination, Envelope, MessageType, Priority } from './schema.js'

export * from './schema.js'
export * from './constants.js'
export * from './codec.js'
export * from './signature.js'
export * from './compression.js'
export * from './shared-head.js'

export interface EnvelopeFields {
  source: string
  destination: Destination
  type: MessageType
  subject: string
  payload: unknown
  headers?: Record<string, string>
  priority?: Priority
  ttl?: number
  replyTo?: string
  correlationId?: string
  conversationId?: string
  id?: string
}

/** Build a version-1 envelope with a fresh id and the current time. */
export function makeEnvelope (f: EnvelopeFields): Envelope {
  const env: Envelope = {
    version: 1,
    id: f.id ?? randomUUID(),
    timestamp: Date.now(),
    source: f.source,
    destination: f.destination,
    type: f.type,
    subject: f.subject,
    payload: f.payload,
    headers: f.headers ?? {},
    priority: f.priority ?? 'normal'
  }
  // Optional fields are left out rather than set to undefined: smaller frames, strict schema.
  if (f.ttl !== undefined) env.ttl = f.ttl
  if (f.replyTo !== undefined) env.replyTo = f.replyTo
  if (f.correlationId !== undefined) env.correlationId = f.correlationId
  if (f.conversationId !== undefined) env.conversationId = f.conversationId
  return env
}

/** True when the envelope carries a ttl that has run out. */
export function isExpired (env: Envelope, now = Date.now()): boolean {
  return env.ttl !== undefined && now > env.timestamp + env.ttl
}
