/**
 * Before a node bootstraps a first voter set, the agents it met first are asked whether one
 * exists already (Consul's maybeBootstrap). A pure state machine, owned by the election: it is
 * told what the node sees and hears, and says whom to ask; the election sends the questions.
 *
 * Why: a bootstrap proposal takes the lowest peer ids it sees, capped at maxVoters, and wins
 * with every proposed vote. Agents that joined a mesh whose first set was made by others (the
 * three seeds, say) may all see the same five lowest, none of them in that set, and elect a
 * second coordinator before the first one's announcement reaches them (the election
 * simulation's join wave, with gossip a second and a half behind RPC: two in office). Agents
 * join through the ones they meet first, which hold the set by then; asked, they answer with
 * the leader's certificate, and a node shown one never bootstraps (election.ts
 * `bootstrapProposal`). The ones it is connected to are asked before them, to spare dials (`next`).
 */
import { BOOTSTRAP_CHECK_ASK, BOOTSTRAP_CHECK_MISSES } from './constants.js'
import { majority, type MemberInfo } from './voter-set.js'
import type { Certificate } from './election-types.js'

/** The agents remembered in the order first seen: the few asked come from the front. */
const FIRST_SEEN_KEPT = 64

/**
 * Whether the set of a leader's certificate shown to this node (`proof`) still stands: a node
 * shown one knows a set exists, and waits for it, never makes a second one, while a majority of
 * that set is alive in its view (gone, only a new one helps).
 */
export function provenSetAlive (proof: Certificate | undefined, self: string, alive: (peer: string) => boolean): boolean {
  const proven = proof?.config.voters
  return proven !== undefined && proven.filter(v => v === self || alive(v)).length >= majority(proven.length)
}

export class BootstrapCheck {
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

  /** The member view (this node's own entry included); `holds`: this node holds a voter set or a leader's proof. */
  see (members: MemberInfo[], self: string, holds: boolean): void {
    if (holds) this.firstSeen.clear()
    else for (const m of members) if (m.peer !== self && this.firstSeen.size < FIRST_SEEN_KEPT) this.firstSeen.add(m.peer)
  }

  /** The agents met first, in that order: the check asks from among them (none kept once a set is held or proven). */
  met (): string[] { return [...this.firstSeen] }

  /** When the question out went out: the service drops answers to older ones. */
  get startedAt (): number { return this.check?.at ?? Infinity }

  /**
   * A bootstrap of `proposed` is about to be campaigned for: the agents to ask first (the
   * question out is then this one), or undefined when the campaign may go ahead. The agents met
   * first, outside the proposal (its pre-vote asks those anyway), are asked, and the campaign
   * waits for their answers (`cleared` tells when all are in). An agent that left
   * BOOTSTRAP_CHECK_MISSES questions in a row unanswered sits one round out, so no silent agent
   * holds a bootstrap off for good; a slow one is asked again after it.
   *
   * Before them, the agents met that this node is connected to are asked, when that spares a
   * dial (a question to another opens a connection: in a 200-agent join wave the check dialled
   * the oldest agents 583-708 times). One that holds the set answers with the certificate and
   * nobody is dialled; only when they all know of none are the first met asked, so a bootstrap
   * always waits for the same agents as without it. Asking the connected ones alone let
   * newcomers handed on by their seeds, linked only to other newcomers, bootstrap a second set
   * (a reviewer's scenario, test/protocols/coordination/election-bootstrap.test.ts); and one silent connected agent
   * would have left nobody asked after a few rounds.
   */
  next (proposed: string[], members: MemberInfo[], connected: ((peer: string) => boolean) | undefined, now: number): string[] | undefined {
    const done = this.check
    this.check = undefined
    const cleared = done !== undefined && done.asked.every(p => done.clear.has(p))
    if (cleared && !done.partial) return undefined
    for (const p of done?.asked ?? []) if (!done?.clear.has(p)) this.misses.set(p, (this.misses.get(p) ?? 0) + 1)
    const alive = new Set(members.filter(m => m.eligible).map(m => m.peer))
    const met = [...this.firstSeen].filter(p => alive.has(p) && !proposed.includes(p))
    const askable = (p: string): boolean => (this.misses.get(p) ?? 0) < BOOTSTRAP_CHECK_MISSES
    const first = met.slice(0, BOOTSTRAP_CHECK_ASK)
    // Connected ones first at the start, and again while their question goes unanswered; once they cleared, the first met.
    const linkedTurn = connected !== undefined && (done === undefined || (done.partial && !cleared))
    const linked = linkedTurn ? met.filter(p => connected?.(p) === true && askable(p)).slice(0, BOOTSTRAP_CHECK_ASK) : []
    const partial = linked.length > 0 && first.some(p => !linked.includes(p))
    const candidates = partial ? linked : first
    const ask = candidates.filter(askable)
    for (const p of candidates) if (!ask.includes(p)) this.misses.delete(p)
    if (ask.length === 0) return undefined
    this.check = { asked: ask, clear: new Set(), at: now, partial }
    return ask
  }

  /**
   * Whom a node outside its own proposal asks (it never campaigns with it, so it has no bootstrap
   * to hold off): the agents met first that it is connected to, outside the proposal. Asked
   * without a dial, they show it the leader's certificate, which it shows in turn to newcomers
   * that met it first and ask it. Asking all the first met dialled most of them (100 agents on
   * views: 600-1,100 config queries to agents not connected in a join, most from such nodes);
   * asking none let such newcomers bootstrap a second set (docs/coordination.md).
   *
   * Such a node has no bootstrap to hold off, so a question out from when its proposal held it is
   * dropped here (`withdraw`). Kept, it was closed again by every later "no set" from one of the
   * agents it asked, and each time the election asked these agents again, whose answers did the
   * same (bench:sim at 1,000 agents: config queries doubling each round trip, 633,735 in 50
   * simulated ms, the join never done).
   */
  linked (proposed: string[], alive: (peer: string) => boolean, connected: ((peer: string) => boolean) | undefined): string[] {
    this.withdraw()
    if (connected === undefined) return []
    return [...this.firstSeen].filter(p => connected(p) && alive(p) && !proposed.includes(p)).slice(0, BOOTSTRAP_CHECK_ASK)
  }

  /**
   * No bootstrap to hold off now (no proposal, or one without this node): the question out is
   * dropped, so that answers to it are no go-ahead for a campaign later, when the mesh may have
   * made a set meanwhile; the next proposal asks again. Undefined: the election's "no proposal".
   */
  withdraw (): undefined {
    this.check = undefined
    return undefined
  }

  /** A leader's certificate was shown to this node: no question is out any more, and none will be. */
  proven (): void {
    this.check = undefined
    this.firstSeen.clear()
  }

  /** `from` answered that it knows of no set: true when every agent asked has answered so. */
  cleared (from: string): boolean {
    const check = this.check
    if (check === undefined || !check.asked.includes(from)) return false
    this.misses.delete(from)
    check.clear.add(from)
    return check.asked.every(p => check.clear.has(p))
  }
}
