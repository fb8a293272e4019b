/**
 * Per-publisher limits on gossip (issue 13): a flooder sent 12,000 gossip messages in 15 s and
 * was never throttled. Each publisher (the signer of the message, msg.from: gossipsub checked
 * its signature before any validator runs) has a token bucket of gossip messages per second,
 * whoever relays them, so an honest relay is never charged for what it forwards.
 *
 * A message over the limit is ignored (dropped, not forwarded), never rejected: gossipsub marks
 * a rejected message invalid and penalises every peer that forwards a copy of it later, so an
 * honest relay that took the message (under its own limit) would be graylisted for the flood it
 * relayed (measured: its score fell as low as the flooder's). When the publisher sent it to us
 * itself, it gets a behaviour penalty instead (P7, -10 x count squared, decaying to a fifth each
 * second): three messages over the limit within a second or so put it below the graylist
 * threshold (-80), and gossipsub then drops its traffic before any validation. A publisher still
 * refused in every second for `floodSeconds` is disconnected and refused for the cool-down (the
 * connection gater in node/libp2p.ts asks the same limiter).
 *
 * A publisher refused a message it sent itself is also **held**: every RPC it sends is dropped
 * unread (gossip-intake.ts) and charged one message, until its bucket is half full again (it
 * slowed down to under its limit for a while) or it has been over for `floodSeconds`
 * (disconnected). So a flooder costs this node no validation from its first message over the
 * limit, only the reading of its frames, instead of having every message verified until
 * gossipsub's score cache notices the penalty (up to a second) and then a limit's worth a second
 * for as long as it keeps on; and a graylisted flooder that keeps sending is disconnected
 * instead of being read for ever.
 */
import type { Libp2p } from '@libp2p/interface'
import { peerIdOf } from '../core/peer-keys.js'
import type { Logger } from 'pino'
import { AuditPacer, noAudit, type AuditSink } from '../core/audit.js'
import type { Labels, MessageCounter, MessageMetrics } from '../envelope/metrics.js'
import { PeerLabels, PeerLimiter } from '../rpc/limits.js'
import { MAX_LABELLED_PEERS, DEFAULT_COOLDOWN_MS } from '../rpc/constants.js'
import { DEFAULT_GOSSIP_FLOOD_SECONDS, DEFAULT_PUBLISH_PER_SEC, DIRECT_FRAME_WEIGHT, GOSSIP_BYTES_PER_MESSAGE, GOSSIP_ENVELOPES_PER_MESSAGE, GOSSIP_LIMITER_SERVICE } from './constants.js'

/** What gossip counts: the message protocols' counters and the two of its limits (node/stats.ts describes them). */
export interface GossipMetrics extends Omit<MessageMetrics, 'inc'> {
  inc: (name: MessageCounter | 'gossip_rate_limited_total' | 'gossip_flooders_disconnected_total' | 'gossip_rpcs_dropped_total' | 'broadcast_batches_total', labels?: Labels, by?: number) => void
}

/**
 * How a message received is charged: it came by gossip; on its publisher's own fan-out stream,
 * the publisher having said WEIGHS_DIRECT_HALF in its hello (it budgets as this build does); or
 * on the stream of an older build that did not say it, charged in full as that build budgets its
 * frames (its batches, up to the default batchMaxBytes, weigh no more by their bytes).
 */
export type Charge = 'gossip' | 'direct' | 'direct-legacy'

/** Why an RPC was dropped unread (gossip_rpcs_dropped_total's reason). */
export type DropReason = 'held' | 'graylisted' | 'cooling'

export interface GossipLimits {
  /** Gossip messages per second per publisher (0: no limit). */
  publishPerSec: number
  /** Seconds in a row over the limit after which the publisher is disconnected (0: never). */
  floodSeconds: number
  /** How long a disconnected flooder is refused. */
  cooldownMs: number
}

/** The limiter of gossip publishers: rpc's per-peer buckets with one bucket (messages/s) and no hold. */
export function gossipLimiter (limits: GossipLimits): PeerLimiter {
  return new PeerLimiter({
    requestsPerSec: limits.publishPerSec,
    bytesPerSec: 0,
    internalPerSec: 0,
    floodSeconds: limits.floodSeconds,
    cooldownMs: limits.cooldownMs,
    maxMessageBytes: 0,
    holdMinMs: 0
  })
}

export interface GossipGuardInit {
  libp2p: Libp2p
  stats: GossipMetrics
  log: Logger
  publishPerSec?: number
  floodSeconds?: number
  audit?: AuditSink
  /** Lowers the gossipsub score of a publisher that sent us messages over its limit itself. */
  penalise?: (peer: string) => void
  /** Whether gossipsub graylists the peer now (its score is below the graylist threshold): its RPCs are dropped unread. */
  graylisted?: (peer: string) => boolean
}

/** A limit.exceeded audit event at most this often per publisher; a gap longer than this starts a new run (gossip.graylisted). */
const AUDIT_EVERY_MS = 1_000
/** How long after the verdict a flooder is hung up on (out of the validator's call). */
const HANG_UP_DELAY_MS = 10
/** A held publisher that sends nothing is let go after this long (each RPC it sends meanwhile extends it). */
const HOLD_MS = 1_000
/** ... or once its bucket is this full again: a flooder that sends at its limit stays held, not let in a message at a time. */
const RELEASE_LEVEL = 0.5
/** Held publishers remembered before the expired ones are swept. */
const MAX_HELD = 1_024
/** The subject an RPC read while its peer is held is charged under (any but the liveness subjects: the requests bucket). */
const INTAKE_SUBJECT = 'gossip'

export class GossipGuard {
  readonly limiter: PeerLimiter
  private readonly init: GossipGuardInit
  private readonly audit: AuditSink
  private readonly labels = new PeerLabels(MAX_LABELLED_PEERS)
  /** A limit.exceeded audit event at most once a second per publisher, with the count refused since. */
  private readonly pacer = new AuditPacer(AUDIT_EVERY_MS)
  /** Publishers held (their RPCs dropped unread), until when. */
  private readonly held = new Map<string, number>()

  constructor (init: GossipGuardInit) {
    this.init = init
    this.audit = init.audit ?? noAudit
    // The node's own limiter (node/libp2p.ts), shared with its connection gater; else one from the init.
    const shared = (init.libp2p.services as Record<string, unknown> | undefined)?.[GOSSIP_LIMITER_SERVICE]
    this.limiter = shared instanceof PeerLimiter
      ? shared
      : gossipLimiter({
        publishPerSec: init.publishPerSec ?? DEFAULT_PUBLISH_PER_SEC,
        floodSeconds: init.floodSeconds ?? DEFAULT_GOSSIP_FLOOD_SECONDS,
        cooldownMs: DEFAULT_COOLDOWN_MS
      })
  }

  /**
   * Charges `weight` gossip messages to the publisher: whether the message may be taken (false:
   * ignore it). A message is charged what one envelope and its bytes weigh before it is decoded,
   * then the rest of weightOf(its envelopes, its bytes).
   */
  check (propagator: string, publisher: string, topic: string, weight = 1, now = Date.now()): boolean {
    const verdict = this.limiter.check(publisher, topic, 0, now, weight)
    if (verdict.ok) return true
    const { stats } = this.init
    stats.inc('gossip_rate_limited_total', { peer: this.labels.label(publisher) })
    stats.inc('messages_total', { direction: 'in', type: 'EVENT', status: 'rate_limited' })
    const direct = propagator === publisher
    this.record(publisher, now, topic, direct)
    if (verdict.flooding) this.disconnect(publisher, topic)
    if (direct) {
      this.init.penalise?.(publisher)
      this.hold(publisher, now)
    }
    return false
  }

  /**
   * Whether an RPC from `peer` (the one sending it to us) is read at all (gossip-intake.ts asks
   * before gossipsub decodes it). Refused: a peer in its cool-down, one gossipsub graylists, and
   * one held after a direct message over its limit. The last two are charged a message per RPC,
   * so one that keeps sending stays refused and is disconnected after `floodSeconds`; a held
   * peer whose bucket is half full again is let go.
   */
  admitsRpc (peer: string, now: number): boolean {
    if (this.limiter.coolingDown(peer, now)) return this.dropped(peer, 'cooling')
    const graylisted = this.init.graylisted?.(peer) === true
    const until = this.held.get(peer)
    if (!graylisted && (until === undefined || until <= now)) {
      if (until !== undefined) this.held.delete(peer)
      return true
    }
    const verdict = this.limiter.check(peer, INTAKE_SUBJECT, 0, now)
    if (verdict.ok && !graylisted && this.limiter.level(peer, now) >= RELEASE_LEVEL) {
      this.held.delete(peer)
      return true
    }
    if (verdict.ok) {
      if (!graylisted) this.hold(peer, now)
      return this.dropped(peer, graylisted ? 'graylisted' : 'held')
    }
    this.hold(peer, now)
    this.record(peer, now, undefined, false)
    if (verdict.flooding) this.disconnect(peer, undefined)
    return this.dropped(peer, graylisted ? 'graylisted' : 'held')
  }

  /**
   * Whether `peer`'s frames on its own fan-out stream are read at all: not while it is held or in
   * its cool-down. Such a frame is dropped unread, before it is decompressed (a small compressed
   * frame may inflate to the largest batch) or decoded, and counted as an RPC dropped.
   */
  readsFrom (peer: string, now: number): boolean {
    if (this.limiter.coolingDown(peer, now)) return this.dropped(peer, 'cooling')
    const until = this.held.get(peer)
    if (until === undefined) return true
    if (until > now) return this.dropped(peer, 'held')
    this.held.delete(peer)
    return true
  }

  private dropped (peer: string, reason: DropReason): false {
    this.init.stats.inc('gossip_rpcs_dropped_total', { peer: this.labels.label(peer), reason })
    // Gossipsub's score says what its RPCs no longer show it: under the graylist threshold, it
    // is also left out of this node's mesh and gossip (publish and gossip thresholds).
    if (reason === 'held') this.init.penalise?.(peer)
    return false
  }

  private hold (peer: string, now: number): void {
    if (this.held.size >= MAX_HELD && !this.held.has(peer)) for (const [p, until] of this.held) if (until <= now) this.held.delete(p)
    this.held.set(peer, now + HOLD_MS)
  }

  /** Hangs up on a publisher that stayed over its limit; the gater refuses it for the cool-down. */
  private disconnect (publisher: string, topic: string | undefined): void {
    const { stats, log, libp2p } = this.init
    this.held.delete(publisher)
    stats.inc('gossip_flooders_disconnected_total', { peer: this.labels.label(publisher) })
    const cooldownMs = this.limiter.limits.cooldownMs
    log.warn({ peer: publisher, topic, cooldown_ms: cooldownMs }, 'publisher stayed over its gossip limit: disconnected for the cool-down')
    this.audit.record({ kind: 'limit.disconnected', peer: publisher, code: 'RATE001', reason: 'gossip published over the limit', detail: { limit: 'gossip', cooldown_ms: cooldownMs } })
    setTimeout(() => { libp2p.hangUp(peerIdOf(publisher)).catch(() => {}) }, HANG_UP_DELAY_MS)
  }

  /**
   * What a message of `envelopes` envelopes and `bytes` bytes (its batch, as decoded) costs, in
   * gossip messages: a unit per GOSSIP_ENVELOPES_PER_MESSAGE envelopes begun (DIRECT_FRAME_WEIGHT a
   * unit on the fan-out stream of a publisher that said WEIGHS_DIRECT_HALF), or its bytes /
   * GOSSIP_BYTES_PER_MESSAGE, whichever is more.
   */
  static weightOf (envelopes: number, charge: Charge = 'gossip', bytes = 0): number {
    const units = Math.max(1, Math.ceil(envelopes / GOSSIP_ENVELOPES_PER_MESSAGE))
    return Math.max(units * (charge === 'direct' ? DIRECT_FRAME_WEIGHT : 1), bytes / GOSSIP_BYTES_PER_MESSAGE)
  }

  /** Audits a publisher over its limit once a second at most, and each new run as graylisting. */
  private record (publisher: string, now: number, topic: string | undefined, direct: boolean): void {
    const paced = this.pacer.pace(publisher, now)
    if (paced === undefined) return
    const detail = { limit: 'gossip', per_sec: this.limiter.limits.requestsPerSec, refused: paced.refused, ...(topic !== undefined ? { topic } : { unread: true }) }
    this.audit.record({ kind: 'limit.exceeded', peer: publisher, code: 'RATE001', reason: 'gossip published over the limit', detail })
    // A new run: its penalties put it below gossipsub's graylist threshold.
    if (direct && paced.sinceMs > 2 * AUDIT_EVERY_MS) {
      this.audit.record({ kind: 'gossip.graylisted', peer: publisher, code: 'RATE001', reason: 'invalid-message penalty for gossip over the limit', detail: topic !== undefined ? { topic } : {} })
    }
  }
}
