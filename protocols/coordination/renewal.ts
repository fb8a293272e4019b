/**
 * A leader's renewal of its election in office. A voter can be honestly ahead of its leader: it
 * granted a vote in a later term to a candidate that then lost, and now refuses the leader's
 * heartbeats as stale, for good, while the majority keeps the leader in office. Raft's leader
 * steps down on that ack, and would on a forger's. This one asks its voters for their votes in a
 * term past the one told (within the step they accept), and stays in office meanwhile: its
 * followers vote for the leader they follow (stickiness spares it), the voter left behind votes
 * too, and a majority moves the leader to that term with a new certificate. Its lease runs on:
 * the voters that acked it still refuse anyone else. Without a majority within a maximum
 * election timeout, it gives up and leads on. At most once per RENEW_EVERY_TIMEOUTS maximum
 * election timeouts: a forger's acks cost a vote round now and then, never the office.
 *
 * Pure, owned by the election (Election.unprovenTerm, `renew`, `renewed`): when a renewal may
 * start, and the votes it gathered. The election asks for them, checks their signatures and
 * moves its term.
 */
import { wins, type VoterConfig } from './voter-set.js'

/** A leader renews its election for a voter ahead of it at most once per this many maximum election timeouts. */
export const RENEW_EVERY_TIMEOUTS = 5

export class Renewal {
  /** When the leader last won or renewed its term. */
  private lastAt = -Infinity
  /** The renewal under way: the term it asks for, the signed votes so far, and until when it waits. */
  private round?: { term: number, votes: Map<string, string>, until: number }

  constructor (private readonly electionTimeoutMaxMs: number) {}

  /** The term the renewal under way asks for. */
  get term (): number | undefined { return this.round?.term }

  /** The leader won its term at `now`. */
  won (now: number): void { this.lastAt = now }

  /** Whether a renewal may start now: none under way, and none for RENEW_EVERY_TIMEOUTS since the last win or renewal. */
  due (now: number): boolean {
    return this.round === undefined && now >= this.lastAt + RENEW_EVERY_TIMEOUTS * this.electionTimeoutMaxMs
  }

  /** Asks for votes in `term` now, and waits for them until `until`. */
  start (term: number, now: number, until: number): void {
    this.lastAt = now
    this.round = { term, votes: new Map(), until }
  }

  /** Given up once its wait is over. */
  tick (now: number): void {
    if (this.round !== undefined && now >= this.round.until) this.round = undefined
  }

  /** Whether a vote of `from` is still to come in the renewal under way. */
  awaits (from: string): boolean { return this.round !== undefined && !this.round.votes.has(from) }

  /** `from`'s vote, its signature checked: all the votes once they win `config` with the leader's own (the renewal is over), else undefined. */
  vote (from: string, sig: string, config: VoterConfig, self: string): Map<string, string> | undefined {
    const round = this.round
    if (round === undefined) return undefined
    round.votes.set(from, sig)
    if (!wins(config, new Set([...round.votes.keys(), self]))) return undefined
    this.round = undefined
    return round.votes
  }
}
