/**
 * Timeouts that stretch under load (memberlist's "awareness", applied to elections). A follower
 * measures how late the leader's heartbeats arrive (beyond a missed interval) and a leader how
 * long acks take (beyond one interval); twice that lateness, a maximum decaying with a half-life
 * of SLACK_HALF_LIFE_MS and at most SLACK_CAP_FACTOR maximum election timeouts, is added to the
 * election timeout, the vote refusal after a heartbeat and the check-quorum. Only waits grow:
 * the lease is not stretched, so safety is the same.
 */

/** Lateness observed is forgotten with this half-life. */
export const SLACK_HALF_LIFE_MS = 5_000
/** The added wait is at most this many maximum election timeouts. */
export const SLACK_CAP_FACTOR = 3

/** A maximum of recent samples that decays by half every SLACK_HALF_LIFE_MS. */
export class DecayingMax {
  private value = 0
  private at = 0

  get (now: number): number {
    return now <= this.at ? this.value : this.value * 0.5 ** ((now - this.at) / SLACK_HALF_LIFE_MS)
  }

  add (sample: number, now: number): void {
    this.value = Math.max(sample, this.get(now))
    this.at = Math.max(now, this.at)
  }
}

/** The added wait for a lateness: twice it, capped. */
export function slackFor (lateness: number, electionTimeoutMaxMs: number): number {
  return Math.min(2 * lateness, SLACK_CAP_FACTOR * electionTimeoutMaxMs)
}

/** The lateness a node measured lately, and the slack each kind adds to its waits. */
export class Lateness {
  /** Follower: how much later than two intervals the leader's heartbeats came lately. */
  readonly heartbeats = new DecayingMax()
  /** Leader: how much longer than an interval heartbeat acks took lately. */
  readonly acks = new DecayingMax()
  /** How long the answers to this node's requests (votes, heartbeats) took lately. */
  readonly replies = new DecayingMax()

  constructor (private readonly electionTimeoutMaxMs: number) {}

  /** The added wait of a leader (for its acks) or of any other node (for its leader's heartbeats). */
  slack (leader: boolean, now: number): number {
    return slackFor(leader ? this.acks.get(now) : this.heartbeats.get(now), this.electionTimeoutMaxMs)
  }

  /**
   * What this node's rounds (a campaign's, a renewal's) add to their wait for the answers. Raft
   * needs vote round trips well below the election timeout; between processes that lag half a
   * second, replies came after every candidate had given up, and no election could end
   * (bench:scale, 200 agents). On a quiet mesh the slack is a few ms.
   */
  replySlack (now: number): number { return slackFor(this.replies.get(now), this.electionTimeoutMaxMs) }
}
