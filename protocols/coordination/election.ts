/**
 * Coordinator election as a pure state machine: no I/O and no timers. The caller feeds it
 * messages and the time, and drains what it wants sent and persisted. The simulation test drives
 * thousands of seeded schedules through it; `ElectionService` drives it over RPC.
 * One class; the pure rules and small state machines it owns are in files named below.
 *
 * The design is Raft's leader election (Ongaro and Ousterhout, "In Search of an Understandable
 * Consensus Algorithm", section 5.2, and the dissertation's chapters 4 and 9), with the parts a
 * coordinator needs and no replicated log beyond the voter set:
 *
 * - Terms; one vote per term, persisted before it is granted; randomized election timeouts.
 * - Pre-vote (dissertation 9.6): a node first asks whether it could win, so a node cut off from
 *   the rest does not inflate terms and disrupt the leader when it comes back.
 * - Leader stickiness: a voter that heard from a leader within the minimum election timeout
 *   neither grants a vote nor moves to the candidate's term (dissertation 4.2.3).
 * - A lease (leader-state.ts): the leader is in office only until 0.9 of what a majority promised
 *   after the send time of the last heartbeat it acked, and steps down (check-quorum) when no
 *   majority answered for `maxTimeout`. Voters refuse votes that long (voter-hold.ts; a leader's
 *   exit frees only the rest of their stickiness: `peerExited`), so no other leader is elected
 *   while the lease runs: two coordinators are never in office at once (given clocks that run at
 *   about one rate).
 * - Timeouts that stretch under load (election-slack.ts); only waits grow, never the lease.
 * - The voter set is the only replicated state, changed one voter at a time; before any exists
 *   it is bootstrapped as Consul's `bootstrap_expect` does, once the agents met first know of
 *   none (bootstrap-check.ts). Its rules are in voter-set.ts; voters' word weighed in voter-word.ts.
 * - Proven leaders and bounded terms (election-proof.ts): real votes are signed, a leader of a
 *   new term is followed only with a certificate of a majority's signed votes, and a message
 *   that proves nothing moves a term by MAX_TERM_STEP at most. A leader in office moves for no
 *   unproven term at all: check-quorum, not a follower's word, tells it a majority moved on.
 */
import { LeaderState, holdToAsk } from './leader-state.js'
import { bootstrapProposal, majority, newer, nextVoters, wins, type MemberInfo, type VoterConfig } from './voter-set.js'
import { judgeHeartbeat, judgeVote, type VoterView } from './vote-rules.js'
import { checkCertificate, leaderCertificate, MAX_TERM_STEP, voteStatement } from './election-proof.js'
import { Lateness } from './election-slack.js'
import { BootstrapCheck, provenSetAlive } from './bootstrap-check.js'
import { listRoll, type MemberRoll } from './election-roll.js'
import { TermClaims, Vouches } from './voter-word.js'
import { heldFor, heldToStore, holdsAfterHeartbeat, holdsAtStart, promiseMs } from './voter-hold.js'
import { exitTurn } from './exit-turn.js'
import { Renewal } from './renewal.js'
import { DEFAULT_MAX_VOTERS, LOST_AFTER_TIMEOUTS } from './constants.js'
import type {
  Announcement, Certificate, ElectionInit, ElectionMessage, ElectionOutput, ElectionStatus, PersistedElection, RejectReason, Role, VoteDenial
} from './election-types.js'

export type * from './election-types.js'
export type { MemberInfo, VoterConfig } from './voter-set.js'

export { RENEW_EVERY_TIMEOUTS } from './renewal.js'

export class Election {
  private readonly init: ElectionInit
  private role: Role = 'follower'
  private term = 0
  private votedFor?: string
  private config?: VoterConfig
  private leader?: string
  private lastLeaderContact?: number
  /** How late heartbeats, acks and answers came lately: the slack they add to waits (election-slack.ts). */
  private readonly lateness: Lateness
  /** Refuse votes until then (leader stickiness; also right after start, as if a leader spoke). */
  private stickyUntil: number
  /** Until when this node promised the leader it follows to vote for no other (its acks' `holdMs`; the lease counts on it): never past `stickyUntil`. */
  private promisedUntil: number
  /** Stored: until when a hold longer than the minimum timeout may bind this node (see `holdStretched`). */
  private heldUntil?: number
  /** See `roundStartedAt`. */
  private roundStart = -Infinity
  private electionDeadline: number
  private votes = new Set<string>()
  /** The signed grants of this node's candidacy, its own included: its certificate once it wins. */
  private grants = new Map<string, string>()
  /** The newest certificate accepted (or, as leader, made): carried as proof of the term. */
  private proof?: Certificate
  /** Newer voter sets told by voters of ours: one is taken once a majority tells the same (`vouch`). */
  private readonly vouches = new Vouches()
  /** The terms voters of ours told, and when each was last heard from (`claim`). */
  private readonly claims = new TermClaims()
  /** The voter set this node campaigns with (its own, or its bootstrap proposal). */
  private campaign?: VoterConfig
  /** The member view as this election reads it (election-roll.ts): a driver's lists, or its view lent. */
  private roll: MemberRoll = listRoll([], [])
  /** Set while this node leads: made fresh on every win. */
  private lead?: LeaderState
  /** A non-voter ahead of the leader it follows: that leader's term (see `followBehind`). */
  private followTerm?: number
  private out: ElectionOutput = { messages: [], events: [] }
  private persistPending = false
  private queriedAt = -Infinity
  /** Before a bootstrap: the agents met first, and the question out to them (`bootstrapReady`). */
  /** Read by the service for the agents met first (firstMet); told and asked only here. */
  readonly bootstrap = new BootstrapCheck()
  /** The leader's renewal of its election in office, for a voter ahead of it (`unprovenTerm`). */
  private readonly renewal: Renewal

  constructor (init: ElectionInit) {
    if (init.electionTimeoutMinMs > init.electionTimeoutMaxMs) throw new RangeError('electionTimeoutMinMs must not exceed electionTimeoutMaxMs')
    if (init.heartbeatIntervalMs >= init.electionTimeoutMinMs) throw new RangeError('heartbeatIntervalMs must be below electionTimeoutMinMs')
    this.init = init
    this.lateness = new Lateness(init.electionTimeoutMaxMs)
    this.renewal = new Renewal(init.electionTimeoutMaxMs)
    if (init.persisted !== undefined) ({ term: this.term, votedFor: this.votedFor, config: this.config } = init.persisted)
    // A restarted voter waits out what it may have promised before it stopped (voter-hold.ts).
    this.heldUntil = init.persisted?.heldUntil
    const holds = holdsAtStart(this.heldUntil, init.now, init)
    this.promisedUntil = holds.promisedUntil
    this.stickyUntil = holds.stickyUntil
    this.electionDeadline = init.now + this.randomTimeout()
  }

  // --- what the driver tells it --------------------------------------------------------
  tick (now: number): void {
    this.renewal.tick(now)
    if (this.lead !== undefined) {
      if (now >= this.quorumDeadline(this.lead)) {
        // Check-quorum: no majority answered for a whole election timeout; we may be on the
        // minority side of a partition, so stop claiming office.
        this.becomeFollower(now, this.term, undefined)
        return
      }
      if (now >= this.lead.nextHeartbeat) {
        // Sent late (this process lagged) is acked late: the lease must span that too (`holdToAsk`).
        this.lateness.acks.add(now - this.lead.nextHeartbeat, now)
        this.broadcastHeartbeat(now)
      }
      if (this.lead.announceDue(now, this.joinAnnounceMs)) this.announce(now)
      return
    }
    // Not before its own stickiness ends either: a vote for itself is a vote, and a leader's lease counts on it.
    if (now < this.electionDeadline || now < this.stickyUntil) return
    this.startPreVote(now)
  }

  receive (from: string, msg: ElectionMessage, now: number): void {
    if (from === this.init.self) return
    switch (msg.type) {
      case 'vote': this.onVote(from, msg, now); break
      case 'vote-reply': this.onVoteReply(from, msg, now); break
      case 'heartbeat': this.onHeartbeat(from, msg, now); break
      case 'heartbeat-ack': this.onHeartbeatAck(from, msg, now); break
      case 'config-query':
        // The certificate only to a bootstrap's question: an older agent's reply schema has no room for it.
        this.send(from, { type: 'config-reply', term: this.term, ...this.committedConfig(), ...(msg.bootstrap === true && this.proof !== undefined ? { proof: this.proof } : {}) })
        break
      case 'config-reply':
        this.vouch(from, msg.config)
        // The last answer a bootstrap waited for: it campaigns now, unless a set came meanwhile.
        if (this.answered(from, msg, now) && this.config === undefined && this.role === 'follower' && now >= this.stickyUntil) this.startPreVote(now)
        break
    }
    // The term the sender is at (a pre-vote asks for the one after it; a pre-vote grant echoes it).
    if (msg.type === 'vote' && msg.pre) this.claim(from, msg.term - 1, now)
    else if (msg.type !== 'config-query' && !(msg.type === 'vote-reply' && msg.pre && msg.granted)) this.claim(from, msg.term, now)
  }

  /**
   * The announcements now reach an agent they did not (its subscription told late, or relayed): a
   * leader announces soon, as for a newcomer, whom the member view names before its subscription
   * reaches the leader, so the announcement on its join alone could miss it (announce-join.test).
   */
  audienceGrew (): void { if (this.lead !== undefined) this.lead.newcomers = true }

  /** Agents alive in the member view (itself not included), and those that announced they leave (flagged `left`): handed whole. */
  setMembers (members: MemberInfo[]): void {
    const [others, before] = [members.filter(m => m.peer !== this.init.self), this.roll]
    this.roll = listRoll(others.filter(m => m.left !== true), others.filter(m => m.left === true))
    this.membersEntered(members, p => !before.alive(p))
  }

  /** The member view lent by a driver that holds it (election-roll.ts), which then tells `membersEntered`. */
  readRoll (roll: MemberRoll): void { this.roll = roll }
  /** Agents that entered the roll lent (alive, or left: flagged) since the last call; `fresh` says which were not alive before. */
  membersEntered (entered: MemberInfo[], fresh: (peer: string) => boolean = () => true): void {
    this.bootstrap.see(entered, this.init.self, this.config !== undefined || this.proof !== undefined)
    if (this.lead !== undefined && !this.lead.newcomers) this.lead.newcomers = entered.some(m => m.left !== true && m.peer !== this.init.self && fresh(m.peer))
  }

  /**
   * The driver saw `peer`'s process exit: the last connection to it closed (`since.at`, in term
   * `since.term`) and a connection to it then was refused at every address (exit-turn.ts says
   * what that proves). A follower of that leader waits out no timeout: it stops refusing votes
   * once what it promised the leader ends (`promisedUntil`), not when its stickiness would, and
   * campaigns on its turn. Ignored when the leader was heard from since the close, or the word is
   * about the leader of an earlier term (a restarted process may lead again).
   */
  peerExited (peer: string, since: { term: number, at: number }, now: number): void {
    if (this.role !== 'follower' || this.leader !== peer || this.term !== since.term || !this.isVoter) return
    if ((this.lastLeaderContact ?? -Infinity) > since.at) return
    const free = Math.max(now, this.promisedUntil)
    this.stickyUntil = Math.min(this.stickyUntil, free)
    this.becomeFollower(now, this.term, undefined)
    this.electionDeadline = free + exitTurn(this.config?.voters ?? [], peer, this.init.self, this.term, this.init.electionTimeoutMinMs, this.init.random)
  }

  /**
   * The leader's announcement, gossiped by `from` (the gossip layer checked who published it).
   * A voter of the set announced hears its leader by heartbeats, which the lease counts on: for
   * it the announcement is only a proof of a newer term. Any other agent follows on it, checked
   * as a heartbeat (a leader not yet followed needs a certificate that checks out against the
   * voters this node holds), but gives no endorsement: it is no voter. Its voter set is taken
   * only when newer than the one held (gossip may reorder).
   */
  announcement (from: string, a: Announcement, now: number): void {
    if (from === this.init.self) return
    const msg = { type: 'heartbeat' as const, term: a.term, leader: a.leader, config: a.config, seq: 0, cert: a.cert }
    if (this.init.eligible && a.config.voters.includes(this.init.self)) { this.acceptProof(from, a.cert, msg, now); return }
    if (a.term < this.term) { this.followBehind(from, a, now); return }
    const verdict = judgeHeartbeat(this.view(), from, msg, this.init.keys, false)
    if (!verdict.ok) {
      this.reject(from, verdict.reject, 'announcement')
      this.askVoters(verdict.ask, now)
      return
    }
    if (verdict.proven !== undefined) this.proof = verdict.proven
    if (a.term > this.term || this.role !== 'follower' || this.leader !== from || this.followTerm !== undefined) this.becomeFollower(now, a.term, from)
    this.lastLeaderContact = now
    this.learnVoters(a.config)
  }

  /** Called by the leader's owner on a timer as well: removals depend on time passing. */
  reviewVoters (now: number): void {
    if (this.lead !== undefined) this.changeVoters(now)
  }

  /** The answer to a request of this node came `ms` after it was sent (the driver measures it). */
  observeReply (ms: number, now: number): void { this.lateness.replies.add(ms, now) }

  // --- what it reports -----------------------------------------------------------------
  /** What to send and report since the last drain; `persist`, when set, must be written before any message goes out. */
  drain (): ElectionOutput {
    const out = { ...this.out, ...(this.persistPending ? { persist: this.persisted() } : {}) }
    this.out = { messages: [], events: [] }
    this.persistPending = false
    return out
  }

  persisted (): PersistedElection {
    const { term, votedFor, config, heldUntil } = this
    const held = heldUntil !== undefined ? { heldUntil } : {}
    return { term, ...(votedFor !== undefined ? { votedFor } : {}), ...(config !== undefined ? { config } : {}), ...held }
  }

  /** Whether this node is in the voter set it holds. */
  get isVoter (): boolean { return this.config?.voters.includes(this.init.self) ?? false }

  status (now: number): ElectionStatus {
    const voters = this.config?.voters ?? []
    const needed = majority(voters.length)
    const recently = now - this.init.electionTimeoutMaxMs
    const reachable = this.lead !== undefined
      ? this.lead.reachable(voters, this.init.self, recently)
      : voters.filter(v => v === this.init.self || this.roll.alive(v)).length
    return {
      role: this.role,
      term: this.term,
      ...(this.leader !== undefined ? { leader: this.leader } : {}),
      inOffice: this.inOffice(now),
      ...(this.lead?.leaseUntil !== undefined ? { leaseUntil: this.lead.leaseUntil } : {}),
      voters,
      configVersion: this.config?.version ?? 0,
      quorum: { size: voters.length, needed, reachable, has: voters.length > 0 && reachable >= needed },
      ...(this.lastLeaderContact !== undefined ? { lastLeaderContact: this.lastLeaderContact } : {}),
      slackMs: Math.round(this.slack(now)),
      eligible: this.init.eligible
    }
  }

  inOffice (now: number): boolean { return this.role === 'leader' && this.lead?.leaseUntil !== undefined && now < this.lead.leaseUntil }

  /**
   * Fencing: may a directive of `term` from `from` be carried out? Only the leader we follow, in
   * its term (ours, or the one behind it a non-voter follows it in: `followBehind`): an older
   * term is a deposed coordinator; a newer one not yet announced or heartbeat to us is a claim we
   * cannot check yet. (A non-voter that took its leader's directive of its own term, before the
   * renewal that made it so was announced, then took a late one of the term before: seed 1726.)
   */
  admits (term: number, from: string): 'ok' | 'stale-term' | 'not-coordinator' {
    const leads = this.followTerm ?? this.term
    if (term < leads) return 'stale-term'
    return term > leads || from !== this.leader || from === this.init.self ? 'not-coordinator' : 'ok'
  }

  get currentTerm (): number { return this.term }
  get currentLeader (): string | undefined { return this.leader }
  /** The term of the leader followed: this node's own, but for a non-voter that follows one behind it (`followBehind`). */
  get leaderTerm (): number { return this.followTerm ?? this.term }
  get currentRole (): Role { return this.role }
  /** The newest certificate held (this node's own as leader): task records name it as proof of who led a term. */
  get certificate (): Certificate | undefined { return this.proof }

  /** The earliest time `tick` has something to do. */
  nextWakeup (): number {
    if (this.lead !== undefined) return Math.min(this.lead.nextHeartbeat, this.lead.nextAnnounce, this.quorumDeadline(this.lead))
    return Math.max(this.electionDeadline, this.stickyUntil)
  }

  /** The added wait for the lateness seen lately (election-slack.ts). */
  slack (now: number): number { return this.lateness.slack(this.role === 'leader', now) }

  /** When this node's current campaign round (pre-vote or vote) began: answers to requests sent before it are stale. */
  get roundStartedAt (): number { return this.roundStart }

  /** When this node's bootstrap question went out: the service drops answers to older ones. */
  get checkStartedAt (): number { return this.bootstrap.startedAt }

  // --- elections -------------------------------------------------------------------------
  private startPreVote (now: number): void {
    this.electionDeadline = now + this.randomTimeout()
    if (!this.init.eligible) return
    let config = this.config
    if (config === undefined) {
      // No voter set yet: propose one once enough eligible agents are in sight and those met first know of none.
      const proposal = this.bootstrapReady(now)
      if (proposal === undefined) return this.quitRound(now)
      config = proposal
    }
    if (!config.voters.includes(this.init.self)) return this.quitRound(now)
    this.electionDeadline = now + this.campaignTimeout(now)
    this.roundStart = now
    this.role = 'pre-candidate'
    this.leader = undefined
    // No longer following a leader a term behind (followBehind): as leader, it reports its own term.
    this.followTerm = undefined
    this.campaign = config
    this.votes = new Set([this.init.self])
    this.out.events.push({ type: 'role', role: 'pre-candidate', term: this.term })
    this.askVotes(config, this.term + 1, true)
    this.maybeWin(config, now)
  }

  /** The bootstrap proposal to campaign with now, or undefined: none to make, or the agents met first are asked
   *  whether a set exists (bootstrap-check.ts) and the campaign waits for their answers (`answered` starts it). */
  private bootstrapReady (now: number): VoterConfig | undefined {
    const proposal = this.bootstrapProposal()
    if (proposal === undefined) return this.bootstrap.withdraw()
    // Outside its own proposal: never campaigns with it (`startPreVote`), asks without a dial (`linked`).
    const linked = proposal.voters.includes(this.init.self) ? undefined : this.bootstrap.linked(proposal.voters, v => this.roll.alive(v), this.init.connected)
    for (const p of linked ?? []) this.send(p, { type: 'config-query', bootstrap: true })
    if (linked !== undefined) return proposal
    const ask = this.bootstrap.next(proposal.voters, this.roll.members(), this.init.connected, now)
    if (ask === undefined) return proposal
    for (const p of ask) this.send(p, { type: 'config-query', bootstrap: true })
    // Answers get the time a campaign's do (the slack for slow replies included).
    this.electionDeadline = now + this.campaignTimeout(now)
    return undefined
  }

  /**
   * A campaign round that cannot go on (no proposal, its question still out, this node not among
   * the voters): a campaign under way stands down, and answers to its requests are stale (a late
   * pre-vote grant would otherwise start an election the node's own view no longer backs).
   */
  private quitRound (now: number): void {
    this.roundStart = now
    if (this.role === 'follower') return
    const deadline = this.electionDeadline
    this.becomeFollower(now, this.term, undefined)
    this.electionDeadline = deadline
  }

  /**
   * An answer to a config query. A leader's certificate that checks out, to a node with no set,
   * is kept, whenever it comes: a bootstrap campaign under way ends, and none starts again
   * (`bootstrapProposal`). To the question out, anything else counts as "none known" (an older
   * agent, a forger: no word blocks a bootstrap). True when every agent asked has answered so.
   */
  private answered (from: string, msg: Extract<ElectionMessage, { type: 'config-reply' }>, now: number): boolean {
    const proof = msg.proof
    if (this.config === undefined && proof !== undefined && proof.term > (this.proof?.term ?? -1) && checkCertificate(proof, this.init.keys, this.view()).ok) {
      this.bootstrap.proven()
      this.proof = proof
      if (proof.term > this.term || this.role !== 'follower') this.becomeFollower(now, Math.max(this.term, proof.term), undefined)
      return false
    }
    return this.bootstrap.cleared(from)
  }

  private startElection (now: number): void {
    const config = this.campaign
    if (config === undefined) return
    this.term += 1
    this.votedFor = this.init.self
    this.persistPending = true
    this.role = 'candidate'
    this.leader = undefined
    this.votes = new Set([this.init.self])
    this.grants = new Map([[this.init.self, this.init.keys.sign(voteStatement(this.term, this.init.self))]])
    this.electionDeadline = now + this.campaignTimeout(now)
    this.roundStart = now
    this.out.events.push({ type: 'role', role: 'candidate', term: this.term })
    this.askVotes(config, this.term, false)
    this.maybeWin(config, now)
  }

  /** Asks `config`'s voters for their votes in `term` (a pre-vote asks for the term after this node's). */
  private askVotes (config: VoterConfig, term: number, pre: boolean): void {
    const proof = this.proof !== undefined ? { proof: this.proof } : {}
    for (const v of config.voters) {
      if (v !== this.init.self) this.send(v, { type: 'vote', term, candidate: this.init.self, config, pre, ...proof })
    }
  }

  private onVote (from: string, msg: Extract<ElectionMessage, { type: 'vote' }>, now: number): void {
    // A denial carries our voter set: a voter that was cut off while the set changed learns the
    // current one from a voter it already trusts, and can then accept the new leader.
    // And our newest certificate, when the candidate is behind it.
    const deny = (reason: VoteDenial): void => {
      const proof = this.proof !== undefined && this.proof.term >= msg.term ? { proof: this.proof } : {}
      this.send(from, { type: 'vote-reply', term: this.term, granted: false, pre: msg.pre, reason, ...this.committedConfig(), ...proof })
    }
    this.acceptProof(from, msg.proof, msg, now)
    const verdict = judgeVote(this.view(), from, msg, now)
    if (!verdict.ok) {
      if (verdict.reject !== undefined) this.reject(from, verdict.reject, msg)
      if (verdict.catchUp === true) this.becomeFollower(now, Math.min(msg.term, this.term + MAX_TERM_STEP), undefined)
      return deny(verdict.deny)
    }
    if (msg.pre) return this.send(from, { type: 'vote-reply', term: msg.term, granted: true, pre: true })
    if (msg.term > this.term) this.becomeFollower(now, msg.term, undefined)
    if (this.votedFor !== undefined && this.votedFor !== from) return deny('already-voted')
    this.votedFor = from
    this.persistPending = true
    this.electionDeadline = now + this.randomTimeout()
    const sig = this.init.keys.sign(voteStatement(this.term, from))
    this.send(from, { type: 'vote-reply', term: this.term, granted: true, pre: false, sig })
  }

  private onVoteReply (from: string, msg: Extract<ElectionMessage, { type: 'vote-reply' }>, now: number): void {
    if (msg.granted && !msg.pre && msg.term === this.renewal.term) return this.renewed(from, msg, now)
    this.acceptProof(from, msg.proof, msg, now)
    if (!msg.granted) this.vouch(from, msg.config)
    // A denial of a real vote from a later term means we are behind: catch up rather than campaign
    // on. A pre-vote's denial moves nothing: it answers a question that moved no term, and would
    // let a forger push a node cut off with it ever further (a proof it carries was taken above).
    if (msg.term > this.term && !msg.pre) { this.unprovenTerm(from, msg, now); return }
    if (msg.term > this.term + 1 && msg.pre) return
    if (!msg.granted) return
    const config = this.campaign
    if (config === undefined || !config.voters.includes(from)) return
    // A grant counts only signed: it is a part of the certificate.
    if (!msg.pre && (msg.term !== this.term || !this.signed(from, msg, msg.sig))) return
    const current = msg.pre ? this.role === 'pre-candidate' && msg.term === this.term + 1 : this.role === 'candidate' && msg.term === this.term
    if (!current) return
    this.votes.add(from)
    this.maybeWin(config, now)
  }

  private maybeWin (config: VoterConfig, now: number): void {
    if (!wins(config, this.votes)) return
    if (this.role === 'pre-candidate') { this.startElection(now); return }
    if (this.role !== 'candidate') return
    this.role = 'leader'
    this.leader = this.init.self
    this.lead = new LeaderState(config.voters, now)
    this.renewal.won(now)
    this.takeOffice(config, now)
  }

  /** Leads this term (won, or renewed in office) with `config`'s voters: told at once, to the voters and to everyone. */
  private takeOffice (config: VoterConfig, now: number): void {
    // Raft's no-op entry: a set stamped with this term, committed by the first majority of acks;
    // only then may the voter set change.
    this.config = { version: config.version + 1, term: this.term, voters: config.voters }
    this.certify()
    this.persistPending = true
    const term = this.term
    this.out.events.push({ type: 'role', role: 'leader', term }, { type: 'leader', leader: this.init.self, term }, { type: 'voters', config: this.config })
    this.broadcastHeartbeat(now)
    this.announce(now)
  }

  // --- the leader ----------------------------------------------------------------------
  private broadcastHeartbeat (now: number): void {
    const config = this.config as VoterConfig
    const lead = this.lead as LeaderState
    const seq = lead.sent(this.init.self, config.version, now, this.init.heartbeatIntervalMs)
    // The voters only: the lease and the voter set need them, and the other agents learn the
    // leader from its announcements (a heartbeat per agent would make the leader's load grow with the mesh).
    // The certificate goes along until the receiver has accepted it (acked this term's heartbeat).
    const ask = holdToAsk(this.lateness.acks.get(now), this.init.heartbeatIntervalMs, promiseMs(this.init))
    for (const to of lead.targets(this.init.self, config.voters)) {
      const cert = !lead.certified.has(to) && this.proof !== undefined ? { cert: this.proof } : {}
      this.send(to, { type: 'heartbeat', term: this.term, leader: this.init.self, config, seq, ...cert, ...(ask !== undefined ? { holdMs: ask } : {}) })
    }
    this.updateLease(now)
  }

  /** Tell every agent who leads, with the proof (non-voters follow on it): at once after a win or a change of the set, then every announceIntervalMs. */
  private announce (now: number): void {
    const lead = this.lead
    if (lead === undefined || this.proof === undefined || this.config === undefined) return
    lead.nextAnnounce = now + this.announceIntervalMs
    this.out.announce = { term: this.term, leader: this.init.self, config: this.config, cert: this.proof }
  }

  private onHeartbeatAck (from: string, msg: Extract<ElectionMessage, { type: 'heartbeat-ack' }>, now: number): void {
    this.acceptProof(from, msg.proof, msg, now)
    if (msg.term > this.term) { this.unprovenTerm(from, msg, now); return }
    if (this.lead === undefined || msg.term !== this.term) return
    // A refusal may come from a follower that restarted and forgot our certificate: send it again.
    if (!msg.success) { this.lead.certified.delete(from); return }
    this.lead.certified.add(from)
    if (msg.endorse !== undefined) this.signed(from, msg, msg.endorse)
    const sent = this.lead.acked(from, msg.seq, msg.configVersion, now, heldFor(msg.holdMs, this.init))
    if (sent === undefined) return
    this.lateness.acks.add(now - sent - this.init.heartbeatIntervalMs, now)
    this.updateLease(now)
  }

  /**
   * A vote for this node in its term, signed by `from`: a grant, or a follower's endorsement.
   * Kept for the certificate; false (and counted) when the signature does not check out.
   */
  private signed (from: string, msg: ElectionMessage, sig: string | undefined): boolean {
    if (this.grants.has(from)) return true
    if (sig === undefined || !this.init.keys.verify(from, voteStatement(this.term, this.init.self), sig)) {
      this.reject(from, 'bad-signature', msg)
      return false
    }
    this.grants.set(from, sig)
    if (this.role === 'leader') this.certify()
    return true
  }

  /** The leader's certificate of its term (election-proof.ts `leaderCertificate`). */
  private certify (): void {
    this.proof = leaderCertificate(this.term, this.init.self, this.config as VoterConfig, this.campaign, this.grants)
  }

  private updateLease (now: number): void {
    // A set is committed once a majority of it holds it; only then may the next change come.
    const committed = (this.lead as LeaderState).update(this.config as VoterConfig, this.init.self, now, this.init.electionTimeoutMinMs)
    if (committed) this.changeVoters(now)
  }

  /** One voter at a time (voter-set.ts): add an eligible agent we see, else drop one that left or is long silent. */
  private changeVoters (now: number): void {
    const config = this.config as VoterConfig
    const lead = this.lead
    if (lead === undefined || lead.committedVersion !== config.version) return
    const { self, bootstrapExpect, voterRemoveAfterMs } = this.init
    const members = [...this.roll.members(), ...this.roll.left()]
    const lostAfterMs = LOST_AFTER_TIMEOUTS * this.init.electionTimeoutMaxMs
    const { maxVoters } = this
    const voters = nextVoters({ self, config, members, lastHeard: lead.lastHeard, now, bootstrapExpect, voterRemoveAfterMs, maxVoters, lostAfterMs })
    if (voters === undefined || this.init.mayChangeVoters?.(voters) === false) return
    this.config = { version: config.version + 1, term: this.term, voters }
    this.certify()
    lead.votersChanged(config.voters, this.config, now)
    this.persistPending = true
    this.out.events.push({ type: 'voters', config: this.config })
    this.broadcastHeartbeat(now)
    this.announce(now)
  }

  /** Check-quorum's deadline; the slack is read as of the last quorum, so it is fixed until acks move it. */
  private quorumDeadline (lead: LeaderState): number { return lead.quorumAt + this.init.electionTimeoutMaxMs + this.slack(lead.quorumAt) }

  /**
   * A later term in a denial or an ack, with no proof: this node is behind, or is told so by a
   * forger. A follower or candidate moves only once a majority of its voters tell as much
   * (`claim`). A leader keeps its office: check-quorum steps it down if a majority really moved
   * on; for a voter that may be honestly ahead of it, it renews its election in office (renewal.ts).
   */
  private unprovenTerm (from: string, msg: Extract<ElectionMessage, { type: 'vote-reply' | 'heartbeat-ack' }>, now: number): void {
    // Further than a step no honest voter gets without a proof (and the renewal must stay within it).
    if (msg.term >= this.term + MAX_TERM_STEP) return this.reject(from, 'term-too-far', msg)
    if (this.role !== 'leader') return
    this.reject(from, 'unproven', msg)
    if (msg.type === 'heartbeat-ack' && this.renewal.due(now) && this.config?.voters.includes(from) === true) this.renew(now, msg.term)
  }

  /** The leader asks its voters for their votes in a term past `claim` and stays in office meanwhile (renewal.ts). */
  private renew (now: number, claim: number): void {
    const config = this.config as VoterConfig
    const term = claim + 1
    this.renewal.start(term, now, now + this.init.electionTimeoutMaxMs + this.lateness.replySlack(now))
    this.askVotes(config, term, false)
  }

  private renewed (from: string, msg: Extract<ElectionMessage, { type: 'vote-reply' }>, now: number): void {
    const term = this.renewal.term
    const config = this.config as VoterConfig
    const lead = this.lead
    if (term === undefined || lead === undefined || term <= this.term || !config.voters.includes(from) || !this.renewal.awaits(from)) return
    if (msg.sig === undefined || !this.init.keys.verify(from, voteStatement(term, this.init.self), msg.sig)) return this.reject(from, 'bad-signature', msg)
    const votes = this.renewal.vote(from, msg.sig, config, this.init.self)
    if (votes === undefined) return
    this.term = term
    this.votedFor = this.init.self
    this.grants = new Map([[this.init.self, this.init.keys.sign(voteStatement(term, this.init.self))], ...votes])
    this.campaign = config
    lead.certified.clear()
    this.takeOffice(config, now)
  }

  // --- followers -------------------------------------------------------------------------
  private onHeartbeat (from: string, msg: Extract<ElectionMessage, { type: 'heartbeat' }>, now: number): void {
    const ack = (success: boolean, endorse?: string): void => {
      const proof = !success && this.proof !== undefined && this.proof.term > msg.term ? { proof: this.proof } : {}
      const signed = { ...(endorse !== undefined ? { endorse } : {}), ...(success ? { holdMs: Math.max(0, Math.floor(this.promisedUntil - now)) } : {}) }
      this.send(from, { type: 'heartbeat-ack', term: this.term, seq: msg.seq, success, configVersion: this.config?.version ?? 0, ...proof, ...signed })
    }
    const verdict = judgeHeartbeat(this.view(), from, msg, this.init.keys)
    if (!verdict.ok) {
      this.reject(from, verdict.reject, msg)
      this.askVoters(verdict.ask, now)
      return ack(false)
    }
    if (verdict.proven !== undefined) this.proof = verdict.proven
    if (msg.term === this.term && this.leader === from && this.lastLeaderContact !== undefined) {
      // Late means a whole interval missed: ordinary jitter adds nothing to fail-over time.
      this.lateness.heartbeats.add(now - this.lastLeaderContact - 2 * this.init.heartbeatIntervalMs, now)
    }
    if (msg.term > this.term || this.role !== 'follower' || this.leader !== from || this.followTerm !== undefined) this.becomeFollower(now, msg.term, from)
    this.lastLeaderContact = now
    const slack = this.slack(now)
    // What it promises the leader and what it refuses: voter-hold.ts.
    const holds = holdsAfterHeartbeat({ promisedUntil: this.promisedUntil, stickyUntil: this.stickyUntil }, now, slack, msg.holdMs, this.init)
    this.promisedUntil = holds.promisedUntil
    this.stickyUntil = holds.stickyUntil
    this.holdStretched(now)
    this.electionDeadline = now + this.randomTimeout() + slack
    // Never back: a heartbeat delayed on its way carries an older set of the same leader, and a
    // follower that went back to it (and crashed with it stored) could later join the voters of
    // that older set in electing a second leader of a term (simulation seed 1860, once the cap
    // made changes frequent). A new leader's set is stamped with its term: always newer.
    this.learnVoters(msg.config)
    // Asked to accept (the heartbeat carried the certificate), an eligible follower that gave no
    // other vote in this term endorses the leader with one, signed: the certificate so keeps a
    // majority of the voter set as the set changes.
    if (msg.cert === undefined || !this.init.eligible || (this.votedFor !== undefined && this.votedFor !== from)) return ack(true)
    if (this.votedFor === undefined) {
      this.votedFor = from
      this.persistPending = true
    }
    ack(true, this.init.keys.sign(voteStatement(this.term, from)))
  }

  /** Its stickiness stretched past what it stored: a new `heldUntil` is stored before the ack goes out (voter-hold.ts). */
  private holdStretched (now: number): void {
    const heldUntil = heldToStore(this.stickyUntil, this.heldUntil, now, this.init)
    if (heldUntil === undefined) return
    this.heldUntil = heldUntil
    this.persistPending = true
  }

  /**
   * A proven leader of a term below this node's own, announced to a non-voter. A node ahead of
   * its leader is normally a voter, whose refusals make the leader renew its election past it;
   * but a non-voter can be ahead too (it campaigned, or moved with a set it has since left,
   * before it was demoted), and the leader never hears of it: non-voters send it nothing. Its
   * term cannot go back (a vote it gave in it must stay the only one), so it follows that leader
   * in the leader's term (`admits` takes that leader's directives in it) until a leader of a term
   * it holds comes; never one older than a leader it follows or was proven (deposed since).
   */
  private followBehind (from: string, a: Announcement, now: number): void {
    // Older than a leader it follows, or than any leader proven to it: that one was deposed.
    const stale = a.term < (this.followTerm ?? -1) || a.term < (this.proof?.term ?? -1)
    if (stale || this.role === 'leader' || a.leader !== from || !a.config.voters.includes(from)) return this.reject(from, stale ? 'stale-term' : 'malformed', 'announcement')
    if (this.leader !== from || this.followTerm !== a.term) {
      if (a.cert.term !== a.term || a.cert.leader !== from) return this.reject(from, 'bad-certificate', 'announcement')
      const verdict = checkCertificate(a.cert, this.init.keys, this.view())
      if (!verdict.ok) {
        this.reject(from, verdict.reason, 'announcement')
        if (verdict.reason === 'unproven') this.askVoters(verdict.ask, now)
        return
      }
      this.proof = a.cert
      this.becomeFollower(now, this.term, undefined)
      this.leader = from
      this.followTerm = a.term
      this.out.events.push({ type: 'leader', leader: from, term: a.term })
    }
    this.lastLeaderContact = now
    this.learnVoters(a.config)
  }

  /** Ask voters for their set, when a certificate may be genuine but this node's set is too old to tell: at most once per minimum election timeout. */
  private askVoters (ask: string[] | undefined, now: number): void {
    if (ask === undefined || ask.length === 0 || now < this.queriedAt + this.init.electionTimeoutMinMs) return
    this.queriedAt = now
    for (const v of ask) this.send(v, { type: 'config-query' })
  }

  // --- terms and voter sets told -------------------------------------------------------
  /** A newer voter set told by a voter of the set we hold (or campaign with) in a denial or a config reply (voter-word.ts). */
  private vouch (from: string, config: VoterConfig | undefined): void {
    const trusted = this.config ?? this.campaign
    if (trusted === undefined || !trusted.voters.includes(from) || config === undefined || config.term === 0) return
    if (this.config !== undefined && !newer(config, this.config)) return
    if (this.vouches.tell(from, config, trusted) !== undefined) this.learnVoters(config)
  }

  /** A voter set a leader made: taken when newer than the one held (never back: gossip and delays reorder). */
  private learnVoters (config: VoterConfig): void {
    if (this.config !== undefined && !newer(config, this.config)) return
    this.config = config
    this.persistPending = true
    this.out.events.push({ type: 'voters', config })
  }

  /**
   * `from` says it is at `term`. Without a proof, one voter's word moves nobody (a forger's
   * would move everyone): a node moves to the term enough of its voters hold, MAX_TERM_STEP at
   * most at a time (voter-word.ts `TermClaims`).
   */
  private claim (from: string, term: number, now: number): void {
    const set = this.config ?? this.campaign
    if (set === undefined || !set.voters.includes(from)) return
    this.claims.tell(from, term, now)
    // Weighed again on every word, not only on news: terms told while this node led or was held
    // count once it is free to move (a leader whose voters went ahead of it before its first
    // heartbeat came stepped down, heard the same term in their denials, and stayed behind them).
    if (this.role === 'leader' || now < this.stickyUntil) return
    const since = now - LOST_AFTER_TIMEOUTS * this.init.electionTimeoutMaxMs
    const held = this.claims.held(set.voters, this.init.self, this.term, since, v => this.roll.alive(v))
    if (held > this.term) this.becomeFollower(now, Math.min(held, this.term + MAX_TERM_STEP), undefined)
  }

  /**
   * A certificate carried as proof of a newer term: checked (once: a term it moved us past is not
   * checked again), kept, and followed to its term, however far.
   */
  private acceptProof (from: string, proof: Certificate | undefined, msg: ElectionMessage, now: number): void {
    if (proof === undefined || proof.term <= this.term) return
    const verdict = checkCertificate(proof, this.init.keys, this.view())
    if (!verdict.ok) {
      if (verdict.reason === 'bad-certificate') this.reject(from, 'bad-certificate', msg)
      return
    }
    this.proof = proof
    this.becomeFollower(now, proof.term, undefined)
  }

  private becomeFollower (now: number, term: number, leader: string | undefined): void {
    const was = this.role
    const hadLeader = this.leader
    if (term > this.term) {
      this.term = term
      this.votedFor = undefined
      this.persistPending = true
    }
    this.role = 'follower'
    this.leader = leader
    this.followTerm = undefined
    this.campaign = undefined
    this.lead = undefined
    this.electionDeadline = now + this.randomTimeout()
    if (was !== 'follower') this.out.events.push({ type: 'role', role: 'follower', term: this.term })
    if (hadLeader !== leader) this.out.events.push({ type: 'leader', leader, term: this.term })
  }

  // --- helpers ---------------------------------------------------------------------------
  /** The first voter set this node would propose, while it holds none (bootstrap-check.ts). */
  private bootstrapProposal (): VoterConfig | undefined {
    if (this.config !== undefined || !this.init.eligible || provenSetAlive(this.proof, this.init.self, p => this.roll.alive(p))) return undefined
    return bootstrapProposal(this.init.self, this.roll.members(), this.init.bootstrapExpect, this.maxVoters)
  }

  /** The voters of the set it would propose now (none once it holds or is shown one): views link them before the campaign (member-connections.ts). */
  proposedVoters (): string[] { return this.bootstrapProposal()?.voters ?? [] }

  private get maxVoters (): number { return this.init.maxVoters ?? DEFAULT_MAX_VOTERS }
  private get announceIntervalMs (): number { return this.init.announceIntervalMs ?? 10 * this.init.heartbeatIntervalMs }
  /** How soon after agents join the leader announces itself (two heartbeats: a join wave's arrivals share one). */
  private get joinAnnounceMs (): number { return Math.min(this.announceIntervalMs, 2 * this.init.heartbeatIntervalMs) }

  /** What the vote and heartbeat checks (vote-rules.ts) read. */
  private view (): VoterView {
    const { self, eligible } = this.init
    const { term, role, config, stickyUntil, proof, votedFor } = this
    const proposal = config === undefined ? this.bootstrapProposal() : undefined
    // The leader of this node's term: none known while it follows one a term behind (`followBehind`).
    const leader = this.followTerm === undefined ? this.leader : undefined
    return { self, eligible, term, role, stickyUntil, alive: p => this.roll.alive(p), config, leader, proof, votedFor, proposal }
  }

  /** The voter set to tell others, once a leader made it (a bootstrap proposal is not told). */
  private committedConfig (): { config?: VoterConfig } {
    return this.config !== undefined && this.config.term > 0 ? { config: this.config } : {}
  }

  private send (to: string, msg: ElectionMessage): void { this.out.messages.push({ to, msg }) }

  private reject (from: string, reason: RejectReason, msg: ElectionMessage | 'announcement'): void {
    this.out.events.push({ type: 'rejected', from, reason, message: msg === 'announcement' ? msg : msg.type })
  }

  /** The wait of a campaign (pre-vote, then vote): a random timeout, plus the slack for slow answers (election-slack.ts). */
  private campaignTimeout (now: number): number {
    return this.randomTimeout() + this.lateness.replySlack(now)
  }

  private randomTimeout (): number {
    const { electionTimeoutMinMs: min, electionTimeoutMaxMs: max } = this.init
    return min + Math.floor(this.init.random() * (max - min + 1))
  }
}
