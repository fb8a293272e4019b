/**
 * The rpc service's side of the per-peer limits: charges each request to its sender's buckets
 * (limits.ts), counts and answers a refusal, and disconnects a flooder; the connection gater
 * (node/libp2p.ts) keeps it out for the cool-down.
 */
import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdOf } from '../core/peer-keys.js'
import type { Logger } from 'pino'
import { AuditPacer, noAudit, type AuditSink } from '../core/audit.js'
import { RateLimitedError } from '../core/errors.js'
import type { Envelope } from '../envelope/index.js'
import type { Labels, MessageCounter, MessageMetrics } from '../envelope/metrics.js'
import * as c from './constants.js'
import { PeerLabels, PeerLimiter, type LimitName } from './limits.js'

/** What rpc counts: the message protocols' counters and the two of the limits (node/stats.ts describes them). */
export interface RpcMetrics extends Omit<MessageMetrics, 'inc'> {
  inc: (name: MessageCounter | 'rpc_rate_limited_total' | 'rpc_flooders_disconnected_total', labels?: Labels, by?: number) => void
}

export interface GuardInit {
  libp2p: Libp2p
  stats: RpcMetrics
  log: Logger
  maxMessageBytes: number
  limiter?: PeerLimiter
  /** Records limit.exceeded (at most once a second per peer) and limit.disconnected. */
  audit?: AuditSink
}

/** How long after the refusal a flooder is hung up on: its answer is written first. */
const HANG_UP_DELAY_MS = 10

export class RateGuard {
  readonly limiter: PeerLimiter
  private readonly init: GuardInit
  private readonly labels = new PeerLabels(c.MAX_LABELLED_PEERS)
  private readonly audit: AuditSink
  /** A limit.exceeded audit event at most once a second per peer, with the count refused since. */
  private readonly pacer = new AuditPacer()

  constructor (init: GuardInit) {
    this.init = init
    this.audit = init.audit ?? noAudit
    // The node's own limiter (node/libp2p.ts), shared with its connection gater; else the defaults.
    const shared = (init.libp2p.services as Record<string, unknown> | undefined)?.[c.LIMITER_SERVICE]
    this.limiter = init.limiter ?? (shared instanceof PeerLimiter ? shared : defaultLimiter(init.maxMessageBytes))
  }

  /** The error to answer `env` with when its sender is over a limit; undefined when it may run. */
  check (env: Envelope, peer: string, bytes: number, weight = 1): RateLimitedError | undefined {
    const now = Date.now()
    const verdict = this.limiter.check(peer, env.subject, bytes, now, weight)
    if (verdict.ok) return undefined
    const { stats, log, libp2p } = this.init
    const label = this.labels.label(peer)
    stats.inc('rpc_rate_limited_total', { peer: label, limit: verdict.limit })
    stats.inc('messages_total', { direction: 'in', type: env.type, status: 'rate_limited' })
    this.record(peer, verdict.limit, env, now)
    if (verdict.flooding) {
      stats.inc('rpc_flooders_disconnected_total', { peer: label })
      const cooldownMs = this.limiter.limits.cooldownMs
      log.warn({ peer, limit: verdict.limit, cooldown_ms: cooldownMs }, 'peer stayed over its rpc limits: disconnected for the cool-down')
      this.audit.record({ kind: 'limit.disconnected', peer, code: 'RATE001', reason: 'rpc requests over the limit', detail: { limit: verdict.limit, cooldown_ms: cooldownMs } })
      setTimeout(() => { libp2p.hangUp(peerIdOf(peer)).catch(() => {}) }, HANG_UP_DELAY_MS)
    }
    return new RateLimitedError(`over the ${verdict.limit} limit for this peer (${this.rateOf(verdict.limit)}/s): retry after ${verdict.retryAfterMs} ms`)
  }

  /** The gater refuses a flooder's new connections; a stream on one still open is refused here. */
  refusesStream (peer: string, stream: Stream): boolean {
    if (!this.limiter.coolingDown(peer, Date.now())) return false
    this.init.stats.inc('streams_aborted_total', { protocol: 'rpc', reason: 'cooling_down' })
    stream.abort(new RateLimitedError('this peer is in its cool-down after flooding'))
    return true
  }

  /** Audits a peer over its limits once a second at most, with the count refused since the last. */
  private record (peer: string, limit: LimitName, env: Envelope, now: number): void {
    const paced = this.pacer.pace(peer, now)
    if (paced === undefined) return
    const detail = { limit, per_sec: this.rateOf(limit), subject: env.subject.slice(0, 128), refused: paced.refused }
    this.audit.record({ kind: 'limit.exceeded', peer, correlationId: env.id, code: 'RATE001', reason: 'rpc requests over the limit', detail })
  }

  private rateOf (limit: LimitName): number {
    const l = this.limiter.limits
    return limit === 'requests' ? l.requestsPerSec : limit === 'internal' ? l.internalPerSec : l.bytesPerSec
  }
}

export function defaultLimiter (maxMessageBytes: number): PeerLimiter {
  return new PeerLimiter({
    requestsPerSec: c.DEFAULT_REQUESTS_PER_SEC,
    bytesPerSec: c.DEFAULT_BYTES_PER_SEC,
    internalPerSec: c.DEFAULT_INTERNAL_PER_SEC,
    floodSeconds: c.DEFAULT_FLOOD_SECONDS,
    cooldownMs: c.DEFAULT_COOLDOWN_MS,
    maxMessageBytes
  })
}

/** Waits `ms`, or rejects with `reason()` as soon as `signal` fires. */
export async function pause (ms: number, signal: AbortSignal, reason: () => Error): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(timer); reject(reason()) }
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    if (signal.aborted) { onAbort(); return }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
