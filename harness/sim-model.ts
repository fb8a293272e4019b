// The simulated member view shared by the election simulation (test/protocols/coordination/election-sim.test.ts) and
// the scale simulation (bench/sim.ts): one agent's member view as protocols/discovery/members.ts drives
// it (statements issued and relayed, gossip rounds, full exchanges, probes matched by nonce),
// over the REAL pure cores, protocols/discovery/member-table.ts (with the failure detector) and
// protocols/discovery/rumours.ts. What a node's shell adds with I/O (RPC, timers, signatures) is left to
// the caller: it says when each round runs, to whom, and carries the messages.
import { feedbackFor, MemberTable, telling, type Heartbeat, type MemberChange, type ProbeAnswer } from '../protocols/discovery/member-table.js'
import type { MemberTimings } from '../protocols/discovery/member-timings.js'
import { Rumours } from '../protocols/discovery/rumours.js'
import type { NeighbourBudgets } from '../protocols/discovery/member-budgets.js'
import { answerAreas, Cut, cutWithin, fingerprint, Listing, type Entry, type Fingerprint, type Listed } from '../protocols/discovery/member-digest.js'
import { DigestSums } from '../protocols/discovery/member-digest-sums.js'
import { asked, MAX_IDLE_ROUNDS, MAX_ROUNDS } from '../protocols/discovery/member-exchange.js'
import type { SlotDirectory } from '../protocols/discovery/slot-directory.js'

/**
 * A statement as the member view signs it (simulated agents do not forge statements: real nodes
 * check signatures). `size`: its bytes on the wire, when the caller counts them; `fp`: its digest
 * fingerprint (member-digest.ts), made once by its author, as every agent would make the same;
 * `slot`: its author's slot in the directory the agents share (slot-directory.ts; -1 until the first
 * agent looks it up), the same for every agent: one lookup of the directory's map per statement,
 * not one per agent that receives it (those were 2% of a 10,000-agent join's first seconds).
 */
export type Statement = Heartbeat & { seq: number, size?: number, fp?: Fingerprint, slot?: number }

/**
 * Where a full exchange is: its round, the rounds in a row that brought the asker nothing new
 * (member-exchange.ts MAX_IDLE_ROUNDS), whether an answer's buckets to compare by cell were
 * followed yet (once an exchange), and those to send by cell next round (`split`). Carried by
 * the simulated messages, where the node keeps them in its exchange's loop; not on the wire.
 */
export interface ExchangeRound { round: number, idle: number, celled?: boolean, split?: number[] }

/** An exchange's place, as a message of it carries it on. */
function place (m: ExchangeRound): ExchangeRound {
  return { round: m.round, idle: m.idle, ...(m.celled === true ? { celled: true } : {}), ...(m.split !== undefined ? { split: m.split } : {}) }
}

export type MemberMessage =
  | { type: 'member-gossip', statements: Statement[], id: number }
  | { type: 'member-gossip-answer', id: number, known: number }
  | { type: 'member-digest', sums: Uint32Array, count?: number, cells?: { buckets: number[], sums: Uint32Array[] } } & ExchangeRound
  | { type: 'member-digest-answer', listed: Listed, buckets: number[], split: number[], more: boolean } & ExchangeRound
  | { type: 'member-patch', statements: Statement[], want: string[], more: boolean } & ExchangeRound
  | { type: 'member-patch-answer', statements: Statement[], more: boolean } & ExchangeRound
  | { type: 'probe', incarnation: number, nonce: number }
  | { type: 'probe-ack', answer: ProbeAnswer, nonce: number }

export interface MemberAgentInit {
  id: string
  eligible: boolean
  timings: MemberTimings & { confirmationsForMin: number }
  incarnation: number
  random: () => number
  retransmitMult: number
  /** Neighbours answering they held a statement, after which it is no longer told (constants.ts GOSSIP_FEEDBACK_LIMIT); none: no feedback. */
  feedbackLimit?: number
  /** The same for a statement learnt from a full exchange (constants.ts EXCHANGE_FEEDBACK_LIMIT); none: `feedbackLimit`, the rule before. */
  exchangeFeedbackLimit?: number
  /**
   * A statement that told its receiver nothing but accusations (a confirmation past the limit)
   * told at its full count, as before it was passed on as old news (members.ts). With
   * `joinsInFull` too: every statement heard in gossip told in full, the rule before feedback.
   */
  allNews?: boolean
  /** A join's statement (member-table.ts `telling`) told at its full count, as before feedback stopped it too. */
  joinsInFull?: boolean
  /** Sends one message (the caller adds latency, loss, partitions, and counts). */
  send: (to: string, msg: MemberMessage) => void
  /** A fresh probe nonce (RpcService's request ids). */
  nonce: () => number
  /** Statements one gossip message and one full exchange's patch carry at most (member-wire.ts); unbounded when not given. */
  gossipMax?: { statements: number, bytes: number }
  syncMax?: { statements: number, bytes: number }
  /** The wire size of a statement this agent issues (statementSize of a real-shaped one); 1 when not given. */
  sizeOf?: (hb: Heartbeat & { seq: number }) => number
  /** Per neighbour, the statement checks it may make this agent do (members.ts's STATEMENT_CHECKS_*). */
  checks?: NeighbourBudgets
  /** Copy what is sent (the election simulation's messages are never shared between agents). */
  copy?: boolean
  /** Peer <-> slot shared by every agent's table (slot-directory.ts): stored once, not once per agent. */
  directory?: SlotDirectory
  /** Statements its gossip queue holds at most (rumours.ts `maxQueued`); none: unbounded. */
  maxQueued?: number
  /**
   * Whether its exchanges compare large buckets by cell (member-exchange.ts, the digest's third
   * version); false: whole buckets only, as before (bench:sim --no-cells). Default true.
   */
  cells?: boolean
}

/** Gossip messages awaiting their answer, at most (one lost to a crash or a partition is dropped, oldest first). */
const MAX_UNANSWERED = 256

/** One agent's member view: the real MemberTable and Rumours, driven as MemberView drives them. */
export class MemberAgent {
  readonly table: MemberTable
  readonly rumours: Rumours<Statement>
  /** The digest's sums kept by slot (member-digest-sums.ts), as MemberView keeps them. */
  private readonly digest = new DigestSums({ keepUnsalted: true, capacity: () => this.table.slotCapacity })
  seq = 0
  /** Statements this agent issued (bench:sim counts those of a crash). */
  issued = 0
  /**
   * Statements new to it that it took, from gossip and from full exchanges (bench:sim: the rest of
   * those it received it held already, or were past its budget of checks).
   */
  readonly took = { gossip: 0, sync: 0 }
  /** Probes sent: nonce -> peer (what RpcService does to match an answer to its request). */
  readonly nonces = new Map<number, string>()
  /** Gossip messages sent, by id, until answered: what was told (the answer's mask refers to it). */
  private readonly told = new Map<number, { keys: string[], items: Statement[] }>()
  private gossipId = 0
  private readonly init: MemberAgentInit
  /**
   * A member's slot, under which a listing read keeps the answerer's seqs (member-digest.ts
   * `Listing`): the shared directory's, held here or not, so that a newcomer's first listing
   * (all of it new to it) is kept in arrays too; else the table's.
   */
  private readonly slotOf: (member: string) => number | undefined

  constructor (init: MemberAgentInit) {
    this.init = init
    const directory = init.directory
    this.slotOf = directory !== undefined ? m => directory.slotOf(m) : m => this.table.slotOf(m)
    const self = { peerId: init.id, name: init.id, roles: [], eligible: init.eligible }
    // Statements are never changed once issued, and every agent is handed the same object (unless
    // `copy`): the table keeps it as what its author told, and the rumours read its seq from it,
    // so what agents hold in common is stored once (bench/sim.ts at 10,000 agents). With the
    // shared directory the rumours hold them in an array by slot, not a map (rumours.ts).
    const digest = this.digest
    this.table = new MemberTable({
      ...init.timings,
      self,
      incarnation: init.incarnation,
      random: init.random,
      told: t => t,
      directory: init.directory,
      slots: { live: (slot, live) => { digest.live(slot, live) }, free: slot => { digest.free(slot) } }
    })
    this.rumours = new Rumours({ retransmitMult: init.retransmitMult, seqOf: st => st.seq, directory: init.directory, maxQueued: init.maxQueued })
  }

  /** The agent's statement, when it says something new: kept and queued for gossip (MemberView.issue). */
  issue (now: number): void {
    const hb = this.table.statementDue()
    if (hb === undefined) return
    this.seq = Math.max(now, this.seq + 1)
    this.issued++
    const st: Statement = { ...hb, seq: this.seq, fp: fingerprint(this.init.id, this.seq), slot: -1 }
    const size = this.init.sizeOf?.(st) ?? 1
    if (this.init.sizeOf !== undefined) st.size = size
    this.rumours.offer(this.init.id, this.seq, st, size)
    this.digest.setOwn(this.init.id, st.fp as Fingerprint, this.seq)
  }

  /** A connection to `peer` opened: true when it was unknown (then probe it and exchange all, as members.ts does). */
  connected (peer: string, now: number): boolean {
    if (!this.table.seen(peer, { name: peer, roles: [] }, now)) return false
    this.probe(peer, now)
    this.sync(peer)
    return true
  }

  /** Its own statement's and each live member's (member, seq): what a full exchange lists (MemberView's entries). */
  entries (): Entry[] { return this.rumours.entries(p => this.gives(p)) }

  /** The slot of `st`'s author (`slotOf`), kept on the statement when the directory is shared: it is then the same for every agent. */
  private authorSlot (st: Statement): number | undefined {
    if (st.slot !== undefined && st.slot >= 0) return st.slot
    const slot = this.slotOf(st.peerId)
    if (slot !== undefined && this.init.directory !== undefined) st.slot = slot
    return slot
  }

  /** Its seq of `member` (in `slot`, when it has one): from the digest's column, else the rumours' map (as member-exchange.ts reads a listing). */
  private heldSeq (member: string, slot: number | undefined): number | undefined {
    return (slot === undefined ? undefined : this.digest.seqAt(slot)) ?? this.rumours.seq(member)
  }

  /** Whether its statement of `p` goes in an exchange: its own, or a live member's. */
  private gives (p: string): boolean { if (p === this.init.id) return true; const s = this.table.state(p); return s === 'alive' || s === 'suspect' }

  /** The statements of `members` (its own first), up to the exchange's limits (member-exchange.ts cut). */
  private cut (members: string[]): { statements: Statement[], more: boolean } {
    const max = this.init.syncMax ?? { statements: Infinity, bytes: Infinity }
    const { items, more } = cutWithin(members, this.init.id, m => this.rumours.get(m), st => st.size ?? 1, { items: max.statements, bytes: max.bytes })
    return { statements: items, more }
  }

  /** An empty patch within the exchange's limits, filled a member at a time (member-exchange.ts cutter). */
  private cutter (): Cut<Statement> {
    const max = this.init.syncMax ?? { statements: Infinity, bytes: Infinity }
    return new Cut<Statement>(m => this.rumours.get(m), st => st.size ?? 1, { items: max.statements, bytes: max.bytes })
  }

  /**
   * A full exchange with `to`: its digest first (member-exchange.ts sync). `at` is where the
   * exchange is: its rounds, and those in a row that brought nothing new (none: it starts).
   */
  sync (to: string, at: ExchangeRound = { round: 0, idle: 0 }): void {
    if (at.round >= MAX_ROUNDS || at.idle >= MAX_IDLE_ROUNDS) return
    // No salt drawn: simulated agents do not aim their seqs, and a draw would change the schedule.
    const { split } = at
    const cells = split !== undefined ? { buckets: split, sums: this.digest.cellSums(split) } : undefined
    // Once buckets were compared by cell, the count is 0: later rounds are listed whole buckets (member-exchange.ts ask).
    const count = at.celled === true ? 0 : this.digest.count()
    this.init.send(to, {
      type: 'member-digest',
      sums: this.digest.sums(),
      ...(this.init.cells === false ? {} : { count }),
      ...(cells !== undefined ? { cells } : {}),
      round: at.round,
      idle: at.idle,
      ...(at.celled === true ? { celled: true } : {})
    })
  }

  private copy<T>(x: T): T { return this.init.copy === true ? structuredClone(x) : x }

  /**
   * Statements new to the agent, taken as MemberView.receive takes them (signatures aside, their
   * checks budgeted when asked). Returns the gossip answer's mask (`known`: bit i set when
   * statement i was held already, or is the agent's own) and how many were new and taken.
   */
  receive (from: string, statements: Statement[], full: boolean, now: number): { known: number, taken: number } {
    const checks = this.init.checks
    this.table.heard(from, now)
    let known = 0
    let taken = 0
    for (let i = 0; i < statements.length; i++) {
      const st = statements[i]
      if (st.peerId === this.init.id || (this.heldSeq(st.peerId, this.authorSlot(st)) ?? -1) >= st.seq) { if (i < 32) known |= 1 << i; continue }
      if (checks !== undefined && checks.take(from, 1, now) > 0) break
      // Only news is told its full count (MemberView.receive), unless the run asks for the rules before.
      const previous = this.rumours.get(st.peerId)
      const held = previous !== undefined || this.table.state(st.peerId) !== undefined
      const told = this.table.heartbeat(st, now, st.peerId)
      const why = telling(full, held, told, () => previous, st)
      const old = why === 'exchange' || (why === 'join' && this.init.joinsInFull !== true) || (why === 'accusations' && this.init.allNews !== true)
      const { feedbackLimit: gossip, exchangeFeedbackLimit: exchange = gossip } = this.init
      const feedback = !old || gossip === undefined || exchange === undefined ? undefined : feedbackFor(why, held && told, { gossip, exchange })
      this.rumours.offer(st.peerId, st.seq, st, st.size ?? 1, from, feedback)
      taken++
      const slot = this.table.slotOf(st.peerId)
      if (slot !== undefined) this.digest.hold(slot, st.peerId, st.fp ?? fingerprint(st.peerId, st.seq), st.seq)
    }
    if (full) this.table.reconsider(now)
    this.took[full ? 'sync' : 'gossip'] += taken
    return { known: known >>> 0, taken }
  }

  /** The least-told news to `fanout` of `peers` (spliced at random), when there is any (MemberView.gossipRound). */
  gossipRound (peers: string[], fanout: number): void {
    if (this.rumours.pending === 0) return
    const members = this.table.liveCount() + 1
    const max = this.init.gossipMax ?? { statements: 32, bytes: Infinity }
    for (let i = 0; i < fanout && peers.length > 0; i++) {
      const to = peers.splice(Math.floor(this.init.random() * peers.length), 1)[0]
      const keys: string[] = []
      const statements = this.rumours.take(members, max.statements, max.bytes, to, keys)
      if (statements.length === 0) continue
      const id = ++this.gossipId
      if (this.init.feedbackLimit !== undefined) {
        this.told.set(id, { keys, items: statements })
        if (this.told.size > MAX_UNANSWERED) this.told.delete(this.told.keys().next().value as number)
      }
      this.init.send(to, { type: 'member-gossip', id, statements: this.init.copy === true ? structuredClone(statements) : statements })
    }
  }

  /** A probe of `peer`, unless one is already awaited; true when one went out. */
  probe (peer: string, now: number, timeoutMs?: number): boolean {
    if (!this.table.probeStarted(peer, now, timeoutMs)) return false
    // An answer to an earlier probe of this peer (it already failed) does not answer this one.
    for (const [n, p] of this.nonces) if (p === peer) this.nonces.delete(n)
    const nonce = this.init.nonce()
    this.nonces.set(nonce, peer)
    this.init.send(peer, { type: 'probe', incarnation: this.table.incarnation, nonce })
    return true
  }

  onMessage (from: string, msg: MemberMessage, now: number): void {
    switch (msg.type) {
      case 'member-gossip': {
        const { known } = this.receive(from, msg.statements, false, now)
        this.init.send(from, { type: 'member-gossip-answer', id: msg.id, known })
        break
      }
      case 'member-gossip-answer': {
        const told = this.told.get(msg.id)
        if (told === undefined) break
        this.told.delete(msg.id)
        this.rumours.heldBy(told.keys, told.items, msg.known, from)
        break
      }
      case 'member-digest': {
        // The view is walked for a listing only when some bucket differs (at rest, none does).
        // Buckets compared by cell are listed by the cells that differ; a large bucket the asker
        // is not far behind in is compared by cell next round (member-exchange.ts answerDigest).
        const { areas, split } = answerAreas(this.digest, msg)
        const max = this.init.syncMax?.statements ?? Infinity
        const list = this.digest.listing(areas, max, this.init.random, this.init.id, slot => this.table.peerAt(slot))
        this.init.send(from, { type: 'member-digest-answer', listed: list, buckets: list.buckets, split, more: list.more, ...place({ round: msg.round, idle: msg.idle, celled: msg.celled === true }) })
        break
      }
      case 'member-digest-answer': {
        // Buckets to compare by cell are followed once an exchange (member-exchange.ts rounds):
        // in a join wave the views change between rounds, and following each answer's would
        // chase them for all 16 rounds.
        const follow = msg.split.length > 0 && msg.celled !== true
        const more = msg.more || follow
        const next = { round: msg.round, idle: msg.idle, ...(msg.celled === true || follow ? { celled: true } : {}), ...(follow ? { split: msg.split } : {}) }
        if (msg.buckets.length === 0 && !follow) break
        // As member-exchange.ts: what it wants up to its room (and one more, to tell it was cut),
        // and its gives walked from its columns until the patch is full.
        const listing = new Listing(msg.listed, msg.buckets, this.slotOf, this.init.directory !== undefined)
        const room = this.init.checks?.room(from, now) ?? Infinity
        const { ask, cut } = asked(listing.wanted((m, slot) => this.heldSeq(m, slot), this.init.id, room + 1), room)
        const given = listing.give((buckets, visit) => { this.digest.eachIn(buckets, this.init.id, slot => this.table.peerAt(slot), visit) }, this.cutter())
        if (ask.length === 0 && given.items.length === 0) {
          // Nothing to ask or give in what was listed: the buckets left out are listed next round,
          // and those to compare by cell are (a round of that alone is not an idle one).
          if (more && !cut) this.sync(from, { ...next, round: msg.round + 1, idle: follow && msg.buckets.length === 0 ? msg.idle : msg.idle + 1 })
          break
        }
        // `more`: another round after this one. Past the budget (`cut`), only if the answer is cut short by its size (member-exchange.ts).
        const patch = { statements: this.copy(given.items), want: ask, more: !cut && (more || given.more), ...next }
        this.init.send(from, { type: 'member-patch', ...patch })
        break
      }
      case 'member-patch': {
        const answer = this.cut([...new Set(msg.want)].filter(m => this.gives(m)))
        this.receive(from, msg.statements, true, now)
        this.init.send(from, { type: 'member-patch-answer', statements: this.copy(answer.statements), more: msg.more || answer.more, ...place(msg) })
        break
      }
      case 'member-patch-answer': {
        const { taken } = this.receive(from, msg.statements, true, now)
        // A round that brought nothing new counts toward the end (member-exchange.ts MAX_IDLE_ROUNDS).
        if (msg.more) this.sync(from, { ...place(msg), round: msg.round + 1, idle: taken > 0 ? 0 : msg.idle + 1 })
        break
      }
      case 'probe': {
        this.table.probedBy(from, msg.incarnation, now)
        const answer = { incarnation: this.table.incarnation, eligible: this.init.eligible, name: this.init.id, roles: [] }
        this.init.send(from, { type: 'probe-ack', answer, nonce: msg.nonce })
        break
      }
      case 'probe-ack':
        if (this.nonces.get(msg.nonce) !== from) return
        this.nonces.delete(msg.nonce)
        this.table.probeAnswered(from, msg.answer, now)
        break
    }
  }

  /** The table's changes since the last call; a statement issued when there is news (MemberView.flush). */
  flush (now: number, check?: (c: MemberChange) => void): MemberChange[] {
    const { changes, announce } = this.table.drain()
    if (check !== undefined) for (const c of changes) check(c)
    if (announce || changes.length > 0) this.issue(now)
    return changes
  }
}
