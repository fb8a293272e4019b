/**
 * Who may be voted for, and who may lead: the checks a node makes on a vote request and on a
 * leader's heartbeat before it acts on them, pure (the election passes in what it holds).
 */
import type { ElectionMessage, RejectReason, Role, VoteDenial } from './election-types.js'
import { matchesProposal, newer, upToDate, type MemberInfo, type VoterConfig } from './voter-set.js'

/** What the checks read of the node that makes them. */
export interface VoterView {
  self: string
  eligible: boolean
  term: number
  role: Role
  config?: VoterConfig
  leader?: string
  /** Votes are refused until then (leader stickiness). */
  stickyUntil: number
  /** Agents alive in the member view, itself excluded. */
  members: MemberInfo[]
  /** The bootstrap proposal this node would make, while it holds no voter set. */
  proposal?: VoterConfig
}

export type VoteVerdict =
  | { ok: true }
  | { ok: false, deny: VoteDenial, reject?: RejectReason, catchUp?: boolean }

/**
 * A vote request (pre-vote or real) passes these before the one-vote-per-term rule. `catchUp`:
 * the request's term is newer, and the node moves to it even though it refuses.
 */
export function judgeVote (v: VoterView, from: string, msg: Extract<ElectionMessage, { type: 'vote' }>, now: number): VoteVerdict {
  if (msg.candidate !== from) return { ok: false, deny: 'not-a-voter', reject: 'malformed' }
  if (!v.eligible) return { ok: false, deny: 'not-eligible' }
  // Only voters may ask: in the set we hold, or, before we hold one, in the set proposed.
  if (!msg.config.voters.includes(from) || (v.config !== undefined && !v.config.voters.includes(from))) {
    return { ok: false, deny: 'not-a-voter', reject: 'not-a-voter' }
  }
  if (msg.term < v.term || (msg.pre && msg.term <= v.term)) return { ok: false, deny: 'stale-term' }
  // Leader stickiness: a leader we heard from recently is alive; do not help depose it.
  if (now < v.stickyUntil && from !== v.leader) return { ok: false, deny: 'leader-alive' }
  if (v.role === 'leader') return { ok: false, deny: 'leader-alive' }
  const current = v.config !== undefined
    ? upToDate(msg.config, v.config)
    : msg.config.term !== 0 || matchesProposal(msg.config, v.proposal)
  if (!current) {
    return { ok: false, deny: v.config === undefined ? 'bootstrap-mismatch' : 'not-up-to-date', catchUp: !msg.pre && msg.term > v.term }
  }
  return { ok: true }
}

export type HeartbeatVerdict =
  | { ok: true }
  | { ok: false, reject: RejectReason, ask?: string[] }

/** May the sender of this heartbeat lead this node? `ask`: voters to ask for their set first. */
export function judgeHeartbeat (v: VoterView, from: string, msg: Extract<ElectionMessage, { type: 'heartbeat' }>): HeartbeatVerdict {
  if (msg.leader !== from) return { ok: false, reject: 'malformed' }
  if (msg.term < v.term) return { ok: false, reject: 'stale-term' }
  // Only a voter of the set we hold can lead us (a node without a set trusts the first leader).
  if (!msg.config.voters.includes(from)) return { ok: false, reject: 'not-a-voter' }
  if (v.config !== undefined && !v.config.voters.includes(from)) {
    const known = v.config.voters.filter(p => p !== v.self && v.members.some(m => m.peer === p))
    // We may just be behind: ask the voters we trust for their set, and follow this leader once
    // one of them confirms it. When every voter we knew is gone from our view, nobody is left to
    // confirm a newer set, so the leader that presents one is followed.
    if (known.length > 0 || !newer(msg.config, v.config)) return { ok: false, reject: 'not-a-voter', ask: known }
  }
  // Two leaders in one term cannot happen; whoever claims it is lying.
  if (msg.term === v.term && ((v.leader !== undefined && v.leader !== from) || v.role === 'leader')) return { ok: false, reject: 'forged-leader' }
  return { ok: true }
}
