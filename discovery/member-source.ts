/**
 * What the protocols above discovery need of the membership: the agents with their
 * failure-detection state, and an event when one changes state. Tasks, resources, monitoring
 * and the election listen to it themselves instead of the node feeding them each change.
 * `MemberView` implements it.
 */
import type { TypedEventTarget } from 'main-event'
import type { Member, MemberChange } from './members.js'

export interface MemberSourceEvents {
  'member:change': CustomEvent<MemberChange>
}

export interface MemberSource extends TypedEventTarget<MemberSourceEvents> {
  /** Every agent heard of, this node excluded, with its state (alive, suspect, offline, left). */
  members: () => Member[]
}

/** Agents that count as present: alive, or suspected but not yet declared offline. */
export function liveMembers (source: MemberSource): Member[] {
  return source.members().filter(m => m.state === 'alive' || m.state === 'suspect')
}
