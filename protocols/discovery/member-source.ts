/**
 * What the protocols above discovery need of the membership: the agents with their
 * failure-detection state, and an event when one changes state. Tasks, resources, monitoring
 * and the election listen to it themselves instead of the node feeding them each change.
 * `MemberView` implements it.
 */
import type { TypedEventTarget } from 'main-event'
import type { Member, MemberChange } from './member-table.js'
import { isLive, type MemberState } from './failure-detector.js'

export interface MemberSourceEvents {
  'member:change': CustomEvent<MemberChange>
}

/** A member as the readers on timers need it: who, in what state, and whether it may be elected. */
export interface MemberBrief { peer: string, state: MemberState, eligible: boolean }

export interface MemberSource extends TypedEventTarget<MemberSourceEvents> {
  /** Every agent heard of, this node excluded, with its state (alive, suspect, offline, left). */
  members: () => Member[]
  /**
   * The same members without their entries built (MemberView has it): what is read on timers and
   * on every change goes through it, since `members` builds every entry each time.
   */
  briefs?: () => MemberBrief[]
}

/** Every member's brief: from `briefs` when the source has it, else from its entries. */
export function memberBriefs (source: MemberSource): MemberBrief[] {
  return source.briefs?.() ?? source.members().map(m => ({ peer: m.peerId, state: m.state, eligible: m.eligible }))
}

/** The peer ids of the agents that count as present: alive, or suspected but not yet declared offline. */
export function livePeers (source: MemberSource): string[] {
  return memberBriefs(source).filter(b => isLive(b.state)).map(b => b.peer)
}
