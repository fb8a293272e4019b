/** What the attempts of an outbox message share: which failures are retried, and the envelope a dead letter keeps. */
import type { AgentMeshError } from '../core/errors.js'
import { makeEnvelope, type Envelope } from '../envelope/index.js'
import type { OutboxEntry } from './outbox.js'

/** Failures another attempt may get past: no answer (COM001), no peer or an open breaker (COM002), over its limit (RATE001). */
export function retryable (err: AgentMeshError): boolean {
  return err.code === 'COM001' || err.code === 'COM002' || err.code === 'RATE001'
}

/** An outbox message's envelope from `source`, stamped now (what a signed request's first attempt carries). */
export function entryEnvelope (e: OutboxEntry, source: string, headers: Record<string, string>): Envelope {
  return makeEnvelope({
    id: e.id,
    source,
    destination: { peer: e.peer },
    type: e.type,
    subject: e.subject,
    payload: e.payload,
    ttl: e.timeoutMs,
    headers,
    ...(e.conversationId !== undefined ? { conversationId: e.conversationId } : {})
  })
}

/** The envelope of an outbox message as its first attempt sent it (a dead letter's). */
export function envelopeOf (e: OutboxEntry, headers: Record<string, string>): Envelope {
  const env = entryEnvelope(e, '', headers)
  env.timestamp = e.firstAttemptAt
  return env
}
