/**
 * A voter's hold after a leader's heartbeat: what it promises that leader (to vote for no
 * other: the lease counts on it), what it refuses (its stickiness, longer), and what it stores
 * so that a restart keeps both. Pure rules of the timings; the election keeps the times.
 */
import { LEASE_FACTOR } from './leader-state.js'
import { SLACK_CAP_FACTOR } from './election-slack.js'
import type { ElectionTimings } from './election-types.js'

type Timings = Pick<ElectionTimings, 'heartbeatIntervalMs' | 'electionTimeoutMinMs' | 'electionTimeoutMaxMs'>

/** Until when a voter promised its leader to vote for no other (`promisedUntil`), and until when it refuses votes (`stickyUntil`, never before). */
export interface Holds { promisedUntil: number, stickyUntil: number }

/**
 * What a voter promises at least after a heartbeat: long enough for a lease on it (0.9 of it)
 * to span an interval and a round trip of up to one and a half intervals (278 ms with the
 * defaults), within the minimum timeout. Its stickiness (the minimum) is longer, and only the
 * promise holds when the leader's process exits (Election.peerExited); with slower acks the
 * leader asks for more (leader-state.ts `holdToAsk`). Half the minimum was too short for a round
 * trip of an interval, which `holdToAsk` assumes at least: every heartbeat asked for more.
 */
export function promiseMs (t: Timings): number {
  return Math.min(t.electionTimeoutMinMs, Math.ceil(2.5 * t.heartbeatIntervalMs / LEASE_FACTOR))
}

/** The longest an honest voter holds after a heartbeat: the minimum timeout and the largest slack. */
export function longestHold (t: Timings): number { return t.electionTimeoutMinMs + SLACK_CAP_FACTOR * t.electionTimeoutMaxMs }

/**
 * How long a voter's ack binds it (it refuses other candidates for that long after the
 * heartbeat), as the leader counts it: what it says (`holdMs`), within what an honest voter can
 * say, the minimum election timeout from a voter that says nothing (an older agent). Not raised
 * to the leader's own promise: a voter with shorter timings promises less. A voter lies about
 * this no more than it could break its promise anyway.
 */
export function heldFor (holdMs: number | undefined, t: Timings): number {
  return Math.min(holdMs ?? t.electionTimeoutMinMs, longestHold(t))
}

/**
 * At start. A restarted voter may have acked a leader's heartbeat just before it crashed: it
 * waits out that leader's lease before it votes, or the lease would not hold. A hold stretched by
 * its slack was stored before the ack went out (`heldToStore`): `heldUntil`. Within two of the
 * longest holds from now: a clock stepped back must not freeze the vote. What it promised before
 * it stopped is not known: all of that wait is kept, whatever exits.
 */
export function holdsAtStart (heldUntil: number | undefined, now: number, t: Timings): Holds {
  const stickyUntil = Math.max(now + t.electionTimeoutMinMs, Math.min(heldUntil ?? -Infinity, now + 2 * longestHold(t)))
  return { promisedUntil: stickyUntil, stickyUntil }
}

/**
 * After a heartbeat of the leader followed, with `slack` for the lateness seen lately and
 * `askedMs` the hold the leader asked for. What it promises (the lease counts on it): as long as
 * the leader asks, when acks come slowly; and what it refuses, the minimum timeout, all of which
 * but the promise it gives up when the leader's process exits (Election.peerExited). Both within
 * the longest hold, and never shorter than before.
 */
export function holdsAfterHeartbeat (held: Holds, now: number, slack: number, askedMs: number | undefined, t: Timings): Holds {
  const cap = now + longestHold(t)
  const promisedUntil = Math.min(Math.max(held.promisedUntil, now + promiseMs(t) + slack, now + (askedMs ?? 0)), cap)
  const stickyUntil = Math.min(Math.max(held.stickyUntil, now + t.electionTimeoutMinMs + slack, promisedUntil), cap)
  return { promisedUntil, stickyUntil }
}

/**
 * The `heldUntil` to store before an ack goes out, or undefined: none needed. Needed when the
 * stickiness runs past the minimum timeout (the slack stretched it) and the ack will say so,
 * unless the stored `heldUntil` covers it; then one with room for the largest hold again, so
 * that under a steady lag it is written once per that span rather than once per heartbeat. On a
 * quiet mesh nothing is written.
 */
export function heldToStore (stickyUntil: number, heldUntil: number | undefined, now: number, t: Timings): number | undefined {
  if (stickyUntil <= now + t.electionTimeoutMinMs || stickyUntil <= (heldUntil ?? -Infinity)) return undefined
  // Whole ms: the state file holds integers.
  return Math.ceil(stickyUntil + longestHold(t))
}
