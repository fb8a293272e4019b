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
 * - A lease: the leader is in office only until `minTimeout` after the send time of the last
 *   heartbeat a majority acknowledged, and steps down (check-quorum) when no majority answered
 *   for `maxTimeout`. Because voters refuse votes for `minTimeout` after a heartbeat, no other
 *   leader can be elected while the lease runs: two coordinators are never in office at once
 *   (given clocks that run at about the same rate, which is why the lease is a fraction below).
 * - Timeouts that stretch under load (memberlist's "awareness", applied to elections): a
 *   follower measures how late the leader's heartbeats arrive (beyond a missed interval) and a
 *   leader how long acks take (beyond one interval); twice that lateness (a maximum decaying with a half-life of SLACK_HALF_LIFE_MS, at most
 *   SLACK_CAP_FACTOR election timeouts) is added to the election timeout, the vote refusal
 *   after a heartbeat and the check-quorum. A busy machine whose event loops lag by hundreds of
 *   milliseconds then keeps its coordinator instead of electing one after another; on a quiet
 *   one the slack decays to nothing and fail-over keeps its speed. Only waits grow: the lease
 *   stays `minTimeout` from a heartbeat's send time, so safety is the same.
 * - The voter set is the only replicated state. It changes one voter at a time (dissertation
 *   4.1, single-server changes), each change committed by a majority of the new set before the
 *   next, and only after the leader committed an entry of its own term (the fix for the bug
 *   Ongaro found in single-server changes). Its "log position" is (config term, config version),
 *   which decides whether a candidate is up to date.
 * - Bootstrap as in Consul's `bootstrap_expect`: before any voter set exists, a node that sees
 *   `bootstrapExpect` eligible agents proposes them all as the first voter set; a voter without a
 *   set votes only for a proposal equal to what it sees itself, and a proposal wins only with
 *   every proposed voter's vote. Two groups that cannot see each other can still both bootstrap
 *   if each has `bootstrapExpect` agents: set it above half the agents that start the mesh, as
 *   Consul asks of its servers. Once a leader exists, agents that
 *   join are added by the leader, and voters that left or stayed unreachable for
 *   `voterRemoveAfterMs` are removed (Consul autopilot's dead-server clean-up), never below
 *   `bootstrapExpect` voters.
 */

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader'

export interface VoterConfig {
  /** Raised by one on every change. */
  version: number
  /** The term of the leader that made this set (0 for a bootstrap proposal). */
  term: number
  /** Peer ids, sorted. */
  voters: string[]
}

export type ElectionMessage =
  | { type: 'vote', term: number, candidate: string, config: VoterConfig, pre: boolean }
  | { type: 'vote-reply', term: number, granted: boolean, pre: boolean, reason?: VoteDenial, config?: VoterConfig }
  | { type: 'heartbeat', term: number, leader: string, config: VoterConfig, seq: number }
  | { type: 'heartbeat-ack', term: number, seq: number, success: boolean, configVersion: number }
  | { type: 'config-query' }
  | { type: 'config-reply', term: number, config?: VoterConfig }

export type VoteDenial = 'stale-term' | 'already-voted' | 'not-up-to-date' | 'leader-alive' | 'not-a-voter' | 'bootstrap-mismatch' | 'not-eligible'

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

export interface MemberInfo { peer: string, eligible: boolean }

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

/** Leases are shortened by this factor to allow for clocks that run at slightly different rates. */
const LEASE_FACTOR = 0.9
/** Lateness observed is forgotten with this half-life. */
const SLACK_HALF_LIFE_MS = 5_000
/** The added wait is at most this many maximum election timeouts. */
const SLACK_CAP_FACTOR = 3

/** A maximum of recent samples that decays by half every SLACK_HALF_LIFE_MS. */
class DecayingMax {
  private value = 0
  private at = 0
  get (now: number): number { return now <= this.at ? this.value : this.value * 0.5 ** ((now - this.at) / SLACK_HALF_LIFE_MS) }
  add (sample: number, now: number): void { this.value = Math.max(sample, this.get(now)); this.at = Math.max(now, this.at) }
}

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
  private members: MemberInfo[] = []
  // Leader state, reset on every win.
  private seq = 0
  private readonly sentAt = new Map<number, number>()
  private readonly ackedAt = new Map<string, number>()
  private readonly ackedVersion = new Map<string, number>()
  private readonly lastHeard = new Map<string, number>()
  private leaseUntil?: number
  private quorumAt = 0
  private committedVersion = 0
  private nextHeartbeat = 0
  private messages: Array<{ to: string, msg: ElectionMessage }> = []
  private events: ElectionEvent[] = []
  private persistPending = false
  private queriedAt = -Infinity

  constructor (init: ElectionInit) {
    if (init.electionTimeoutMinMs > init.electionTimeoutMaxMs) throw new RangeError('electionTimeoutMinMs must not exceed electionTimeoutMaxMs')
    if (init.heartbeatIntervalMs >= init.electionTimeoutMinMs) throw new RangeError('heartbeatIntervalMs must be below electionTimeoutMinMs')
    this.init = init
    if (init.persisted !== undefined) {
      this.term = init.persisted.term
      this.votedFor = init.persisted.votedFor
      this.config = init.persisted.config
    }
    // A restarted voter may have acked a leader's heartbeat just before it crashed: it waits out
    // that leader's lease before it votes, or the lease would not hold.
    this.stickyUntil = init.now + init.electionTimeoutMinMs
    this.electionDeadline = init.now + this.randomTimeout()
  }

  /** Messages to send and events to report since the last drain; `persist` is set when the
   * durable state changed and must be written before any message goes out. */
  drain (): { messages: Array<{ to: string, msg: ElectionMessage }>, events: ElectionEvent[], persist?: PersistedElection } {
    const out = { messages: this.messages, events: this.events, ...(this.persistPending ? { persist: this.persisted() } : {}) }
    this.messages = []
    this.events = []
    this.persistPending = false
    return out
  }

  persisted (): PersistedElection {
    return { term: this.term, ...(this.votedFor !== undefined ? { votedFor: this.votedFor } : {}), ...(this.config !== undefined ? { config: this.config } : {}) }
  }

  /** The agents this node knows to be alive (from membership), itself not included. */
  setMembers (members: MemberInfo[]): void { this.members = members.filter(m => m.peer !== this.init.self) }

  status (now: number): ElectionStatus {
    const voters = this.config?.voters ?? []
    const needed = Math.floor(voters.length / 2) + 1
    const reachable = this.role === 'leader'
      ? voters.filter(v => v === this.init.self || (this.ackedAt.get(v) ?? -Infinity) > now - this.init.electionTimeoutMaxMs).length
      : voters.filter(v => v === this.init.self || this.members.some(m => m.peer === v)).length
    return {
      role: this.role,
      term: this.term,
      ...(this.leader !== undefined ? { leader: this.leader } : {}),
      inOffice: this.inOffice(now),
      ...(this.role === 'leader' && this.leaseUntil !== undefined ? { leaseUntil: this.leaseUntil } : {}),
      voters,
      configVersion: this.config?.version ?? 0,
      quorum: { size: voters.length, needed, reachable, has: voters.length > 0 && reachable >= needed },
      ...(this.lastLeaderContact !== undefined ? { lastLeaderContact: this.lastLeaderContact } : {}),
      slackMs: Math.round(this.slack(now)),
      eligible: this.init.eligible
    }
  }

  inOffice (now: number): boolean {
    return this.role === 'leader' && this.leaseUntil !== undefined && now < this.leaseUntil
  }

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
    if (this.role === 'leader') return Math.min(this.nextHeartbeat, this.quorumDeadline())
    return this.electionDeadline
  }

  /** The added wait for the lateness seen lately (see "awareness" above). */
  slack (now: number): number {
    const late = this.role === 'leader' ? this.ackDelay.get(now) : this.heartbeatLateness.get(now)
    return Math.min(2 * late, SLACK_CAP_FACTOR * this.init.electionTimeoutMaxMs)
  }

  /** Check-quorum's deadline; the slack is read as of the last quorum, so the deadline is fixed until acks move it. */
  private quorumDeadline (): number { return this.quorumAt + this.init.electionTimeoutMaxMs + this.slack(this.quorumAt) }

  tick (now: number): void {
    if (this.role === 'leader') {
      if (now >= this.quorumDeadline()) {
        // Check-quorum: no majority answered for a whole election timeout; we may be on the
        // minority side of a partition, so stop claiming office.
        this.becomeFollower(now, this.term, undefined)
        return
      }
      if (now >= this.nextHeartbeat) this.broadcastHeartbeat(now)
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
        this.messages.push({ to: from, msg: { type: 'config-reply', term: this.term, ...(this.config !== undefined && this.config.term > 0 ? { config: this.config } : {}) } })
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
    this.events.push({ type: 'role', role: 'pre-candidate', term: this.term })
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
    this.events.push({ type: 'role', role: 'candidate', term: this.term })
    this.askVotes(config, false)
    this.maybeWin(config, now)
  }

  private askVotes (config: VoterConfig, pre: boolean): void {
    const term = pre ? this.term + 1 : this.term
    for (const v of config.voters) {
      if (v !== this.init.self) this.messages.push({ to: v, msg: { type: 'vote', term, candidate: this.init.self, config, pre } })
    }
  }

  private onVote (from: string, msg: Extract<ElectionMessage, { type: 'vote' }>, now: number): void {
    // A denial carries our voter set: a voter that was cut off while the set changed learns the
    // current one from a voter it already trusts, and can then accept the new leader.
    const deny = (reason: VoteDenial): void => {
      this.messages.push({ to: from, msg: { type: 'vote-reply', term: this.term, granted: false, pre: msg.pre, reason, ...(this.config !== undefined && this.config.term > 0 ? { config: this.config } : {}) } })
    }
    if (msg.candidate !== from) { this.reject(from, 'malformed', msg); return deny('not-a-voter') }
    if (!this.init.eligible) return deny('not-eligible')
    // Only voters may ask: in the set we hold, or, before we hold one, in the set proposed.
    if (!msg.config.voters.includes(from) || (this.config !== undefined && !this.config.voters.includes(from))) {
      this.reject(from, 'not-a-voter', msg)
      return deny('not-a-voter')
    }
    if (msg.term < this.term || (msg.pre && msg.term <= this.term)) return deny('stale-term')
    // Leader stickiness: a leader we heard from recently is alive; do not help depose it.
    if (now < this.stickyUntil && from !== this.leader) return deny('leader-alive')
    if (this.role === 'leader') return deny('leader-alive')
    if (this.config !== undefined ? !this.upToDate(msg.config, this.config) : !this.matchesBootstrap(msg.config)) {
      if (!msg.pre && msg.term > this.term) this.becomeFollower(now, msg.term, undefined)
      return deny(this.config === undefined ? 'bootstrap-mismatch' : 'not-up-to-date')
    }
    if (msg.pre) {
      this.messages.push({ to: from, msg: { type: 'vote-reply', term: msg.term, granted: true, pre: true } })
      return
    }
    if (msg.term > this.term) this.becomeFollower(now, msg.term, undefined)
    if (this.votedFor !== undefined && this.votedFor !== from) return deny('already-voted')
    this.votedFor = from
    this.persistPending = true
    this.electionDeadline = now + this.randomTimeout()
    this.messages.push({ to: from, msg: { type: 'vote-reply', term: this.term, granted: true, pre: false } })
  }

  private onVoteReply (from: string, msg: Extract<ElectionMessage, { type: 'vote-reply' }>, now: number): void {
    if (!msg.granted) this.adoptFromVoter(from, msg.config)
    // A denial from a later term means we are behind: catch up rather than campaign on.
    if (msg.term > this.term && (!msg.pre || !msg.granted)) { this.becomeFollower(now, msg.term, undefined); return }
    if (!msg.granted) return
    const config = this.campaign
    if (config === undefined || !config.voters.includes(from)) return
    if (msg.pre && this.role === 'pre-candidate' && msg.term === this.term + 1) {
      this.votes.add(from)
      this.maybeWin(config, now)
    } else if (!msg.pre && this.role === 'candidate' && msg.term === this.term) {
      this.votes.add(from)
      this.maybeWin(config, now)
    }
  }

  private maybeWin (config: VoterConfig, now: number): void {
    const granted = config.voters.filter(v => this.votes.has(v)).length
    // A bootstrap proposal needs every proposed voter: two proposals made from different views
    // then cannot both win, since a shared voter's view would have to equal both.
    if (config.term === 0 ? granted < config.voters.length : granted * 2 <= config.voters.length) return
    if (this.role === 'pre-candidate') { this.startElection(now); return }
    if (this.role !== 'candidate') return
    this.role = 'leader'
    this.leader = this.init.self
    this.sentAt.clear()
    this.ackedAt.clear()
    this.ackedVersion.clear()
    this.lastHeard.clear()
    this.leaseUntil = undefined
    this.quorumAt = now
    for (const v of config.voters) this.lastHeard.set(v, now)
    // Raft's no-op entry: a set stamped with this term, committed by the first majority of acks;
    // only then may the voter set change.
    this.config = { version: config.version + 1, term: this.term, voters: config.voters }
    this.committedVersion = 0
    this.persistPending = true
    this.events.push({ type: 'role', role: 'leader', term: this.term }, { type: 'leader', leader: this.init.self, term: this.term }, { type: 'voters', config: this.config })
    this.broadcastHeartbeat(now)
  }

  // --- the leader's heartbeats -----------------------------------------------------------

  private broadcastHeartbeat (now: number): void {
    const config = this.config as VoterConfig
    this.seq += 1
    this.sentAt.set(this.seq, now)
    // Forget send times no ack can still be useful for.
    for (const s of this.sentAt.keys()) { if (s < this.seq - 64) this.sentAt.delete(s); else break }
    this.nextHeartbeat = now + this.init.heartbeatIntervalMs
    const targets = new Set([...config.voters, ...this.members.map(m => m.peer)])
    targets.delete(this.init.self)
    for (const to of targets) this.messages.push({ to, msg: { type: 'heartbeat', term: this.term, leader: this.init.self, config, seq: this.seq } })
    this.ackedVersion.set(this.init.self, config.version)
    this.updateLease(now)
  }

  private onHeartbeatAck (from: string, msg: Extract<ElectionMessage, { type: 'heartbeat-ack' }>, now: number): void {
    if (msg.term > this.term) { this.becomeFollower(now, msg.term, undefined); return }
    if (this.role !== 'leader' || msg.term !== this.term || !msg.success) return
    const sent = this.sentAt.get(msg.seq)
    if (sent === undefined) return
    this.ackDelay.add(now - sent - this.init.heartbeatIntervalMs, now)
    this.lastHeard.set(from, now)
    if (sent > (this.ackedAt.get(from) ?? -Infinity)) this.ackedAt.set(from, sent)
    if (msg.configVersion > (this.ackedVersion.get(from) ?? 0)) this.ackedVersion.set(from, msg.configVersion)
    this.updateLease(now)
  }

  private updateLease (now: number): void {
    const config = this.config as VoterConfig
    const needed = Math.floor(config.voters.length / 2) + 1
    // The send time of the newest heartbeat a majority (counting us, "acked" now) has answered.
    const times = config.voters.map(v => v === this.init.self ? now : this.ackedAt.get(v) ?? -Infinity).sort((a, b) => b - a)
    const quorumSent = times[needed - 1]
    if (quorumSent !== undefined && Number.isFinite(quorumSent)) {
      this.quorumAt = Math.max(this.quorumAt, quorumSent)
      this.leaseUntil = Math.max(this.leaseUntil ?? -Infinity, quorumSent + this.init.electionTimeoutMinMs * LEASE_FACTOR)
      // A set is committed once a majority of it holds it.
      const holding = config.voters.filter(v => (this.ackedVersion.get(v) ?? 0) >= config.version).length
      if (holding >= needed && this.committedVersion < config.version) {
        this.committedVersion = config.version
        this.changeVoters(now)
      }
    }
  }

  /** One voter at a time: add an eligible agent we see, else drop a voter long silent. */
  private changeVoters (now: number): void {
    const config = this.config as VoterConfig
    if (this.committedVersion !== config.version) return
    const add = this.members.find(m => m.eligible && !config.voters.includes(m.peer))
    let voters: string[] | undefined
    if (add !== undefined) voters = [...config.voters, add.peer].sort()
    else if (config.voters.length > this.init.bootstrapExpect) {
      const gone = config.voters.find(v => v !== this.init.self && now - (this.lastHeard.get(v) ?? now) >= this.init.voterRemoveAfterMs)
      if (gone !== undefined) voters = config.voters.filter(v => v !== gone)
    }
    if (voters === undefined) return
    this.config = { version: config.version + 1, term: this.term, voters }
    for (const v of voters) if (!this.lastHeard.has(v)) this.lastHeard.set(v, now)
    this.persistPending = true
    this.events.push({ type: 'voters', config: this.config })
    this.broadcastHeartbeat(now)
  }

  /** Called by the leader's owner on a timer as well: removals depend on time passing. */
  reviewVoters (now: number): void {
    if (this.role === 'leader') this.changeVoters(now)
  }

  // --- followers -------------------------------------------------------------------------

  private onHeartbeat (from: string, msg: Extract<ElectionMessage, { type: 'heartbeat' }>, now: number): void {
    const ack = (success: boolean): void => {
      this.messages.push({ to: from, msg: { type: 'heartbeat-ack', term: this.term, seq: msg.seq, success, configVersion: this.config?.version ?? 0 } })
    }
    if (msg.leader !== from) { this.reject(from, 'malformed', msg); ack(false); return }
    if (msg.term < this.term) { this.reject(from, 'stale-term', msg); ack(false); return }
    // Only a voter of the set we hold can lead us (a node without a set trusts the first leader).
    if (!msg.config.voters.includes(from)) { this.reject(from, 'not-a-voter', msg); ack(false); return }
    if (this.config !== undefined && !this.config.voters.includes(from)) {
      const known = this.config.voters.filter(v => v !== this.init.self && this.members.some(m => m.peer === v))
      if (known.length > 0 || !this.newer(msg.config, this.config)) {
        // We may just be behind: ask the voters we trust for their set (at most once per
        // minimum election timeout), and follow this leader once one of them confirms it.
        this.reject(from, 'not-a-voter', msg)
        if (now >= this.queriedAt + this.init.electionTimeoutMinMs) {
          this.queriedAt = now
          for (const v of known) this.messages.push({ to: v, msg: { type: 'config-query' } })
        }
        ack(false)
        return
      }
      // Every voter we knew is gone from our view: nobody is left to confirm a newer set, so
      // the leader that presents one is followed.
    }
    if (msg.term === this.term && this.leader !== undefined && this.leader !== from) {
      // Two leaders in one term cannot happen; whoever claims it is lying.
      this.reject(from, 'forged-leader', msg)
      ack(false)
      return
    }
    if (msg.term === this.term && this.role === 'leader') { this.reject(from, 'forged-leader', msg); ack(false); return }
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
      this.events.push({ type: 'voters', config: msg.config })
    }
    ack(true)
  }

  /** A newer voter set told by a voter of the set we hold (or campaign with) is adopted. */
  private adoptFromVoter (from: string, config: VoterConfig | undefined): void {
    const trusted = (this.config ?? this.campaign)?.voters.includes(from) === true
    if (!trusted || config === undefined || config.term === 0 || (this.config !== undefined && !this.newer(config, this.config))) return
    this.config = config
    this.persistPending = true
    this.events.push({ type: 'voters', config })
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
    this.leaseUntil = undefined
    this.electionDeadline = now + this.randomTimeout()
    if (was !== 'follower') this.events.push({ type: 'role', role: 'follower', term: this.term })
    if (hadLeader !== leader) this.events.push({ type: 'leader', leader, term: this.term })
  }

  // --- helpers ---------------------------------------------------------------------------

  private bootstrapProposal (): VoterConfig | undefined {
    if (this.config !== undefined || !this.init.eligible) return undefined
    const voters = [this.init.self, ...this.members.filter(m => m.eligible).map(m => m.peer)].sort()
    if (voters.length < this.init.bootstrapExpect) return undefined
    return { version: 1, term: 0, voters }
  }

  private matchesBootstrap (proposal: VoterConfig): boolean {
    if (proposal.term !== 0) return true
    const mine = this.bootstrapProposal()
    return mine !== undefined && sameVoters(mine.voters, proposal.voters)
  }

  /** Raft's "at least as up to date", with (config term, config version) as the log position. */
  private upToDate (candidate: VoterConfig, mine: VoterConfig): boolean {
    return candidate.term > mine.term || (candidate.term === mine.term && candidate.version >= mine.version)
  }

  private newer (a: VoterConfig, b: VoterConfig): boolean {
    return a.term > b.term || (a.term === b.term && a.version > b.version)
  }

  private reject (from: string, reason: RejectReason, msg: ElectionMessage): void {
    this.events.push({ type: 'rejected', from, reason, message: msg.type })
  }

  private randomTimeout (): number {
    const { electionTimeoutMinMs: min, electionTimeoutMaxMs: max } = this.init
    return min + Math.floor(this.init.random() * (max - min + 1))
  }
}

function sameVoters (a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}
