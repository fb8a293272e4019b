/**
 * The election's state and its plumbing (election.ts holds the protocol): the fields the
 * machine keeps, what it reports (status, fencing, output), and the moves every handler shares
 * (becoming a follower, taking a voter set a majority vouched for). Pure, like the machine.
 */
import { DecayingMax, SLACK_CAP_FACTOR, slackFor } from './election-slack.js'
import { LEASE_FACTOR, type LeaderState } from './leader-state.js'
import { bootstrapProposal, majority, newer, sameConfig, wins, type MemberInfo, type VoterConfig } from './voter-set.js'
import { checkCertificate, MAX_TERM_STEP } from './election-proof.js'
import { DEFAULT_MAX_VOTERS, LOST_AFTER_TIMEOUTS } from './constants.js'
import { exitTurn } from './exit-turn.js'
import type { VoterView } from './vote-rules.js'
import type {
  Certificate, ElectionInit, ElectionMessage, ElectionOutput, ElectionStatus, PersistedElection, RejectReason, Role
} from './election-types.js'

export abstract class ElectionBase {
  protected readonly init: ElectionInit
  protected role: Role = 'follower'
  protected term = 0
  protected votedFor?: string
  protected config?: VoterConfig
  protected leader?: string
  protected lastLeaderContact?: number
  /** Follower: how much later than two intervals the leader's heartbeats came lately. */
  protected readonly heartbeatLateness = new DecayingMax()
  /** Leader: how much longer than an interval heartbeat acks took lately. */
  protected readonly ackDelay = new DecayingMax()
  /** How long the answers to this node's requests (votes, heartbeats) took lately: see `campaignTimeout`. */
  protected readonly replyTime = new DecayingMax()
  /** Refuse votes until then (leader stickiness; also right after start, as if a leader spoke). */
  protected stickyUntil: number
  /** Until when this node promised the leader it follows to vote for no other (its acks' `holdMs`; the lease counts on it): never past `stickyUntil`. */
  protected promisedUntil: number
  /** Stored: until when a hold longer than the minimum timeout may bind this node (see `holdStretched`). */
  protected heldUntil?: number
  /** See `roundStartedAt`. */
  protected roundStart = -Infinity
  protected electionDeadline: number
  protected votes = new Set<string>()
  /** The signed grants of this node's candidacy, its own included: its certificate once it wins. */
  protected grants = new Map<string, string>()
  /** The newest certificate accepted (or, as leader, made): carried as proof of the term. */
  protected proof?: Certificate
  /** Newer voter sets told by voters of ours: one is taken once a majority tells the same. */
  protected readonly vouches = new Map<string, VoterConfig>()
  /** The latest term each voter of ours told (in any message): see `claim`. */
  protected readonly claims = new Map<string, number>()
  /** When each voter of ours was last heard from (any message): see `claim`. */
  protected readonly heardAt = new Map<string, number>()
  /** The voter set this node campaigns with (its own, or its bootstrap proposal). */
  protected campaign?: VoterConfig
  /** Agents alive in the member view (itself excluded); `left` holds those that announced they leave. */
  protected members: MemberInfo[] = []
  protected left: MemberInfo[] = []
  /** Set while this node leads: made fresh on every win. */
  protected lead?: LeaderState
  /** A non-voter ahead of the leader it follows: that leader's term (see `followBehind`). */
  protected followTerm?: number
  protected out: ElectionOutput = { messages: [], events: [] }
  protected persistPending = false
  protected queriedAt = -Infinity

  constructor (init: ElectionInit) {
    if (init.electionTimeoutMinMs > init.electionTimeoutMaxMs) throw new RangeError('electionTimeoutMinMs must not exceed electionTimeoutMaxMs')
    if (init.heartbeatIntervalMs >= init.electionTimeoutMinMs) throw new RangeError('heartbeatIntervalMs must be below electionTimeoutMinMs')
    this.init = init
    if (init.persisted !== undefined) ({ term: this.term, votedFor: this.votedFor, config: this.config } = init.persisted)
    // A restarted voter may have acked a leader's heartbeat just before it crashed: it waits out
    // that leader's lease before it votes, or the lease would not hold. A hold stretched by its
    // slack (`heldFor`) was stored before the ack went out (`holdStretched`).
    this.heldUntil = init.persisted?.heldUntil
    // Within two of the longest holds from now: a clock stepped back must not freeze the vote.
    this.stickyUntil = Math.max(init.now + init.electionTimeoutMinMs, Math.min(this.heldUntil ?? -Infinity, init.now + 2 * this.longestHold()))
    // What it promised before it stopped is not known: all of that wait is kept, whatever exits.
    this.promisedUntil = this.stickyUntil
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
    const { term, votedFor, config, heldUntil } = this
    const held = heldUntil !== undefined ? { heldUntil } : {}
    return { term, ...(votedFor !== undefined ? { votedFor } : {}), ...(config !== undefined ? { config } : {}), ...held }
  }

  /**
   * This node's stickiness now runs past the minimum timeout (its slack stretched it) and its ack
   * will say so: unless the stored `heldUntil` covers it, a new one is stored first, with room for
   * the largest hold again, so that under a steady lag it is written once per that span rather
   * than once per heartbeat. On a quiet mesh nothing is written.
   */
  protected holdStretched (now: number): void {
    if (this.stickyUntil <= now + this.init.electionTimeoutMinMs || this.stickyUntil <= (this.heldUntil ?? -Infinity)) return
    // Whole ms: the state file holds integers.
    this.heldUntil = Math.ceil(this.stickyUntil + this.longestHold())
    this.persistPending = true
  }

  /** Agents alive in the member view (itself not included), and those that announced they leave (flagged `left`). */
  setMembers (members: MemberInfo[]): void {
    const others = members.filter(m => m.peer !== this.init.self)
    if (this.lead !== undefined && !this.lead.newcomers) {
      const before = new Set(this.members.map(m => m.peer))
      this.lead.newcomers = others.some(m => m.left !== true && !before.has(m.peer))
    }
    this.members = others.filter(m => m.left !== true)
    this.left = others.filter(m => m.left === true)
  }

  /**
   * The driver saw `peer`'s process exit: the last connection to it closed (`since.at`, in term
   * `since.term`) and a connection to it then was refused at every address (nothing listens
   * there; one that timed out tells nothing, as a partition looks the same). A follower of that leader
   * waits out no timeout: it stops refusing votes once what it promised the leader ends
   * (`promisedUntil`), not when its stickiness would, and campaigns on its turn (exit-turn.ts).
   * ZooKeeper's followers go looking as soon as the leader's socket closes. Nothing on the wire
   * proves an exit (a reset and a refusal can be forged on the path), so the word frees only
   * what is not promised: the lease counts on the promise alone, and two coordinators are never
   * in office at once whatever this is told. Ignored when the leader was heard from since the
   * close, or the word is about the leader of an earlier term (a restarted process may lead again).
   */
  peerExited (peer: string, since: { term: number, at: number }, now: number): void {
    if (this.role !== 'follower' || this.leader !== peer || this.term !== since.term || !this.isVoter) return
    if ((this.lastLeaderContact ?? -Infinity) > since.at) return
    const free = Math.max(now, this.promisedUntil)
    this.stickyUntil = Math.min(this.stickyUntil, free)
    this.becomeFollower(now, this.term, undefined)
    this.electionDeadline = free + exitTurn(this.config?.voters ?? [], peer, this.init.self, this.term, this.init.electionTimeoutMinMs, this.init.random)
  }

  /** Whether this node is in the voter set it holds. */
  get isVoter (): boolean { return this.config?.voters.includes(this.init.self) ?? false }

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

  /** The added wait for the lateness seen lately (see "awareness" above). */
  slack (now: number): number {
    const late = this.role === 'leader' ? this.ackDelay.get(now) : this.heartbeatLateness.get(now)
    return slackFor(late, this.init.electionTimeoutMaxMs)
  }

  /** Check-quorum's deadline; the slack is read as of the last quorum, so it is fixed until acks move it. */
  protected quorumDeadline (lead: LeaderState): number { return lead.quorumAt + this.init.electionTimeoutMaxMs + this.slack(lead.quorumAt) }

  /**
   * A newer voter set told by a voter of the set we hold (or campaign with) in a denial or a
   * config reply; taken once a majority of that set told the same one, as one voter could lie
   * (in a set of two, the other's word: it holds a veto anyway).
   */
  protected vouch (from: string, config: VoterConfig | undefined): void {
    const trusted = this.config ?? this.campaign
    if (trusted === undefined || !trusted.voters.includes(from) || config === undefined || config.term === 0) return
    if (this.config !== undefined && !newer(config, this.config)) return
    this.vouches.set(from, config)
    const n = trusted.voters.length
    if (trusted.voters.filter(v => sameConfig(this.vouches.get(v), config)).length < (n === 2 ? 1 : majority(n))) return
    this.vouches.clear()
    this.config = config
    this.persistPending = true
    this.out.events.push({ type: 'voters', config })
  }

  /**
   * `from` says it is at `term`. Without a proof, one voter's word moves nobody (a forger's
   * would move everyone). A node that follows no leader it heard lately moves to the highest
   * term that enough of its voters (itself counted) are at or past that no majority can form
   * without one of them among the voters heard from lately (all heard: n - majority + 1, two of
   * three, three of six; one of five silent: two of the four others), MAX_TERM_STEP at most at
   * a time. No election below that term can succeed anyway, and a single forger cannot make up
   * such a group (of two or more) alone: the term it reaches is one an honest voter holds. So
   * honest voters that drifted apart (one restarted far behind while others failed elections)
   * converge, and no forgery lifts them. Two voters at least, always: in a two-voter set the
   * other's word moves nothing (it learns the newer set instead, from the other: see `vouch`).
   */
  protected claim (from: string, term: number, now: number): void {
    const set = this.config ?? this.campaign
    if (set === undefined || !set.voters.includes(from)) return
    this.heardAt.set(from, now)
    if (term > (this.claims.get(from) ?? -1)) this.claims.set(from, term)
    // Weighed again on every word, not only on news: terms told while this node led or was held
    // count once it is free to move (a leader whose voters went ahead of it before its first
    // heartbeat came stepped down, heard the same term in their denials, and stayed behind them).
    if (this.role === 'leader' || now < this.stickyUntil) return
    // A dead voter cannot make a majority without the ones ahead. Counting it, two live voters
    // that drifted more than MAX_TERM_STEP behind the other two of a set of five (the fifth dead)
    // were never moved, and each pair refused the other's campaigns for good (bench:scale, 200
    // agents, on a machine too busy to answer votes in time). Dead: silent to this node lately
    // and not alive in its member view; silence alone is not enough, as a follower hears little
    // but its leader, and two colluding voters could otherwise move it with a pair of claims.
    const since = now - LOST_AFTER_TIMEOUTS * this.init.electionTimeoutMaxMs
    const alive = (v: string): boolean => (this.heardAt.get(v) ?? -Infinity) >= since || this.members.some(m => m.peer === v)
    const heard = set.voters.filter(v => v === this.init.self || alive(v))
    const terms = heard.map(v => v === this.init.self ? this.term : this.claims.get(v) ?? 0).sort((a, b) => b - a)
    const held = terms[Math.max(1, heard.length - majority(set.voters.length))] ?? 0
    if (held > this.term) this.becomeFollower(now, Math.min(held, this.term + MAX_TERM_STEP), undefined)
  }

  /**
   * A certificate carried as proof of a newer term: checked (once: a term it moved us past is not
   * checked again), kept, and followed to its term, however far.
   */
  protected acceptProof (from: string, proof: Certificate | undefined, msg: ElectionMessage, now: number): void {
    if (proof === undefined || proof.term <= this.term) return
    const verdict = checkCertificate(proof, this.init.keys, this.view())
    if (!verdict.ok) {
      if (verdict.reason === 'bad-certificate') this.reject(from, 'bad-certificate', msg)
      return
    }
    this.proof = proof
    this.becomeFollower(now, proof.term, undefined)
  }

  protected becomeFollower (now: number, term: number, leader: string | undefined): void {
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

  /**
   * The leader's certificate: every signed vote it holds for its term, with its current voter
   * set once they are a majority of it (voters added later endorse it as they accept it), else
   * with the set it won with. So a follower that holds a much newer set than the one of the
   * election, as one restarted or added later does, still finds a majority of its own set.
   * Only the votes of the set named: a signer outside it makes the whole certificate bad.
   */
  protected certify (): void {
    const config = this.config as VoterConfig
    const signers = new Set(this.grants.keys())
    const set = wins(config, signers) ? config : this.campaign ?? config
    const votes = [...this.grants].filter(([voter]) => set.voters.includes(voter)).map(([voter, sig]) => ({ voter, sig }))
    this.proof = { term: this.term, leader: this.init.self, config: set, votes }
  }

  // --- helpers ---------------------------------------------------------------------------
  protected bootstrapProposal (): VoterConfig | undefined {
    if (this.config !== undefined || !this.init.eligible) return undefined
    // A node shown a leader's certificate knows a set exists: it waits for the set, never makes a
    // second one, while a majority of that set is alive in its view (gone, only a new one helps).
    const proven = this.proof?.config.voters
    const alive = (v: string): boolean => v === this.init.self || this.members.some(m => m.peer === v)
    if (proven !== undefined && proven.filter(alive).length >= majority(proven.length)) return undefined
    return bootstrapProposal(this.init.self, this.members, this.init.bootstrapExpect, this.maxVoters)
  }

  protected get maxVoters (): number { return this.init.maxVoters ?? DEFAULT_MAX_VOTERS }
  protected get announceIntervalMs (): number { return this.init.announceIntervalMs ?? 10 * this.init.heartbeatIntervalMs }
  /** How soon after agents join the leader announces itself (two heartbeats: a join wave's arrivals share one). */
  protected get joinAnnounceMs (): number { return Math.min(this.announceIntervalMs, 2 * this.init.heartbeatIntervalMs) }

  /** What the vote and heartbeat checks (vote-rules.ts) read. */
  protected view (): VoterView {
    const { self, eligible } = this.init
    const { term, role, config, stickyUntil, members, proof, votedFor } = this
    const proposal = config === undefined ? this.bootstrapProposal() : undefined
    // The leader of this node's term: none known while it follows one a term behind (`followBehind`).
    const leader = this.followTerm === undefined ? this.leader : undefined
    return { self, eligible, term, role, stickyUntil, members, config, leader, proof, votedFor, proposal }
  }

  /** The voter set to tell others, once a leader made it (a bootstrap proposal is not told). */
  protected committedConfig (): { config?: VoterConfig } {
    return this.config !== undefined && this.config.term > 0 ? { config: this.config } : {}
  }

  protected send (to: string, msg: ElectionMessage): void { this.out.messages.push({ to, msg }) }

  protected reject (from: string, reason: RejectReason, msg: ElectionMessage | 'announcement'): void {
    this.out.events.push({ type: 'rejected', from, reason, message: msg === 'announcement' ? msg : msg.type })
  }

  /**
   * The wait of a campaign (pre-vote, then vote): a random timeout, plus the slack for how long
   * answers to this node's requests took lately. Raft needs vote round trips well below the
   * election timeout; between processes that lag half a second, replies came after every
   * candidate had given up, and no election could end (bench:scale, 200 agents). On a quiet mesh
   * the slack is a few ms.
   */
  protected campaignTimeout (now: number): number {
    return this.randomTimeout() + this.replySlack(now)
  }

  /** Twice how long answers to this node's requests took lately (capped): what its rounds add to their wait. */
  protected replySlack (now: number): number { return slackFor(this.replyTime.get(now), this.init.electionTimeoutMaxMs) }

  /**
   * How long a voter's ack binds it (it refuses other candidates for that long after the
   * heartbeat): what it says, within what an honest voter can say, the minimum election timeout
   * from a voter that says nothing (an older agent). Not raised to this node's own promise: a
   * voter with shorter timings promises less. A voter lies about this no more than it could
   * break its promise anyway.
   */
  protected heldFor (holdMs: number | undefined): number {
    return Math.min(holdMs ?? this.init.electionTimeoutMinMs, this.longestHold())
  }

  /**
   * What a voter promises at least after a heartbeat: long enough for a lease on it (0.9 of it)
   * to span an interval and a round trip of up to one and a half intervals (278 ms with the
   * defaults), within the minimum timeout. Its stickiness (the minimum) is longer, and only the
   * promise holds when the leader's process exits (`peerExited`); with slower acks the leader
   * asks for more (leader-state.ts `holdToAsk`). Half the minimum was too short for a round trip
   * of an interval, which `holdToAsk` assumes at least: every heartbeat asked for more.
   */
  protected get promiseMs (): number { return Math.min(this.init.electionTimeoutMinMs, Math.ceil(2.5 * this.init.heartbeatIntervalMs / LEASE_FACTOR)) }

  /** The longest an honest voter holds after a heartbeat: the minimum timeout and the largest slack. */
  protected longestHold (): number { return this.init.electionTimeoutMinMs + SLACK_CAP_FACTOR * this.init.electionTimeoutMaxMs }

  /** When this node's current campaign round (pre-vote or vote) began: answers to requests sent before it are stale. */
  get roundStartedAt (): number { return this.roundStart }

  /** The answer to a request of this node came `ms` after it was sent (the driver measures it). */
  observeReply (ms: number, now: number): void { this.replyTime.add(ms, now) }

  protected randomTimeout (): number {
    const { electionTimeoutMinMs: min, electionTimeoutMaxMs: max } = this.init
    return min + Math.floor(this.init.random() * (max - min + 1))
  }
}
