/** The election's messages, settings, events and status: the types election.ts works with. */
import type { MemberInfo, VoterConfig } from './voter-set.js'

export type { MemberInfo, VoterConfig }

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader'

export type ElectionMessage =
  | { type: 'vote', term: number, candidate: string, config: VoterConfig, pre: boolean }
  | {
    type: 'vote-reply', term: number, granted: boolean, pre: boolean, reason?: VoteDenial, config?: VoterConfig
  }
  | { type: 'heartbeat', term: number, leader: string, config: VoterConfig, seq: number }
  | { type: 'heartbeat-ack', term: number, seq: number, success: boolean, configVersion: number }
  | { type: 'config-query' }
  | { type: 'config-reply', term: number, config?: VoterConfig }

export type VoteDenial =
  | 'stale-term' | 'already-voted' | 'not-up-to-date' | 'leader-alive' | 'not-a-voter' | 'bootstrap-mismatch' | 'not-eligible'

export interface ElectionTimings {
  heartbeatIntervalMs: number
  electionTimeoutMinMs: number
  electionTimeoutMaxMs: number
  voterRemoveAfterMs: number
  bootstrapExpect: number
}

export interface ElectionInit extends ElectionTimings {
  self: string
  /** May vote and be elected (the `coordinator` eligibility of the agent's roles). */
  eligible: boolean
  /** In [0, 1): Math.random in a node, a seeded generator in the simulation. */
  random: () => number
  now: number
  persisted?: PersistedElection
}

/** What must survive a restart for a vote never to be given twice in one term. */
export interface PersistedElection { term: number, votedFor?: string, config?: VoterConfig }

export interface ElectionOutput {
  messages: Array<{ to: string, msg: ElectionMessage }>
  events: ElectionEvent[]
  persist?: PersistedElection
}

export type ElectionEvent =
  | { type: 'role', role: Role, term: number }
  | { type: 'leader', leader: string | undefined, term: number }
  | { type: 'voters', config: VoterConfig }
  | { type: 'rejected', from: string, reason: RejectReason, message: ElectionMessage['type'] }

export type RejectReason = 'forged-leader' | 'not-a-voter' | 'stale-term' | 'malformed'

export interface ElectionStatus {
  role: Role
  term: number
  leader?: string
  /** This node is the leader and its lease runs: it may issue directives. */
  inOffice: boolean
  leaseUntil?: number
  voters: string[]
  configVersion: number
  /** Voters this node heard from recently (the leader: acked; others: via the leader's view). */
  quorum: { size: number, needed: number, reachable: number, has: boolean }
  lastLeaderContact?: number
  /** Added to this node's timeouts for the lateness seen lately (0 on a quiet mesh). */
  slackMs: number
  eligible: boolean
}
