/**
 * Per-peer limits on what a remote peer may ask of this node (issue 13): token buckets of
 * requests/s and bytes/s per peer, one pair for the mesh's liveness messages and one for every
 * other request, and a cool-down for a peer that stays over them. Pure: the time is passed in;
 * the rpc service answers the refusals and the connection gater (node/libp2p.ts) enforces the
 * cool-down. One instance per node, shared by both as the libp2p service LIMITER_SERVICE.
 */
import { INTERNAL_SUBJECTS } from './constants.js'
import { TokenBucket } from '../core/token-bucket.js'

export interface RateLimits {
  /** Requests per second per peer (0: no limit). */
  requestsPerSec: number
  /** Request bytes per second per peer (0: no limit); internal messages have a bucket of the same size of their own. */
  bytesPerSec: number
  /** Liveness messages (INTERNAL_SUBJECTS) per second per peer (0: no limit). */
  internalPerSec: number
  /** Seconds in a row with a refusal in each after which the peer is disconnected (0: never). */
  floodSeconds: number
  /** How long a disconnected flooder is refused. */
  cooldownMs: number
  /** The largest frame: the bytes bucket always holds two, so no allowed message is refused for its size alone. */
  maxMessageBytes: number
  /** After a refusal the peer's frames are not read for the wait it was told, at least this long (ms; 0: not held). */
  holdMinMs?: number
}

export type LimitName = 'requests' | 'bytes' | 'internal' | 'internal_bytes'

export type Verdict =
  | { ok: true }
  | { ok: false, limit: LimitName, retryAfterMs: number, flooding: boolean }

interface PeerState {
  buckets: Map<LimitName, TokenBucket>
  /** Start of the current run of refusals, and the last refusal in it. */
  overSince?: number
  lastRefused?: number
  lastSeen: number
  /** Its frames are not read before this time (after a refusal). */
  heldUntil?: number
}

/** State for this many peers is kept before idle ones (all buckets full) are dropped. */
const PRUNE_ABOVE = 1_024
/** A run of refusals ends when a second passes without one. */
const RUN_GAP_MS = 1_000
/**
 * A refused peer's frames wait at least this long (enough for the bucket to refill a few
 * percent, so the peer is refused a few dozen times a second rather than thousands), and at
 * most a second whatever the wait it was told (liveness messages share the stream).
 */
const HOLD_MIN_MS = 20
const HOLD_MAX_MS = 1_000

export class PeerLimiter {
  readonly limits: RateLimits
  private readonly peers = new Map<string, PeerState>()
  private readonly cooling = new Map<string, number>()

  constructor (limits: RateLimits) {
    this.limits = limits
  }

  /**
   * Charges one request of `bytes` from `peer` on `subject` (`weight` requests' worth) and says whether it may run. A
   * refusal that ends a run of `floodSeconds` puts the peer in its cool-down (`flooding`): the
   * caller disconnects it.
   */
  check (peer: string, subject: string, bytes: number, now: number, weight = 1): Verdict {
    const state = this.state(peer, now)
    const internal = INTERNAL_SUBJECTS.has(subject)
    const count: LimitName = internal ? 'internal' : 'requests'
    const size: LimitName = internal ? 'internal_bytes' : 'bytes'
    for (const [limit, n] of [[count, weight], [size, bytes]] as const) {
      const bucket = this.bucket(state, limit, now)
      const wait = bucket?.take(n, now) ?? 0
      if (wait > 0) {
        const hold = this.limits.holdMinMs ?? HOLD_MIN_MS
        if (hold > 0) state.heldUntil = now + Math.min(Math.max(wait, hold), HOLD_MAX_MS)
        return { ok: false, limit, retryAfterMs: wait, flooding: this.refused(peer, state, now) }
      }
    }
    return { ok: true }
  }

  /**
   * How long the peer's next frames wait before they are read (0: at once). A refused peer that
   * is answered at once just sends again: a flooder with 100 requests in flight was answered
   * ~10,000 refusals a second, and that work, not its admitted requests, delayed everyone else.
   * Held, it is answered about once per hold, and its requests wait at its own end.
   */
  holdMs (peer: string, now: number): number {
    const until = this.peers.get(peer)?.heldUntil
    return until !== undefined && until > now ? until - now : 0
  }

  /** How full the peer's requests bucket is (0 to 1; 1 with no limit or nothing charged yet). */
  level (peer: string, now: number): number {
    return this.peers.get(peer)?.buckets.get('requests')?.level(now) ?? 1
  }

  /** Whether the peer is in its cool-down (the gater refuses its connections). */
  coolingDown (peer: string, now: number): boolean {
    const until = this.cooling.get(peer)
    if (until === undefined) return false
    if (until > now) return true
    this.cooling.delete(peer)
    return false
  }

  /** Peers in their cool-down now. */
  cooled (now: number): string[] {
    return [...this.cooling.keys()].filter(p => this.coolingDown(p, now))
  }

  private refused (peer: string, state: PeerState, now: number): boolean {
    if (state.lastRefused === undefined || now - state.lastRefused > RUN_GAP_MS) state.overSince = now
    state.lastRefused = now
    const { floodSeconds, cooldownMs } = this.limits
    if (floodSeconds <= 0 || now - (state.overSince ?? now) < floodSeconds * 1000) return false
    this.cooling.set(peer, now + cooldownMs)
    // Its buckets and run start afresh after the cool-down.
    this.peers.delete(peer)
    return true
  }

  private state (peer: string, now: number): PeerState {
    let state = this.peers.get(peer)
    if (state === undefined) {
      if (this.peers.size >= PRUNE_ABOVE) this.prune(now)
      state = { buckets: new Map(), lastSeen: now }
      this.peers.set(peer, state)
    }
    state.lastSeen = now
    return state
  }

  private bucket (state: PeerState, limit: LimitName, now: number): TokenBucket | undefined {
    let bucket = state.buckets.get(limit)
    if (bucket !== undefined) return bucket
    const l = this.limits
    const rate = limit === 'requests' ? l.requestsPerSec : limit === 'internal' ? l.internalPerSec : l.bytesPerSec
    if (rate <= 0) return undefined
    // A burst of one second's worth; a bytes bucket always holds two of the largest frames.
    const capacity = limit === 'requests' || limit === 'internal' ? rate : Math.max(rate, 2 * l.maxMessageBytes)
    bucket = new TokenBucket(rate, capacity, now)
    state.buckets.set(limit, bucket)
    return bucket
  }

  /** Drops peers whose buckets are all full and who are in no run of refusals. */
  private prune (now: number): void {
    for (const [peer, s] of this.peers) {
      const inRun = s.lastRefused !== undefined && now - s.lastRefused <= RUN_GAP_MS
      if (!inRun && [...s.buckets.values()].every(b => b.full(now))) this.peers.delete(peer)
    }
    for (const [peer, until] of this.cooling) if (until <= now) this.cooling.delete(peer)
  }
}

/**
 * The label a peer is counted under: its id for the first MAX_LABELLED_PEERS peers that were
 * ever limited, "other" after that, so a stream of fresh identities cannot grow /metrics.
 */
export class PeerLabels {
  private readonly named = new Set<string>()
  constructor (private readonly max: number) {}
  label (peer: string): string {
    if (this.named.has(peer)) return peer
    if (this.named.size >= this.max) return 'other'
    this.named.add(peer)
    return peer
  }
}
