/** The election's messages, settings, events and status: the types election.ts works with. */
import type { MemberInfo, VoterConfig } from './voter-set.js'

export type { MemberInfo, VoterConfig }

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader'

/** A voter's signed vote: a grant, or a follower's endorsement of the leader it accepted (election-proof.ts). */
export interface VoteSignature { voter: string, sig: string }

/**
 * A leader's proof of its election: the signed grants of a majority of the voter set it
 * campaigned with (every voter of a bootstrap proposal), for its term.
 */
export interface Certificate { term: number, leader: string, config: VoterConfig, votes: VoteSignature[] }

/**
 * `proof` on a vote request, a denial or an ack: the newest certificate the sender holds, so a
 * receiver that is behind may move to a term a majority proved (election-proof.ts). `cert` on a
 * heartbeat: the leader's own, until the receiver has accepted it. `sig` on a granted vote and
 * `endorse` on the ack of a heartbeat that carried the certificate: the voter's signed vote.
 */
export type ElectionMessage =
  | { type: 'vote', term: number, candidate: string, config: VoterConfig, pre: boolean, proof?: Certificate }
  | {
    type: 'vote-reply', term: number, granted: boolean, pre: boolean, reason?: VoteDenial, config?: VoterConfig, sig?: string, proof?: Certificate
  }
  | { type: 'heartbeat', term: number, leader: string, config: VoterConfig, seq: number, cert?: Certificate, holdMs?: number }
  | { type: 'heartbeat-ack', term: number, seq: number, success: boolean, configVersion: number, proof?: Certificate, endorse?: string, holdMs?: number }
  | { type: 'config-query', bootstrap?: boolean }
  | { type: 'config-reply', term: number, config?: VoterConfig, proof?: Certificate }

export type VoteDenial =
  | 'stale-term' | 'already-voted' | 'not-up-to-date' | 'leader-alive' | 'not-a-voter' | 'bootstrap-mismatch' | 'not-eligible' | 'term-too-far'

/**
 * Signing and checking votes, passed in so the machine stays pure: a node signs with its libp2p
 * identity key (election-keys.ts), the simulation with deterministic fakes.
 */
export interface ElectionKeys {
  /** This node's signature over `statement` (an encoded string). */
  sign: (statement: string) => string
  /** Whether `signature` is `peer`'s over `statement`; false for anything malformed. */
  verify: (peer: string, statement: string, signature: string) => boolean
}

export interface ElectionTimings {
  heartbeatIntervalMs: number
  electionTimeoutMinMs: number
  electionTimeoutMaxMs: number
  voterRemoveAfterMs: number
  bootstrapExpect: number
  /** Voters at most (DEFAULT_MAX_VOTERS unless given); the other eligible agents are non-voters. */
  maxVoters?: number
  /** How often the leader announces itself to everyone on gossip (ten heartbeats unless given). */
  announceIntervalMs?: number
}

/**
 * What the leader gossips to every agent at a slow period (the non-voters' only news of it): its
 * term, its voter set and the certificate of its election, which a receiver checks before it follows.
 */
export interface Announcement { term: number, leader: string, config: VoterConfig, cert: Certificate }

export interface ElectionInit extends ElectionTimings {
  self: string
  /** May vote and be elected (the `coordinator` eligibility of the agent's roles). */
  eligible: boolean
  /** In [0, 1): Math.random in a node, a seeded generator in the simulation. */
  random: () => number
  now: number
  persisted?: PersistedElection
  keys: ElectionKeys
  /**
   * Whether the leader may make this voter set the next one now (none: always). What it
   * replicates apart from the set (the task table) must first be on a majority of the next set,
   * as a Raft log is before a configuration entry commits; false: asked again later.
   */
  mayChangeVoters?: (voters: string[]) => boolean
  /**
   * Whether this node holds a connection to `peer` now (none: every agent counts as connected).
   * The bootstrap check asks connected agents when it can: each question to another dials it.
   */
  connected?: (peer: string) => boolean
}

/**
 * What the election learns from connections (`peerLinks` in node/member-connections.ts): that the
 * last one to a peer closed, and whether the peer's process is gone. Without it, elections go by timeouts alone.
 */
export interface PeerLinks {
  /** Calls `fn` with a peer's id whenever this node's last connection to it closes; returns the unsubscribe. */
  onClose: (fn: (peer: string) => void) => () => void
  /**
   * True when a connection to `peer` now is refused at every address known for it (the host
   * answered that nothing listens there: the process exited); false when one connects, times out
   * or fails otherwise, or none is known.
   */
  exited: (peer: string, signal: AbortSignal) => Promise<boolean>
  /** True while this node holds an open connection to `peer`. */
  connected: (peer: string) => boolean
}

/** What must survive a restart for a vote never to be given twice in one term. */
/**
 * `heldUntil`: a time (ms since the epoch, this host's clock) up to which this voter may have
 * promised a leader to refuse other candidates for longer than the minimum timeout; a restart
 * waits it out (voter-hold.ts).
 */
export interface PersistedElection { term: number, votedFor?: string, config?: VoterConfig, heldUntil?: number }

export interface ElectionOutput {
  messages: Array<{ to: string, msg: ElectionMessage }>
  events: ElectionEvent[]
  persist?: PersistedElection
  /** To gossip to everyone (the leader's announcement). */
  announce?: Announcement
}

export type ElectionEvent =
  | { type: 'role', role: Role, term: number }
  | { type: 'leader', leader: string | undefined, term: number }
  | { type: 'voters', config: VoterConfig }
  | { type: 'rejected', from: string, reason: RejectReason, message: ElectionMessage['type'] | 'announcement' }

/**
 * unproven: a heartbeat of a leader this node has not accepted, with no certificate; bad-certificate: one that
 * does not check out (signatures, majority, term, leader); term-too-far: an unproven term beyond MAX_TERM_STEP;
 * bad-signature: a granted vote whose signature does not check out.
 */
export const REJECT_REASONS = ['forged-leader', 'not-a-voter', 'stale-term', 'malformed', 'unproven', 'bad-certificate', 'term-too-far', 'bad-signature'] as const
export type RejectReason = typeof REJECT_REASONS[number]

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
