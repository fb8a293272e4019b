/**
 * The mesh's member list with failure detection: every agent's view of every other agent as
 * alive, suspect, offline or left. It drives the pure MemberTable over RPC, after
 * hashicorp/memberlist, so that what each agent sends does not grow with the mesh:
 *
 * - Probes: one connected neighbour per `probeIntervalMs` in shuffled round robin, and out of
 *   turn the one silent longest (past `silenceMs`) or one whose connection just closed. A probe
 *   unanswered in its time (`probeTimeoutMs`, longer for a peer slow to answer: probe-timing.ts)
 *   suspects. Only neighbours: probing others would in time connect everyone to everyone.
 * - Statements: an agent says something of itself (a new incarnation, a new suspicion, that it
 *   leaves, its topics) in a statement it signs (statement-keys.ts). Each statement new to a node
 *   is passed on to `gossipFanout` random neighbours (not the one it came from) every
 *   `heartbeatIntervalMs`, a logarithmic number of times (rumours.ts); no news, nothing sent.
 * - Full exchanges with one neighbour on first contact (how a newcomer learns the mesh) and every
 *   `syncIntervalMs` (anti-entropy): digests first, then only the statements of live members
 *   either side lacks (member-exchange.ts); budgeted per neighbour (member-budgets.ts).
 * - Reaping: an offline or left member is dropped `reapAfterMs` after it went, a tombstone keeps
 *   replays of its old statements out (member-tombstones.ts); at most `maxMembers` are held.
 *
 * An agent told it is suspected refutes by raising its incarnation, in a new statement. What is
 * believed of whom (a statement speaks for its signer only; suspicions from members, up to the
 * incarnation the suspect itself said) is MemberTable's and FailureDetector's rule.
 */
import { TypedEventEmitter } from 'main-event'
import type { RpcService } from '../rpc/index.js'
import { feedbackFor, MemberTable, telling, type Member, type MemberChange } from './member-table.js'
import type { MemberTimings } from './member-timings.js'
import type { MemberBrief, MemberSource } from './member-source.js'
import type { MemberState } from './failure-detector.js'
import { briefsOf, peersOf, withGrants } from './member-reads.js'
import { Rumours } from './rumours.js'
import type { StatementKeys } from './statement-keys.js'
import { GOSSIP_MAX_BYTES, GOSSIP_MAX_STATEMENTS, MemberGossip, parseStatement, Probe, statementSize, type SignedStatement } from './member-wire.js'
import { MemberExchange } from './member-exchange.js'
import { DigestSums } from './member-digest-sums.js'
import { fingerprint } from './member-digest.js'
import { MemberTopics } from './member-topics.js'
import {
  DEFAULT_MAX_MEMBERS, DEFAULT_MAX_QUEUED, DEFAULT_REAP_AFTER_MS, DEFAULT_SYNC_STATEMENTS_PER_INTERVAL, RETRANSMIT_MULT,
  STATEMENT_CHECKS_BURST, STATEMENT_CHECKS_PER_SEC, SYNC_BUDGET_WINDOW_MS, NEWS_DEADLINE_MS
} from './constants.js'
import { NeighbourBudgets } from './member-budgets.js'
import { Tombstones } from './member-tombstones.js'
import type { Credential } from '../admission/credential.js'
import type { MemberAddresses } from './member-addresses.js'
import { RateLimitedError, TimeoutError } from '../core/errors.js'
import { DeadlineTimer } from './deadline-timer.js'
import { LocalHealth } from './local-health.js'
import { Repeaters } from './repeat.js'
import { AuditPacer, type AuditSink } from '../core/audit.js'

export { memberAddresses } from './member-addresses.js'
export { MemberDigest, MemberGossip, MemberPatch, MemberStatement, MemberSync, Probe, SignedStatement } from './member-wire.js'
export type { Member, MemberChange } from './member-table.js'
export type { MemberTimings } from './member-timings.js'

export interface MemberViewEvents {
  'member:change': CustomEvent<MemberChange>
}

export interface MemberViewInit extends MemberTimings {
  /** Statements one neighbour's full exchanges may make this node handle per syncIntervalMs, at least SYNC_BUDGET_WINDOW_MS (constants.ts). */
  syncStatementsPerInterval?: number
  /** An offline or left member is dropped this long after it went. */
  reapAfterMs?: number
  /** Members held at most; over it, statements of unknown agents from relays are refused. */
  maxMembers?: number
  /** Where a full exchange refused over its budget is audited (limit.exceeded, once a second per peer at most). */
  audit?: AuditSink
  self: { peerId: string, name: string, roles: string[], eligible: boolean }
  rpc: RpcService
  /** Signs this node's statements and checks others' (statement-keys.ts). */
  keys: StatementKeys
  /** The agents this node holds a connection to: whom it probes and gossips to. */
  neighbours: () => Iterable<string>
  /** Neighbours each gossip round tells the news to (memberlist's GossipNodes). */
  gossipFanout: number
  /**
   * A client's view: it learns the members from full exchanges but says nothing and probes
   * nobody, so no agent ever counts it as a member.
   */
  passive?: boolean
  /** Peers whose statements, gossip and probes are dropped: the clients, which are no members. */
  ignores?: (peerId: string) => boolean
  /**
   * Whether a member may be eligible at all (closed mesh: its credential grants the coordinator
   * role). A member is eligible only when it says so and this allows it; what it says cannot widen it.
   */
  mayBeEligible?: (peerId: string) => boolean
  /**
   * Closed mesh: this node's credential, carried on its statements, and whether an author (with
   * the credential its statement carried) may be a member at all (member-credentials.ts).
   */
  credentials?: {
    own: Credential
    vouches: (author: string, credential: unknown) => boolean
    /** The roles and capabilities a member's credential grants, and its serial, when this node holds it: what /members shows. */
    grants: (peer: string) => { roles: string[], capabilities: string[], serial: string } | undefined
  }
  /**
   * A statement refused: not one (`malformed`), not signed by the agent it speaks for
   * (`bad_signature`: the rest of that message is dropped too, as no honest agent passes one on),
   * of an agent the mesh did not let in (`not_admitted`), past what one neighbour may make
   * this node check (`over_budget`: the rest of that message is dropped), an old word of a
   * reaped member (`reaped`), of an unknown agent with the table full (`over_cap`); or a whole
   * full exchange refused over its sender's budget (`sync_over_budget`, answered RATE001).
   */
  onRejected?: (reason: MemberRejection, from: string) => void
  onError?: (err: Error) => void
  /** This node's addresses, stated with it, and where the addresses others state go (member-addresses.ts). */
  addresses?: MemberAddresses
  /** The keys of the topics this node subscribes to, stated with it (protocols/discovery/topic-rendezvous.ts). */
  topics?: () => string[]
  /** Whether the connection to a peer was closed by agreement (hand-off.ts): a probe it cut short is no failure. */
  agreed?: (peerId: string) => boolean
}

export type MemberRejection = 'malformed' | 'bad_signature' | 'not_admitted' | 'over_budget' | 'reaped' | 'over_cap' | 'sync_over_budget'
/** The I/O shell around MemberTable: statements, gossip, full exchanges and probes over RPC, and the timers. */
export class MemberView extends TypedEventEmitter<MemberViewEvents> implements MemberSource {
  private readonly init: MemberViewInit
  private readonly table: MemberTable
  private readonly gossiping = new Set<string>() // neighbours with a gossip request of this node unanswered
  private readonly rumours = new Rumours<SignedStatement>({
    retransmitMult: RETRANSMIT_MULT, identity: { of: s => s.sig, same: (a, b) => a.body === b.body }, maxQueued: DEFAULT_MAX_QUEUED
  })

  private seq = 0
  private running = false
  private readonly timers = new Repeaters(() => this.running)
  /** Lifeguard's local health: probe timeouts and rounds stretched while this process is behind. */
  private readonly health: LocalHealth
  private probeTicks = 0
  private refutedAt = 0
  private readonly deadline: DeadlineTimer
  private unhandles: Array<() => void> = []
  /** Per neighbour, the signature checks it may still make this node do. */
  private readonly checks = new NeighbourBudgets(STATEMENT_CHECKS_BURST, STATEMENT_CHECKS_PER_SEC)
  /** Per neighbour, the statements its full exchanges may still make this node handle. */
  private readonly syncs: NeighbourBudgets
  private readonly tombstones: Tombstones
  private readonly maxMembers: number
  private readonly reapAfterMs: number
  private readonly pacer = new AuditPacer()
  private readonly topics = new MemberTopics() // what each member stated it subscribes to
  private readonly exchange: MemberExchange
  /** The digest's sums kept by the table's slots, so an exchange does not walk the view for them (member-digest-sums.ts). */
  private readonly digest = new DigestSums({ capacity: () => this.table.slotCapacity })
  private toldTopics = '' // and this node, last (`retell`)

  constructor (init: MemberViewInit) {
    super()
    this.init = init
    const digest = this.digest
    this.table = new MemberTable({
      ...init,
      incarnation: 0,
      random: Math.random,
      slots: { live: (slot, live) => { digest.live(slot, live) }, free: slot => { digest.free(slot) } }
    })
    const hold = init.heartbeatIntervalMs
    this.health = new LocalHealth(hold)
    this.deadline = new DeadlineTimer({ lateMs: hold, holdMs: hold, fire: now => { this.table.tick(now); this.flush() } })
    const perInterval = init.syncStatementsPerInterval ?? DEFAULT_SYNC_STATEMENTS_PER_INTERVAL
    this.syncs = new NeighbourBudgets(perInterval, perInterval * 1_000 / Math.max(init.syncIntervalMs, SYNC_BUDGET_WINDOW_MS))
    this.maxMembers = init.maxMembers ?? DEFAULT_MAX_MEMBERS
    this.reapAfterMs = init.reapAfterMs ?? DEFAULT_REAP_AFTER_MS
    this.tombstones = new Tombstones(this.maxMembers)
    const self = init.self.peerId
    this.exchange = new MemberExchange({
      rpc: init.rpc,
      self,
      passive: init.passive === true,
      entries: () => this.rumours.entries(p => p === self || this.live(p)),
      walkIn: (buckets, visit) => { this.digest.eachIn(buckets, self, slot => this.table.peerAt(slot), visit) },
      listIn: (buckets, max, random) => this.digest.listing(buckets, max, random, self, slot => this.table.peerAt(slot)),
      slots: { of: p => this.table.slotOf(p), seq: slot => this.digest.seqAt(slot) },
      sums: salt => this.digest.sums(salt),
      cells: { counts: () => this.digest.counts(), sums: (buckets, salt) => this.digest.cellSums(buckets, salt) },
      gives: p => p === self || this.live(p),
      held: this.rumours,
      receive: (from, statements) => this.running ? this.receive(from, statements, true) : 0,
      takes: from => init.ignores?.(from) !== true,
      charge: (from, n, id) => { this.charge(from, n, id) },
      room: from => this.checks.room(from, Date.now()),
      timeoutMs: () => this.newsTimeoutMs
    })
  }

  start (): void {
    if (this.running) return
    this.running = true
    // Start above any incarnation of an earlier run with the same identity, or a restarted
    // agent's statements would be taken for stale ones and it would stay "offline".
    this.table.incarnation = Math.max(Date.now(), this.table.incarnation + 1)
    const { rpc } = this.init
    const ignored = (peer: string): boolean => this.init.ignores?.(peer) === true
    this.unhandles = [
      rpc.handle(Probe, (req, ctx) => {
        if (!ignored(ctx.peer)) {
          this.table.probedBy(ctx.peer, req.incarnation, Date.now())
          this.flush()
        }
        const { eligible, name, roles } = this.init.self
        return { incarnation: this.table.incarnation, eligible, name, roles }
      }),
      rpc.handle(MemberGossip, (req, ctx) => {
        if (ignored(ctx.peer) || this.init.passive === true) return {}
        const known = { mask: 0 }
        this.receive(ctx.peer, req.statements, false, known)
        return known.mask !== 0 ? { known: known.mask } : {}
      }),
      ...this.exchange.handle()
    ]
    this.timers.every(this.init.heartbeatIntervalMs, (late) => { this.health.timer(late); this.gossipRound() })
    this.timers.every(this.init.probeIntervalMs, () => {
      if (++this.probeTicks % this.health.multiplier !== 0) return
      for (const p of this.table.probeRound(Date.now(), new Set(this.neighbours()))) void this.probe(p)
      this.flush()
    })
    this.timers.every(this.init.syncIntervalMs, () => {
      const peers = this.neighbours()
      if (peers.length > 0) void this.exchange.sync(peers[Math.floor(Math.random() * peers.length)])
    })
    this.timers.every(Math.min(60_000, Math.max(100, this.reapAfterMs / 4)), () => { this.reap() })
    this.issue()
  }

  /** Tell the neighbours this agent leaves (best effort, half a second at most), then stop. */
  async stop (): Promise<void> {
    if (!this.running) return
    const bye = this.init.passive === true ? undefined : this.issue(true)
    this.running = false
    this.timers.clear()
    this.deadline.clear()
    if (bye !== undefined) {
      const tell = async (to: string): Promise<unknown> => await this.init.rpc.request(to, MemberGossip, { statements: [bye] }, { timeoutMs: 500 })
      const told = Promise.allSettled(this.neighbours().map(tell))
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([told, new Promise(resolve => { timer = setTimeout(resolve, 600) })])
      clearTimeout(timer)
    }
    for (const u of this.unhandles) u()
    this.unhandles = []
  }

  /** An agent connected and showed its card: as good as a word from it at the incarnation we know; a newcomer is probed and synced with. */
  seen (peerId: string, card: { name: string, roles: string[] }): void {
    this.tombstones.clear(peerId) // connected here: alive, whatever it said before it was reaped
    const unknown = this.table.seen(peerId, card, Date.now())
    this.flush()
    if (!unknown) return
    void this.probe(peerId)
    if (this.running) void this.exchange.sync(peerId)
  }

  /** The connection to an agent closed: probe it now (dialling it again), rather than in its turn. */
  lost (peerId: string): void {
    if (this.running && this.live(peerId)) void this.probe(peerId)
  }

  /** Whether a full exchange with an agent has run to its end: before it, the view may hold only the agents met. */
  synced (): boolean { return this.exchange.completed > 0 }

  /** Every member held, with the roles it holds (member-reads.ts: in a closed mesh, its credential's). */
  members (): Member[] { return this.table.members().map(m => withGrants(m, this.init)) }
  /** One member's entry: the others' are not built. */
  member (peerId: string): Member | undefined { const m = this.table.member(peerId); return m === undefined ? undefined : withGrants(m, this.init) }
  /** Each member's peer id, state and eligibility, without its entry built (member-reads.ts says why). */
  briefs (): MemberBrief[] { return briefsOf(this.table, this.init) }
  /** The peer ids of the members in one of `states`. */
  peersIn (...states: MemberState[]): string[] { return peersOf(this.table, states) }
  /**
   * Closed mesh: the roles and capabilities `peer`'s credential grants, with its serial, when this
   * node holds a valid one (admitted here, or carried on its statements); undefined otherwise, and
   * always in an open mesh (no credentials there).
   */
  grants (peer: string): { roles: string[], capabilities: string[], serial: string } | undefined { return this.init.credentials?.grants(peer) }
  /** Members alive or suspect, counted without walking them. */
  liveCount (): number { return this.table.liveCount() }

  /** A member's state alone, no entry built. */
  stateOf (peerId: string): Member['state'] | undefined { return this.table.state(peerId) }
  get ownIncarnation (): number { return this.table.incarnation }

  /** Members alive or suspect that stated the topic of `key` (topic-rendezvous.ts); `retell` states this node's topics if they changed. */
  subscribersOf (key: string): string[] { return this.topics.holders(key).filter(p => this.live(p)) }
  retell (): void { if (this.running) this.issue() }
  private live (p: string): boolean { const s = this.stateOf(p); return s === 'alive' || s === 'suspect' }

  /** Statements new to this node are taken (each checked against its author's signature), kept and queued to be passed on. */
  /**
   * Take the statements new to this node. `known`, for a gossip message's answer: bit i set when
   * statement i was held already (the same or a newer one of its agent) or is this node's own.
   */
  private receive (from: string, statements: SignedStatement[], full: boolean, known?: { mask: number }): number {
    const now = Date.now()
    this.table.heard(from, now)
    let neighbours: Set<string> | undefined
    let taken = 0
    const had = (i: number): void => { if (known !== undefined && i < 32) known.mask = (known.mask | (1 << i)) >>> 0 }
    for (let i = 0; i < statements.length; i++) {
      const s = statements[i]
      if (this.rumours.holds(s)) { had(i); continue }
      const body = parseStatement(s.body)
      if (body === undefined) { this.init.onRejected?.('malformed', from); continue }
      if (body.peerId === this.init.self.peerId) { had(i); continue }
      if (this.init.ignores?.(body.peerId) === true) continue
      if ((this.rumours.seq(body.peerId) ?? -1) >= body.seq) { had(i); continue }
      if (this.tombstones.buries(body.peerId, body.seq, body.incarnation)) { this.init.onRejected?.('reaped', from); continue }
      // Table full: an unknown agent is taken only from itself or when connected here.
      if (this.table.state(body.peerId) === undefined && this.table.size >= this.maxMembers && body.peerId !== from &&
        !(neighbours ??= new Set(this.neighbours())).has(body.peerId)) { this.init.onRejected?.('over_cap', from); continue }
      if (this.checks.take(from, 1, now) > 0) { this.init.onRejected?.('over_budget', from); break }
      if (!this.init.keys.verify(body.peerId, s.body, s.sig)) { this.init.onRejected?.('bad_signature', from); break }
      if (this.init.credentials !== undefined && !this.init.credentials.vouches(body.peerId, s.cred)) { this.init.onRejected?.('not_admitted', from); continue }
      this.tombstones.clear(body.peerId)
      const previous = this.rumours.get(body.peerId)
      // Held: a statement of it, or the member itself (met on a connection or a probe, its statement not yet held).
      const held = previous !== undefined || this.table.state(body.peerId) !== undefined
      const told = this.table.heartbeat(body, now, body.peerId)
      // Only news (member-table.ts `telling`) is told its full count: a join, a full exchange's
      // statements and accusations that told this node nothing stop once neighbours had them
      // (member-table.ts feedbackFor).
      const why = telling(full, held, told, () => previous === undefined ? undefined : parseStatement(previous.body), body)
      const offered = this.rumours.offer(body.peerId, body.seq, s, statementSize(s), from, feedbackFor(why, held && told))
      if (offered) {
        taken++
        const slot = this.table.slotOf(body.peerId)
        if (slot !== undefined) this.digest.hold(slot, body.peerId, fingerprint(body.peerId, body.seq), body.seq)
      }
      if (body.addrs !== undefined) this.init.addresses?.learn(body.peerId, body.addrs)
      this.topics.set(body.peerId, body.topics ?? [])
    }
    // A full exchange brings statements in no order: accusations by agents it also introduced count now.
    if (full) this.table.reconsider(now)
    this.flush()
    return taken
  }

  /** This node's statement, when it says something new (or that it leaves): signed, kept, queued. */
  private issue (leaving = false): SignedStatement | undefined {
    if (this.init.passive === true) return undefined
    const topics = this.init.topics?.() ?? []
    // News for the member table (an incarnation, a suspicion), or topics changed since the last statement.
    const hb = this.table.statementDue(leaving) ?? (topics.join(' ') !== this.toldTopics ? this.table.announcement() : undefined)
    if (hb === undefined) return undefined
    this.toldTopics = topics.join(' ')
    this.seq = Math.max(Date.now(), this.seq + 1)
    const addrs = this.init.addresses?.own() ?? []
    const body = JSON.stringify({ ...hb, seq: this.seq, ...(addrs.length > 0 ? { addrs } : {}), ...(topics.length > 0 ? { topics } : {}) })
    const cred = this.init.credentials?.own
    const s = { body, sig: this.init.keys.sign(body), ...(cred !== undefined ? { cred } : {}) }
    this.rumours.offer(this.init.self.peerId, this.seq, s, statementSize(s))
    this.digest.setOwn(this.init.self.peerId, fingerprint(this.init.self.peerId, this.seq), this.seq)
    return s
  }

  /**
   * Charge `n` statements of a full exchange to `from`'s budget, or refuse the exchange unparsed
   * (RATE001), counted and audited (limit.exceeded, once a second per peer at most).
   */
  private charge (from: string, n: number, correlationId: string): void {
    const now = Date.now()
    const wait = this.syncs.take(from, n, now)
    if (wait === 0) return
    this.init.onRejected?.('sync_over_budget', from)
    const paced = this.pacer.pace(from, now)
    const [perInterval, windowMs] = [this.syncs.capacity, Math.max(this.init.syncIntervalMs, SYNC_BUDGET_WINDOW_MS)]
    if (paced !== undefined) {
      const detail = { limit: 'member_sync', statements: n, per_interval: perInterval, interval_ms: windowMs, refused: paced.refused }
      this.init.audit?.record({ kind: 'limit.exceeded', peer: from, correlationId, code: 'RATE001', reason: 'full member exchanges over the budget', detail })
    }
    throw new RateLimitedError(`full member exchanges over this peer's budget (${perInterval} statements per ${windowMs} ms): retry after ${wait} ms`)
  }

  /** Drop the members offline or left for reapAfterMs; a tombstone of each keeps its old statements out. */
  private reap (): void {
    for (const { peer, incarnation } of this.table.reap(Date.now(), this.reapAfterMs)) {
      this.tombstones.bury(peer, { seq: this.rumours.seq(peer) ?? 0, incarnation })
      this.rumours.forget(peer)
      this.topics.forget(peer)
    }
  }

  /** The least-told news to a few random neighbours with no gossip of ours unanswered (a slow one's window is left to probes). */
  private gossipRound (): void {
    if (this.rumours.pending === 0 || this.init.passive === true) return
    const peers = this.neighbours().filter(p => !this.gossiping.has(p))
    const members = this.table.liveCount() + 1
    for (let sent = 0; sent < this.init.gossipFanout && peers.length > 0 && this.rumours.pending > 0;) {
      const to = peers.splice(Math.floor(Math.random() * peers.length), 1)[0]
      const keys: string[] = []
      const statements = this.rumours.take(members, GOSSIP_MAX_STATEMENTS, GOSSIP_MAX_BYTES, to, keys)
      if (statements.length === 0) continue
      sent++
      this.gossiping.add(to)
      // Lost, it is told again by others or caught up by a full exchange; late, it is as good (newsTimeoutMs).
      void this.init.rpc.request(to, MemberGossip, { statements }, { timeoutMs: this.newsTimeoutMs })
        .then(answer => { if (answer.known !== undefined) this.rumours.heldBy(keys, statements, answer.known, to) }, () => {})
        .finally(() => this.gossiping.delete(to))
    }
  }

  /** Gossip's and full exchanges' deadline (NEWS_DEADLINE_MS, or longer timings'). */
  private get newsTimeoutMs (): number { return Math.max(NEWS_DEADLINE_MS, this.init.probeTimeoutMs, this.init.syncIntervalMs) }
  private neighbours (): string[] { return [...this.init.neighbours()].filter(p => p !== this.init.self.peerId && this.init.ignores?.(p) !== true) }

  private async probe (peerId: string): Promise<void> {
    // The larger, not the product: a learnt round trip already holds this node's own lag.
    const timeoutMs = Math.max(this.table.probeTimeout(peerId), this.init.probeTimeoutMs * this.health.multiplier)
    const sentAt = Date.now()
    if (!this.running || this.init.passive === true || !this.table.probeStarted(peerId, sentAt, timeoutMs)) return
    this.armDeadline()
    try {
      // The table's deadline (held through a stall of this process) decides a silence; a late answer still tells the round trip.
      const answer = await this.init.rpc.request(peerId, Probe, { incarnation: this.table.incarnation }, { timeoutMs: 3 * timeoutMs })
      this.table.probeAnswered(peerId, answer, Date.now(), sentAt)
    } catch (err) {
      if (!this.running || err instanceof TimeoutError || this.init.agreed?.(peerId) === true) return
      this.table.probeFailed(peerId, Date.now(), sentAt)
    }
    this.flush()
  }

  /** Tell the changes the table made, state anything new (a suspicion, a refutation), re-arm the deadline timer. */
  private flush (): void {
    const { changes, announce } = this.table.drain()
    // A raised incarnation is a refutation: others suspected this node, so it is the slow one.
    if (this.table.incarnation > this.refutedAt) { if (this.refutedAt > 0) this.health.refuted(); this.refutedAt = this.table.incarnation }
    for (const c of changes) {
      try {
        this.safeDispatchEvent('member:change', { detail: c })
      } catch { /* listeners' errors are theirs */ }
    }
    if (this.running && (announce || changes.length > 0)) this.issue()
    this.armDeadline()
  }

  /** One timer, at the next suspicion or probe deadline. */
  private armDeadline (): void { this.deadline.arm(this.running ? this.table.nextDeadline() : undefined) }
}
