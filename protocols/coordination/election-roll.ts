/**
 * What the election reads of the member view: whether an agent is alive in it (each check of a
 * voter, of a certificate's signers, of the quorum), and, for the few reads that walk every
 * member (a bootstrap's proposal and its check, a leader's next voter change), the lists.
 *
 * Why a roll and not a copy: the election held a list of every member, handed whole by its
 * driver on each burst of member changes (`Election.setMembers`). That is O(N) per burst, and a
 * join wave or a crash is N bursts for each of N agents: the scale simulation's N² (at 1,000
 * agents, an eighth of its CPU), and a list per agent (10 bytes per (agent, member) pair). A
 * driver that holds the member view can lend it instead (`Election.readRoll`) and tell the
 * election only who entered it (`Election.membersEntered`); a driver that hands lists
 * (`setMembers`, as the node's ElectionService does) gets a roll over its list, as before.
 */
import type { MemberInfo } from './voter-set.js'

export interface MemberRoll {
  /** `peer` is alive in the member view (alive or suspect; not offline, not left). */
  alive: (peer: string) => boolean
  /** The agents alive, itself excluded, each with its eligibility (built on each call where lent: the rare reads). */
  members: () => MemberInfo[]
  /** The agents that announced they leave, flagged `left`. */
  left: () => MemberInfo[]
}

/** A roll over lists handed whole (`Election.setMembers`): the lists as given, `alive` by a set made once. */
export function listRoll (members: MemberInfo[], left: MemberInfo[]): MemberRoll {
  const alive = new Set(members.map(m => m.peer))
  return { alive: p => alive.has(p), members: () => members, left: () => left }
}
