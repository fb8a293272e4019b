/**
 * The hook reliable delivery (protocols/delivery) sets on the rpc server: rpc knows that a message
 * asked for at-least-once or exactly-once (its am-delivery header), not what that takes.
 */
import type { AgentMeshError } from '../core/errors.js'
import type { Envelope } from '../envelope/index.js'
import { HEADER_DELIVERY } from '../envelope/delivery.js'

/** What a handler's run came to: its answer's payload, or the error answered. */
export type Outcome = { payload: unknown, error?: undefined } | { error: AgentMeshError }

export interface ReliableReceiver {
  /**
   * Runs `run` (the handler, with its schema check of the answer) for a reliable message, or
   * answers without it (an exactly-once duplicate). `peer` is the authenticated sender.
   */
  serve: (env: Envelope, peer: string, run: () => Promise<Outcome>) => Promise<Outcome>
  /** A reliable message refused before any handler ran (admission, authorization, unknown command, schema). */
  refused: (env: Envelope, peer: string, error: AgentMeshError) => void
}

/** Whether the sender asked for more than at-most-once. */
export function isReliable (env: Envelope): boolean {
  const d = env.headers[HEADER_DELIVERY]
  return d !== undefined && d !== 'at-most-once'
}
