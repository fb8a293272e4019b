/**
 * Coordinator election as a pure state machine: no I/O and no timers. The caller feeds it
 * messages and the time, and drains what it wants sent and persisted. The simulation test drives
 * thousands of seeded schedules through it; `ElectionService` drives it over RPC.
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
 * - A lease (leader-state.ts): the leader is in office only until `minTimeout` after the send
 *   time of the last heartbeat a majority acknowledged, and steps down (check-quorum) when no
 *   majority answered for `maxTimeout`. Because voters refuse votes for `minTimeout` after a
 *   heartbeat, no other leader can be elected while the lease runs: two coordinators are never
 *   in office at once (given clocks that run at about the same rate).
 * - Timeouts that stretch under load (election-slack.ts); only waits grow, never the lease.
 * - The voter set is the only replicated state, changed one voter at a time; before any exists
 *   it is bootstrapped as Consul's `bootstrap_expect` does. Its rules are in voter-set.ts.
 */
import { DecayingMax, slackFor } from './election-slack.js'
import { LeaderState } from './leader-state.js'
import { bootstrapProposal, majority, newer, nextVoters, wins, type MemberInfo, type VoterConfig } from './voter-set.js'
import { judgeHeartbeat, judgeVote, type VoterView } from './vote-rules.js'
import type { ElectionInit, ElectionMessage, ElectionOutput, ElectionStatus, PersistedElection, RejectReason, Role, VoteDenial } from './election-types.js'

export type * from './election-types.js'
export type { MemberInfo, VoterConfig } from './voter-set.js'

export class Election {
  private readonly init: ElectionInit
  private role: Role = 'follower'
  private term = 0
  private votedFor?: string
  private config?: VoterConfig
  private leader?: string
  private lastLeaderContact?: number
  /** Follower: how much later than two intervals the leader's heartbeats came lately. */
  private readonly heartbeatLateness = new DecayingMax()
  /** Leader: how much longer than an interval heartbeat acks took lately. */
  private readonly ackDelay = new DecayingMax()
  /** Refuse votes until then (leader stickiness; also right after start, as if a leader spoke). */
  private stickyUntil: number
  private electionDeadline: number
  private votes = new Set<string>()
  /** The voter set this node campaigns with (its own, or its bootstrap proposal). */
  private campaign?: VoterConfig
  /** Agents alive in the member view (itself excluded); `left` holds those that announced they leave. */
  private members: MemberInfo[] = []
  private left: MemberInfo[] = []
  /** Set while this node leads: made fresh on every win. */
  private lead?: LeaderState
  private out: ElectionOutput = { messages: [], events: [] }
  private persistPending = false
  private queriedAt = -Infinity

  constructor (init: ElectionInit) {
    if (init.electionTimeoutMinMs > init.electionTimeoutMaxMs) throw new RangeError('electionTimeoutMinMs must not exceed electionTimeoutMaxMs')
    if (init.heartbeatIntervalMs >= init.electionTimeoutMinMs) throw new RangeError('heartbeatIntervalMs must be below electionTimeoutMinMs')
    this.init = init
    if (init.persisted !== undefined) ({ term: this.term, votedFor: this.votedFor, config: this.config } = init.persisted)
    // A restarted voter may have acked a leader's heartbeat just before it crashed: it waits out
    // that leader's lease before it votes, or the lease would not hold.
    this.stickyUntil = init.now + init.electionTimeoutMinMs
    this.electionDeadline = init.now + this.randomTimeout()
  }

  /** What to send and report since the last drain; `persist`, when set, must be written before any message goes out. */
  drain (): ElectionOutput {
    const out = { ...this.out, ...(this.persistPending ? { persist: this.persisted() } : {}) }
    this.out = { messages: [], events: [] }
    this.persistPending = false
    return out
  }

  persisted (): PersistedElection {
    const { term, votedFor, config } = this
    return { term, ...(votedFor !== undefined ? { votedFor } : {}), ...(config !== undefined ? { config } : {}) }
  }

  /** Agents alive in the member view (itself not included), and those that announced they leave (flagged `left`). */
  setMembers (members: MemberInfo[]): void {
    const others = members.filter(m => m.peer !== this.init.self)
    this.members = others.filter(m => m.left !== true)
    this.left = others.filter(m => m.left === true)
  }

  status (now: number): ElectionStatus {
    const voters = this.config?.voters ?? []
    const needed = majority(voters.length)
    const recently = now - this.init.electionTimeoutMaxMs
    const reachable = this.lead !== undefined
      ? this.lead.reachable(voters, this.init.self, recently)
      : voters.filter(v => v === this.init.self || this.members.some(m => m.peer === v)).length
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
   * the term we are in: an older term is a deposed coordinator; a newer one we have not seen
   * confirmed by a heartbeat is a claim we cannot check yet.
   */
  admits (term: number, from: string): 'ok' | 'stale-term' | 'not-coordinator' {
    if (term < this.term) return 'stale-term'
    if (term > this.term || from !== this.leader || from === this.init.self) return 'not-coordinator'
    return 'ok'
  }

  get currentTerm (): number { return this.term }
  get currentLeader (): string | undefined { return this.leader }
  get currentRole (): Role { return this.role }

  /** The earliest time `tick` has something to do. */
  nextWakeup (): number {
    if (this.lead !== undefined) return Math.min(this.lead.nextHeartbeat, this.quorumDeadline(this.lead))
    return this.electionDeadline
  }

  /** The added wait for the lateness seen lately (see "awareness" above). */
  slack (now: number): number {
    const late = this.role === 'leader' ? this.ackDelay.get(now) : this.heartbeatLateness.get(now)
    return slackFor(late, this.init.electionTimeoutMaxMs)
  }

  /** Check-quorum's deadline; the slack is read as of the last quorum, so it is fixed until acks move it. */
  private quorumDeadline (lead: LeaderState): number { return lead.quorumAt + this.init.electionTimeoutMaxMs + this.slack(lead.quorumAt) }

  tick (now: number): void {
    if (this.lead !== undefined) {
      if (now >= this.quorumDeadline(this.lead)) {
        // Check-quorum: no majority answered for a whole election timeout; we may be on the
        // minority side of a partition, so stop claiming office.
        this.becomeFollower(now, this.term, undefined)
        return
      }
      if (now >= this.lead.nextHeartbeat) this.broadcastHeartbeat(now)
      return
    }
    if (now < this.electionDeadline) return
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
        this.send(from, { type: 'config-reply', term: this.term, ...this.committedConfig() })
        break
      case 'config-reply': this.adoptFromVoter(from, msg.config); break
    }
  }

  // --- elections -------------------------------------------------------------------------
  private startPreVote (now: number): void {
    this.electionDeadline = now + this.randomTimeout()
    if (!this.init.eligible) return
    let config = this.config
    if (config === undefined) {
      // No voter set yet: propose one once enough eligible agents are in sight.
      const proposal = this.bootstrapProposal()
      if (proposal === undefined) return
      config = proposal
    }
    if (!config.voters.includes(this.init.self)) return
    this.role = 'pre-candidate'
    this.leader = undefined
    this.campaign = config
    this.votes = new Set([this.init.self])
    this.out.events.push({ type: 'role', role: 'pre-candidate', term: this.term })
    this.askVotes(config, true)
    this.maybeWin(config, now)
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
    this.electionDeadline = now + this.randomTimeout()
    this.out.events.push({ type: 'role', role: 'candidate', term: this.term })
    this.askVotes(config, false)
    this.maybeWin(config, now)
  }

  private askVotes (config: VoterConfig, pre: boolean): void {
    const term = pre ? this.term + 1 : this.term
    for (const v of config.voters) {
      if (v !== this.init.self) this.send(v, { type: 'vote', term, candidate: this.init.self, config, pre })
    }
  }

  private onVote (from: string, msg: Extract<ElectionMessage, { type: 'vote' }>, now: number): void {
    // A denial carries our voter set: a voter that was cut off while the set changed learns the
    // current one from a voter it already trusts, and can then accept the new leader.
    const deny = (reason: VoteDenial): void => { this.send(from, { type: 'vote-reply', term: this.term, granted: false, pre: msg.pre, reason, ...this.committedConfig() }) }
    const verdict = judgeVote(this.view(), from, msg, now)
    if (!verdict.ok) {
      if (verdict.reject !== undefined) this.reject(from, verdict.reject, msg)
      if (verdict.catchUp === true) this.becomeFollower(now, msg.term, undefined)
      return deny(verdict.deny)
    }
    if (msg.pre) return this.send(from, { type: 'vote-reply', term: msg.term, granted: true, pre: true })
    if (msg.term > this.term) this.becomeFollower(now, msg.term, undefined)
    if (this.votedFor !== undefined && this.votedFor !== from) return deny('already-voted')
    this.votedFor = from
    this.persistPending = true
    this.electionDeadline = now + this.randomTimeout()
    this.send(from, { type: 'vote-reply', term: this.term, granted: true, pre: false })
  }

  private onVoteReply (from: string, msg: Extract<ElectionMessage, { type: 'vote-reply' }>, now: number): void {
    if (!msg.granted) this.adoptFromVoter(from, msg.config)
    // A denial from a later term means we are behind: catch up rather than campaign on.
    if (msg.term > this.term && (!msg.pre || !msg.granted)) { this.becomeFollower(now, msg.term, undefined); return }
    if (!msg.granted) return
    const config = this.campaign
    if (config === undefined || !config.voters.includes(from)) return
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
    // Raft's no-op entry: a set stamped with this term, committed by the first majority of acks;
    // only then may the voter set change.
    this.config = { version: config.version + 1, term: this.term, voters: config.voters }
    this.persistPending = true
    const term = this.term
    this.out.events.push({ type: 'role', role: 'leader', term }, { type: 'leader', leader: this.init.self, term }, { type: 'voters', config: this.config })
    this.broadcastHeartbeat(now)
  }

  // --- the leader's heartbeats -----------------------------------------------------------
  private broadcastHeartbeat (now: number): void {
    const config = this.config as VoterConfig
    const lead = this.lead as LeaderState
    const seq = lead.sent(this.init.self, config.version, now, this.init.heartbeatIntervalMs)
    const targets = new Set([...config.voters, ...this.members.map(m => m.peer)])
    targets.delete(this.init.self)
    for (const to of targets) this.send(to, { type: 'heartbeat', term: this.term, leader: this.init.self, config, seq })
    this.updateLease(now)
  }

  private onHeartbeatAck (from: string, msg: Extract<ElectionMessage, { type: 'heartbeat-ack' }>, now: number): void {
    if (msg.term > this.term) { this.becomeFollower(now, msg.term, undefined); return }
    if (this.lead === undefined || msg.term !== this.term || !msg.success) return
    const sent = this.lead.acked(from, msg.seq, msg.configVersion, now)
    if (sent === undefined) return
    this.ackDelay.add(now - sent - this.init.heartbeatIntervalMs, now)
    this.updateLease(now)
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
    const members = [...this.members, ...this.left]
    const voters = nextVoters({ self, config, members, lastHeard: lead.lastHeard, now, bootstrapExpect, voterRemoveAfterMs })
    if (voters === undefined) return
    this.config = { version: config.version + 1, term: this.term, voters }
    for (const v of voters) if (!lead.lastHeard.has(v)) lead.lastHeard.set(v, now)
    this.persistPending = true
    this.out.events.push({ type: 'voters', config: this.config })
    this.broadcastHeartbeat(now)
  }

  /** Called by the leader's owner on a timer as well: removals depend on time passing. */
  reviewVoters (now: number): void {
    if (this.lead !== undefined) this.changeVoters(now)
  }

  // --- followers -------------------------------------------------------------------------
  private onHeartbeat (from: string, msg: Extract<ElectionMessage, { type: 'heartbeat' }>, now: number): void {
    const ack = (success: boolean): void => { this.send(from, { type: 'heartbeat-ack', term: this.term, seq: msg.seq, success, configVersion: this.config?.version ?? 0 }) }
    const verdict = judgeHeartbeat(this.view(), from, msg)
    if (!verdict.ok) {
      this.reject(from, verdict.reject, msg)
      if (verdict.ask !== undefined && verdict.ask.length > 0 && now >= this.queriedAt + this.init.electionTimeoutMinMs) {
        // At most once per minimum election timeout.
        this.queriedAt = now
        for (const v of verdict.ask) this.send(v, { type: 'config-query' })
      }
      return ack(false)
    }
    if (msg.term === this.term && this.leader === from && this.lastLeaderContact !== undefined) {
      // Late means a whole interval missed: ordinary jitter adds nothing to fail-over time.
      this.heartbeatLateness.add(now - this.lastLeaderContact - 2 * this.init.heartbeatIntervalMs, now)
    }
    if (msg.term > this.term || this.role !== 'follower' || this.leader !== from) this.becomeFollower(now, msg.term, from)
    this.lastLeaderContact = now
    const slack = this.slack(now)
    this.stickyUntil = now + this.init.electionTimeoutMinMs + slack
    this.electionDeadline = now + this.randomTimeout() + slack
    if (this.config === undefined || this.config.version !== msg.config.version || this.config.term !== msg.config.term) {
      this.config = msg.config
      this.persistPending = true
      this.out.events.push({ type: 'voters', config: msg.config })
    }
    ack(true)
  }

  /** A newer voter set told by a voter of the set we hold (or campaign with) is adopted. */
  private adoptFromVoter (from: string, config: VoterConfig | undefined): void {
    const trusted = (this.config ?? this.campaign)?.voters.includes(from) === true
    if (!trusted || config === undefined || config.term === 0) return
    if (this.config !== undefined && !newer(config, this.config)) return
    this.config = config
    this.persistPending = true
    this.out.events.push({ type: 'voters', config })
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
    this.campaign = undefined
    this.lead = undefined
    this.electionDeadline = now + this.randomTimeout()
    if (was !== 'follower') this.out.events.push({ type: 'role', role: 'follower', term: this.term })
    if (hadLeader !== leader) this.out.events.push({ type: 'leader', leader, term: this.term })
  }

  // --- helpers ---------------------------------------------------------------------------
  private bootstrapProposal (): VoterConfig | undefined {
    if (this.config !== undefined || !this.init.eligible) return undefined
    return bootstrapProposal(this.init.self, this.members, this.init.bootstrapExpect)
  }

  /** What the vote and heartbeat checks (vote-rules.ts) read. */
  private view (): VoterView {
    const { self, eligible } = this.init
    const { term, role, config, leader, stickyUntil, members } = this
    return { self, eligible, term, role, stickyUntil, members, config, leader, proposal: config === undefined ? this.bootstrapProposal() : undefined }
  }

  /** The voter set to tell others, once a leader made it (a bootstrap proposal is not told). */
  private committedConfig (): { config?: VoterConfig } {
    return this.config !== undefined && this.config.term > 0 ? { config: this.config } : {}
  }

  private send (to: string, msg: ElectionMessage): void { this.out.messages.push({ to, msg }) }

  private reject (from: string, reason: RejectReason, msg: ElectionMessage): void {
    this.out.events.push({ type: 'rejected', from, reason, message: msg.type })
  }

  private randomTimeout (): number {
    const { electionTimeoutMinMs: min, electionTimeoutMaxMs: max } = this.init
    return min + Math.floor(this.init.random() * (max - min + 1))
  }
}
