/**
 * How a leader proves its election, and how far a message that proves nothing may move a term.
 * Pure: signing and checking come in as functions (ElectionKeys).
 *
 * Raft trusts any voter that says it leads a newer term. Here a voter signs each real vote it
 * grants (never a pre-vote) over `voteStatement`, and the winner carries a certificate, the
 * signed grants of a majority of the voter set it campaigned with, on its heartbeats until each
 * receiver has accepted it. A receiver follows a leader of a new term only once the certificate
 * checks out against the voter set it holds itself (`checkCertificate`); a heartbeat without one
 * is refused and never moves the receiver's term. One voter alone, or any number of peers
 * outside the set, cannot make one: a forged heartbeat unseats nobody.
 *
 * Terms are bounded the same way: a certificate may move a node's term any distance (a majority
 * granted votes in that term), an unproven message (a vote request, a denial, an ack) at most
 * MAX_TERM_STEP past the node's own term.
 */
import type { Certificate, ElectionKeys, VoterConfig } from './election-types.js'
import { majority, wins } from './voter-set.js'

/**
 * How far past its own term an unproven message may move a node. Terms rise by one per election
 * attempt, and pre-vote lets an attempt happen only where a majority would grant: the terms of
 * honest voters that hear each other stay within a few of one another, and a node that was cut
 * off catches up through the certificate of the leader elected meanwhile (carried as `proof` on
 * vote requests, denials and acks), not through this step. Within it, a node moves to vote in a
 * real election, or towards the term a group of its voters holds that one forger cannot make up
 * (election.ts `claim`, voter-word.ts); one voter's word moves it nowhere, and a message further ahead
 * moves nothing and is counted as `term-too-far`. A forged term of Number.MAX_SAFE_INTEGER so
 * costs nothing; driving terms up at all takes honest voters' votes, a step per election.
 */
export const MAX_TERM_STEP = 8

/**
 * What a voter signs when it votes (the keys add the domain: protocol and mesh): the term and
 * the candidate, no voter set. A voter signs one candidate per term at most (its vote is stored
 * first), so whoever holds a majority of signatures for a term is its one leader, whatever set
 * it shows them with; and a follower that gave no vote in a term may endorse the leader it
 * accepted in it (with the same statement, as its vote), which lets the certificate follow the
 * voter set as it changes.
 */
export function voteStatement (term: number, candidate: string): string {
  return `vote\n${term}\n${candidate}`
}

/**
 * The leader's certificate: every signed vote it holds for its term (`grants`), with its current
 * voter set once they are a majority of it (voters added later endorse it as they accept it),
 * else with the set it won with (`campaign`). So a follower that holds a much newer set than the
 * one of the election, as one restarted or added later does, still finds a majority of its own
 * set. Only the votes of the set named: a signer outside it makes the whole certificate bad.
 */
export function leaderCertificate (
  term: number, leader: string, config: VoterConfig, campaign: VoterConfig | undefined, grants: ReadonlyMap<string, string>
): Certificate {
  const set = wins(config, new Set(grants.keys())) ? config : campaign ?? config
  const votes = [...grants].filter(([voter]) => set.voters.includes(voter)).map(([voter, sig]) => ({ voter, sig }))
  return { term, leader, config: set, votes }
}

/** What a certificate is checked against: the voter set held, and who is alive in the member view. */
export interface TrustView {
  self: string
  config?: VoterConfig
  /** Whether an agent is alive in the member view (election-roll.ts). */
  alive: (peer: string) => boolean
}

export type CertificateVerdict =
  | { ok: true }
  | { ok: false, reason: 'bad-certificate' }
  /** It may be genuine, but this node cannot tell yet: `ask`, the voters it trusts, for their set. */
  | { ok: false, reason: 'unproven', ask: string[] }

/**
 * Does `cert` prove that its leader won its term, to a node that holds `t.config`?
 *
 * It must be well formed (its set is no later than its term and names the leader; signers
 * distinct and in that set), its signers must win with that set, and they must include a
 * majority of the set this node holds: the voters it trusts voted for this leader. The leader
 * keeps adding late grants and endorsements, so its certificate follows its set; a node that
 * holds an older set asks its voters for the newer one (taken only when a majority tells the
 * same) and checks again. A node with no set yet (bootstrap, a new agent), or whose voters are mostly gone from
 * its member view (so nobody it trusts is left to ask), trusts the certificate when the signers
 * that it sees alive are a majority of the certificate's set: identities cannot be forged, so
 * that many agents of the mesh must have voted; until admission control, an attacker that runs
 * that many eligible agents is a majority of voters anyway.
 *
 * `endorsing`: this node is a voter that gave no other vote in the term, and gives its own to
 * this leader as it accepts it (it counts itself, and must then store the vote).
 *
 * Signatures are checked last, after the cheap checks.
 */
export function checkCertificate (cert: Certificate, keys: ElectionKeys, t: TrustView, endorsing = false): CertificateVerdict {
  const bad = { ok: false, reason: 'bad-certificate' } as const
  const { config } = cert
  if (config.term > cert.term || !config.voters.includes(cert.leader)) return bad
  const signers = new Set<string>()
  for (const { voter } of cert.votes) {
    if (signers.has(voter) || !config.voters.includes(voter)) return bad
    signers.add(voter)
  }
  if (!wins(config, signers)) return bad
  // Its own vote, which it then gives: with it, a voter of a two-voter set can follow the other.
  const counted = endorsing ? new Set([...signers, t.self]) : signers
  const alive = { has: (p: string): boolean => p === t.self || t.alive(p) }
  const held = t.config
  if (held !== undefined && held.voters.filter(v => alive.has(v)).length >= majority(held.voters.length)) {
    if (held.voters.filter(v => counted.has(v)).length < majority(held.voters.length)) {
      return { ok: false, reason: 'unproven', ask: held.voters.filter(v => v !== t.self && alive.has(v)) }
    }
  } else if (config.voters.filter(v => counted.has(v) && alive.has(v)).length < majority(config.voters.length)) {
    return { ok: false, reason: 'unproven', ask: [] }
  }
  // A forger cannot sign for others: its certificate fails at the first signature not its own.
  const statement = voteStatement(cert.term, cert.leader)
  for (const { voter, sig } of cert.votes) if (!keys.verify(voter, statement, sig)) return bad
  return { ok: true }
}
