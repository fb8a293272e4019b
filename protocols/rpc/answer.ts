/** The answer envelope a server sends for a request: its payload, or a typed error (counted and logged). */
import type { Logger } from 'pino'
import { makeEnvelope, type Envelope } from '../envelope/index.js'
import { RateLimitedError, type AgentMeshError } from '../core/errors.js'
import { messageFields } from '../envelope/log-fields.js'
import type { RpcMetrics } from './guard.js'

export function answerTo (localPeer: string, init: { stats: RpcMetrics, log: Logger }, env: Envelope, payload: unknown, error?: AgentMeshError): Envelope {
  const reply = makeEnvelope({
    source: localPeer,
    destination: { peer: env.source },
    type: 'RESPONSE',
    subject: env.subject,
    payload: error === undefined ? payload : null,
    correlationId: env.id,
    ...(env.conversationId !== undefined ? { conversationId: env.conversationId } : {})
  })
  if (error !== undefined) {
    reply.error = { code: error.code, name: error.name, message: error.message.slice(0, 4096) }
    init.stats.inc('rpc_errors_total', { code: error.code, reason: error.name })
    // agentmesh's own commands refuse as part of their protocol (not the coordinator, no
    // handler for a task type): counted above, logged only at debug. A user's are warnings.
    // A flood's thousands of refusals are counted, not logged one by one.
    const level = env.subject.startsWith('$') || error instanceof RateLimitedError ? 'debug' : 'warn'
    init.log[level]({ ...messageFields(env), code: error.code, error: error.name, detail: error.message }, 'request answered with an error')
  }
  return reply
}
