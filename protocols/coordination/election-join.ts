/**
 * How a node comes to hold the voter set that exists: the leader's announcement (followed by a
 * non-voter, a proof of term for a voter), a leader a term behind followed in its own term, voters
 * asked for a newer set, and, before a node bootstraps a first set, the agents it met first asked
 * whether one exists already (Consul's maybeBootstrap). Pure, like the machine.
 *
 * Why the last: a bootstrap proposal takes the lowest peer ids it sees, capped at maxVoters, and
 * wins with every proposed vote. Agents that joined a mesh whose first set was made by others
 * (the three seeds, say) may all see the same five lowest, none of them in that set, and elect
 * a second coordinator before the first one's announcement reaches them (the election
 * simulation's join wave, with gossip a second and a half behind RPC: two in office). Agents
 * join through the ones they meet first, which hold the set by then; asked, they answer with
 * the leader's certificate, and a node shown one never bootstraps (election-base.ts). The ones it
 * is connected to are asked before them, to spare dials (`bootstrapReady`).
 */
import { ElectionBase } from './election-base.js'
import { checkCertificate } from './election-proof.js'
import { judgeHeartbeat } from './vote-rules.js'
import { newer, type MemberInfo, type VoterConfig } from './voter-set.js'
import { BOOTSTRAP_CHECK_ASK, BOOTSTRAP_CHECK_MISSES } from './constants.js'
import type { Announcement, ElectionMessage } from './election-types.js'

/** The agents remembered in the order first seen: the few asked come from the front. */
const FIRST_SEEN_KEPT = 64

export abstract class ElectionJoin extends ElectionBase {
  /**
   * The agents this node saw, in the order it first saw them (its seeds first), kept while it
   * holds no set and no proof (the only time it asks), at most FIRST_SEEN_KEPT: one gone from the
   * view a while keeps its place.
   */
  private readonly firstSeen = new Set<string>()
  /**
   * The question out before a bootstrap: whom it asked, who answered that it knows of no set, and
   * whether only connected agents were asked (`partial`: the first met are still to be asked).
   */
  private check?: { asked: string[], clear: Set<string>, at: number, partial: boolean }
  /** Per agent asked: questions left unanswered in a row. */
  private readonly misses = new Map<string, number>()

  setMembers (members: MemberInfo[]): void {
    if (this.config !== undefined || this.proof !== undefined) this.firstSeen.clear()
    else for (const m of members) if (m.peer !== this.init.self && this.firstSeen.size < FIRST_SEEN_KEPT) this.firstSeen.add(m.peer)
    super.setMembers(members)
  }

  /** When this node's bootstrap question went out: the service drops answers to older ones. */
  get checkStartedAt (): number { return this.check?.at ?? Infinity }

  /**
   * The bootstrap proposal to campaign with now, or undefined: none to make, or the agents met
   * first (outside the proposal, which its pre-vote asks anyway) are asked first whether a set
   * exists, and the campaign waits for their answers (`answered` starts it once all are in).
   * An agent that left BOOTSTRAP_CHECK_MISSES questions in a row unanswered sits one round out,
   * so no silent agent holds a bootstrap off for good; a slow one is asked again after it.
   *
   * Before them, the agents met that this node is connected to are asked, when that spares a
   * dial (a question to another opens a connection: in a 200-agent join wave the check dialled
   * the oldest agents 583-708 times). One that holds the set answers with the certificate and
   * nobody is dialled; only when they all know of none are the first met asked, so a bootstrap
   * always waits for the same agents as without it. Asking the connected ones alone let
   * newcomers handed on by their seeds, linked only to other newcomers, bootstrap a second set
   * (a reviewer's scenario, test/election-bootstrap.test.ts); and one silent connected agent
   * would have left nobody asked after a few rounds.
   */
  protected bootstrapReady (now: number): VoterConfig | undefined {
    const proposal = this.bootstrapProposal()
    if (proposal === undefined) return undefined
    const done = this.check
    this.check = undefined
    const cleared = done !== undefined && done.asked.every(p => done.clear.has(p))
    if (cleared && !done.partial) return proposal
    for (const p of done?.asked ?? []) if (!done?.clear.has(p)) this.misses.set(p, (this.misses.get(p) ?? 0) + 1)
    const alive = new Set(this.members.filter(m => m.eligible).map(m => m.peer))
    const met = [...this.firstSeen].filter(p => alive.has(p) && !proposal.voters.includes(p))
    const askable = (p: string): boolean => (this.misses.get(p) ?? 0) < BOOTSTRAP_CHECK_MISSES
    const first = met.slice(0, BOOTSTRAP_CHECK_ASK)
    // Connected ones first at the start, and again while their question goes unanswered; once they cleared, the first met.
    const linkedTurn = this.init.connected !== undefined && (done === undefined || (done.partial && !cleared))
    const linked = linkedTurn ? met.filter(p => this.init.connected?.(p) === true && askable(p)).slice(0, BOOTSTRAP_CHECK_ASK) : []
    const partial = linked.length > 0 && first.some(p => !linked.includes(p))
    const candidates = partial ? linked : first
    const ask = candidates.filter(askable)
    for (const p of candidates) if (!ask.includes(p)) this.misses.delete(p)
    if (ask.length === 0) return proposal
    this.check = { asked: ask, clear: new Set(), at: now, partial }
    for (const p of ask) this.send(p, { type: 'config-query', bootstrap: true })
    // Answers get the time a campaign's do (the slack for slow replies included).
    this.electionDeadline = now + this.campaignTimeout(now)
    return undefined
  }

  /**
   * A campaign round that cannot go on (no proposal to make, or its question is still out): a
   * campaign under way stands down, and answers to its requests are stale (a late pre-vote grant
   * would otherwise start the election with the question unanswered).
   */
  protected quitRound (now: number): void {
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
  protected answered (from: string, msg: Extract<ElectionMessage, { type: 'config-reply' }>, now: number): boolean {
    const proof = msg.proof
    if (this.config === undefined && proof !== undefined && proof.term > (this.proof?.term ?? -1) && checkCertificate(proof, this.init.keys, this.view()).ok) {
      this.check = undefined
      this.proof = proof
      this.firstSeen.clear()
      if (proof.term > this.term || this.role !== 'follower') this.becomeFollower(now, Math.max(this.term, proof.term), undefined)
      return false
    }
    const check = this.check
    if (check === undefined || !check.asked.includes(from)) return false
    this.misses.delete(from)
    check.clear.add(from)
    return check.asked.every(p => check.clear.has(p))
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
    if (this.config === undefined || newer(a.config, this.config)) {
      this.config = a.config
      this.persistPending = true
      this.out.events.push({ type: 'voters', config: a.config })
    }
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
    if (this.config === undefined || newer(a.config, this.config)) {
      this.config = a.config
      this.persistPending = true
      this.out.events.push({ type: 'voters', config: a.config })
    }
  }

  /** Ask voters for their set, when a certificate may be genuine but this node's set is too old to tell: at most once per minimum election timeout. */
  protected askVoters (ask: string[] | undefined, now: number): void {
    if (ask === undefined || ask.length === 0 || now < this.queriedAt + this.init.electionTimeoutMinMs) return
    this.queriedAt = now
    for (const v of ask) this.send(v, { type: 'config-query' })
  }
}
