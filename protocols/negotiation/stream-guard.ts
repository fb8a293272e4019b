/**
 * Per-peer limits of the protocols where one stream is one conversation: negotiation and model
 * fetches (issue 13). libp2p bounds only the streams open at once per connection (16 and 8), and
 * a peer may open several connections and a new stream as soon as one ends, so each peer has a
 * token bucket of new conversations per second (protocols/core/token-bucket.ts) and a cap on its
 * conversations open at once, whatever its connections. A conversation over either is refused
 * before a byte of it is read; the service answers the refusal in its own framing. A peer
 * refused in every second for `floodSeconds` is cooled down (hung up on and its connections
 * refused for a while, node/connection-gate.ts) rather than refused stream by stream for ever.
 */
import { AuditPacer, noAudit, type AuditSink } from '../core/audit.js'
import { RateLimitedError } from '../core/errors.js'
import { MAX_LABELLED_PEERS } from '../rpc/constants.js'
import { PeerLabels } from '../rpc/limits.js'
import { TokenBucket } from '../core/token-bucket.js'

/** The libp2p service a node gives its stream limits in (node/libp2p.ts builds it from the config). */
export const STREAM_LIMITS_SERVICE = 'streamLimits'

export interface StreamLimits {
  /** New conversations per second per peer, a one-second burst (0: no limit). */
  perSec: number
  /** Conversations one peer may hold open at once (0: no limit). */
  concurrent: number
  /** Seconds in a row with a refusal in each after which `coolDown` is called (0 or absent: never). */
  floodSeconds?: number
  /** Hangs up on the peer and refuses its connections for the cool-down (the node's connection gate). */
  coolDown?: (peer: string) => void
}

/** What a node's STREAM_LIMITS_SERVICE holds: the limits of each protocol. */
export interface StreamLimitSettings { negotiation: StreamLimits, learning: StreamLimits }

/** The counter a refusal is counted in (node/stats.ts describes it). */
export interface StreamMetrics {
  inc: (name: 'stream_rate_limited_total' | 'stream_flooders_disconnected_total' | 'streams_aborted_total', labels?: Record<string, string>, by?: number) => void
}

export interface StreamGuardInit {
  /** The protocol's name in the counter's label and the audit (negotiation, learning). */
  protocol: string
  limits: StreamLimits
  stats?: StreamMetrics
  audit?: AuditSink
  /** Closed mesh: whether the peer's admission completed (node/admission.ts); absent, every peer is. */
  admits?: (peer: string) => boolean
}

export type StreamVerdict =
  | { ok: true, release: () => void }
  | { ok: false, limit: 'rate' | 'concurrent', error: RateLimitedError }

interface PeerState {
  bucket?: TokenBucket
  open: number
  /** Start of the current run of refusals, and its last refusal. */
  overSince?: number
  lastRefused?: number
}

/** A run of refusals ends when a second passes without one. */
const RUN_GAP_MS = 1_000

/** State for this many peers is kept before idle ones are dropped. */
const PRUNE_ABOVE = 1_024

/** The limits of the stream protocols a node has when its libp2p node gives none. */
export function streamLimitsOf (services: unknown, protocol: keyof StreamLimitSettings, fallback: StreamLimits): StreamLimits {
  const shared = (services as Record<string, unknown> | undefined)?.[STREAM_LIMITS_SERVICE] as Partial<StreamLimitSettings> | undefined
  return shared?.[protocol] ?? fallback
}

export class StreamGuard {
  private readonly init: StreamGuardInit
  private readonly audit: AuditSink
  private readonly peers = new Map<string, PeerState>()
  private readonly labels = new PeerLabels(MAX_LABELLED_PEERS)
  /** A limit.exceeded audit event at most once a second per peer. */
  private readonly pacer = new AuditPacer()

  constructor (init: StreamGuardInit) {
    this.init = init
    this.audit = init.audit ?? noAudit
  }

  get limits (): StreamLimits { return this.init.limits }

  /**
   * A conversation opened by a peer the mesh has not admitted (its card exchange still running,
   * or failed): true when it is to be aborted before a byte of it is read. Counted and audited
   * as the rpc layer does a request before admission (SEC001); the audit log folds a burst into
   * one line a second per peer.
   */
  unadmitted (peer: string): boolean {
    if (this.init.admits === undefined || this.init.admits(peer)) return false
    const { protocol } = this.init
    this.init.stats?.inc('streams_aborted_total', { protocol, reason: 'not_admitted' })
    this.audit.record({ kind: 'admission.refused', peer, code: 'SEC001', reason: `a ${protocol} conversation before admission`, detail: { protocol } })
    return true
  }

  /**
   * A new conversation from `peer`: allowed (call `release` when it ends, once) or refused,
   * counted and audited. A refused one takes no token and holds no place.
   */
  admit (peer: string, now = Date.now()): StreamVerdict {
    const { perSec, concurrent } = this.init.limits
    const state = this.state(peer, now)
    if (concurrent > 0 && state.open >= concurrent) return this.refuse(peer, state, 'concurrent', `${concurrent} ${this.init.protocol} conversations open`, now)
    const wait = state.bucket?.take(1, now) ?? 0
    if (wait > 0) return this.refuse(peer, state, 'rate', `over ${perSec} new ${this.init.protocol} conversations/s: retry after ${wait} ms`, now)
    state.open++
    let released = false
    return {
      ok: true,
      release: () => {
        if (released) return
        released = true
        state.open--
      }
    }
  }

  /** Conversations `peer` holds open now. */
  openBy (peer: string): number { return this.peers.get(peer)?.open ?? 0 }

  private refuse (peer: string, state: PeerState, limit: 'rate' | 'concurrent', why: string, now: number): StreamVerdict {
    const { protocol } = this.init
    this.init.stats?.inc('stream_rate_limited_total', { peer: this.labels.label(peer), protocol })
    const paced = this.pacer.pace(peer, now)
    if (paced !== undefined) {
      const detail = { limit: `${protocol}_${limit}`, per_sec: this.init.limits.perSec, concurrent: this.init.limits.concurrent, refused: paced.refused }
      this.audit.record({ kind: 'limit.exceeded', peer, code: 'RATE001', reason: `${protocol} conversations over the limit`, detail })
    }
    this.flooding(peer, state, now)
    return { ok: false, limit, error: new RateLimitedError(`${why} for this peer`) }
  }

  /** A refusal that ends a run of `floodSeconds` cools the peer down. */
  private flooding (peer: string, state: PeerState, now: number): void {
    if (state.lastRefused === undefined || now - state.lastRefused > RUN_GAP_MS) state.overSince = now
    state.lastRefused = now
    const { floodSeconds = 0, coolDown } = this.init.limits
    if (floodSeconds <= 0 || coolDown === undefined || now - (state.overSince ?? now) < floodSeconds * 1000) return
    state.overSince = undefined
    state.lastRefused = undefined
    const { protocol } = this.init
    this.init.stats?.inc('stream_flooders_disconnected_total', { peer: this.labels.label(peer), protocol })
    this.audit.record({ kind: 'limit.disconnected', peer, code: 'RATE001', reason: `${protocol} conversations over the limit for ${floodSeconds} s`, detail: { limit: protocol } })
    coolDown(peer)
  }

  private state (peer: string, now: number): PeerState {
    let state = this.peers.get(peer)
    if (state !== undefined) return state
    if (this.peers.size >= PRUNE_ABOVE) {
      for (const [p, s] of this.peers) {
        const inRun = s.lastRefused !== undefined && now - s.lastRefused <= RUN_GAP_MS
        if (s.open === 0 && !inRun && (s.bucket?.full(now) ?? true)) this.peers.delete(p)
      }
    }
    const { perSec } = this.init.limits
    state = { open: 0, ...(perSec > 0 ? { bucket: new TokenBucket(perSec, perSec, now) } : {}) }
    this.peers.set(peer, state)
    return state
  }
}
