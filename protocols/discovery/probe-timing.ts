/**
 * How long a probe of each peer waits: `probeTimeoutMs`, or longer for a peer whose answers have
 * been coming slowly: its smoothed round trip plus four deviations (TCP's retransmission
 * timeout, RFC 6298: gains 1/8 and 1/4), at most PROBE_TIMEOUT_MAX_FACTOR times the configured
 * one. Agents whose process lags (a loaded host, many agents sharing one event loop) answer late
 * without being gone: a fixed timeout suspected them round after round, and each suspicion and
 * refutation is a signed statement every agent checks. A round trip measured here holds this
 * node's own lag too, which is why the caller takes the larger of this and Lifeguard's
 * multiplied timeout, not their product. Pure: the caller gives the time.
 */

/**
 * A probe waits at most this many times `probeTimeoutMs`, however slowly a peer has answered:
 * 2 s with the defaults, past a stall of ~1.5 s, so an agent gone is still suspected within a
 * few probe rounds.
 */
export const PROBE_TIMEOUT_MAX_FACTOR = 4

export class ProbeTiming {
  /** When the last probe of each peer went out. */
  private readonly sent = new Map<string, number>()
  private readonly rtt = new Map<string, { srtt: number, rttvar: number }>()

  constructor (private readonly baseMs: number) {}

  /** What a probe of `peer` waits now. */
  timeout (peer: string): number {
    const est = this.rtt.get(peer)
    if (est === undefined) return this.baseMs
    return Math.round(Math.min(this.baseMs * PROBE_TIMEOUT_MAX_FACTOR, Math.max(this.baseMs, est.srtt + 4 * est.rttvar)))
  }

  /** A probe of `peer` went out at `now`: it is the one answers are now for. */
  started (peer: string, now: number): void { this.sent.set(peer, now) }

  /**
   * An answer of `peer` came at `now`, to the probe sent at `sentAt` (the last one when not
   * given). Returns whether it answers the latest probe: an answer to an older one (a newer
   * probe went out since) teaches its round trip but answers nothing else.
   */
  answered (peer: string, now: number, sentAt = this.sent.get(peer)): boolean {
    if (sentAt === undefined) return false
    this.sample(peer, now - sentAt)
    const latest = sentAt === this.sent.get(peer)
    if (latest) this.sent.delete(peer)
    return latest
  }

  /** Whether a probe sent at `sentAt` (the last one when not given) is still the latest of `peer`. */
  latest (peer: string, sentAt?: number): boolean { return sentAt === undefined || sentAt === this.sent.get(peer) }

  forget (peer: string): void {
    this.sent.delete(peer)
    this.rtt.delete(peer)
  }

  /**
   * One round trip. A sample beyond the cap counts as the cap: a clock step, or an answer held
   * for minutes, would otherwise keep the timeout at its cap for dozens of probes.
   */
  private sample (peer: string, ms: number): void {
    if (!(ms >= 0)) return
    const r = Math.min(ms, this.baseMs * PROBE_TIMEOUT_MAX_FACTOR)
    const est = this.rtt.get(peer)
    if (est === undefined) { this.rtt.set(peer, { srtt: r, rttvar: r / 2 }); return }
    est.rttvar = 0.75 * est.rttvar + 0.25 * Math.abs(est.srtt - r)
    est.srtt = 0.875 * est.srtt + 0.125 * r
  }
}
