// The scale simulation's world (bench/sim.ts): N agents on a simulated network with a neighbour
// graph, each running the REAL member view core (harness/sim-model.ts over protocols/discovery/member-table.ts,
// the failure detector and protocols/discovery/rumours.ts) and the REAL election (protocols/coordination/
// election.ts), on one event heap in simulated time. What a node's shell does is modelled:
// - connections: each agent dials its seed (bootstrap) and then members it learns until it has
//   `targetPeers` connections; inbound ones are taken up to `maxConnections` (node/config-groups.ts);
//   a new connection makes both sides probe and fully exchange with the other when it is new to them;
// - gossip rounds, probes (neighbours only, one a round, shuffled, the silent one out of turn) and
//   full exchanges with one random neighbour every syncIntervalMs, as members.ts runs them, with the
//   wire's limits (32 statements a gossip, SYNC_MAX_STATEMENTS and SYNC_MAX_BYTES a full exchange)
//   and the per-neighbour budget of statement checks (STATEMENT_CHECKS_*);
// - the election reads the member view once per burst of changes (50 ms here); the coordinator's
//   announcements go over gossipsub: the publisher sends to all its neighbours (floodPublish),
//   every other agent on to its mesh peers the first time it hears one; mesh links are grafted
//   both ways on connection while both sides have fewer than D_HI, and topped up to D_LO each
//   second (the other side taking the graft even at D_HI).
// Left out: local health (no simulated process stalls, so its multiplier stays 1), signatures
// (statements are never forged here), reaping (runs last minutes, not an hour).
import { Election, type Announcement, type ElectionMessage } from '../protocols/coordination/election.js'
import { REQUESTS, staleAnswer } from '../protocols/coordination/election-wire.js'
import type { MemberInfo } from '../protocols/coordination/voter-set.js'
import type { MemberRoll } from '../protocols/coordination/election-roll.js'
import type { MemberChange } from '../protocols/discovery/member-table.js'
import type { MemberTimings } from '../protocols/discovery/member-timings.js'
import { NeighbourBudgets } from '../protocols/discovery/member-budgets.js'
import { SlotDirectory } from '../protocols/discovery/slot-directory.js'
import { DEFAULT_BOOTSTRAP_MAX_DELAY_MS, DEFAULT_MAX_MEMBERS, DEFAULT_MAX_QUEUED, EXCHANGE_FEEDBACK_LIMIT, GOSSIP_FEEDBACK_LIMIT, RETRANSMIT_MULT, STATEMENT_CHECKS_BURST, STATEMENT_CHECKS_PER_SEC, SYNC_MAX_BYTES } from '../protocols/discovery/constants.js'
import { GOSSIP_MAX_BYTES, GOSSIP_MAX_STATEMENTS, SYNC_MAX_STATEMENTS } from '../protocols/discovery/member-wire.js'
import { MemberAgent, type MemberMessage } from '../harness/sim-model.js'
import { Flights } from '../harness/flights.js'
import { fakeKeys } from '../harness/election-fakes.js'
import { seededRandom } from '../harness/random.js'
import type { Preset } from '../node/presets.js'
import { ENTRY_BYTES, GOSSIP_ANSWER_BYTES, jsonSize, PROBE_ACK_BYTES, PROBE_BYTES, RPC_OVERHEAD_BYTES, statementSizer, WANT_BYTES } from './sim-wire.js'
import { DIGEST_TEXT_LENGTH } from '../protocols/discovery/member-digest.js'

export interface WorldInit {
  n: number
  seed: number
  membership: MemberTimings & { confirmationsForMin: number }
  coordination: Preset['coordination']
  /** One-way latency of a message, uniform in [lo, hi] ms. */
  latency: [number, number]
  targetPeers: number
  maxConnections: number
  /** Inbound connections an agent takes at most (connections.maxInbound: the gater refuses more). */
  maxInbound: number
  /** An inbound connection older than this may be handed on (connections.handOffAfterMs; protocols/discovery/hand-off.ts). */
  handOffAfterMs: number
  gossipFanout: number
  /**
   * Agents 0..seeds-1 are the seeds: each newcomer lists them all as its bootstrap addresses and
   * dials them in a random order of its own until one takes it (bootstrap.ts's join round).
   */
  seeds: number
  /** A joiner refused by every seed tries again after a backoff doubled up to this (connections.bootstrapMaxDelayMs). */
  joinMaxDelayMs?: number
  /** Gossip's feedback (constants.ts GOSSIP_FEEDBACK_LIMIT); none: statements told RETRANSMIT_MULT * ceil(log10(n + 1)) times, as before it. */
  feedbackLimit?: number
  /** The same for what a full exchange brought (constants.ts EXCHANGE_FEEDBACK_LIMIT); none: `feedbackLimit` (before issue 46's change to one). */
  exchangeFeedbackLimit?: number
  /** Statements that told their receiver nothing told at their full count all the same (before issue 46's second change). */
  allNews?: boolean
  /** A join's statement told at its full count (before issue 46's third change: feedback stops it too). */
  joinsInFull?: boolean
  /** Statements an agent's gossip queue holds at most (rumours.ts `maxQueued`); none: unbounded. */
  maxQueued?: number
  /** Exchanges compare whole buckets only (before the digest's third version, issue 46): bench:sim --no-cells. */
  noCells?: boolean
}

/**
 * bench:sim's settings where no option changes them (bench/sim.ts), and test/mesh/sim-scale.test's:
 * an agent dials up to 8, holds up to 300 connections, takes up to 200 inbound and hands one on
 * after 10 s; one seed per 100 agents, at least three; gossip's feedback and queue bound as a node's (constants.ts).
 */
export const SIM_DEFAULTS = {
  targetPeers: 8,
  maxConnections: 300,
  maxInbound: 200,
  handOffAfterMs: 10_000,
  agentsPerSeed: 100,
  feedbackLimit: GOSSIP_FEEDBACK_LIMIT,
  exchangeFeedbackLimit: EXCHANGE_FEEDBACK_LIMIT,
  maxQueued: DEFAULT_MAX_QUEUED
} as const

/** One seed per `agentsPerSeed` agents, at least three (never more than the agents). */
export function seedsFor (n: number, agentsPerSeed: number = SIM_DEFAULTS.agentsPerSeed): number {
  return Math.min(n, Math.max(3, Math.ceil(n / agentsPerSeed)))
}

export type Kind = 'gossip' | 'sync' | 'probe' | 'election' | 'announce'
export const KINDS: Kind[] = ['gossip', 'sync', 'probe', 'election', 'announce']

/**
 * An election message: a request carries when it was sent; an answer, the request it answers and
 * that time, so its receiver drops it when stale as the node's service does (staleAnswer).
 */
type ElectionMsg = { type: 'election', msg: ElectionMessage, sentAt: number, answers?: { request: ElectionMessage, sentAt: number } }
/** Which part of a full exchange's bytes each of its messages is counted under (`exchange`). */
const EXCHANGE_PART: Partial<Record<MemberMessage['type'], 'digests' | 'listings' | 'patches' | 'patchAnswers'>> = {
  'member-digest': 'digests',
  'member-digest-answer': 'listings',
  'member-patch': 'patches',
  'member-patch-answer': 'patchAnswers'
}
type Msg = MemberMessage | ElectionMsg | { type: 'announce', a: Announcement, id: number, size: number } | { type: 'connect' }
type DOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
type Ev = { at: number, order: number } & (
  | { kind: 'msg', from: number, to: number, msg: Msg }
  | { kind: 'gossip' | 'probe' | 'sync' | 'dial' | 'members' | 'tick' | 'election' | 'rejoin', agent: number, stamp?: number }
  | { kind: 'join', agent: number }
)

export interface Agent {
  i: number
  id: string
  eligible: boolean
  up: boolean
  member?: MemberAgent
  election?: Election
  neighbours: Set<number>
  neighbourIds: Set<string>
  /** Inbound connections (the dialler's index) and when each opened. */
  inbound: Map<number, number>
  /** A joiner refused by every seed of a round starts the next round after this backoff (bootstrap.ts: doubled up to bootstrapMaxDelayMs). */
  joinDelay: number
  /** The seeds its join round has yet to try, in its own random order (none once joined). */
  joinRound: number[]
  /** Agents that said no to a hand-off, and until when they are not asked again; handing on (past 3/4 of the cap, until half). */
  declined: Map<number, number>
  draining: boolean

  /** Its gossipsub mesh on the coordinator's topic. */
  mesh: Set<number>
  electionAt: number
  membersDirty: boolean
  /** Members that entered its election's roll (alive, or left) since the election was last told. */
  entered: string[]
  /** Others this agent holds alive, and the crashed ones it holds offline. */
  alive: number
  lostSeen: number
  heard: Map<number, number>
  checks: NeighbourBudgets
}

/** gossipsub's D_lo and D_hi. */
const D_LO = 4
const D_HI = 12

export class World {
  now = 0
  readonly agents: Agent[]
  readonly random: () => number
  private readonly events = new Flights<Ev>()
  private order = 0
  private nonce = 0
  private announceId = 0
  readonly count = Object.fromEntries(KINDS.map(k => [k, { msgs: 0, bytes: 0 }])) as Record<Kind, { msgs: number, bytes: number }>
  /** Statements carried by gossip and by full exchanges (counted with `count`). */
  statements = { gossip: 0, sync: 0 }
  /** Bytes of full exchanges by message (counted with `count.sync`), and the statements the askers' patches gave. */
  exchange = { digests: 0, listings: 0, patches: 0, patchAnswers: 0, given: 0 }
  crashed = new Set<string>()
  private readonly sizeOf = statementSizer(true)
  /** Agents up. */
  upCount = 0
  /**
   * Election requests to agents not connected, once a pair, by message type: the node dials for
   * each (the simulation sends them directly and keeps no connection).
   */
  readonly electionDials: Record<string, number> = {}
  private readonly dialled = new Set<string>()
  /** Coordinators in office at once, at most, over the calls of coordinator(). */
  officeMax = 0
  /** Events played so far. */
  played = 0
  /**
   * Called every 2^20 events played (20-30 s of CPU at 1,000 agents), inside `run`: a run that
   * spins on one simulated moment (a storm of messages) still shows where it is, where a check
   * between simulated steps would never come (bench:sim at 1,000 agents, before 93c695a: 633,735
   * election messages in 50 simulated ms, and no line in 18 minutes).
   */
  onPlayed?: () => void
  /**
   * Peer <-> slot for every agent's member table (slot-directory.ts): one map for all, not one
   * per agent (a quarter of a pair's cost). Agent i is slot i, so each table walks its members
   * in agent order (it walked them in the order it first held them before: the schedule moved).
   */
  private readonly directory = new SlotDirectory()
  private readonly numbers = new Map<string, number>()

  constructor (readonly init: WorldInit) {
    this.random = seededRandom(init.seed)
    this.agents = Array.from({ length: init.n }, (_, i) => ({
      i,
      id: `a${i}`,
      eligible: i % 4 !== 3,
      up: false,
      neighbours: new Set(),
      neighbourIds: new Set(),
      inbound: new Map(),
      joinDelay: 500,
      joinRound: [],
      declined: new Map(),
      draining: false,
      mesh: new Set(),
      electionAt: Infinity,
      membersDirty: false,
      entered: [],
      alive: 0,
      lostSeen: 0,
      heard: new Map(),
      checks: new NeighbourBudgets(STATEMENT_CHECKS_BURST, STATEMENT_CHECKS_PER_SEC)
    }))
    for (const a of this.agents) this.numbers.set(a.id, a.i)
    this.infos = new Array<MemberInfo | undefined>(4 * init.n).fill(undefined)
    for (const a of this.agents) this.directory.take(a.id)
  }

  resetCounts (): void {
    for (const k of KINDS) this.count[k] = { msgs: 0, bytes: 0 }
    this.statements = { gossip: 0, sync: 0 }
    this.exchange = { digests: 0, listings: 0, patches: 0, patchAnswers: 0, given: 0 }
  }

  private push (ev: DOmit<Ev, 'order'>): void { this.events.push({ ...ev, order: this.order++ } as Ev) }

  /** Agent `i` starts at `at` (simulated ms). */
  joinAt (i: number, at: number): void { this.push({ at, kind: 'join', agent: i }) }

  /** The join wave: the seeds (agents 0..seeds-1) at once, every other agent within 5 s, each through the seeds. */
  joinWave (): void { for (let i = 0; i < this.init.n; i++) this.joinAt(i, i < this.init.seeds ? 0 : this.random() * 5_000) }

  /**
   * An agent's number from its id, by a map made once: parsed from the id (a slice and a number
   * each), it was 4% of bench:sim's CPU at 10,000 agents, read for every member an election is
   * told of and every message sent.
   */
  private index (id: string): number { return this.numbers.get(id) ?? Number(id.slice(1)) }

  private latency (): number { const [lo, hi] = this.init.latency; return lo + this.random() * (hi - lo) }

  private send (from: number, to: number, msg: Msg, kind: Kind, bytes: number): void {
    this.count[kind].msgs++
    this.count[kind].bytes += bytes
    this.push({ at: this.now + this.latency(), kind: 'msg', from, to, msg })
  }

  private memberSend (from: number, to: string, msg: MemberMessage): void {
    let kind: Kind = 'probe'
    let bytes = msg.type === 'probe' ? PROBE_BYTES : PROBE_ACK_BYTES
    if (msg.type === 'member-gossip' || msg.type === 'member-patch' || msg.type === 'member-patch-answer') {
      kind = msg.type === 'member-gossip' ? 'gossip' : 'sync'
      bytes = RPC_OVERHEAD_BYTES
      for (const s of msg.statements) bytes += s.size ?? 0
      if (msg.type === 'member-patch') bytes += msg.want.length * WANT_BYTES
      this.statements[kind] += msg.statements.length
    } else if (msg.type === 'member-gossip-answer') {
      kind = 'gossip'
      bytes = GOSSIP_ANSWER_BYTES
    } else if (msg.type === 'member-digest') {
      kind = 'sync'
      bytes = RPC_OVERHEAD_BYTES + DIGEST_TEXT_LENGTH + 12
      // The third version's count (one number) and sums by cell (a bucket's number and 64 sums).
      if (msg.count !== undefined) bytes += 12
      if (msg.cells !== undefined) bytes += msg.cells.buckets.length * (DIGEST_TEXT_LENGTH + 16)
    } else if (msg.type === 'member-digest-answer') {
      kind = 'sync'
      bytes = RPC_OVERHEAD_BYTES + msg.listed.members.length * ENTRY_BYTES + msg.buckets.length * 5 + msg.split.length * 3 + 50
    }
    const part = EXCHANGE_PART[msg.type]
    if (part !== undefined) this.exchange[part] += bytes
    if (msg.type === 'member-patch') this.exchange.given += msg.statements.length
    this.send(from, this.index(to), msg, kind, bytes)
  }

  private start (a: Agent): void {
    const { membership, coordination, n } = this.init
    a.up = true
    this.upCount++
    a.member = new MemberAgent({
      id: a.id,
      eligible: a.eligible,
      timings: membership,
      incarnation: Math.round(this.now) + 1,
      random: this.random,
      retransmitMult: RETRANSMIT_MULT,
      ...(this.init.feedbackLimit !== undefined ? { feedbackLimit: this.init.feedbackLimit } : {}),
      ...(this.init.exchangeFeedbackLimit !== undefined ? { exchangeFeedbackLimit: this.init.exchangeFeedbackLimit } : {}),
      ...(this.init.allNews === true ? { allNews: true } : {}),
      ...(this.init.joinsInFull === true ? { joinsInFull: true } : {}),
      ...(this.init.maxQueued !== undefined ? { maxQueued: this.init.maxQueued } : {}),
      ...(this.init.noCells === true ? { cells: false } : {}),
      send: (to, msg) => { this.memberSend(a.i, to, msg) },
      nonce: () => ++this.nonce,
      gossipMax: { statements: GOSSIP_MAX_STATEMENTS, bytes: GOSSIP_MAX_BYTES },
      syncMax: { statements: SYNC_MAX_STATEMENTS, bytes: SYNC_MAX_BYTES },
      sizeOf: this.sizeOf,
      checks: a.checks,
      directory: this.directory
    })
    const { random, now } = this
    const connected = (p: string): boolean => a.neighbourIds.has(p)
    a.election = new Election({
      self: a.id, eligible: a.eligible, bootstrapExpect: 3, maxVoters: 5, ...coordination, random, now, keys: fakeKeys(a.id), connected
    })
    a.election.readRoll(this.roll(a.member))
    a.member.issue(this.now)
    const phase = (ms: number): number => this.now + this.random() * ms
    this.push({ at: phase(membership.heartbeatIntervalMs), kind: 'gossip', agent: a.i })
    this.push({ at: phase(membership.probeIntervalMs), kind: 'probe', agent: a.i })
    this.push({ at: this.now + membership.syncIntervalMs * (0.5 + this.random()), kind: 'sync', agent: a.i })
    this.push({ at: this.now + 300, kind: 'dial', agent: a.i })
    this.scheduleElection(a)
    // The bootstrap dial: the seeds themselves start first and dial the next one (a ring); every
    // other agent starts a join round over all of them.
    if (a.i < this.init.seeds) {
      const next = (a.i + 1) % Math.min(this.init.seeds, n)
      if (next !== a.i) this.dial(a, next)
    } else this.joinRoundStart(a)
  }

  /**
   * A join round, as bootstrap.ts runs it: the seeds one after the other in a random order until
   * one takes the joiner. With one seed per few hundred agents and newcomers spread over them,
   * the join's length stays flat in N (three seeds for every N made it grow as N: each hands on
   * a fixed number of agents a second).
   */
  private joinRoundStart (a: Agent): void {
    const k = Math.min(this.init.seeds, this.init.n)
    const round = Array.from({ length: k }, (_, i) => i)
    for (let i = k - 1; i > 0; i--) { const j = Math.floor(this.random() * (i + 1)); [round[i], round[j]] = [round[j], round[i]] }
    a.joinRound = round
    this.joinNext(a)
  }

  /** The next seed of the round; once every seed refused, the next round after the backoff. */
  private joinNext (a: Agent): void {
    const seed = a.joinRound.pop()
    if (seed !== undefined) { this.dial(a, seed); return }
    const wait = a.joinDelay / 2 + this.random() * a.joinDelay / 2
    a.joinDelay = Math.min(a.joinDelay * 2, this.init.joinMaxDelayMs ?? DEFAULT_BOOTSTRAP_MAX_DELAY_MS)
    this.push({ at: this.now + wait, kind: 'rejoin', agent: a.i })
  }

  /** A dial: connected after a round trip and a handshake (two round trips), if the other is up and has room. */
  private dial (a: Agent, to: number): void {
    this.push({ at: this.now + 2 * this.latency() + 2 * this.latency(), kind: 'msg', from: a.i, to, msg: { type: 'connect' } })
  }

  private connect (a: Agent, b: Agent): void {
    if (a.neighbours.has(b.i) || !a.up) return
    if (!b.up) {
      // A dial to a crashed agent fails: a joiner goes on with its round.
      if (a.neighbours.size === 0 && a.i >= this.init.seeds) this.joinNext(a)
      return
    }
    if (b.neighbours.size >= this.init.maxConnections || b.inbound.size >= this.init.maxInbound) {
      // Refused (the gater, before Noise: a failed dial). A joiner (no connection yet) tries the
      // round's next seed, as bootstrap.ts does.
      if (a.neighbours.size === 0 && a.i >= this.init.seeds) this.joinNext(a)
      return
    }
    a.joinDelay = 500
    a.joinRound = []
    b.inbound.set(a.i, this.now)
    for (const [x, y] of [[a, b], [b, a]]) {
      x.neighbours.add(y.i)
      x.neighbourIds.add(y.id)
    }
    this.graft(a, b)
    for (const [x, y] of [[a, b], [b, a]]) {
      x.member?.connected(y.id, this.now)
      this.flush(x)
    }
  }

  /**
   * Past three quarters of its inbound cap, an agent asks those connected to it longest (past
   * handOffAfterMs, no voter nor its coordinator) to let go, down to half; one agrees when it
   * holds half its targetPeers of other connections, then dials a random live member in its place
   * (protocols/discovery/hand-off.ts). A round trip is left out.
   */
  private handOff (a: Agent): void {
    const { maxInbound, handOffAfterMs, targetPeers } = this.init
    if (a.inbound.size > Math.floor(maxInbound * 3 / 4)) a.draining = true
    if (a.inbound.size <= Math.floor(maxInbound / 2)) a.draining = false
    if (!a.draining) return
    const status = a.election?.status(this.now)
    const keep = new Set([...(status?.voters ?? []), a.election?.currentLeader])
    const fresh = (p: number): boolean => (a.declined.get(p) ?? 0) <= this.now
    const old = [...a.inbound].filter(([p, since]) => this.now - since >= handOffAfterMs && fresh(p) && !keep.has(`a${p}`) && a.member?.table.state(`a${p}`) === 'alive')
    old.sort((x, y) => x[1] - y[1])
    let asked = 0
    for (const [p] of old) {
      if (asked >= 8 || a.inbound.size <= Math.floor(maxInbound / 2)) break
      asked++
      const other = this.agents[p]
      const alive = [...other.neighbours].filter(q => q !== a.i && other.member?.table.state(`a${q}`) === 'alive').length
      if (alive < Math.max(1, Math.ceil(targetPeers / 2))) { a.declined.set(p, this.now + 30_000); continue }
      this.disconnect(a, p)
      // The agent dials a random live member in place of the link it let go.
      const known = this.unlinked(other).filter(p => p !== a.id)
      if (known.length > 0) this.dial(other, this.index(known[Math.floor(this.random() * known.length)]))
    }
  }

  /** The members `a` holds alive and is not connected to: whom its dialer picks from (read without building the view). */
  private unlinked (a: Agent): string[] {
    const out: string[] = []
    a.member?.table.forEach((p, state) => { if (state === 'alive' && !a.neighbourIds.has(p)) out.push(p) })
    return out
  }

  /**
   * A mesh link on the coordinator's topic. `topUp`: an agent under D_LO grafting, which the other
   * takes even at D_HI, as gossipsub takes a GRAFT and prunes at its heartbeat (pruning is not
   * modelled; nor is IHAVE gossip, which in gossipsub reaches an agent whose mesh is empty).
   * Refused at D_HI, an agent whose neighbours all had full meshes heard no announcement: one of
   * 1,000 (seed 2) never followed the coordinator.
   */
  private graft (a: Agent, b: Agent, topUp = false): void {
    if (!topUp && (a.mesh.size >= D_HI || b.mesh.size >= D_HI)) return
    a.mesh.add(b.i)
    b.mesh.add(a.i)
  }

  private disconnect (a: Agent, b: number): void {
    a.inbound.delete(b)
    this.agents[b].inbound.delete(a.i)
    a.mesh.delete(b)
    this.agents[b].mesh.delete(a.i)
    a.neighbours.delete(b)
    a.neighbourIds.delete(`a${b}`)
    const other = this.agents[b]
    other.neighbours.delete(a.i)
    other.neighbourIds.delete(a.id)
  }

  crash (a: Agent): void {
    a.up = false
    this.upCount--
    this.crashed.add(a.id)
    a.member = undefined
    a.election = undefined
  }

  /** After the member table changed: invariant counters, deadlines to check, the election told (once per burst). */
  private flush (a: Agent): void {
    const m = a.member as MemberAgent
    const changes = m.flush(this.now, c => { this.changed(a, c) })
    if (changes.length === 0) return
    // Told at once, not with the burst's event 50 ms on: the election reads the table in place,
    // and a bootstrap proposal formed from members the election had not been told of yet asked
    // none of them whether a voter set exists (a review found a newcomer pre-voting past the seed
    // that held the set, where the node, told in the same turn, asks it).
    this.tellEntered(a)
    if (!a.membersDirty) {
      a.membersDirty = true
      this.push({ at: this.now + 50, kind: 'members', agent: a.i })
    }
  }

  /**
   * The election reads the table in place (its roll); it is told only who entered it since it
   * was last told, still in it (a whole list each burst was O(N) per burst, N² in all).
   */
  private tellEntered (a: Agent): void {
    if (a.entered.length === 0) return
    const m = a.member as MemberAgent
    const entered: MemberInfo[] = []
    for (const p of new Set(a.entered)) {
      const state = m.table.state(p)
      if (state === 'alive' || state === 'suspect' || state === 'left') entered.push(this.memberInfo(p, m.table.eligible(p), state === 'left'))
    }
    a.entered = []
    a.election?.membersEntered(entered)
  }

  private changed (a: Agent, c: MemberChange): void {
    const live = (s: string): boolean => s === 'alive' || s === 'suspect'
    if ((live(c.to) && !live(c.from)) || (c.to === 'left' && c.from !== 'left')) a.entered.push(c.peerId)
    if (c.from === c.to) return
    if (c.to === 'alive') a.alive++
    if (c.from === 'alive') a.alive--
    if (this.crashed.has(c.peerId)) {
      if (c.to === 'offline') a.lostSeen++
      if (c.from === 'offline') a.lostSeen--
    }
    if (c.to === 'suspect') {
      // The suspicion ends at one of a few deadlines (the failure detector's timeoutFor of 0..k
      // confirmations): checked then, rounded up to 25 ms so that bursts share one check.
      const { suspicionMinMs: min, suspicionMaxMs: max, confirmationsForMin: k } = this.init.membership
      for (let c2 = 0; c2 <= k; c2++) {
        const t = Math.max(min, Math.round(max - (max - min) * Math.log(c2 + 1) / Math.log(k + 1)))
        this.tickAt(a, this.now + t)
      }
    }
    if (c.to === 'offline' && a.neighbours.has(this.index(c.peerId))) this.disconnect(a, this.index(c.peerId))
  }

  /**
   * One MemberInfo object per (agent, eligible, left), shared by every agent's election: each
   * election holds a list of every member, and an object each was 48 bytes per (agent, member) pair.
   * Four slots an agent, made at the start: grown by writing at an agent's index, the array was
   * sparse, and V8 kept it as a dictionary (5% of bench:sim's CPU at 3,000 agents, on this read).
   */
  private readonly infos: Array<MemberInfo | undefined>
  private memberInfo (peer: string, eligible: boolean, left: boolean): MemberInfo {
    const i = this.index(peer)
    const k = 4 * i + (eligible ? 1 : 0) + (left ? 2 : 0)
    return this.infos[k] ?? (this.infos[k] = left ? { peer: this.agents[i].id, eligible, left } : { peer: this.agents[i].id, eligible })
  }

  /**
   * An agent's member table lent to its election (election-roll.ts), as read in place: whether a
   * member is alive, and the lists built only for the rare reads that walk them.
   */
  private roll (m: MemberAgent): MemberRoll {
    const t = m.table
    const list = (left: boolean): MemberInfo[] => {
      const out: MemberInfo[] = []
      t.forEach((peer, state, eligible) => { if ((state === 'left') === left && (left || state === 'alive' || state === 'suspect')) out.push(this.memberInfo(peer, eligible, left)) })
      return out
    }
    return { alive: p => { const s = t.state(p); return s === 'alive' || s === 'suspect' }, members: () => list(false), left: () => list(true) }
  }

  private readonly ticks = new Map<string, true>()
  private tickAt (a: Agent, at: number): void {
    const t = Math.ceil(at / 25) * 25
    const key = `${a.i}@${t}`
    if (this.ticks.has(key)) return
    this.ticks.set(key, true)
    this.push({ at: t, kind: 'tick', agent: a.i })
  }

  private scheduleElection (a: Agent): void {
    const at = a.election?.nextWakeup() ?? Infinity
    if (at >= a.electionAt && a.electionAt > this.now) return
    a.electionAt = at
    this.push({ at: Math.max(at, this.now), kind: 'election', agent: a.i, stamp: at })
  }

  /** `asked`: the request just taken, from whom: the answers to that agent are its answers. */
  private drainElection (a: Agent, asked?: { from: string, request: ElectionMsg }): void {
    const e = a.election as Election
    const out = e.drain()
    for (const { to, msg } of out.messages) {
      const request = REQUESTS.has(msg.type)
      if (request && !a.neighbourIds.has(to) && !this.dialled.has(`${a.i}>${to}`)) {
        this.dialled.add(`${a.i}>${to}`)
        this.electionDials[msg.type] = (this.electionDials[msg.type] ?? 0) + 1
      }
      const answers = !request && asked !== undefined && to === asked.from ? { answers: { request: asked.request.msg, sentAt: asked.request.sentAt } } : {}
      this.send(a.i, this.index(to), { type: 'election', msg, sentAt: this.now, ...answers }, 'election', RPC_OVERHEAD_BYTES + jsonSize(msg))
    }
    if (out.announce !== undefined) {
      const id = ++this.announceId
      const size = RPC_OVERHEAD_BYTES + jsonSize(out.announce)
      a.heard.set(a.i, id)
      for (const nb of a.neighbours) this.send(a.i, nb, { type: 'announce', a: out.announce, id, size }, 'announce', size)
    }
    this.scheduleElection(a)
  }

  private deliver (ev: Extract<Ev, { kind: 'msg' }>): void {
    const a = this.agents[ev.to]
    if (!a.up) return
    const msg = ev.msg
    if (msg.type === 'connect') { this.connect(this.agents[ev.from], a); return }
    // A message between agents not connected travels on a connection the rpc opens (probes,
    // exchanges and gossip go to neighbours only; election messages go to voters directly).
    if (msg.type === 'election') {
      const from = this.agents[ev.from].id
      if (msg.answers !== undefined && staleAnswer(msg.answers.request, msg.msg, msg.answers.sentAt, a.election)) return
      a.election?.receive(from, msg.msg, this.now)
      this.drainElection(a, REQUESTS.has(msg.msg.type) ? { from, request: msg } : undefined)
      return
    }
    if (msg.type === 'announce') {
      const origin = this.index(msg.a.leader)
      if ((a.heard.get(origin) ?? 0) >= msg.id) return
      a.heard.set(origin, msg.id)
      a.election?.announcement(msg.a.leader, msg.a, this.now)
      this.drainElection(a)
      for (const nb of a.mesh) if (nb !== ev.from) this.send(a.i, nb, msg, 'announce', msg.size)
      return
    }
    const m = a.member as MemberAgent
    m.onMessage(this.agents[ev.from].id, msg, this.now)
    this.flush(a)
  }

  private timer (ev: Extract<Ev, { kind: 'gossip' | 'probe' | 'sync' | 'dial' | 'members' | 'tick' | 'election' | 'rejoin' }>): void {
    const a = this.agents[ev.agent]
    if (!a.up) return
    const m = a.member as MemberAgent
    const { membership } = this.init
    switch (ev.kind) {
      case 'gossip':
        m.gossipRound([...a.neighbourIds], this.init.gossipFanout)
        this.push({ at: this.now + membership.heartbeatIntervalMs, kind: 'gossip', agent: a.i })
        break
      case 'probe':
        for (const p of m.table.probeRound(this.now, a.neighbourIds)) {
          if (m.probe(p, this.now)) this.tickAt(a, this.now + m.table.probeTimeout(p))
        }
        this.flush(a)
        this.push({ at: this.now + membership.probeIntervalMs, kind: 'probe', agent: a.i })
        break
      case 'sync':
        if (a.neighbours.size > 0) m.sync(this.pick([...a.neighbourIds]))
        this.push({ at: this.now + membership.syncIntervalMs, kind: 'sync', agent: a.i })
        break
      case 'rejoin':
        if (a.neighbours.size === 0) this.joinRoundStart(a)
        break
      case 'dial': {
        this.handOff(a)
        for (const nb of a.neighbours) if (a.mesh.size < D_LO && !a.mesh.has(nb)) this.graft(a, this.agents[nb], true)
        // The dialer: members learnt, dialled until targetPeers connections.
        if (a.neighbours.size < this.init.targetPeers) {
          const known = this.unlinked(a)
          for (let k = a.neighbours.size; k < this.init.targetPeers && known.length > 0; k++) {
            this.dial(a, this.index(known.splice(Math.floor(this.random() * known.length), 1)[0]))
          }
        }
        this.push({ at: this.now + 1_000, kind: 'dial', agent: a.i })
        break
      }
      case 'members': {
        a.membersDirty = false
        this.tellEntered(a)
        this.drainElection(a)
        break
      }
      case 'tick':
        this.ticks.delete(`${a.i}@${ev.at}`)
        m.table.tick(this.now)
        this.flush(a)
        break
      case 'election':
        if (ev.stamp !== a.electionAt) return
        a.electionAt = Infinity
        a.election?.tick(this.now)
        a.election?.reviewVoters(this.now)
        this.drainElection(a)
        break
    }
  }

  /** Run events until `until`, or until `stop` says so (checked every `every` ms of simulated time). */
  run (until: number, stop?: () => boolean, every = 50): number {
    let nextCheck = this.now
    for (;;) {
      const ev = this.events.peek()
      if (ev === undefined || ev.at > until) { this.now = until; return this.now }
      if (stop !== undefined && ev.at >= nextCheck) {
        this.now = Math.max(this.now, nextCheck)
        if (stop()) return this.now
        nextCheck = this.now + every
        continue
      }
      this.events.pop()
      if ((++this.played & 0xfffff) === 0) this.onPlayed?.()
      this.now = Math.max(this.now, ev.at)
      if (ev.kind === 'msg') this.deliver(ev)
      else if (ev.kind === 'join') this.start(this.agents[ev.agent])
      else this.timer(ev)
    }
  }

  /** The coordinator in office and how many agents up follow it. */
  coordinator (): { leader?: string, followers: number } {
    const office = this.agents.filter(a => a.up && a.election?.inOffice(this.now) === true)
    this.officeMax = Math.max(this.officeMax, office.length)
    const leader = office[0]
    if (leader === undefined) return { followers: 0 }
    let followers = 0
    for (const a of this.agents) if (a.up && (a === leader || a.election?.currentLeader === leader.id)) followers++
    return { leader: leader.id, followers }
  }

  /** Members held per agent, at most (the table's size, every state). */
  maxTable (): number { let m = 0; for (const a of this.agents) if (a.member !== undefined) m = Math.max(m, a.member.table.size); return m }

  pick<T> (xs: T[]): T { return xs[Math.floor(this.random() * xs.length)] }
}

export { DEFAULT_MAX_MEMBERS }
