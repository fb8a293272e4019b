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
 * - A lease (leader-state.ts): the leader is in office only until 0.9 of what a majority promised
 *   after the send time of the last heartbeat it acked, and steps down (check-quorum) when no
 *   majority answered for `maxTimeout`. Voters refuse votes that long (a leader's exit frees only
 *   the rest of their stickiness: `peerExited`), so no other leader is elected while the lease
 *   runs: two coordinators are never in office at once (given clocks that run at about one rate).
 * - Timeouts that stretch under load (election-slack.ts); only waits grow, never the lease.
 * - The voter set is the only replicated state, changed one voter at a time; before any exists
 *   it is bootstrapped as Consul's `bootstrap_expect` does. Its rules are in voter-set.ts.
 * - Proven leaders and bounded terms (election-proof.ts): real votes are signed, a leader of a
 *   new term is followed only with a certificate of a majority's signed votes, and a message
 *   that proves nothing moves a term by MAX_TERM_STEP at most. A leader in office moves for no
 *   unproven term at all: check-quorum, not a follower's word, tells it a majority moved on.
 */
import { FAREWELL_HEARTBEATS, LeaderState, holdToAsk } from './leader-state.js'
import { newer, nextVoters, wins, type VoterConfig } from './voter-set.js'
import { judgeHeartbeat, judgeVote } from './vote-rules.js'
import { MAX_TERM_STEP, voteStatement } from './election-proof.js'
import { ElectionJoin } from './election-join.js'
import { LOST_AFTER_TIMEOUTS } from './constants.js'
import type { ElectionMessage, VoteDenial } from './election-types.js'

export type * from './election-types.js'
export type { MemberInfo, VoterConfig } from './voter-set.js'

/** A leader renews its election for a voter ahead of it at most once per this many maximum election timeouts. */
export const RENEW_EVERY_TIMEOUTS = 5

export class Election extends ElectionJoin {
  private renewedAt = -Infinity
  /** While the leader renews its election in office: the term it asks for, the signed votes so far, and until when it waits. */
  private renewal?: { term: number, votes: Map<string, string>, until: number }

  tick (now: number): void {
    if (this.renewal !== undefined && now >= this.renewal.until) this.renewal = undefined
    if (this.lead !== undefined) {
      if (now >= this.quorumDeadline(this.lead)) {
        // Check-quorum: no majority answered for a whole election timeout; we may be on the
        // minority side of a partition, so stop claiming office.
        this.becomeFollower(now, this.term, undefined)
        return
      }
      if (now >= this.lead.nextHeartbeat) {
        // Sent late (this process lagged) is acked late: the lease must span that too (`holdToAsk`).
        this.ackDelay.add(now - this.lead.nextHeartbeat, now)
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
    if (!config.voters.includes(this.init.self)) return
    this.electionDeadline = now + this.campaignTimeout(now)
    this.roundStart = now
    this.role = 'pre-candidate'
    this.leader = undefined
    // No longer following a leader a term behind (followBehind): as leader, it reports its own term.
    this.followTerm = undefined
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
    this.grants = new Map([[this.init.self, this.init.keys.sign(voteStatement(this.term, this.init.self))]])
    this.electionDeadline = now + this.campaignTimeout(now)
    this.roundStart = now
    this.out.events.push({ type: 'role', role: 'candidate', term: this.term })
    this.askVotes(config, false)
    this.maybeWin(config, now)
  }

  private askVotes (config: VoterConfig, pre: boolean): void {
    const term = pre ? this.term + 1 : this.term
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
    if (msg.granted && !msg.pre && msg.term === this.renewal?.term) return this.renewed(from, msg, now)
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
    this.renewedAt = now
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

  // --- the leader's heartbeats -----------------------------------------------------------
  private broadcastHeartbeat (now: number): void {
    const config = this.config as VoterConfig
    const lead = this.lead as LeaderState
    const seq = lead.sent(this.init.self, config.version, now, this.init.heartbeatIntervalMs)
    // The voters only: the lease and the voter set need them, and the other agents learn the
    // leader from its announcements (a heartbeat per agent would make the leader's load grow with the mesh).
    // The certificate goes along until the receiver has accepted it (acked this term's heartbeat).
    const ask = holdToAsk(this.ackDelay.get(now), this.init.heartbeatIntervalMs, this.promiseMs)
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
    const sent = this.lead.acked(from, msg.seq, msg.configVersion, now, this.heldFor(msg.holdMs))
    if (sent === undefined) return
    this.ackDelay.add(now - sent - this.init.heartbeatIntervalMs, now)
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
    const lostAfterMs = LOST_AFTER_TIMEOUTS * this.init.electionTimeoutMaxMs
    const { maxVoters } = this
    const voters = nextVoters({ self, config, members, lastHeard: lead.lastHeard, now, bootstrapExpect, voterRemoveAfterMs, maxVoters, lostAfterMs })
    if (voters === undefined || this.init.mayChangeVoters?.(voters) === false) return
    this.config = { version: config.version + 1, term: this.term, voters }
    this.certify()
    for (const v of voters) {
      if (!lead.lastHeard.has(v)) lead.lastHeard.set(v, now)
      lead.farewell.delete(v)
    }
    for (const v of config.voters) if (!voters.includes(v)) lead.farewell.set(v, { left: FAREWELL_HEARTBEATS, version: this.config.version })
    this.persistPending = true
    this.out.events.push({ type: 'voters', config: this.config })
    this.broadcastHeartbeat(now)
    this.announce(now)
  }

  /** Called by the leader's owner on a timer as well: removals depend on time passing. */
  reviewVoters (now: number): void {
    if (this.lead !== undefined) this.changeVoters(now)
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
      this.heartbeatLateness.add(now - this.lastLeaderContact - 2 * this.init.heartbeatIntervalMs, now)
    }
    if (msg.term > this.term || this.role !== 'follower' || this.leader !== from || this.followTerm !== undefined) this.becomeFollower(now, msg.term, from)
    this.lastLeaderContact = now
    const slack = this.slack(now)
    const cap = now + this.longestHold()
    // What it promises (the lease counts on it): as long as the leader asks, when acks come
    // slowly; and what it refuses, the minimum timeout, all of which but the promise it gives up
    // when the leader's process exits (`peerExited`). Both within the longest hold.
    this.promisedUntil = Math.min(Math.max(this.promisedUntil, now + this.promiseMs + slack, now + (msg.holdMs ?? 0)), cap)
    this.stickyUntil = Math.min(Math.max(this.stickyUntil, now + this.init.electionTimeoutMinMs + slack, this.promisedUntil), cap)
    this.holdStretched(now)
    this.electionDeadline = now + this.randomTimeout() + slack
    // Never back: a heartbeat delayed on its way carries an older set of the same leader, and a
    // follower that went back to it (and crashed with it stored) could later join the voters of
    // that older set in electing a second leader of a term (simulation seed 1860, once the cap
    // made changes frequent). A new leader's set is stamped with its term: always newer.
    if (this.config === undefined || newer(msg.config, this.config)) {
      this.config = msg.config
      this.persistPending = true
      this.out.events.push({ type: 'voters', config: msg.config })
    }
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

  /**
   * A later term in a denial or an ack, with no proof: this node is behind, or is told so by a
   * forger. A follower or candidate moves only once a majority of its voters tell as much
   * (`claim`). A leader keeps its office: check-quorum steps it down if a majority really moved
   * on. But a voter can be honestly ahead of it: it granted a vote in a later term to a
   * candidate that then lost, and now refuses the leader's heartbeats as stale, for good, while
   * the majority keeps the leader in office. Raft's leader steps down on that ack, and would on
   * a forger's. This one renews its election in office instead (`renew`), at most once per
   * RENEW_EVERY_TIMEOUTS maximum election timeouts: a forger's acks cost a vote round now and
   * then, never the office.
   */
  private unprovenTerm (from: string, msg: Extract<ElectionMessage, { type: 'vote-reply' | 'heartbeat-ack' }>, now: number): void {
    // Further than a step no honest voter gets without a proof (and the renewal must stay within it).
    if (msg.term >= this.term + MAX_TERM_STEP) return this.reject(from, 'term-too-far', msg)
    if (this.role !== 'leader') return
    this.reject(from, 'unproven', msg)
    const due = now >= this.renewedAt + RENEW_EVERY_TIMEOUTS * this.init.electionTimeoutMaxMs
    if (msg.type === 'heartbeat-ack' && due && this.renewal === undefined && this.config?.voters.includes(from) === true) this.renew(now, msg.term)
  }

  /**
   * The leader asks its voters for their votes in a term past `claim` (within the step they
   * accept), and stays in office meanwhile: its followers vote for the leader they follow
   * (stickiness spares it), the voter left behind votes too, and a majority moves the leader to
   * that term with a new certificate. Its lease runs on: the voters that acked it still refuse
   * anyone else. Without a majority within a maximum election timeout, it gives up and leads on.
   */
  private renew (now: number, claim: number): void {
    const config = this.config as VoterConfig
    const term = claim + 1
    this.renewedAt = now
    this.renewal = { term, votes: new Map(), until: now + this.init.electionTimeoutMaxMs + this.replySlack(now) }
    for (const v of config.voters) {
      if (v !== this.init.self) this.send(v, { type: 'vote', term, candidate: this.init.self, config, pre: false, ...(this.proof !== undefined ? { proof: this.proof } : {}) })
    }
  }

  private renewed (from: string, msg: Extract<ElectionMessage, { type: 'vote-reply' }>, now: number): void {
    const r = this.renewal
    const config = this.config as VoterConfig
    const lead = this.lead
    if (r === undefined || lead === undefined || r.term <= this.term || !config.voters.includes(from) || r.votes.has(from)) return
    if (msg.sig === undefined || !this.init.keys.verify(from, voteStatement(r.term, this.init.self), msg.sig)) return this.reject(from, 'bad-signature', msg)
    r.votes.set(from, msg.sig)
    if (!wins(config, new Set([...r.votes.keys(), this.init.self]))) return
    this.renewal = undefined
    this.term = r.term
    this.votedFor = this.init.self
    this.grants = new Map([[this.init.self, this.init.keys.sign(voteStatement(r.term, this.init.self))], ...r.votes])
    this.campaign = config
    this.config = { version: config.version + 1, term: r.term, voters: config.voters }
    this.certify()
    lead.certified.clear()
    this.persistPending = true
    this.out.events.push({ type: 'role', role: 'leader', term: r.term }, { type: 'leader', leader: this.init.self, term: r.term }, { type: 'voters', config: this.config })
    this.broadcastHeartbeat(now)
    this.announce(now)
  }
}
