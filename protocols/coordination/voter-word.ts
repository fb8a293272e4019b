/**
 * What the voters of a node's set tell it without proof, weighed so that one voter's word moves
 * nothing: newer voter sets (`Vouches`) and the terms they are at (`TermClaims`). Pure state,
 * owned by the election, which decides when it asks and what it does with the answer.
 */
import { majority, sameConfig, type VoterConfig } from './voter-set.js'

/**
 * Newer voter sets told by voters of the set a node holds (or campaigns with) in a denial or a
 * config reply; one is taken once a majority of that set told the same, as one voter could lie
 * (in a set of two, the other's word: it holds a veto anyway).
 */
export class Vouches {
  private readonly told = new Map<string, VoterConfig>()

  /** `from`, a voter of `trusted`, told `config`, newer than the set held: the set to take now, if any. */
  tell (from: string, config: VoterConfig, trusted: VoterConfig): VoterConfig | undefined {
    this.told.set(from, config)
    const n = trusted.voters.length
    if (trusted.voters.filter(v => sameConfig(this.told.get(v), config)).length < (n === 2 ? 1 : majority(n))) return undefined
    this.told.clear()
    return config
  }
}

/**
 * The latest term each voter told (in any message), and when each was last heard from.
 *
 * A node that follows no leader it heard lately moves to the highest term that enough of its
 * voters (itself counted) are at or past that no majority can form without one of them among
 * the voters heard from lately (all heard: n - majority + 1, two of three, three of six; one of
 * five silent: two of the four others), MAX_TERM_STEP at most at a time (the election's
 * `claim`). No election below that term can succeed anyway, and a single forger cannot make up
 * such a group (of two or more) alone: the term it reaches is one an honest voter holds. So
 * honest voters that drifted apart (one restarted far behind while others failed elections)
 * converge, and no forgery lifts them. Two voters at least, always: in a two-voter set the
 * other's word moves nothing (it learns the newer set instead, from the other: `Vouches`).
 */
export class TermClaims {
  private readonly claims = new Map<string, number>()
  private readonly heardAt = new Map<string, number>()

  /** `from`, a voter of ours, told `term` at `now`. */
  tell (from: string, term: number, now: number): void {
    this.heardAt.set(from, now)
    if (term > (this.claims.get(from) ?? -1)) this.claims.set(from, term)
  }

  /**
   * The term held by enough of `voters` (see above), `self` at `own`. A dead voter cannot make a
   * majority without the ones ahead. Counting it, two live voters that drifted more than
   * MAX_TERM_STEP behind the other two of a set of five (the fifth dead) were never moved, and
   * each pair refused the other's campaigns for good (bench:scale, 200 agents, on a machine too
   * busy to answer votes in time). Dead: not heard from since `since` and not alive in the
   * member view (`inView`); silence alone is not enough, as a follower hears little but its
   * leader, and two colluding voters could otherwise move it with a pair of claims.
   */
  held (voters: string[], self: string, own: number, since: number, inView: (peer: string) => boolean): number {
    const alive = (v: string): boolean => (this.heardAt.get(v) ?? -Infinity) >= since || inView(v)
    const heard = voters.filter(v => v === self || alive(v))
    const terms = heard.map(v => v === self ? own : this.claims.get(v) ?? 0).sort((a, b) => b - a)
    return terms[Math.max(1, heard.length - majority(voters.length))] ?? 0
  }
}
