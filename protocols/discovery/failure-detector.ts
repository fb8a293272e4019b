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
export type MemberState = 'alive' | 'suspect' | 'offline' | 'left'

export interface FailureDetectorConfig {
  suspicionMinMs: number
  suspicionMaxMs: number
  /** Confirmations from distinct peers that bring the timeout down to the minimum. */
  confirmationsForMin: number
}

export interface Transition { peer: string, from: MemberState | 'unknown', to: MemberState, at: number, incarnation: number }

interface Member {
  state: MemberState
  incarnation: number
  since: number
  suspicion?: { startedAt: number, confirmations: Set<string>, deadline: number }
  /** This node's own probe of this incarnation failed: it accuses the member first-hand (`lost`). */
  accused?: boolean
}

/** Counts as present: alive, or suspected but not yet declared offline. */
export const isLive = (state: MemberState | 'unknown'): boolean => state === 'alive' || state === 'suspect'

export class FailureDetector {
  private readonly members = new Map<string, Member>()
  /**
   * Kept as states change, not counted on each read: a statement (`lost`), each gossip round
   * (`liveCount`) and the deadline timer read them on every change, and walking every member for
   * them made a join wave cost each agent O(N²) (bench:sim at 1,000 agents: most of its time).
   */
  private live = 0
  private readonly lostPeers = new Set<string>()
  constructor (private readonly config: FailureDetectorConfig) {
    if (config.suspicionMinMs > config.suspicionMaxMs) throw new RangeError('suspicionMinMs must not exceed suspicionMaxMs')
  }

  state (peer: string): MemberState | undefined { return this.members.get(peer)?.state }

  incarnation (peer: string): number | undefined { return this.members.get(peer)?.incarnation }

  since (peer: string): number | undefined { return this.members.get(peer)?.since }

  /** Every known member with its state. */
  view (): Array<{ peer: string, state: MemberState, incarnation: number, since: number }> {
    return [...this.members].map(([peer, m]) => ({ peer, state: m.state, incarnation: m.incarnation, since: m.since }))
  }

  /**
   * The members suspected or offline, without a copy of the alive ones (read on every change),
   * each with whether this node accuses it first-hand (its own probe failed): what a statement
   * names.
   */
  lost (): Array<{ peer: string, state: MemberState, incarnation: number, since: number, accused: boolean }> {
    const out: Array<{ peer: string, state: MemberState, incarnation: number, since: number, accused: boolean }> = []
    for (const peer of this.lostPeers) {
      const m = this.members.get(peer) as Member
      out.push({ peer, state: m.state, incarnation: m.incarnation, since: m.since, accused: m.accused === true })
    }
    return out
  }

  /** How many members are alive or suspect (each gossip round sizes its retransmissions by it). */
  liveCount (): number { return this.live }

  /** Each member's peer id and state, without a copy of the view (read on timers and on every burst of changes). */
  forEach (fn: (peer: string, state: MemberState) => void): void {
    for (const [peer, m] of this.members) fn(peer, m.state)
  }

  /** The member spoke (heartbeat, probe answer, any message), at the incarnation it said: alive, unless the word is stale. */
  heartbeat (peer: string, incarnation: number, now: number): Transition[] {
    if (!validIncarnation(incarnation)) return []
    const m = this.members.get(peer)
    if (m === undefined) return [this.set(peer, undefined, 'alive', incarnation, now)]
    if (incarnation < m.incarnation) return []
    // A member that left comes back only with a newer incarnation (a restart).
    if (m.state === 'left' && incarnation === m.incarnation) return []
    if (m.state === 'alive') { m.incarnation = incarnation; return [] }
    // Refutes a suspicion or an offline verdict only with an incarnation at least as new.
    return [this.set(peer, m, 'alive', incarnation, now)]
  }

  /** Our own probe of the member got no answer in time. */
  probeFailed (peer: string, by: string, now: number): Transition[] {
    const m = this.members.get(peer)
    if (m === undefined) return []
    const out = this.suspect(peer, m, m.incarnation, by, now)
    // Offline already (others' word came first): this node's own failed probe is still said, so
    // the accusation does not rest on accusers that may go away.
    if (m.state === 'suspect' || m.state === 'offline') m.accused = true
    return out
  }

  /** Whether this node accuses the member first-hand (its own probe failed, or it took up the accusation: `adopt`). */
  accuses (peer: string): boolean { return this.members.get(peer)?.accused === true }

  /** This node states a suspicion or verdict it heard as its own (its accusers are gone: member-table.ts, `reconsider`). */
  adopt (peer: string): void {
    const m = this.members.get(peer)
    if (m !== undefined && (m.state === 'suspect' || m.state === 'offline')) m.accused = true
  }

  /**
   * Another peer says it suspects the member at the incarnation it knew: taken only at the
   * incarnation the member itself last said here. An older one is stale (refuted already); a
   * newer one the member never said here, so it is a lie, or a word of the member this node has
   * not heard yet (the suspecter repeats its suspicions with every heartbeat: heard again once
   * this node has caught up).
   */
  suspicionReported (peer: string, by: string, incarnation: number, now: number): Transition[] {
    if (!validIncarnation(incarnation)) return []
    const m = this.members.get(peer)
    if (m === undefined || incarnation !== m.incarnation) return []
    return this.suspect(peer, m, incarnation, by, now)
  }

  /** The member itself announced that it leaves: final until it returns with a newer incarnation. */
  leave (peer: string, incarnation: number, now: number): Transition[] {
    if (!validIncarnation(incarnation)) return []
    const m = this.members.get(peer)
    if (m !== undefined && (incarnation < m.incarnation || m.state === 'left')) return []
    return [this.set(peer, m, 'left', incarnation, now)]
  }

  /** Let time pass: suspicions past their deadline become offline verdicts. */
  tick (now: number): Transition[] {
    const out: Transition[] = []
    for (const peer of this.lostPeers) {
      const m = this.members.get(peer) as Member
      if (m.state === 'suspect' && m.suspicion !== undefined && now >= m.suspicion.deadline) {
        out.push(this.set(peer, m, 'offline', m.incarnation, now))
      }
    }
    return out
  }

  /** Drop the member (reaped): nothing of it is kept; a word of it later makes it a member anew. */
  forget (peer: string): void {
    const m = this.members.get(peer)
    if (m === undefined) return
    if (isLive(m.state)) this.live--
    this.lostPeers.delete(peer)
    this.members.delete(peer)
  }

  /** How many members are known, in any state. */
  get size (): number { return this.members.size }

  /** When the next suspicion expires, for the caller's single timer; undefined if none. */
  nextDeadline (): number | undefined {
    let next: number | undefined
    for (const peer of this.lostPeers) {
      const m = this.members.get(peer) as Member
      if (m.state === 'suspect' && m.suspicion !== undefined && (next === undefined || m.suspicion.deadline < next)) next = m.suspicion.deadline
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

  private suspect (peer: string, m: Member, incarnation: number, by: string, now: number): Transition[] {
    if (m.state === 'left' || m.state === 'offline') return []
    if (m.state === 'alive') {
      const t = this.set(peer, m, 'suspect', incarnation, now)
      m.suspicion = { startedAt: now, confirmations: new Set([by]), deadline: now + this.config.suspicionMaxMs }
      return [t]
    }
    // Already suspect: an independent confirmation shortens the deadline (never lengthens it).
    const s = m.suspicion
    if (s === undefined || s.confirmations.has(by)) return []
    s.confirmations.add(by)
    s.deadline = Math.min(s.deadline, s.startedAt + this.timeoutFor(s.confirmations.size - 1))
    return []
  }

  /** Move a member to a state, in place (callers keep their reference), dropping any suspicion. */
  private set (peer: string, m: Member | undefined, to: MemberState, incarnation: number, now: number): Transition {
    const from = m?.state ?? 'unknown'
    const member = m ?? { state: to, incarnation, since: now }
    this.live += (isLive(to) ? 1 : 0) - (isLive(from) ? 1 : 0)
    if (to === 'suspect' || to === 'offline') this.lostPeers.add(peer)
    else this.lostPeers.delete(peer)
    member.state = to
    member.incarnation = incarnation
    member.since = now
    member.suspicion = undefined
    // Offline keeps the accusation (said on for those who learn the mesh later); a refutation or a leave ends it.
    if (to !== 'offline') member.accused = undefined
    if (m === undefined) this.members.set(peer, member)
    return { peer, from, to, at: now, incarnation }
  }
}

/** Incarnations are counters a member raises: a negative or fractional one is garbage, ignored. */
function validIncarnation (n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0
}
