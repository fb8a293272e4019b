/**
 * What only a leader keeps, made fresh on every win (hashicorp/raft's leaderState): its
 * heartbeats' send times, what each voter acknowledged, the lease and the commit of the voter
 * set. Pure: the election passes in the time and the set.
 */
import { majority, type VoterConfig } from './voter-set.js'

/** Leases are shortened by this factor to allow for clocks that run at slightly different rates. */
export const LEASE_FACTOR = 0.9
/**
 * Heartbeats a voter the leader removed still gets, until it acks the set without it: it then
 * knows it is a non-voter, and calls no election (it follows the announcements from then on).
 */
export const FAREWELL_HEARTBEATS = 10
/** Send times kept for acks still to come: an ack older than this many heartbeats is ignored. */
const SENT_KEPT = 64

/**
 * How long a leader asks its voters to hold after a heartbeat, or undefined while what they
 * promise unasked (`promiseMs`, voter-hold.ts: less than the minimum timeout) is enough. Its
 * lease runs from a heartbeat's send time for LEASE_FACTOR of the hold a majority acked, and has
 * to outlast the wait for the next heartbeat's acks: an interval and the round trip, with a
 * second round trip for jitter (asked for only once the promise does not cover the first, so an
 * older voter refuses heartbeats only then). Acks lately `ackDelay`
 * past an interval took an interval and that delay. Without it, round trips near the minimum
 * timeout (event loops that lag) left a leader out of office for good though every voter acked
 * it and every agent followed it (the election simulation's join wave on slow links). Voters
 * hold no longer than their longest hold whatever is asked.
 */
export function holdToAsk (ackDelay: number, intervalMs: number, promiseMs: number): number | undefined {
  const roundTrip = intervalMs + ackDelay
  // Asked only once the promise no longer covers an interval and one round trip.
  if ((intervalMs + roundTrip) / LEASE_FACTOR <= promiseMs) return undefined
  return Math.ceil((intervalMs + 2 * roundTrip) / LEASE_FACTOR)
}

export class LeaderState {
  seq = 0
  nextHeartbeat = 0
  /** When the leader next announces itself on gossip (0: at once). */
  nextAnnounce = 0
  /** Agents appeared in the member view since the last look (set by the election): they learn the leader from an announcement. */
  newcomers = false
  leaseUntil?: number
  /** The send time of the newest heartbeat a majority acknowledged (check-quorum counts from it). */
  quorumAt: number
  committedVersion = 0
  /** Who acknowledged a heartbeat of this term: they accepted the certificate, which goes to the others. */
  readonly certified = new Set<string>()
  /** When each voter last acknowledged; voters removed when silent for long. */
  readonly lastHeard = new Map<string, number>()
  /** Removed voters, with the heartbeats each still gets (FAREWELL_HEARTBEATS) and the set version that removed it. */
  readonly farewell = new Map<string, { left: number, version: number }>()
  private readonly sentAt = new Map<number, number>()
  private readonly ackedAt = new Map<string, number>()
  /** Until when each voter refuses other candidates, by its newest ack: its send time plus what the voter held (shortened by LEASE_FACTOR). */
  private readonly heldUntil = new Map<string, number>()
  private readonly ackedVersion = new Map<string, number>()

  /**
   * Whether the announcement is due: every announce interval, and within `soonMs` of agents
   * joining (or coming back), so a newcomer need not wait a whole interval to know whom to
   * follow; a join wave gets one announcement per `soonMs`, not one per agent.
   */
  announceDue (now: number, soonMs: number): boolean {
    if (this.newcomers) {
      this.newcomers = false
      this.nextAnnounce = Math.min(this.nextAnnounce, now + soonMs)
    }
    return now >= this.nextAnnounce
  }

  constructor (voters: string[], now: number) {
    this.quorumAt = now
    for (const v of voters) this.lastHeard.set(v, now)
  }

  /** A heartbeat goes out now, carrying `configVersion` (which the leader holds itself): its seq. */
  sent (self: string, configVersion: number, now: number, intervalMs: number): number {
    this.seq += 1
    this.sentAt.set(this.seq, now)
    // Forget send times no ack can still be useful for.
    for (const s of this.sentAt.keys()) { if (s < this.seq - SENT_KEPT) this.sentAt.delete(s); else break }
    this.nextHeartbeat = now + intervalMs
    this.ackedVersion.set(self, configVersion)
    return this.seq
  }

  /** Who gets this heartbeat: the voters, and the removed voters still owed a farewell (each counted down). */
  targets (self: string, voters: string[]): string[] {
    const out = new Set(voters)
    for (const [peer, f] of this.farewell) {
      out.add(peer)
      if (--f.left <= 0) this.farewell.delete(peer)
    }
    out.delete(self)
    return [...out]
  }

  /** A successful ack of heartbeat `seq`: the send time of that heartbeat, or undefined if unknown. */
  acked (from: string, seq: number, configVersion: number, now: number, heldMs: number): number | undefined {
    const bye = this.farewell.get(from)
    if (bye !== undefined && configVersion >= bye.version) this.farewell.delete(from)
    const sent = this.sentAt.get(seq)
    if (sent === undefined) return undefined
    this.lastHeard.set(from, now)
    if (sent > (this.ackedAt.get(from) ?? -Infinity)) this.ackedAt.set(from, sent)
    this.heldUntil.set(from, Math.max(this.heldUntil.get(from) ?? -Infinity, sent + heldMs * LEASE_FACTOR))
    if (configVersion > (this.ackedVersion.get(from) ?? 0)) this.ackedVersion.set(from, configVersion)
    return sent
  }

  /** The leader changed its voter set from `before` to `next`: the new voters count as heard now, the removed ones get a farewell. */
  votersChanged (before: string[], next: VoterConfig, now: number): void {
    for (const v of next.voters) {
      if (!this.lastHeard.has(v)) this.lastHeard.set(v, now)
      this.farewell.delete(v)
    }
    for (const v of before) if (!next.voters.includes(v)) this.farewell.set(v, { left: FAREWELL_HEARTBEATS, version: next.version })
  }

  /** Voters that acknowledged a heartbeat sent after `since` (the leader counts itself). */
  reachable (voters: string[], self: string, since: number): number {
    return voters.filter(v => v === self || (this.ackedAt.get(v) ?? -Infinity) > since).length
  }

  /**
   * Move the lease to what a majority holds (shortened) past the newest heartbeat it answered,
   * counting the leader as acking now. True when `config` just became committed (a majority
   * holds it): the leader may then make the next change.
   */
  update (config: VoterConfig, self: string, now: number, minTimeoutMs: number): boolean {
    const needed = majority(config.voters.length)
    const times = config.voters.map(v => v === self ? now : this.ackedAt.get(v) ?? -Infinity).sort((a, b) => b - a)
    const quorumSent = times[needed - 1]
    if (quorumSent === undefined || !Number.isFinite(quorumSent)) return false
    this.quorumAt = Math.max(this.quorumAt, quorumSent)
    // The lease lasts while a majority is bound: each voter until its heartbeat's send time plus
    // what it said it holds (its promise, more when its slack stretched it or the leader asked); the send
    // time, not the ack's, as the voter got it later still. The leader is bound while it leads,
    // and alone (a set of one) renews the minimum from now.
    const held = config.voters.map(v => v === self ? Infinity : this.heldUntil.get(v) ?? -Infinity).sort((a, b) => b - a)
    const until = held[needed - 1] === Infinity ? now + minTimeoutMs * LEASE_FACTOR : held[needed - 1]
    this.leaseUntil = Math.max(this.leaseUntil ?? -Infinity, until)
    const holding = config.voters.filter(v => (this.ackedVersion.get(v) ?? 0) >= config.version).length
    if (holding < needed || this.committedVersion >= config.version) return false
    this.committedVersion = config.version
    return true
  }
}
