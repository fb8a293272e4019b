/**
 * Who may be voted for, and who may lead: the checks a node makes on a vote request and on a
 * leader's heartbeat before it acts on them, pure (the election passes in what it holds).
 */
import type { Certificate, ElectionKeys, ElectionMessage, RejectReason, Role, VoteDenial } from './election-types.js'
import { checkCertificate, MAX_TERM_STEP } from './election-proof.js'
import { matchesProposal, upToDate, type VoterConfig } from './voter-set.js'

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
  /** Whether an agent is alive in the member view (election-roll.ts). */
  alive: (peer: string) => boolean
  /** The bootstrap proposal this node would make, while it holds no voter set. */
  proposal?: VoterConfig
  /** The newest certificate this node accepted (or made): its leader needs no other proof in its term. */
  proof?: Certificate
  /** Its vote in its current term. */
  votedFor?: string
}

export type VoteVerdict =
  | { ok: true }
  | { ok: false, deny: VoteDenial, reject?: RejectReason, catchUp?: boolean }

/**
 * A vote request (pre-vote or real) passes these before the one-vote-per-term rule. `catchUp`:
 * the request's term is newer, and the node moves to it even though it refuses.
 */
export function judgeVote (v: VoterView, from: string, msg: Extract<ElectionMessage, { type: 'vote' }>, now: number): VoteVerdict {
  // A set is made by the leader of its term, before a later term's election: never at or after this one.
  if (msg.candidate !== from || msg.config.term >= msg.term) return { ok: false, deny: 'not-a-voter', reject: 'malformed' }
  if (!v.eligible) return { ok: false, deny: 'not-eligible' }
  // Only voters may ask: in the set we hold, or, before we hold one, in the set proposed.
  if (!msg.config.voters.includes(from) || (v.config !== undefined && !v.config.voters.includes(from))) {
    return { ok: false, deny: 'not-a-voter', reject: 'not-a-voter' }
  }
  if (msg.term < v.term || (msg.pre && msg.term <= v.term)) return { ok: false, deny: 'stale-term' }
  // Leader stickiness: a leader we heard from recently is alive; do not help depose it.
  if (now < v.stickyUntil && from !== v.leader) return { ok: false, deny: 'leader-alive' }
  if (v.role === 'leader') return { ok: false, deny: 'leader-alive' }
  // Beyond what an unproven message may move this node (election-proof.ts): moves nothing. A
  // request, unlike a denial, can be sent at will: a forger would drive every term up by a step
  // per message. An honest candidate so far ahead brings the newer terms to this node through
  // the denials of its own campaigns.
  if (msg.term > v.term + MAX_TERM_STEP) return { ok: false, deny: 'term-too-far', reject: 'term-too-far' }
  const current = v.config !== undefined
    ? upToDate(msg.config, v.config)
    : msg.config.term !== 0 || matchesProposal(msg.config, v.proposal)
  if (!current) {
    return { ok: false, deny: v.config === undefined ? 'bootstrap-mismatch' : 'not-up-to-date', catchUp: !msg.pre && msg.term > v.term }
  }
  return { ok: true }
}

export type HeartbeatVerdict =
  | { ok: true, proven?: Certificate }
  | { ok: false, reject: RejectReason, ask?: string[] }

/**
 * May the sender of this heartbeat lead this node? A leader it already follows in this term, or
 * whose certificate it accepted, may; any other must prove its election with a certificate
 * (election-proof.ts). `proven`: the certificate that did. `mayEndorse`: false for an announcement,
 * which gets no answer (so no endorsement: a node then counts no vote of its own). `ask`: voters to ask for their set,
 * when the certificate may be genuine but this node's set is too old to tell.
 */
export function judgeHeartbeat (v: VoterView, from: string, msg: Extract<ElectionMessage, { type: 'heartbeat' }>, keys: ElectionKeys, mayEndorse = true): HeartbeatVerdict {
  if (msg.leader !== from) return { ok: false, reject: 'malformed' }
  if (msg.term < v.term) return { ok: false, reject: 'stale-term' }
  if (!msg.config.voters.includes(from)) return { ok: false, reject: 'not-a-voter' }
  // Two leaders in one term cannot happen; whoever claims it is lying.
  if (msg.term === v.term && ((v.leader !== undefined && v.leader !== from) || v.role === 'leader')) return { ok: false, reject: 'forged-leader' }
  if (msg.term === v.term && v.leader === from) return { ok: true }
  if (v.proof?.term === msg.term && v.proof.leader === from) return { ok: true }
  const cert = msg.cert
  if (cert === undefined) return { ok: false, reject: v.config !== undefined && !v.config.voters.includes(from) ? 'not-a-voter' : 'unproven' }
  if (cert.term !== msg.term || cert.leader !== from) return { ok: false, reject: 'bad-certificate' }
  // A voter free to vote in that term counts its own vote, which the election then gives as an endorsement.
  const endorsing = mayEndorse && v.eligible && (msg.term > v.term || v.votedFor === undefined || v.votedFor === from)
  const verdict = checkCertificate(cert, keys, v, endorsing)
  if (!verdict.ok) return { ok: false, reject: verdict.reason, ...(verdict.reason === 'unproven' ? { ask: verdict.ask } : {}) }
  return { ok: true, proven: cert }
}
