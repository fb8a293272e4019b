/**
 * Failure detection as a pure state machine (no I/O, no timers: the caller feeds it events and
 * the time), after hashicorp/memberlist's state.go and suspicion.go:
 *
 *   alive --probe failed / suspicion reported--> suspect --timeout--> offline
 *   any   --leave (graceful, announced)-------> left
 *   suspect/offline --heartbeat with an incarnation at least as new--> alive (refuted)
 *
 * A suspicion lasts `suspicionMaxMs` when one peer suspects, and shrinks toward
 * `suspicionMinMs` as independent peers confirm it (memberlist's formula, logarithmic in the
 * confirmations up to `confirmationsForMin`). So a node that is merely slow is not declared dead
 * on one peer's word, while a node many peers cannot reach is declared dead quickly.
 *
 * Incarnations order a member's own statements: a member refutes a suspicion of itself by
 * raising its incarnation; a stale statement (lower incarnation) is ignored. A member's
 * incarnation here is only ever raised by its own word (`heartbeat` and `leave` are called with
 * what the member itself said), never by what others say of it: a suspicion of an incarnation
 * above it is ignored. Otherwise one suspicion at MAX_SAFE_INTEGER would make any live member
 * offline for good, as it could never say an incarnation above it to refute it.
 */
import { SlotDirectory } from './slot-directory.js'

export type MemberState = 'alive' | 'suspect' | 'offline' | 'left'

export interface FailureDetectorConfig {
  suspicionMinMs: number
  suspicionMaxMs: number
  /** Confirmations from distinct peers that bring the timeout down to the minimum. */
  confirmationsForMin: number
  /**
   * Peer <-> slot, shared with other tables (the scale simulation's agents: slot-directory.ts).
   * None: this detector owns one, and a forgotten member's slot goes to the next newcomer.
   */
  directory?: SlotDirectory
}

export interface Transition { peer: string, from: MemberState | 'unknown', to: MemberState, at: number, incarnation: number }

/**
 * No transition: one array for every call that changes nothing (most heartbeats), not a new one
 * each (8% of the bytes bench:sim allocated in a 10,000-agent join's first half million events).
 */
const NONE: readonly Transition[] = Object.freeze([])

/** A member suspected or offline, and whether this node accuses it first-hand. */
export interface Lost { peer: string, state: MemberState, incarnation: number, since: number, accused: boolean }

interface Suspicion { startedAt: number, confirmations: Set<string>, deadline: number }

const STATES: readonly MemberState[] = ['alive', 'suspect', 'offline', 'left']
const CODE: Record<MemberState, number> = { alive: 1, suspect: 2, offline: 3, left: 4 }
/** A slot this detector does not hold (a typed array starts so). */
const FREE = 0
/** A slot held for a peer that is not a member (yet): the caller's notes of it (`slot`), no state. */
const UNKNOWN = 5
const isMember = (code: number): boolean => code !== FREE && code !== UNKNOWN

/** Counts as present: alive, or suspected but not yet declared offline. */
export const isLive = (state: MemberState | 'unknown'): boolean => state === 'alive' || state === 'suspect'

/**
 * A member is a slot in columns of numbers, not an object: every agent holds every other, and
 * the scale simulation holds N agents' tables in one process (bench/sim.ts: an object, a map
 * entry and two boxed numbers per (agent, member) pair were most of its 400 B a pair at 1,000).
 * Suspicions, few at a time, are kept apart. Which slot is whose is a SlotDirectory's: the
 * detector's own (a forgotten member's slot goes to the next newcomer, and the walks follow slot
 * order, which is first-held order until a slot is reused), or one shared by many tables.
 */
export class FailureDetector {
  /** Peer <-> slot (slot-directory.ts): `view` and `forEach` walk the slots in order. */
  private readonly slots: SlotDirectory
  /** Whether `slots` is this detector's own (then a forgotten member's slot is released). */
  private readonly owns: boolean
  private capacity = 0
  /** Slots below it may be held here: the walks end there. */
  private used = 0
  private codes = new Uint8Array(0)
  /** This node's own probe of this incarnation failed: it accuses the member first-hand (`lost`). */
  private accusedBy = new Uint8Array(0)
  private incarnations = new Float64Array(0)
  private sinces = new Float64Array(0)
  private readonly suspicions = new Map<string, Suspicion>()
  /**
   * No suspicion held runs out before it (a bound, not always the earliest: one ended by a
   * refutation leaves it where it was). `tick` runs on every timer of its owner, and walking the
   * lost members each time was 6% of the CPU of a 10% crash at 2,000 agents (bench:sim).
   */
  private earliest = Infinity
  private members = 0
  /**
   * Kept as states change, not counted on each read: a statement (`lost`), each gossip round
   * (`liveCount`) and the deadline timer read them on every change, and walking every member for
   * them made a join wave cost each agent O(N²) (bench:sim at 1,000 agents: most of its time).
   */
  private live = 0
  /**
   * The slots of the members suspected or offline, in the order they became so: walked on every
   * statement this node issues and every tick, by slot so that no walk reads the directory's map
   * (those reads were 3% of bench:sim's crash phase at 2,000 agents).
   */
  private readonly lostSlots = new Set<number>()
  /**
   * The slots whose member changed state or incarnation, or became a member, since the last
   * `takeTouched` (a flag column and the list of those flagged): a caller that derived something
   * from them (the member table's held accusations, `reconsider`) derives it again for those
   * only, not for every member each probe round.
   */
  private touchedAt = new Uint8Array(0)
  private touchedSlots: number[] = []
  constructor (private readonly config: FailureDetectorConfig) {
    if (config.suspicionMinMs > config.suspicionMaxMs) throw new RangeError('suspicionMinMs must not exceed suspicionMaxMs')
    this.owns = config.directory === undefined
    this.slots = config.directory ?? new SlotDirectory()
  }

  /**
   * The slot of `peer` (held from its first word until `forget`), for a caller that keeps its own
   * columns of what it knows of each member beside these (member-table.ts); with `hold`, one is
   * taken for a peer not yet a member. Undefined when none is held.
   */
  slot (peer: string, hold = false): number | undefined {
    const at = this.slots.slotOf(peer)
    if (at !== undefined && at < this.capacity && this.codes[at] !== FREE) return at
    return hold ? this.take(peer) : undefined
  }

  /** The peer whose slot `at` is, while this detector holds it (member or not yet). */
  peerAt (at: number): string | undefined {
    return at >= 0 && at < this.used && this.codes[at] !== FREE ? this.slots.peerAt(at) : undefined
  }

  /** The members whose state or incarnation changed, or that became members, since the last call, in the order first touched. */
  takeTouched (): string[] {
    const out: string[] = []
    for (const at of this.touchedSlots) {
      this.touchedAt[at] = 0
      // A slot forgotten since (and perhaps taken by another peer, not yet a member) has nothing to derive.
      if (at < this.used && isMember(this.codes[at])) out.push(this.slots.peerAt(at) as string)
    }
    this.touchedSlots = []
    return out
  }

  private touch (at: number): void {
    if (this.touchedAt[at] === 1) return
    this.touchedAt[at] = 1
    this.touchedSlots.push(at)
  }

  /** How many slots the columns have room for: a caller's own columns follow it. */
  get slotCapacity (): number { return this.capacity }

  private take (peer: string): number {
    const at = this.slots.take(peer)
    // Room for every slot the directory has handed out. A table's own directory hands them out
    // one by one, so its columns grow a quarter at a time. A shared one (the simulation's) knows
    // every peer from the start, so the columns take room for them all at once, not in the ~30
    // steps from 16 to 10,000, each a copy and garbage (3% of a 10,000-agent join's CPU, and
    // buffers outside the heap that called the collector in).
    if (at >= this.capacity) this.grow(this.slots.end)
    if (at >= this.used) this.used = at + 1
    this.codes[at] = UNKNOWN
    this.accusedBy[at] = 0
    this.incarnations[at] = 0
    this.sinces[at] = 0
    return at
  }

  /** Room for `min` slots, a quarter more at least: doubling would leave up to half of every agent's columns unused. */
  private grow (min: number): void {
    const capacity = Math.max(16, min, Math.ceil(this.capacity * 1.25))
    const codes = new Uint8Array(capacity); codes.set(this.codes); this.codes = codes
    const accused = new Uint8Array(capacity); accused.set(this.accusedBy); this.accusedBy = accused
    const incarnations = new Float64Array(capacity); incarnations.set(this.incarnations); this.incarnations = incarnations
    const sinces = new Float64Array(capacity); sinces.set(this.sinces); this.sinces = sinces
    const touched = new Uint8Array(capacity); touched.set(this.touchedAt); this.touchedAt = touched
    this.capacity = capacity
  }

  private at (peer: string): number | undefined {
    const at = this.slots.slotOf(peer)
    return at === undefined || at >= this.capacity || !isMember(this.codes[at]) ? undefined : at
  }

  state (peer: string): MemberState | undefined { const at = this.at(peer); return at === undefined ? undefined : STATES[this.codes[at] - 1] }

  incarnation (peer: string): number | undefined { const at = this.at(peer); return at === undefined ? undefined : this.incarnations[at] }

  since (peer: string): number | undefined { const at = this.at(peer); return at === undefined ? undefined : this.sinces[at] }

  /** While `peer` is suspect: when this node's suspicion of it began, and how many accusers it counts (first-hand and reported). */
  suspicion (peer: string): { startedAt: number, accusers: number } | undefined {
    const s = this.state(peer) === 'suspect' ? this.suspicions.get(peer) : undefined
    return s === undefined ? undefined : { startedAt: s.startedAt, accusers: s.confirmations.size }
  }

  /** When the suspicion of `peer` runs out, while it is suspect. */
  suspicionDeadline (peer: string): number | undefined { return this.state(peer) === 'suspect' ? this.suspicions.get(peer)?.deadline : undefined }

  /** Every known member with its state. */
  view (): Array<{ peer: string, state: MemberState, incarnation: number, since: number }> {
    const out: Array<{ peer: string, state: MemberState, incarnation: number, since: number }> = []
    for (let at = 0; at < this.used; at++) {
      if (!isMember(this.codes[at])) continue
      out.push({ peer: this.slots.peerAt(at) as string, state: STATES[this.codes[at] - 1], incarnation: this.incarnations[at], since: this.sinces[at] })
    }
    return out
  }

  /**
   * The members suspected or offline, without a copy of the alive ones (read on every change),
   * each with whether this node accuses it first-hand (its own probe failed): what a statement
   * names.
   */
  lost (): Lost[] {
    const out: Lost[] = []
    for (const at of this.lostSlots) {
      const peer = this.slots.peerAt(at) as string
      out.push({ peer, state: STATES[this.codes[at] - 1], incarnation: this.incarnations[at], since: this.sinces[at], accused: this.accusedBy[at] === 1 })
    }
    return out
  }

  /** Each member suspected or offline, in `lost()`'s order, with whether this node accuses it first-hand, without building the list. */
  forEachLost (fn: (peer: string, accused: boolean) => void): void {
    for (const at of this.lostSlots) fn(this.slots.peerAt(at) as string, this.accusedBy[at] === 1)
  }

  /** `lost()`'s members that this node accuses first-hand, only (what its statement names): the others are not built. */
  accusedLost (): Lost[] {
    const out: Lost[] = []
    for (const at of this.lostSlots) {
      if (this.accusedBy[at] !== 1) continue
      const peer = this.slots.peerAt(at) as string
      out.push({ peer, state: STATES[this.codes[at] - 1], incarnation: this.incarnations[at], since: this.sinces[at], accused: true })
    }
    return out
  }

  /** How many members are alive or suspect (each gossip round sizes its retransmissions by it). */
  liveCount (): number { return this.live }

  /** Each member's peer id and state, without a copy of the view (read on timers and on every burst of changes); with its slot. */
  forEach (fn: (peer: string, state: MemberState, slot: number) => void): void {
    for (let at = 0; at < this.used; at++) if (isMember(this.codes[at])) fn(this.slots.peerAt(at) as string, STATES[this.codes[at] - 1], at)
  }

  /** The member spoke (heartbeat, probe answer, any message), at the incarnation it said: alive, unless the word is stale. */
  heartbeat (peer: string, incarnation: number, now: number): readonly Transition[] {
    if (!validIncarnation(incarnation)) return NONE
    const at = this.at(peer)
    if (at === undefined) return [this.set(peer, undefined, 'alive', incarnation, now)]
    if (incarnation < this.incarnations[at]) return NONE
    const state = STATES[this.codes[at] - 1]
    // A member that left comes back only with a newer incarnation (a restart).
    if (state === 'left' && incarnation === this.incarnations[at]) return NONE
    if (state === 'alive') {
      if (this.incarnations[at] !== incarnation) { this.incarnations[at] = incarnation; this.touch(at) }
      return NONE
    }
    // Refutes a suspicion or an offline verdict only with an incarnation at least as new.
    return [this.set(peer, at, 'alive', incarnation, now)]
  }

  /** Our own probe of the member got no answer in time. */
  probeFailed (peer: string, by: string, now: number): readonly Transition[] {
    const at = this.at(peer)
    if (at === undefined) return NONE
    const out = this.suspect(peer, at, this.incarnations[at], by, now)
    // Offline already (others' word came first): this node's own failed probe is still said, so
    // the accusation does not rest on accusers that may go away.
    const state = STATES[this.codes[at] - 1]
    if ((state === 'suspect' || state === 'offline') && this.accusedBy[at] !== 1) this.accusedBy[at] = 1
    return out
  }

  /** Whether this node accuses the member first-hand (its own probe failed, or it took up the accusation: `adopt`). */
  accuses (peer: string): boolean { const at = this.at(peer); return at !== undefined && this.accusedBy[at] === 1 }

  /** This node states a suspicion or verdict it heard as its own (its accusers are gone: member-table.ts, `reconsider`). */
  adopt (peer: string): void {
    const at = this.at(peer)
    if (at !== undefined && (this.codes[at] === CODE.suspect || this.codes[at] === CODE.offline)) this.accusedBy[at] = 1
  }

  /**
   * Another peer says it suspects the member at the incarnation it knew: taken only at the
   * incarnation the member itself last said here. An older one is stale (refuted already); a
   * newer one the member never said here, so it is a lie, or a word of the member this node has
   * not heard yet (the suspecter repeats its suspicions with every heartbeat: heard again once
   * this node has caught up).
   */
  suspicionReported (peer: string, by: string, incarnation: number, now: number): readonly Transition[] {
    if (!validIncarnation(incarnation)) return NONE
    const at = this.at(peer)
    if (at === undefined || incarnation !== this.incarnations[at]) return NONE
    return this.suspect(peer, at, incarnation, by, now)
  }

  /** The member itself announced that it leaves: final until it returns with a newer incarnation. */
  leave (peer: string, incarnation: number, now: number): readonly Transition[] {
    if (!validIncarnation(incarnation)) return NONE
    const at = this.at(peer)
    if (at !== undefined && (incarnation < this.incarnations[at] || this.codes[at] === CODE.left)) return NONE
    return [this.set(peer, at, 'left', incarnation, now)]
  }

  /** Let time pass: suspicions past their deadline become offline verdicts. */
  tick (now: number): readonly Transition[] {
    const out: Transition[] = []
    if (now < this.earliest) return out
    let earliest = Infinity
    for (const at of this.lostSlots) {
      if (this.codes[at] !== CODE.suspect) continue
      const peer = this.slots.peerAt(at) as string
      const s = this.suspicions.get(peer)
      if (s === undefined) continue
      if (now >= s.deadline) out.push(this.set(peer, at, 'offline', this.incarnations[at], now))
      else earliest = Math.min(earliest, s.deadline)
    }
    this.earliest = earliest
    return out
  }

  /** Drop the member (reaped): nothing of it is kept, its slot neither; a word of it later makes it a member anew. */
  forget (peer: string): void {
    const at = this.slot(peer)
    if (at === undefined) return
    if (isMember(this.codes[at])) {
      if (isLive(STATES[this.codes[at] - 1])) this.live--
      this.members--
    }
    this.lostSlots.delete(at)
    this.suspicions.delete(peer)
    this.codes[at] = FREE
    if (this.owns) this.slots.release(peer)
  }

  /** How many members are known, in any state. */
  get size (): number { return this.members }

  /** When the next suspicion expires, for the caller's single timer; undefined if none. */
  nextDeadline (): number | undefined {
    if (this.earliest === Infinity) return undefined
    let next: number | undefined
    for (const at of this.lostSlots) {
      if (this.codes[at] !== CODE.suspect) continue
      const s = this.suspicions.get(this.slots.peerAt(at) as string)
      if (s !== undefined && (next === undefined || s.deadline < next)) next = s.deadline
    }
    return next
  }

  /** memberlist: max - (max - min) * log(c + 1) / log(k + 1), never below min. */
  timeoutFor (confirmations: number): number {
    const { suspicionMinMs: min, suspicionMaxMs: max, confirmationsForMin: k } = this.config
    if (k <= 0) return min
    const frac = Math.log(Math.min(confirmations, k) + 1) / Math.log(k + 1)
    return Math.max(min, Math.round(max - (max - min) * frac))
  }

  private suspect (peer: string, at: number, incarnation: number, by: string, now: number): readonly Transition[] {
    const code = this.codes[at]
    if (code === CODE.left || code === CODE.offline) return NONE
    if (code === CODE.alive) {
      const t = this.set(peer, at, 'suspect', incarnation, now)
      this.suspicions.set(peer, { startedAt: now, confirmations: new Set([by]), deadline: now + this.config.suspicionMaxMs })
      this.earliest = Math.min(this.earliest, now + this.config.suspicionMaxMs)
      return [t]
    }
    // Already suspect: an independent confirmation shortens the deadline (never lengthens it).
    const s = this.suspicions.get(peer)
    if (s === undefined || s.confirmations.has(by)) return NONE
    s.confirmations.add(by)
    s.deadline = Math.min(s.deadline, s.startedAt + this.timeoutFor(s.confirmations.size - 1))
    this.earliest = Math.min(this.earliest, s.deadline)
    return NONE
  }

  /** Move a member (`at`: its slot; none: new) to a state, dropping any suspicion. */
  private set (peer: string, held: number | undefined, to: MemberState, incarnation: number, now: number): Transition {
    const from = held === undefined ? 'unknown' : STATES[this.codes[held] - 1]
    const at = held ?? this.slot(peer, true) as number
    if (held === undefined) this.members++
    this.live += (isLive(to) ? 1 : 0) - (isLive(from) ? 1 : 0)
    if (to === 'suspect' || to === 'offline') this.lostSlots.add(at)
    else this.lostSlots.delete(at)
    this.codes[at] = CODE[to]
    this.incarnations[at] = incarnation
    this.sinces[at] = now
    this.suspicions.delete(peer)
    // Offline keeps the accusation (said on for those who learn the mesh later); a refutation or a leave ends it.
    if (to !== 'offline') this.accusedBy[at] = 0
    this.touch(at)
    return { peer, from, to, at: now, incarnation }
  }
}

/** Incarnations are counters a member raises: a negative or fractional one is garbage, ignored. */
function validIncarnation (n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0
}
