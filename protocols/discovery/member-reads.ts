/**
 * Reads of the member table as the member view gives them (members.ts). A member's entry carries
 * the roles it holds: in a closed mesh those its credential grants (with its capabilities; roles
 * its statement claims beyond them are listed as `claimed`), in an open mesh what it claims
 * (`rolesSource: 'claimed'`). Building an entry costs its credential's grants, so what is read
 * on timers and on every burst of changes (the election's view, topic links' count, the
 * reconnector) reads briefs, peer ids or the kept count instead: through whole entries those
 * reads were a tenth of the mesh's CPU during a fail-over at 200 agents, and every agent built
 * every entry once a second at rest (docs/benchmarks.md).
 */
import type { MemberState } from './failure-detector.js'
import type { MemberBrief } from './member-source.js'
import type { Member, MemberTable } from './member-table.js'

/** What decides the roles and eligibility an entry shows (MemberViewInit's). */
export interface MemberGrants {
  /** Closed mesh: whether the credential admitted for a peer lets it be elected. */
  mayBeEligible?: (peerId: string) => boolean
  /** Closed mesh: the roles and capabilities a member's credential grants, when held. */
  credentials?: { grants: (peer: string) => { roles: string[], capabilities: string[] } | undefined }
}

/** A table entry with the roles the member holds and whether it may be elected. */
export function withGrants (m: Member, g: MemberGrants): Member {
  const may = g.mayBeEligible
  const eligible = m.eligible && (may === undefined || may(m.peerId))
  if (g.credentials === undefined) return { ...m, eligible, rolesSource: 'claimed' as const }
  const granted = g.credentials.grants(m.peerId)
  const roles = granted?.roles ?? []
  const claimed = m.roles.filter(r => !roles.includes(r))
  return { ...m, eligible, roles: [...roles], capabilities: [...(granted?.capabilities ?? [])], rolesSource: 'credential' as const, ...(claimed.length > 0 ? { claimed } : {}) }
}

/** Each member's peer id, state and eligibility (as `withGrants` says it), without building its entry. */
export function briefsOf (table: MemberTable, g: MemberGrants): MemberBrief[] {
  const may = g.mayBeEligible
  const out: MemberBrief[] = []
  table.forEach((peer, state, eligible) => { out.push({ peer, state, eligible: eligible && (may === undefined || may(peer)) }) })
  return out
}

/** The peer ids of the members in one of `states`. */
export function peersOf (table: MemberTable, states: readonly MemberState[]): string[] {
  const out: string[] = []
  table.forEach((peer, state) => { if (states.includes(state)) out.push(peer) })
  return out
}
