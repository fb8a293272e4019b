/** Reliable delivery and dead letters as a node builds them (node/services.ts calls these). */
import { ValidationError } from '../protocols/core/errors.js'
import { DeadLetters } from '../protocols/delivery/dead-letters.js'
import { DeliveryService } from '../protocols/delivery/index.js'
import type { DeadLetter } from '../protocols/delivery/types.js'
import type { RpcService } from '../protocols/rpc/index.js'
import type { NodeHost } from './service-types.js'
import type { AuditSink } from '../protocols/core/audit.js'
import { privateKeyOf } from '../protocols/coordination/election-keys.js'

/** Delivery over the node's rpc, its state in the store, what it gives up on to the dead letters. */
export function buildDelivery (host: NodeHost, rpc: RpcService, deadLetters: DeadLetters, audit?: AuditSink): DeliveryService {
  const { config, log } = host
  const delivery = new DeliveryService({
    rpc,
    store: host.store,
    log,
    guarantee: config.delivery.guarantee,
    retry: config.retry,
    breaker: config.breaker,
    dedup: { windowMs: config.delivery.dedupWindowMs, maxEntries: config.delivery.dedupMaxEntries },
    timeoutMs: config.rpc.timeoutMs,
    ordering: { reorderBuffer: config.delivery.reorderBuffer, gapTimeoutMs: config.delivery.gapTimeoutMs },
    deadLetters,
    // Signs each retry of a signed (gateway) request again; audits an outbox message refused for its signature.
    signer: { peer: host.peerId, privateKey: privateKeyOf(host.libp2p) },
    ...(audit !== undefined ? { audit } : {})
  })
  // Replay sends a letter again under its original id and idempotency key (an exactly-once
  // receiver still recognises it). A reliable one leaves the dead letters once back in the outbox;
  // if its retries run out again it returns as a new letter. An at-most-once one is tried once here.
  deadLetters.resendWith(async (l) => {
    if (l.peer === undefined) throw new ValidationError(`dead letter ${l.id} names no peer to send it to`)
    await delivery.resend(l.envelope, l.peer, { handOff: true })
  })
  return delivery
}

/** Dead letters in the store's 'dead-letters' space, signed with the node's key (checked on replay), with their metrics. */
export function buildDeadLetters (host: NodeHost, audit: AuditSink): DeadLetters {
  const { stats } = host
  const signer = { peer: host.peerId, privateKey: privateKeyOf(host.libp2p) }
  const deadLetters = new DeadLetters({ space: host.store.space<DeadLetter>('dead-letters'), ...host.config.deadLetters, log: host.log, signer, audit })
  deadLetters.addEventListener('dead', (e) => { stats.inc('dead_letters_total', { reason: e.detail.reason, kept: String(e.detail.kept) }) })
  deadLetters.addEventListener('evicted', (e) => { stats.inc('dead_letters_evicted_total', { bound: e.detail.bound }, e.detail.count) })
  stats.gauge('dead_letters_held', 'Dead letters held in this node\'s store (deadLetters.maxEntries at most)', () => deadLetters.count)
  return deadLetters
}
