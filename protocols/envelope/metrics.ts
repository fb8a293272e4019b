/**
 * What the message protocols (rpc, pubsub) count, as an interface: the node's `Stats` implements
 * it, so the protocols depend on this and never on the node. Counter names are the ones R-MON
 * names; the node decides how they are exposed.
 */
import type { Envelope } from './schema.js'

export type Labels = Record<string, string>

/** The counters the message protocols increase. */
export type MessageCounter = 'messages_total' | 'rpc_errors_total' | 'gossip_rejected_total' | 'streams_aborted_total'

export interface MessageMetrics {
  inc: (name: MessageCounter, labels?: Labels, by?: number) => void
  /**
   * Counts a message handled normally; returns whether it is the agents' own traffic (true) or
   * the mesh's housekeeping (false), which is counted apart and not logged or timed.
   */
  message: (subject: string | undefined, labels: { direction: string, type: string, status: string }) => boolean
  /** A latency in seconds: request (caller, send to answer), handle (handler), deliver (publish to receipt). */
  observe: (operation: 'request' | 'handle' | 'deliver', type: string, seconds: number) => void
  /** Recent messages, for the debug endpoint. */
  readonly messages: { add: (env: Envelope, direction: 'in' | 'out', size?: number, latencyMs?: number) => void }
}
