/** The fields R-OBS asks of a log line about a message; the logger itself is pino's, given by the node. */
import type { Envelope } from './schema.js'

export function messageFields (env: Envelope): Record<string, string> {
  const d = env.destination
  return {
    message_id: env.id,
    correlation_id: env.correlationId ?? env.id,
    source: env.source,
    destination: 'peer' in d ? d.peer : 'peers' in d ? d.peers.join(',') : `topic:${d.topic}`,
    message_type: env.type,
    subject: env.subject
  }
}
