/**
 * Lifeguard's local health awareness (memberlist's awareness.go, "Lifeguard: Local Health
 * Awareness for More Accurate Failure Detection", Dadgar et al. 2018): a node that is itself slow
 * must not take its own slowness for the others' failure. A score from 0 (healthy) to `max` rises
 * on evidence that this process is behind and falls while it keeps up; probe timeouts are
 * multiplied by `score + 1` and probe rounds spaced out as much, so a struggling node waits longer
 * before it suspects anyone and adds less load while it recovers.
 *
 * Evidence here, for a Node process: its timers fire late (the event loop was busy: a long garbage
 * collection, a loaded machine, many agents sharing one loop), and it had to refute a suspicion of
 * itself (others found it slow). memberlist also counts missed nacks of indirect probes; agentmesh
 * probes neighbours directly, so there are none.
 */
export class LocalHealth {
  private score = 0
  private calm = 0

  /**
   * @param lateMs a timer this much past its time counts as a stall
   * @param max the highest score (memberlist's AwarenessMaxMultiplier is 8)
   */
  constructor (private readonly lateMs: number, private readonly max = 8) {}

  /** How many times the configured probe timeout (and interval) to use now. */
  get multiplier (): number { return this.score + 1 }

  /**
   * A periodic timer ran `lateness` ms after its time. Late: the score rises. On time: after as
   * many on-time runs in a row as the score, it falls by one (recovery is slower than decay, so a
   * node that stalls every few rounds stays careful).
   */
  timer (lateness: number): void {
    if (lateness > this.lateMs) { this.raise(); return }
    if (this.score > 0 && ++this.calm >= 4 * this.score) { this.score--; this.calm = 0 }
  }

  /** This node refuted a suspicion of itself: others found it slow. */
  refuted (): void { this.raise() }

  private raise (): void {
    this.score = Math.min(this.max, this.score + 1)
    this.calm = 0
  }
}
