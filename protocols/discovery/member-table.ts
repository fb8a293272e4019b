/**
 * The member view's pure core: what a node does with heartbeats (carrying the sender's
 * suspicions), probes and their answers, refutation by incarnation, and time passing. No I/O and
 * no timers: `MemberView` feeds it over gossip and RPC, and the election simulation drives the
 * same code over its simulated network. It wraps the FailureDetector (alive, suspect, offline,
 * left) and adds what agents tell of themselves (name, roles, eligibility), when each was last
 * heard, whom to probe next, and which probes are awaited.
 */
import { FailureDetector, isLive, type MemberState, type Transition } from './failure-detector.js'
import type { MemberTimings } from './member-timings.js'
import { ProbeTiming } from './probe-timing.js'
import type { SlotDirectory } from './slot-directory.js'
import { ADOPT_SHARE, EXCHANGE_FEEDBACK_LIMIT, GOSSIP_FEEDBACK_LIMIT, HEARSAY_SHARE } from './constants.js'
import { fnv1a } from '../core/fnv1a.js'
export { PROBE_TIMEOUT_MAX_FACTOR } from './probe-timing.js'

/**
 * murmur3's 32-bit finaliser: FNV-1a alone mixes its last characters weakly, so one agent's draws
 * for incarnations i and i + 1 were close (34% of those drawn at i drawn again at i + 1).
 */
function mix32 (h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

export interface Member {
  peerId: string
  name: string
  roles: string[]
  /** May vote and be elected coordinator. */
  eligible: boolean
  /**
   * Where `roles` come from (the member view sets it): `credential`, the roles its credential
   * grants (closed mesh); `claimed`, what its own statement says (open mesh, which trusts claims).
   */
  rolesSource?: 'credential' | 'claimed'
  /** Closed mesh: the capabilities its credential grants. */
  capabilities?: string[]
  /** Closed mesh: roles its statement claims that its credential does not grant (not roles it holds). */
  claimed?: string[]
  state: MemberState
  incarnation: number
  /** When it entered its state (ms since epoch). */
  since: number
  /** When this node last heard from it, directly or by gossip. */
  lastHeard: number
}

export interface MemberChange { peerId: string, name: string, from: MemberState | 'unknown', to: MemberState, incarnation: number }

export interface SelfInfo { peerId: string, name: string, roles: string[], eligible: boolean }

/** A heartbeat as gossiped (the MEMBERS_TOPIC payload). */
export interface Heartbeat extends SelfInfo {
  incarnation: number
  leaving?: boolean
  suspects: Array<{ peerId: string, incarnation: number }>
}

/**
 * Whether `after`, its author's newer statement, says what `before` said but for its accusations
 * (and seq): the same incarnation, leave, card, addresses and topics. Only such a statement may
 * be passed on as old news when its accusations told the receiver nothing (members.ts): an
 * incarnation is judged against the statement before, not against the failure detector, which
 * also learns one from probes (a refutation's neighbours that probe the suspect hear its new
 * incarnation before its statement; its statement is news to the mesh all the same).
 */
export function sameButAccusations (before: Heartbeat & Routes, after: Heartbeat & Routes): boolean {
  const same = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean =>
    (a?.length ?? 0) === (b?.length ?? 0) && (a ?? []).every((x, i) => x === (b as string[])[i])
  return before.incarnation === after.incarnation && (before.leaving ?? false) === (after.leaving ?? false) &&
    before.name === after.name && before.eligible === after.eligible && same(before.roles, after.roles) &&
    same(before.addrs, after.addrs) && same(before.topics, after.topics)
}

/**
 * Why a statement this node took is passed on, which decides how long (rumours.ts): `news` is
 * told its full count, the rest (old news) until a few neighbours answer they held it (`feedbackFor`).
 * - `exchange`: learnt from a full exchange, which the mesh's other agents run too.
 * - `join`: of an author this node's table does not hold (`held` false: no statement of it, and
 *   not met on a connection or a probe): a newcomer, or one forgotten. Every agent it reaches
 *   tells it on, so it was told ~7 times to each agent where a few would do (bench:sim, 1,000
 *   agents: 6,814 statements received per agent in a join wave). Feedback leaves a residue,
 *   about 1% of agents, that a full exchange reaches within about `syncIntervalMs`: late for a
 *   refutation, whose suspicion runs out in 2-6 s, but not for a join. A member the table holds
 *   without its statement (met on a connection, maybe suspected) is not a join: its statement
 *   may be the refutation.
 * - `accusations`: it told this node nothing (`told` false) and says what its author's statement
 *   before said, but for its accusations (`sameButAccusations`).
 * - `news`: a new incarnation, card, leave, address or topic, or an accusation that counts.
 * `before`: this node's statement of the author before this one, parsed only when asked.
 */
export type Telling = 'exchange' | 'join' | 'accusations' | 'news'

export function telling (full: boolean, held: boolean, told: boolean, before: () => (Heartbeat & Routes) | undefined, after: Heartbeat & Routes): Telling {
  if (full) return 'exchange'
  if (!held) return 'join'
  if (told) return 'news'
  const b = before()
  return b !== undefined && sameButAccusations(b, after) ? 'accusations' : 'news'
}

/**
 * How many neighbours must answer that they held a statement taken for `why` before it is no
 * longer told (rumours.ts `offer`); undefined: its full count. What a full exchange brought stops
 * at the first (`limits.exchange`), unless it told this node something of a member it held
 * (`newsOfHeld`: a refutation, a leave, a new incarnation or an accusation that counts, coming
 * over a healed partition): that keeps `limits.gossip`, as before, since feedback at one answer
 * leaves far more agents untold (Demers et al.: about a fifth, against 1% at three) and such
 * news must not wait for the next exchange. A join and accusations that told nothing: `limits.gossip`.
 */
export function feedbackFor (
  why: Telling, newsOfHeld: boolean, limits: { gossip: number, exchange: number } = { gossip: GOSSIP_FEEDBACK_LIMIT, exchange: EXCHANGE_FEEDBACK_LIMIT }
): number | undefined {
  if (why === 'news') return undefined
  return why === 'exchange' && !newsOfHeld ? limits.exchange : limits.gossip
}

/** What a statement may carry beside its heartbeat: where its author listens, and the topics it reads. */
interface Routes { addrs?: string[], topics?: string[] }

/** A probe's answer: the prober learns the agent's incarnation and what it tells of itself. */
export interface ProbeAnswer { incarnation: number, eligible: boolean, name: string, roles: string[] }

export interface MemberTableInit extends Omit<MemberTimings, 'syncIntervalMs'> {
  self: SelfInfo
  /** Start above any incarnation of an earlier run with the same identity (a node takes the clock). */
  incarnation: number
  /** In [0, 1): Math.random in a node, a seeded generator in the simulation. */
  random: () => number
  /**
   * What is kept of what an agent told of itself (a statement, a probe's answer): by default a
   * copy of its name, roles and eligibility, so that a node does not hold every parsed statement.
   * The scale simulation, whose agents all hold the same statement objects, keeps the statement
   * itself: one object for every agent that heard it, not one each.
   */
  told?: (source: Told) => Told
  /**
   * Told of each member's slot (`slotOf`) becoming live (alive, suspect) or not, and of a slot
   * let go (a reaped member), as it happens: columns kept by slot beside the table's follow
   * (member-digest-sums.ts: the digest's sums, read on every exchange without walking the table).
   */
  slots?: { live: (slot: number, live: boolean) => void, free: (slot: number) => void }
  /** Peer <-> slot shared with other tables (the scale simulation: slot-directory.ts); none, the table's own. */
  directory?: SlotDirectory
}

/** What an agent told of itself, never changed once kept (it may be shared, `MemberTableInit.told`). */
export interface Told { readonly name: string, readonly roles: string[], readonly eligible: boolean }

const copyTold = (t: Told): Told => ({ name: t.name, roles: t.roles, eligible: t.eligible })

export class MemberTable {
  private readonly init: MemberTableInit
  private readonly fd: FailureDetector
  /**
   * What each agent told of itself and when it was last heard, by the failure detector's slot
   * (`FailureDetector.slot`): one column of references and one of numbers, not a map of objects.
   */
  private readonly tellings: Array<Told | undefined> = []
  private heardAt = new Float64Array(0)
  private readonly toldOf: (source: Told) => Told
  private probeOrder: string[] = []
  /** Probes awaiting an answer: peer -> deadline. */
  private readonly probes = new Map<string, number>()
  /** Each probed peer's round trips: what its probes wait for (probe-timing.ts). */
  private readonly timing: ProbeTiming
  private changes: MemberChange[] = []
  private announceNow = false
  /** The accusations in each member's newest statement that names any: counted again as their parties change (`reconsider`). */
  private readonly accusations = new Map<string, Heartbeat['suspects']>()
  /** Who names each member in `accusations` (suspect -> accusers): what `reconsider` counts again when the suspect changes. */
  private readonly accusersOf = new Map<string, Set<string>>()
  /** This node's incarnation when `reconsider` last ran: a change counts the accusations of this node again. */
  private reconsidered: number
  /** What this node last told of itself (`statementDue`). */
  private told?: { incarnation: number, accused: Set<string> }
  incarnation: number

  constructor (init: MemberTableInit) {
    this.init = init
    this.fd = new FailureDetector(init)
    this.timing = new ProbeTiming(init.probeTimeoutMs)
    this.incarnation = init.incarnation
    this.reconsidered = init.incarnation
    this.toldOf = init.told ?? copyTold
  }

  /** The slot of `peer`'s notes, taken when `hold` and none is held yet, with the columns grown to the detector's. */
  private slot (peer: string, hold: boolean): number | undefined {
    const at = this.fd.slot(peer, hold)
    const capacity = this.fd.slotCapacity
    if (this.heardAt.length < capacity) {
      const heardAt = new Float64Array(capacity)
      heardAt.set(this.heardAt)
      this.heardAt = heardAt
      // Filled, not written past its end: with a shared directory a first slot may be far out, and
      // an array written there would turn sparse (a dictionary, far slower and larger).
      while (this.tellings.length < capacity) this.tellings.push(undefined)
    }
    return at
  }

  /** How many slots the columns have room for (a caller's own columns follow it: member-digest-sums.ts). */
  get slotCapacity (): number { return this.fd.slotCapacity }

  /** The slot `peer`'s notes are kept in (see `MemberTableInit.slots`), if it has one. */
  slotOf (peer: string): number | undefined { return this.fd.slot(peer) }

  /** Whose slot `slot` is (the inverse of `slotOf`), if held. */
  peerAt (slot: number): string | undefined { return this.fd.peerAt(slot) }

  /** What `peer` told of itself, if anything. */
  private info (peer: string): Told | undefined {
    const at = this.fd.slot(peer)
    return at === undefined ? undefined : this.tellings[at]
  }

  private lastHeard (peer: string): number {
    const at = this.fd.slot(peer)
    return at === undefined || this.tellings[at] === undefined ? 0 : this.heardAt[at]
  }

  /** Changes since the last drain, and whether to announce at once (a refutation). */
  drain (): { changes: MemberChange[], announce: boolean } {
    const out = { changes: this.changes, announce: this.announceNow }
    this.changes = []
    this.announceNow = false
    return out
  }

  /** Members alive or suspect, counted without a copy of the view. */
  liveCount (): number { return this.fd.liveCount() }

  members (): Member[] {
    return this.fd.view().map(v => this.entry(v.peer, v.state, v.incarnation, v.since))
  }

  /** One member's entry, without building the others' as `members` does. */
  member (peer: string): Member | undefined {
    const state = this.fd.state(peer)
    if (state === undefined) return undefined
    return this.entry(peer, state, this.fd.incarnation(peer) ?? 0, this.fd.since(peer) ?? 0)
  }

  /** Each member's peer id, state and whether it says it is eligible, without building entries. */
  forEach (fn: (peer: string, state: MemberState, eligible: boolean) => void): void {
    this.fd.forEach((peer, state, at) => { fn(peer, state, this.tellings[at]?.eligible ?? false) })
  }

  private entry (peer: string, state: MemberState, incarnation: number, since: number): Member {
    const i = this.info(peer)
    return { peerId: peer, name: i?.name ?? '', roles: [...(i?.roles ?? [])], eligible: i?.eligible ?? false, state, incarnation, since, lastHeard: this.lastHeard(peer) }
  }

  state (peer: string): MemberState | undefined { return this.fd.state(peer) }

  /** Whether `peer` says it is eligible (false until it says so), without building its entry. */
  eligible (peer: string): boolean { return this.info(peer)?.eligible ?? false }

  /** How many members are held, offline and left ones included. */
  get size (): number { return this.fd.size }

  /**
   * Drop the members offline or left for `afterMs` or more (memberlist/Serf's reap), with all
   * that is held of them; returned with the incarnation they had. No change is told: their
   * state did not change, they are only no longer listed.
   */
  reap (now: number, afterMs: number): Array<{ peer: string, incarnation: number }> {
    const out: Array<{ peer: string, incarnation: number }> = []
    for (const v of this.fd.view()) {
      if ((v.state !== 'offline' && v.state !== 'left') || now - v.since < afterMs) continue
      const at = this.fd.slot(v.peer)
      if (at !== undefined) { this.tellings[at] = undefined; this.init.slots?.free(at) }
      this.fd.forget(v.peer)
      this.forgetAccusations(v.peer)
      this.probes.delete(v.peer)
      this.timing.forget(v.peer)
      out.push({ peer: v.peer, incarnation: v.incarnation })
    }
    return out
  }

  /**
   * What this node says of itself: its incarnation, and whom it accuses first-hand (its own
   * probe failed, or it took up an accusation whose accusers are gone: `reconsider`): the
   * suspects first, then the most recently lost; 256 at most. Offline ones stay in it: a
   * statement is told once, not every second, and an agent that learns the mesh later (from a
   * neighbour's full exchange) must still hear that they are gone.
   */
  announcement (leaving = false): Heartbeat {
    // Only first-hand accusations: an agent that repeated every suspicion it heard made each
    // failure cost N statements, each signed and checked by N agents (N² signature checks: a
    // coordinator's crash at 100 agents put a fifth of every process's CPU in them, and its
    // loops fell seconds behind), and its echo counted as independent confirmations, shrinking
    // the suspicion timeout on one agent's word (memberlist counts only independent suspicions).
    // A heard accusation still spreads as its accuser's statement (gossip, full exchanges).
    const view = this.fd.accusedLost()
    const lost = [...view.filter(v => v.state === 'suspect'), ...view.filter(v => v.state === 'offline').sort((a, b) => b.since - a.since)]
    const suspects = lost.slice(0, 256).map(v => ({ peerId: v.peer, incarnation: v.incarnation }))
    return { ...this.init.self, incarnation: this.incarnation, suspects, ...(leaving ? { leaving } : {}) }
  }

  /**
   * This node's statement of itself when it says something new (undefined otherwise): a new
   * incarnation, a new accusation, or that it leaves. An accusation dropped (the suspect
   * refuted) needs no statement: the refutation outranks it wherever it is heard.
   */
  statementDue (leaving = false): Heartbeat | undefined {
    const hb = this.announcement(leaving)
    const accused = new Set(hb.suspects.map(s => `${s.peerId}@${s.incarnation}`))
    const told = this.told
    const news = leaving || told === undefined || told.incarnation !== hb.incarnation || [...accused].some(a => !told.accused.has(a))
    if (!news) return undefined
    this.told = { incarnation: hb.incarnation, accused }
    return hb
  }

  /**
   * A heartbeat gossiped by `from` (the publisher the gossip layer verified; the simulation's
   * messages are its own). Whom to believe, and on what (issue 13, after memberlist's state.go):
   * - A heartbeat speaks for its sender only: an incarnation, a "leaving" or a card claimed for
   *   another agent is dropped whole.
   * - Its suspicions count only if the sender was a member before it (alive or suspect after
   *   it): a stranger's first word, or the word of an agent gone, accuses nobody.
   * - A suspicion names an incarnation of the suspect; the failure detector takes it only up to
   *   the highest the suspect itself said (see `FailureDetector.suspicionReported`).
   * - A suspicion of this node refutes only at this node's own incarnation: one above it is of an
   *   incarnation this node never had, a lie (taking it would let anyone push the incarnation
   *   to MAX_SAFE_INTEGER, where it can no longer be refuted); one below is stale.
   * Returns whether it told this node anything: a state, an incarnation, a card, a leave, or an
   * accusation that counts (`accuse`). One that told nothing, and says what its author's statement
   * before it said but for its accusations (`sameButAccusations`), is passed on as old news
   * (members.ts, rumours.ts).
   */
  heartbeat (hb: Heartbeat, now: number, from = hb.peerId): boolean {
    if (from !== hb.peerId || from === this.init.self.peerId) return false
    const before = this.fd.state(from)
    const incarnation = this.fd.incarnation(from)
    const card = this.learn(from, hb, now)
    if (hb.leaving === true) { this.forgetAccusations(from); this.apply(this.fd.leave(from, hb.incarnation, now)); return true }
    this.apply(this.fd.heartbeat(from, hb.incarnation, now))
    // Only statements that accuse someone are held, indexed by whom they name (`reconsider`).
    this.holdAccusations(from, hb.suspects)
    const after = this.fd.state(from)
    const told = this.accuse(from, hb.suspects, before !== undefined && (after === 'alive' || after === 'suspect'), now)
    return told || card || before !== after || incarnation !== this.fd.incarnation(from)
  }

  /**
   * The accusations held are counted again (each probe round, and after a full exchange): a
   * statement is told once, so one heard before the suspect's own newest word, or from an agent
   * that was not yet a member, counts once this node has caught up. The old heartbeats did the
   * same by repeating every suspicion each second. Only what a change can have made count is
   * counted again: the accusations of a member and of its accusers once its state or incarnation
   * changed (the detector's `takeTouched`), and those of this node once its incarnation did.
   * Counting them all each round was most of the CPU of a crash (after one, every accuser's
   * statement is held by every agent for as long as it is kept: bench:sim, 17% of a 10% crash
   * at 2,000 agents, and growing with N), and the detector changes too often then for a walk to
   * be skipped while nothing changed.
   */
  reconsider (now: number): void {
    // Counting may change a state (a member made suspect) or this node's incarnation (refuted):
    // what that touched is counted in the next pass. Each pass changes less; past the fourth (only
    // a chain of accusations of this node at incarnations it has yet to reach, lies, goes on that
    // long) the rest waits for the next call, nothing lost: the touches stay with the detector.
    for (let pass = 0; pass < 4; pass++) {
      const touched = this.fd.takeTouched()
      if (this.reconsidered !== this.incarnation) { this.reconsidered = this.incarnation; touched.push(this.init.self.peerId) }
      if (touched.length === 0) break
      for (const peer of touched) {
        const own = this.accusations.get(peer)
        if (own !== undefined && isLive(this.fd.state(peer) ?? 'unknown')) for (const s of own) this.recount(peer, s, now)
        const accusers = this.accusersOf.get(peer)
        if (accusers === undefined) continue
        for (const accuser of accusers) {
          if (accuser === peer || !isLive(this.fd.state(accuser) ?? 'unknown')) continue
          for (const s of this.accusations.get(accuser) as Heartbeat['suspects']) if (s.peerId === peer) this.recount(accuser, s, now)
        }
      }
    }
    // A member held lost here that no accuser still in the mesh names (they died, left or
    // restarted): statements name first-hand accusations only, so its loss would rest on nobody,
    // and an agent that missed it, or learns the mesh later, would hold it alive for good. This
    // node takes the accusation up now and then: ADOPT_SHARE agents a round across the mesh on
    // average, not all of them at once (that was the N² the first-hand rule removed). The draw
    // comes first: whether anyone names it is asked only of the few drawn.
    const share = ADOPT_SHARE / Math.max(1, this.fd.liveCount())
    this.fd.forEachLost((peer, accused) => {
      if (!accused && this.init.random() < share && !this.named(peer)) this.fd.adopt(peer)
    })
  }

  /**
   * One accusation counted (a vouched one, asking nothing of what it told): of this node, refuted
   * at its own incarnation (a newer one outranks every suspicion of the older); of another, reported.
   */
  private recount (accuser: string, s: Heartbeat['suspects'][number], now: number): void {
    if (s.peerId === this.init.self.peerId) {
      if (s.incarnation === this.incarnation) { this.incarnation++; this.announceNow = true }
      return
    }
    if (s.peerId !== accuser) this.apply(this.fd.suspicionReported(s.peerId, accuser, s.incarnation, now))
  }

  /** Whether an accuser still in the mesh names `peer` at the incarnation held here. */
  private named (peer: string): boolean {
    const accusers = this.accusersOf.get(peer)
    if (accusers === undefined) return false
    const incarnation = this.fd.incarnation(peer)
    for (const accuser of accusers) {
      if (!isLive(this.fd.state(accuser) ?? 'unknown')) continue
      for (const s of this.accusations.get(accuser) as Heartbeat['suspects']) if (s.peerId === peer && s.incarnation === incarnation) return true
    }
    return false
  }

  /**
   * `from`'s newest statement's accusations, in place of what it said before, indexed by whom they
   * name. Only what changed is indexed again: an accuser's next statement mostly adds one name to
   * the last (after a crash every agent takes a few thousand of them).
   */
  private holdAccusations (from: string, suspects: Heartbeat['suspects']): void {
    const held = this.accusations.get(from)
    if (suspects.length === 0) { this.forgetAccusations(from); return }
    this.accusations.set(from, suspects)
    if (held !== undefined) {
      const named = held.length * suspects.length <= 64 ? undefined : new Set(suspects.map(s => s.peerId))
      for (const s of held) {
        const still = named !== undefined ? named.has(s.peerId) : suspects.some(x => x.peerId === s.peerId)
        if (!still) this.unindex(s.peerId, from)
      }
    }
    for (const s of suspects) {
      let accusers = this.accusersOf.get(s.peerId)
      if (accusers === undefined) { accusers = new Set(); this.accusersOf.set(s.peerId, accusers) }
      accusers.add(from)
    }
  }

  private forgetAccusations (from: string): void {
    const held = this.accusations.get(from)
    if (held === undefined) return
    this.accusations.delete(from)
    for (const s of held) this.unindex(s.peerId, from)
  }

  private unindex (suspect: string, accuser: string): void {
    const accusers = this.accusersOf.get(suspect)
    if (accusers === undefined) return
    accusers.delete(accuser)
    if (accusers.size === 0) this.accusersOf.delete(suspect)
  }

  /**
   * Take `from`'s accusations. Returns whether they told this node anything, or may have (so that
   * its statement is passed on at its full count, members.ts): one of this node, one that made a
   * member suspect or brought its suspicion's end nearer, or one this node cannot weigh yet (an
   * accuser not yet a member here, a suspect unknown here or at an incarnation it has not heard).
   * (`reconsider` counts the held ones again with `recount`, asking nothing.) One `from` made before is no news (its confirmation is held), nor is one of a
   * member held offline, a confirmation past `confirmationsForMin` (the suspicion's end no longer
   * moves), or a stale incarnation: memberlist re-gossips a suspicion only while it is a new
   * confirmation under its limit, for the same reason. After 10% of 1,000 agents crashed, every
   * survivor that probed one said so, and every other survivor heard each of those statements 16
   * times (bench:sim).
   */
  private accuse (from: string, suspects: Heartbeat['suspects'], vouched: boolean, now: number): boolean {
    let told = false
    for (const s of suspects) {
      if (s.peerId === this.init.self.peerId) { this.recount(from, s, now); told = true; continue }
      if (s.peerId === from) continue
      if (!vouched) { told = true; continue }
      if (told) { this.recount(from, s, now); continue }
      const known = this.fd.incarnation(s.peerId)
      const state = this.fd.state(s.peerId)
      const deadline = this.fd.suspicionDeadline(s.peerId)
      this.apply(this.fd.suspicionReported(s.peerId, from, s.incarnation, now))
      told = known === undefined || s.incarnation > known || state !== this.fd.state(s.peerId) || deadline !== this.fd.suspicionDeadline(s.peerId)
    }
    return told
  }

  /** A member spoke to this node directly (a gossip message, a full exchange): heard, at no new incarnation. */
  heard (peer: string, now: number): void {
    const at = this.fd.slot(peer)
    if (at !== undefined && this.tellings[at] !== undefined) this.heardAt[at] = now
  }

  /** An agent probed this node: it spoke, at the incarnation it gave. */
  probedBy (peer: string, incarnation: number, now: number): void {
    this.heard(peer, now)
    this.apply(this.fd.heartbeat(peer, incarnation, now))
  }

  /** An agent connected and showed its card: as good as a heartbeat at the incarnation we know. True: unknown till now, probe it. */
  seen (peer: string, card: { name: string, roles: string[] }, now: number): boolean {
    const at = this.slot(peer, true) as number
    const known = this.tellings[at]
    this.tellings[at] = this.toldOf({ name: card.name, roles: card.roles, eligible: known?.eligible ?? false })
    this.heardAt[at] = now
    this.apply(this.fd.heartbeat(peer, this.fd.incarnation(peer) ?? 0, now))
    // Eligibility is only told by heartbeats and probes: ask now rather than wait for gossip.
    return known === undefined
  }

  /**
   * Whom to probe this round, among the live members that are `neighbours` (connected: a probe
   * of another would open a connection, and probing everyone would connect everyone to
   * everyone): the next in shuffled order, and out of turn the one silent longest, if silent for
   * `silenceMs`, and a neighbour suspected on others' word only if drawn for it (`HEARSAY_SHARE`:
   * its first-hand confirmation, or the answer that clears it, comes within a probe, not in its
   * turn), or any suspect whose suspicion is still weakly held past `suspicionMinMs`. Three probes a round
   * at most, however many neighbours. Without `neighbours` (the simulation's network), every
   * live member is one. Held accusations are counted again first.
   */
  probeRound (now: number, neighbours?: ReadonlySet<string>): string[] {
    this.reconsider(now)
    const live = (p: string): boolean => { const s = this.fd.state(p); return (s === 'alive' || s === 'suspect') && (neighbours === undefined || neighbours.has(p)) }
    const candidates = (neighbours !== undefined ? [...neighbours] : this.fd.view().map(v => v.peer)).filter(live)
    const silence = (p: string): number => now - this.lastHeard(p)
    // Silent and still alive here: a suspect is already news, probed out of turn by its share
    // below (every neighbour probing a crashed one for its silence was the N³ of HEARSAY_SHARE).
    const silent = candidates.filter(p => silence(p) >= this.init.silenceMs && this.fd.state(p) === 'alive').sort((a, b) => silence(b) - silence(a))
    const out = silent.slice(0, 1)
    let next: string | undefined
    for (let tries = 0; next === undefined && tries < 2; tries++) {
      if (this.probeOrder.length === 0) this.probeOrder = this.shuffle([...candidates])
      while (next === undefined && this.probeOrder.length > 0) {
        const p = this.probeOrder.pop() as string
        if (live(p)) next = p
      }
    }
    if (next !== undefined && !out.includes(next)) out.push(next)
    // A suspect on others' word: probed by a share of the neighbours, the same ones every round
    // of this suspicion (a draw made again each round would, in time, have them all probe it).
    // A suspicion still weakly held once the earliest verdict could have come (fewer accusers than
    // shorten it to its minimum, `suspicionMinMs` after it began here) is probed by every
    // neighbour, its accusers too: the drawn ones may be few (a neighbour of neighbours with many
    // neighbours each), and a live suspect that cannot refute (its word does not reach the
    // accusers) is then held alive by each probe's answer, as before the share.
    const share = HEARSAY_SHARE / Math.max(1, candidates.length)
    const drawn = (p: string): boolean => share >= 1 || mix32(fnv1a(`${this.init.self.peerId} ${p} ${this.fd.incarnation(p) ?? 0}`)) / 2 ** 32 < share
    const weak = (p: string): boolean => {
      const s = this.fd.suspicion(p)
      return s !== undefined && s.accusers <= this.init.confirmationsForMin && now - s.startedAt >= this.init.suspicionMinMs
    }
    const hearsay = candidates.find(p => this.fd.state(p) === 'suspect' && !this.probes.has(p) && ((!this.fd.accuses(p) && drawn(p)) || weak(p)))
    if (hearsay !== undefined && !out.includes(hearsay)) out.push(hearsay)
    return out
  }

  /** How long a probe of `peer` waits: longer for a peer that has answered slowly (probe-timing.ts). */
  probeTimeout (peer: string): number { return this.timing.timeout(peer) }

  /** A probe of `peer` is to go out now; false when one is already awaited. */
  probeStarted (peer: string, now: number, timeoutMs = this.probeTimeout(peer)): boolean {
    if (this.probes.has(peer)) return false
    this.probes.set(peer, now + timeoutMs)
    this.timing.started(peer, now)
    return true
  }

  /**
   * `peer` answered the probe sent at `sentAt` (the last one when not given). A late answer
   * teaches the round trip only; one to an older probe, after a newer went out, answers nothing
   * more (it would have resolved the newer probe: a peer that died in between escaped a round).
   */
  probeAnswered (peer: string, answer: ProbeAnswer, now: number, sentAt?: number): void {
    if (!this.timing.answered(peer, now, sentAt)) return
    if (!this.probes.delete(peer)) return // too late: the probe already failed
    this.learn(peer, answer, now)
    this.apply(this.fd.heartbeat(peer, answer.incarnation, now))
  }

  /** The probe sent at `sentAt` (the latest when not given) failed; an older one's failure fails no newer probe. */
  probeFailed (peer: string, now: number, sentAt?: number): void {
    if (!this.timing.latest(peer, sentAt) || !this.probes.delete(peer)) return
    this.apply(this.fd.probeFailed(peer, this.init.self.peerId, now))
  }

  /** Let time pass: probes past their deadline fail, suspicions past theirs become offline. */
  tick (now: number): void {
    // Collected first: a failure deletes from the map walked (a copy of it on every timer was a cost of its own).
    let due: string[] | undefined
    for (const [peer, deadline] of this.probes) if (now >= deadline) (due ??= []).push(peer)
    if (due !== undefined) for (const peer of due) this.probeFailed(peer, now)
    this.apply(this.fd.tick(now))
  }

  /** The next suspicion or probe deadline, for the caller's single timer. */
  nextDeadline (): number | undefined {
    let next = this.fd.nextDeadline()
    for (const d of this.probes.values()) if (next === undefined || d < next) next = d
    return next
  }

  /**
   * What an agent told of itself. A change of eligibility is a member change of its own: the
   * election's view of who may vote must follow it, whether a heartbeat or a probe told it.
   */
  private learn (peer: string, told: Told, now: number): boolean {
    const at = this.slot(peer, true) as number
    const known = this.tellings[at]
    this.tellings[at] = this.toldOf(told)
    this.heardAt[at] = now
    // A member first heard through a probe has no eligibility yet (false to the listeners).
    const state = this.fd.state(peer)
    if ((known?.eligible ?? false) !== told.eligible && state !== undefined) this.change(peer, state, state)
    // Whether the card changed (the caller's news): roles compared in order, as they are told.
    return known === undefined || known.eligible !== told.eligible || known.name !== told.name ||
      known.roles.length !== told.roles.length || known.roles.some((r, i) => r !== told.roles[i])
  }

  private apply (transitions: readonly Transition[]): void {
    for (const t of transitions) this.change(t.peer, t.from, t.to, t.incarnation)
  }

  private change (peerId: string, from: MemberState | 'unknown', to: MemberState, incarnation = this.fd.incarnation(peerId) ?? 0): void {
    const slots = this.init.slots
    if (slots !== undefined && isLive(from) !== isLive(to)) slots.live(this.fd.slot(peerId) as number, isLive(to))
    this.changes.push({ peerId, name: this.info(peerId)?.name ?? '', from, to, incarnation })
  }

  private shuffle<T> (xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.init.random() * (i + 1))
      const tmp = xs[i]; xs[i] = xs[j]; xs[j] = tmp
    }
    return xs
  }
}
