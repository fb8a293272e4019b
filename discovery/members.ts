/**
 * The mesh's member list with failure detection: every agent's view of every other agent as
 * alive, suspect, offline or left. It drives the pure MemberTable over RPC, after
 * hashicorp/memberlist, so that what each agent sends does not grow with the mesh:
 *
 * - Probes: one connected neighbour per `probeIntervalMs` in shuffled round robin, and out of
 *   turn the one silent longest (past `silenceMs`) or one whose connection just closed. A probe
 *   without an answer in `probeTimeoutMs` suspects. Only neighbours: a probe of any other agent
 *   would open a connection, and in time connect everyone to everyone.
 * - Statements: an agent says something of itself (a new incarnation, a new suspicion, that it
 *   leaves) in a statement it signs (statement-keys.ts). Each statement new to a node is passed
 *   on to `gossipFanout` random neighbours every `heartbeatIntervalMs`, a logarithmic number of
 *   times (rumours.ts); a node with no news sends nothing.
 * - Full exchanges: every statement held of a live member, with one neighbour on first contact
 *   (how a newcomer learns the mesh) and every `syncIntervalMs` (anti-entropy: what gossip missed).
 *
 * An agent told it is suspected refutes by raising its incarnation, in a new statement. What is
 * believed of whom (a statement speaks for its signer only; suspicions from members, up to the
 * incarnation the suspect itself said) is MemberTable's and FailureDetector's rule.
 */
import { TypedEventEmitter } from 'main-event'
import type { RpcService } from '../protocols/rpc/index.js'
import { MemberTable, type Member, type MemberChange } from './member-table.js'
import type { MemberTimings } from './member-timings.js'
import type { MemberSource } from './member-source.js'
import { Rumours } from './rumours.js'
import type { StatementKeys } from './statement-keys.js'
import {
  GOSSIP_MAX_BYTES, GOSSIP_MAX_STATEMENTS, MemberGossip, MemberSync, parseStatement, Probe, statementSize, SYNC_MAX_STATEMENTS, type SignedStatement
} from './member-wire.js'
import { RETRANSMIT_MULT, STATEMENT_CHECKS_BURST, STATEMENT_CHECKS_PER_SEC, SYNC_MAX_BYTES } from './constants.js'
import type { Credential } from '../protocols/admission/credential.js'
import type { MemberAddresses } from './member-addresses.js'

export { memberAddresses } from './member-addresses.js'
export { MemberGossip, MemberStatement, MemberSync, Probe, SignedStatement } from './member-wire.js'
export type { Member, MemberChange } from './member-table.js'
export type { MemberTimings } from './member-timings.js'

export interface MemberViewEvents {
  'member:change': CustomEvent<MemberChange>
}

export interface MemberViewInit extends MemberTimings {
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
  credentials?: { own: Credential, vouches: (author: string, credential: unknown) => boolean }
  /**
   * A statement refused: not one (`malformed`), not signed by the agent it speaks for
   * (`bad_signature`: the rest of that message is dropped too, as no honest agent passes one on),
   * of an agent the mesh did not let in (`not_admitted`), or past what one neighbour may make
   * this node check (`over_budget`: the rest of that message is dropped).
   */
  onRejected?: (reason: 'malformed' | 'bad_signature' | 'not_admitted' | 'over_budget', from: string) => void
  onError?: (err: Error) => void
  /** This node's addresses, stated with it, and where the addresses others state go (member-addresses.ts). */
  addresses?: MemberAddresses
}

/** The I/O shell around MemberTable: statements, gossip, full exchanges and probes over RPC, and the timers. */
export class MemberView extends TypedEventEmitter<MemberViewEvents> implements MemberSource {
  private readonly init: MemberViewInit
  private readonly table: MemberTable
  private readonly rumours = new Rumours<SignedStatement>({ retransmitMult: RETRANSMIT_MULT })
  private seq = 0
  private running = false
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private deadlineTimer?: ReturnType<typeof setTimeout>
  private unhandles: Array<() => void> = []
  /** Per neighbour, the signature checks it may still make this node do (a token bucket). */
  private readonly budgets = new Map<string, { tokens: number, at: number }>()

  constructor (init: MemberViewInit) {
    super()
    this.init = init
    this.table = new MemberTable({ ...init, incarnation: 0, random: Math.random })
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
        if (!ignored(ctx.peer) && this.init.passive !== true) this.receive(ctx.peer, req.statements, false)
        return {}
      }),
      rpc.handle(MemberSync, (req, ctx) => {
        if (!ignored(ctx.peer) && this.init.passive !== true) this.receive(ctx.peer, req.statements, true)
        return { statements: this.syncSet() }
      })
    ]
    this.every(this.init.heartbeatIntervalMs, () => { this.gossipRound() })
    this.every(this.init.probeIntervalMs, () => {
      for (const p of this.table.probeRound(Date.now(), new Set(this.neighbours()))) void this.probe(p)
      this.flush()
    })
    this.every(this.init.syncIntervalMs, () => {
      const peers = this.neighbours()
      if (peers.length > 0) void this.sync(peers[Math.floor(Math.random() * peers.length)])
    })
    this.issue()
  }

  /** Tell the neighbours this agent leaves (best effort, half a second at most), then stop. */
  async stop (): Promise<void> {
    if (!this.running) return
    const bye = this.init.passive === true ? undefined : this.issue(true)
    this.running = false
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer)
    this.deadlineTimer = undefined
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
    const unknown = this.table.seen(peerId, card, Date.now())
    this.flush()
    if (!unknown) return
    void this.probe(peerId)
    void this.sync(peerId)
  }

  /** The connection to an agent closed: probe it now (dialling it again), rather than in its turn. */
  lost (peerId: string): void {
    const state = this.table.state(peerId)
    if (this.running && (state === 'alive' || state === 'suspect')) void this.probe(peerId)
  }

  members (): Member[] {
    const may = this.init.mayBeEligible
    return may === undefined ? this.table.members() : this.table.members().map(m => m.eligible && !may(m.peerId) ? { ...m, eligible: false } : m)
  }

  member (peerId: string): Member | undefined { return this.members().find(m => m.peerId === peerId) }

  get ownIncarnation (): number { return this.table.incarnation }

  /** Statements new to this node are taken (each checked against its author's signature), kept and queued to be passed on. */
  private receive (from: string, statements: SignedStatement[], full: boolean): void {
    const now = Date.now()
    this.table.heard(from, now)
    for (const s of statements) {
      const body = parseStatement(s.body)
      if (body === undefined) { this.init.onRejected?.('malformed', from); continue }
      if (body.peerId === this.init.self.peerId || this.init.ignores?.(body.peerId) === true) continue
      if ((this.rumours.seq(body.peerId) ?? -1) >= body.seq) continue
      if (!this.spend(from, now)) { this.init.onRejected?.('over_budget', from); break }
      if (!this.init.keys.verify(body.peerId, s.body, s.sig)) { this.init.onRejected?.('bad_signature', from); break }
      if (this.init.credentials !== undefined && !this.init.credentials.vouches(body.peerId, s.cred)) { this.init.onRejected?.('not_admitted', from); continue }
      this.rumours.offer(body.peerId, body.seq, s, statementSize(s))
      this.table.heartbeat(body, now, body.peerId)
      if (body.addrs !== undefined) this.init.addresses?.learn(body.peerId, body.addrs)
    }
    // A full exchange brings statements in no order: accusations by agents it also introduced count now.
    if (full) this.table.reconsider(now)
    this.flush()
  }

  /** This node's statement, when it says something new (or that it leaves): signed, kept, queued. */
  private issue (leaving = false): SignedStatement | undefined {
    if (this.init.passive === true) return undefined
    const hb = this.table.statementDue(leaving)
    if (hb === undefined) return undefined
    this.seq = Math.max(Date.now(), this.seq + 1)
    const addrs = this.init.addresses?.own() ?? []
    const body = JSON.stringify({ ...hb, seq: this.seq, ...(addrs.length > 0 ? { addrs } : {}) })
    const cred = this.init.credentials?.own
    const s = { body, sig: this.init.keys.sign(body), ...(cred !== undefined ? { cred } : {}) }
    this.rumours.offer(this.init.self.peerId, this.seq, s, statementSize(s))
    return s
  }

  /** One signature check of a statement `from` passed on, if its budget allows (STATEMENT_CHECKS_*). */
  private spend (from: string, now: number): boolean {
    const b = this.budgets.get(from) ?? { tokens: STATEMENT_CHECKS_BURST, at: now }
    b.tokens = Math.min(STATEMENT_CHECKS_BURST, b.tokens + (now - b.at) * STATEMENT_CHECKS_PER_SEC / 1_000)
    b.at = now
    this.budgets.set(from, b)
    // Full buckets are forgotten: a neighbour that stopped sending costs nothing to keep.
    if (this.budgets.size > 1_024) {
      for (const [p, x] of this.budgets) {
        if (p !== from && x.tokens + (now - x.at) * STATEMENT_CHECKS_PER_SEC / 1_000 >= STATEMENT_CHECKS_BURST) this.budgets.delete(p)
      }
    }
    if (b.tokens < 1) return false
    b.tokens--
    return true
  }

  /** One gossip round: the least-told news to a few random neighbours; nothing when there is none. */
  private gossipRound (): void {
    if (this.rumours.pending === 0 || this.init.passive === true) return
    const peers = this.neighbours()
    const members = this.table.members().filter(m => m.state === 'alive' || m.state === 'suspect').length + 1
    for (let i = 0; i < this.init.gossipFanout && peers.length > 0; i++) {
      const to = peers.splice(Math.floor(Math.random() * peers.length), 1)[0]
      const statements = this.rumours.take(members, GOSSIP_MAX_STATEMENTS, GOSSIP_MAX_BYTES)
      if (statements.length === 0) return
      // Its loss is gossip's: told again by others, or caught up by a full exchange.
      this.init.rpc.request(to, MemberGossip, { statements }, { timeoutMs: this.init.probeTimeoutMs }).catch(() => {})
    }
  }

  /** Every statement held of a live member, and this node's own: what a full exchange gives. */
  private syncSet (): SignedStatement[] {
    if (this.init.passive === true) return []
    const live = (p: string): boolean => { const s = this.table.state(p); return p === this.init.self.peerId || s === 'alive' || s === 'suspect' }
    const out: SignedStatement[] = []
    let bytes = 0
    for (const s of this.rumours.all(live)) {
      bytes += statementSize(s)
      if (out.length >= SYNC_MAX_STATEMENTS || bytes > SYNC_MAX_BYTES) break
      out.push(s)
    }
    return out
  }

  private async sync (peer: string): Promise<void> {
    if (!this.running) return
    try {
      const answer = await this.init.rpc.request(peer, MemberSync, { statements: this.syncSet() }, { timeoutMs: Math.max(2_000, this.init.probeTimeoutMs) })
      if (this.running && this.init.ignores?.(peer) !== true) this.receive(peer, answer.statements, true)
    } catch {
      // The next exchange (or gossip) brings what this one would have.
    }
  }

  private neighbours (): string[] {
    return [...this.init.neighbours()].filter(p => p !== this.init.self.peerId && this.init.ignores?.(p) !== true)
  }

  private async probe (peerId: string): Promise<void> {
    if (!this.running || this.init.passive === true || !this.table.probeStarted(peerId, Date.now())) return
    this.armDeadline()
    try {
      const answer = await this.init.rpc.request(peerId, Probe, { incarnation: this.table.incarnation }, { timeoutMs: this.init.probeTimeoutMs })
      this.table.probeAnswered(peerId, answer, Date.now())
    } catch {
      if (!this.running) return
      this.table.probeFailed(peerId, Date.now())
    }
    this.flush()
  }

  /** Tell the changes the table made, state anything new (a suspicion, a refutation), re-arm the deadline timer. */
  private flush (): void {
    const { changes, announce } = this.table.drain()
    for (const c of changes) {
      try {
        this.safeDispatchEvent('member:change', { detail: c })
      } catch { /* listeners' errors are theirs */ }
    }
    if (this.running && (announce || changes.length > 0)) this.issue()
    this.armDeadline()
  }

  /** One timer, at the next suspicion or probe deadline. */
  private armDeadline (): void {
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer)
    this.deadlineTimer = undefined
    const next = this.table.nextDeadline()
    if (next === undefined || !this.running) return
    this.deadlineTimer = setTimeout(() => { this.table.tick(Date.now()); this.flush() }, Math.max(0, next - Date.now()))
    this.deadlineTimer.unref?.()
  }

  private every (ms: number, fn: () => void): void {
    const run = (): void => {
      if (!this.running) return
      fn()
      // Jitter keeps agents started together from acting in lockstep.
      const t = setTimeout(() => { this.timers.delete(t); run() }, ms * (0.9 + Math.random() * 0.2))
      t.unref?.()
      this.timers.add(t)
    }
    const t = setTimeout(() => { this.timers.delete(t); run() }, Math.random() * ms)
    t.unref?.()
    this.timers.add(t)
  }
}
