import type { Envelope, Priority } from '../envelope/index.js'
import type { DeliveryGuarantee } from '../envelope/delivery.js'
import type { EncryptFor } from '../sealing/index.js'

/** Who must acknowledge a reliable publish: peer ids, or the agents holding a role when it is published. */
export type Recipients = readonly string[] | { role: string }

export interface PublishOptions {
  priority?: Priority
  ttl?: number
  headers?: Record<string, string>
  /**
   * Signs the envelope once built (signature.ts `signEnvelope`): the gateway signs what it
   * publishes on a client's behalf. Not with a sealed at-most-once publish (its group is made after).
   */
  sign?: (env: Envelope) => Envelope
  correlationId?: string
  conversationId?: string
  type?: 'EVENT' | 'NOTIFICATION' | 'INFORM' | 'HEARTBEAT'
  /** Seal the payload for these peers, or the agents holding a role now (docs/security.md, "Sealed payloads"). */
  encryptFor?: EncryptFor
  /**
   * The guarantee on a topic (docs/delivery.md, "Publish (gossip)"): at-most-once (default) is
   * gossip alone; at-least-once and exactly-once need `recipients`, who acknowledge it.
   */
  delivery?: DeliveryGuarantee
  /** Reliable publish: the peers that must acknowledge it (required: "every subscriber" is no set a publisher can know). */
  recipients?: Recipients
  /** Reliable publish: how long a recipient's acknowledgement of the gossip copy may take before it is sent the envelope directly. */
  ackTimeoutMs?: number
  /** Reliable publish: withdraws what is not yet acknowledged (its direct copies leave the outbox). */
  signal?: AbortSignal
}

/**
 * What a reliable topic envelope passes through before its subscribers get it (protocols/delivery
 * sets it): duplicates dropped, sequence order restored, acknowledgements sent. `deliver` hands it
 * to the local subscriptions; the gate calls it at most once, now or later (after a gap).
 * - `accepted`: delivered or waiting its turn; `duplicate`: delivered before, dropped;
 * - `refused`: not taken (e.g. too far ahead of its sequence): a direct copy is to be sent again.
 */
export type TopicGate = (env: Envelope, topic: string, via: 'gossip' | 'direct', deliver: () => void) => GateVerdict
export type GateVerdict = 'accepted' | 'duplicate' | 'refused'
