/**
 * What the member gossip passes on, pure (no I/O, no time): the newest statement held of each
 * agent, and the queue of those still to be told, after hashicorp/memberlist's
 * TransmitLimitedQueue. A statement new to this node is queued; each gossip round hands the
 * least-told ones to a few random neighbours, and one told `retransmitMult * ceil(log10(n + 1))`
 * times (n: the members known) leaves the queue. So every agent passes each piece of news on a
 * logarithmic number of times, and an agent with nothing new sends nothing at all: what a mesh
 * at rest costs does not grow with its size.
 *
 * The held statements are also what a full exchange (`member-sync`) sends: a newcomer learns the
 * mesh from one neighbour, and two agents that missed some news catch up.
 *
 * The queue is bounded (`maxQueued`): a join wave teaches an agent statements far faster than its
 * rounds tell them, and past the bound those told most, of the neighbour with the most queued,
 * leave it untold. They stay held, so full exchanges still carry them.
 *
 * Old news (a statement learnt from a full exchange, a member's first statement here (its join),
 * or one whose only news was accusations that told this node nothing: member-table.ts `telling`)
 * is offered with a `feedback` count, and also leaves the queue once that many neighbours answered
 * a gossip message that they held it already (Demers et al. 1987, "rumor mongering" with feedback
 * and counter): news that is old to the mesh stops being told long before the count of
 * transmissions runs out. The caller picks the count by why it is old (constants.ts: one answer
 * for what a full exchange brought, three for the rest). Without it, a join wave cost N^2 log N
 * statement receipts (every newcomer told every statement of its seed's full exchange 16 times
 * at 1,000 agents, almost all to agents that held it; bench:sim, issue 46), and a newcomer's
 * own statement reached each agent ~7 times. Other news heard in
 * gossip (a new incarnation, card, leave, address or topic, an accusation that counts) and this
 * node's own statements keep their full count: feedback leaves a residue (about 1% of agents,
 * for three answers) that waits for a full exchange, every 5 s, and a refutation that waited so
 * long would come after its suspicion ran out (2-6 s). So an answer, true or a lie, only shortens
 * the telling of what a full exchange already carried, what told this node nothing, or a join
 * (which honest agents' full exchanges then carry within about `syncIntervalMs`; neighbours
 * lying that they held it, a fifth of the mesh or more, can delay it a few intervals but not stop
 * it), and a neighbour's answers count once. What a full exchange brought stops at one answer: one
 * lying neighbour stops this node telling it, but the agent that gave it holds it, and every
 * agent's own exchanges carry it on.
 */
import type { SlotDirectory } from './slot-directory.js'

export interface RumoursInit<T> {
  /** memberlist's RetransmitMult. */
  retransmitMult: number
  /**
   * An item's identity (a statement's signature) and whether two items with it are the same
   * (the same body): with it, `holds` tells a copy of a held item without parsing it.
   */
  identity?: { of: (item: T) => string, same: (a: T, b: T) => boolean }
  /**
   * The sequence number an item carries, when it carries one readable without parsing: then only
   * the item is held, no record of (seq, item) beside it. The scale simulation's statements do,
   * and every agent then holds the same statement object, where a record each cost 56 bytes per
   * (agent, member) pair. A node's signed statements keep their seq in their body: recorded apart.
   */
  seqOf?: (item: T) => number
  /**
   * Keys' slots in a directory shared by many holders that never frees one (the scale
   * simulation's agents: slot-directory.ts): the items held are then kept in an array by slot,
   * not a map by key. A map entry was ~40 bytes per (agent, member) pair, ~4 GB of a
   * 10,000-agent simulation's heap once all know all, and a read of it missed the cache where the
   * shared directory's map stays in it (bench:sim, issue 46). A node's own directory frees slots
   * for newcomers: its rumours keep their map.
   */
  directory?: Pick<SlotDirectory, 'slotOf' | 'take' | 'peerAt'>
  /**
   * Statements queued at most: past it, records leave the queue untold, from the neighbour with
   * the most queued, the most told of them first (`prune`; memberlist's TransmitLimitedQueue.Prune,
   * as Serf calls it past MaxQueueDepth); this node's own never do. They stay held, so full
   * exchanges still carry them. None: unbounded.
   */
  maxQueued?: number
}

/** Where the newest item of each key is held: a map (a node's), or an array by a shared slot (`SlotHeld`). */
interface Held<T> {
  get: (key: string) => T | undefined
  set: (key: string, item: T) => void
  delete: (key: string) => void
  readonly size: number
  keys: () => Iterable<string>
}

/** The items held in an array by their keys' slots in a shared directory (`RumoursInit.directory`); `keys` in slot order. */
class SlotHeld<T> implements Held<T> {
  private readonly items: Array<T | undefined> = []
  private readonly directory: NonNullable<RumoursInit<T>['directory']>
  size = 0

  constructor (directory: NonNullable<RumoursInit<T>['directory']>) { this.directory = directory }

  get (key: string): T | undefined {
    const at = this.directory.slotOf(key)
    return at === undefined ? undefined : this.items[at]
  }

  set (key: string, item: T): void {
    const at = this.directory.take(key)
    // Filled, not written past its end: an array written far out turns sparse (a dictionary).
    while (this.items.length <= at) this.items.push(undefined)
    if (this.items[at] === undefined) this.size++
    this.items[at] = item
  }

  delete (key: string): void {
    const at = this.directory.slotOf(key)
    if (at === undefined || this.items[at] === undefined) return
    this.items[at] = undefined
    this.size--
  }

  * keys (): Iterable<string> {
    for (let at = 0; at < this.items.length; at++) {
      if (this.items[at] === undefined) continue
      const key = this.directory.peerAt(at)
      if (key !== undefined) yield key
    }
  }
}

/**
 * `from`: the neighbour it was heard from, which is never told it back. `transmits`: times told,
 * -1 once out of the queue (told enough, replaced, forgotten). `left`: neighbours still to answer
 * that they held it already before it leaves the queue; -1 for news that feedback does not stop
 * (news heard in gossip, or this node's own). `answered`: those that answered (made at the first
 * answer), so that one neighbour answering again and again counts once. `at`: its place in the
 * tier of its `transmits`. Always the same eight fields: one shape for every record, so the
 * walk's reads stay monomorphic.
 */
interface Queued<T> {
  key: string
  item: T
  size: number
  transmits: number
  from: string | undefined
  left: number
  answered: string[] | undefined
  at: number
}

/** A tier this long, mostly of places emptied, is rewritten (`front`). */
const COMPACT_AT = 64

export class Rumours<T> {
  private readonly init: RumoursInit<T>
  private readonly held: Held<T>
  /** The seq of each item held, when `init.seqOf` cannot read it from the item. */
  private readonly seqs = new Map<string, number>()
  private readonly queue = new Map<string, Queued<T>>()
  /**
   * The queue by times told: `tiers[t]` holds those told t times, in the order they got there.
   * A gossip message takes from the lowest tier up without sorting the queue, which in a join
   * wave holds a statement of most members (at 1,000, each message sorted a thousand). A tier is
   * an array, not a map: a record moved up or out leaves its place empty (`at`), passed over from
   * `heads[t]` on, until the tier is rewritten (`front`). A map entry per queued statement per
   * tier was ~40 bytes per (agent, member) pair while a join wave's news was told (bench:sim,
   * issue 46). The place is emptied, not left holding the record: records out of the queue that
   * tiers kept were 60% of those alive in a 3,000-agent join (4.6 million of 7.3 million, 80
   * bytes each), all of them work for the collector.
   */
  private readonly tiers: Array<Array<Queued<T> | undefined> | undefined> = []
  /** Where each tier's walk starts: places before it are all empty. */
  private readonly heads: number[] = []
  /** Records in each tier (its places not emptied). */
  private readonly counts: number[] = []
  /** The held items by identity (with `init.identity`). */
  private readonly byIdentity = new Map<string, T>()
  /** Records that left the queue past `init.maxQueued`, before being told their count. */
  private prunedCount = 0
  /** Records queued by the neighbour they were heard from (with `init.maxQueued`: whose goes first). */
  private readonly bySource = new Map<string, number>()
  /** Tiers' places rewritten (`front`, `drained`): a place remembered from before is no longer one. */
  private rewrites = 0
  /**
   * Where the last prune found its record: its neighbour, tier and place, while no place was
   * rewritten since. Records before that place in that tier that came from that neighbour had
   * left (each prune takes the first), and new ones go at a tier's end: the next prune of that
   * neighbour in that tier starts there, not at the tier's front. Walking past the other
   * neighbours' records from the front each time was 4.8% of bench:sim's CPU in a 10,000-agent
   * join's first million events (issue 46).
   */
  private readonly lastPrune = { from: undefined as string | undefined, tier: -1, at: 0, rewrites: -1 }

  constructor (init: RumoursInit<T>) {
    if (init.maxQueued !== undefined && !(Number.isInteger(init.maxQueued) && init.maxQueued >= 1)) throw new RangeError(`maxQueued: a whole number of statements, 1 or more (${init.maxQueued})`)
    this.init = init
    this.held = init.directory !== undefined ? new SlotHeld(init.directory) : new Map<string, T>()
  }

  /**
   * Whether `item` is one held now (by identity and sameness): every gossip message and full
   * exchange brings mostly statements the receiver holds, and telling them apart this way skips
   * parsing each one's body (at 200 agents, parsing was 4% of the seeds' CPU). False without
   * `init.identity`.
   */
  holds (item: T): boolean {
    const id = this.init.identity
    if (id === undefined) return false
    const had = this.byIdentity.get(id.of(item))
    return had !== undefined && id.same(had, item)
  }

  /** The sequence number of the statement held for `key`, if any. */
  seq (key: string): number | undefined {
    const of = this.init.seqOf
    if (of === undefined) return this.seqs.get(key)
    const item = this.held.get(key)
    return item === undefined ? undefined : of(item)
  }

  /**
   * A statement of `key` numbered `seq`, heard `from` a neighbour (none: this node's own): kept
   * and queued when newer than the one held (true), dropped otherwise (false: already heard, or
   * older). A newer one replaces the older in the queue, with its count of transmissions started
   * anew. `feedback`, for old news (learnt from a full exchange, a join, or accusations that told
   * nothing: member-table.ts `telling`): it leaves the queue once that many neighbours answered
   * they held it (`heldBy`); none: told its full count whatever they answer.
   */
  offer (key: string, seq: number, item: T, size: number, from?: string, feedback?: number): boolean {
    const had = this.held.get(key)
    if (had !== undefined && (this.seq(key) as number) >= seq) return false
    const id = this.init.identity
    if (id !== undefined) {
      if (had !== undefined) this.byIdentity.delete(id.of(had))
      this.byIdentity.set(id.of(item), item)
    }
    this.held.set(key, item)
    if (this.init.seqOf === undefined) this.seqs.set(key, seq)
    this.unqueue(key)
    const q: Queued<T> = { key, item, size, transmits: 0, from, left: feedback === undefined ? -1 : Math.max(1, feedback), answered: undefined, at: 0 }
    this.queue.set(key, q)
    this.place(q)
    const max = this.init.maxQueued
    if (max === undefined) return true
    if (from !== undefined) this.bySource.set(from, (this.bySource.get(from) ?? 0) + 1)
    if (this.queue.size > max) this.prune()
    return true
  }

  /**
   * One record out of the queue, from the neighbour that has the most queued here: of its
   * records, the first (longest queued) of the highest tier (the most told), as memberlist's
   * Prune lets the most told go. By neighbour, so that one neighbour's burst of fresh statements
   * (128 is within its budget of checks) pushes out its own records, not a refutation or
   * suspicion another neighbour passed on just before it, untold. In a join wave most of a
   * newcomer's queue came from its first full exchange, one neighbour: the rule is then
   * memberlist's. This node's own statement (what refutes a suspicion of it) has no neighbour
   * and is never let go.
   */
  private prune (): void {
    let source: string | undefined
    let most = 0
    // By key, not [key, count] pairs: an array per neighbour per prune was 23% of the bytes
    // bench:sim allocated in a 10,000-agent join's first half million events.
    for (const from of this.bySource.keys()) {
      const n = this.bySource.get(from) as number
      if (n > most) { most = n; source = from }
    }
    if (source === undefined) return
    const last = this.lastPrune
    for (let t = this.tiers.length - 1; t >= 0; t--) {
      const tier = this.tiers[t]
      if (tier === undefined || this.counts[t] === 0) continue
      const front = this.front(t, tier)
      const start: number = last.from === source && last.tier === t && last.rewrites === this.rewrites ? Math.max(front, last.at) : front
      for (let i = start; i < tier.length; i++) {
        const q = tier[i]
        if (q === undefined || q.from !== source) continue
        // Remembered before it leaves: a queue it drains rewrites its tiers (`drained`), and the
        // place must not outlive that (a review's fuzz, with a bound below one).
        last.from = source; last.tier = t; last.at = i + 1; last.rewrites = this.rewrites
        this.prunedCount++
        this.unqueue(q.key)
        return
      }
    }
  }

  /** How many times each piece of news is passed on, with `members` agents known. */
  limit (members: number): number {
    return this.init.retransmitMult * Math.max(1, Math.ceil(Math.log10(members + 1)))
  }

  /**
   * What one gossip message to neighbour `to` carries: the least-told queued statements, up to
   * `maxItems` and about `maxBytes`, each counted as told once more (and dropped from the queue
   * when told enough). None it was heard from: a newcomer that learnt the mesh from its seed's
   * full exchange has the seed as its only neighbour, and spent every transmission of every
   * statement telling the seed what it had just said (at 200 agents, some 40 messages of 32
   * statements per newcomer, all to a seed already short of CPU); kept, they go to the
   * neighbours it meets next. `keys`, when given, gets each statement's key, in order (for `heldBy`).
   */
  take (members: number, maxItems: number, maxBytes: number, to?: string, keys?: string[]): T[] {
    if (this.queue.size === 0) return []
    const limit = this.limit(members)
    const taken: Array<Queued<T>> = []
    let bytes = 0
    // Moved up a tier only after the walk: one taken must not be met again in the tier above.
    let full = false
    for (let t = 0; t < this.tiers.length && !full; t++) {
      const tier = this.tiers[t]
      if (tier === undefined) continue
      for (let i = this.front(t, tier); i < tier.length; i++) {
        const q = tier[i]
        // Not to the neighbour it came from, nor to its author (which holds it, or a newer one).
        if (q === undefined || (to !== undefined && (q.from === to || q.key === to))) continue
        full = taken.length >= maxItems || (taken.length > 0 && bytes + q.size > maxBytes)
        if (full) break
        taken.push(q)
        bytes += q.size
      }
    }
    for (const q of taken) {
      keys?.push(q.key)
      this.displace(q)
      q.transmits++
      if (q.transmits >= limit) { this.queue.delete(q.key); this.unsourced(q); q.transmits = -1 } else this.place(q)
    }
    this.drained()
    return taken.map(q => q.item)
  }

  /**
   * Neighbour `by`'s answer to a gossip message of `items` (their `keys` from `take`): bit i of
   * `mask` set when it held item i already. Each such statement still queued, the same one and
   * old news, counts one more neighbour that had it (a neighbour once: a liar answering three
   * times must not end the telling alone), and leaves the queue at its `feedback` count.
   */
  heldBy (keys: readonly string[], items: readonly T[], mask: number, by: string): void {
    if (mask === 0) return
    for (let i = 0; i < keys.length && i < 32; i++) {
      if ((mask & (1 << i)) === 0) continue
      const q = this.queue.get(keys[i])
      if (q === undefined || q.item !== items[i] || q.left < 0) continue
      if (q.answered === undefined) q.answered = [by]
      else if (q.answered.includes(by)) continue
      else q.answered.push(by)
      if (--q.left === 0) this.unqueue(q.key)
    }
  }

  /** `q` at the end of the tier of its `transmits`. */
  private place (q: Queued<T>): void {
    const t = q.transmits
    let tier = this.tiers[t]
    if (tier === undefined) { tier = []; this.tiers[t] = tier; this.heads[t] = 0; this.counts[t] = 0 }
    q.at = tier.length
    tier.push(q)
    this.counts[t]++
  }

  /** `q`'s place in its tier emptied (it moves up a tier, or leaves the queue). */
  private displace (q: Queued<T>): void {
    const tier = this.tiers[q.transmits] as Array<Queued<T> | undefined>
    tier[q.at] = undefined
    this.counts[q.transmits]--
  }

  /**
   * Tier `t`'s first record (or its end). A tier mostly of empty places (more than half, from
   * COMPACT_AT places on) is rewritten with its records, in their order: each place is passed a
   * bounded number of times, and a queue drained holds nothing.
   */
  private front (t: number, tier: Array<Queued<T> | undefined>): number {
    if (tier.length >= COMPACT_AT && 2 * this.counts[t] < tier.length) {
      this.rewrites++
      let kept = 0
      for (const q of tier) if (q !== undefined) { q.at = kept; tier[kept++] = q }
      tier.length = kept
      this.heads[t] = 0
    }
    let head = this.heads[t]
    while (head < tier.length && tier[head] === undefined) head++
    if (head === tier.length && head > 0) { tier.length = 0; head = 0; this.rewrites++ }
    this.heads[t] = head
    return head
  }

  /** A queue drained keeps no place behind in its tiers. */
  private drained (): void {
    if (this.queue.size > 0) return
    for (let t = 0; t < this.tiers.length; t++) {
      const tier = this.tiers[t]
      if (tier !== undefined) { tier.length = 0; this.heads[t] = 0; this.counts[t] = 0 }
    }
    this.rewrites++
  }

  /** Out of the queue (told enough elsewhere, replaced, or forgotten): its place in its tier emptied. */
  private unqueue (key: string): void {
    const q = this.queue.get(key)
    if (q === undefined) return
    this.queue.delete(key)
    this.displace(q)
    this.unsourced(q)
    q.transmits = -1
    this.drained()
  }

  /** `q` left the queue: one fewer of its neighbour's (`bySource`). */
  private unsourced (q: Queued<T>): void {
    if (q.from === undefined || this.init.maxQueued === undefined) return
    const n = (this.bySource.get(q.from) as number) - 1
    if (n === 0) this.bySource.delete(q.from); else this.bySource.set(q.from, n)
  }

  /** Statements held. */
  get size (): number { return this.held.size }

  /** Statements still to be told. */
  get pending (): number { return this.queue.size }

  /** Statements that left the queue past `init.maxQueued` before being told their count. */
  get pruned (): number { return this.prunedCount }

  /** The statements held whose key passes `keep`: a full exchange's content. */
  all (keep: (key: string) => boolean = () => true): T[] {
    const out: T[] = []
    for (const key of this.held.keys()) if (keep(key)) out.push(this.held.get(key) as T)
    return out
  }

  /** The (key, seq) of each statement held whose key passes `keep`: what a full exchange's digest sums (member-digest.ts). */
  entries (keep: (key: string) => boolean = () => true): Array<[string, number]> {
    const out: Array<[string, number]> = []
    for (const key of this.held.keys()) if (keep(key)) out.push([key, this.seq(key) as number])
    return out
  }

  /** The statement held of `key`. */
  get (key: string): T | undefined { return this.held.get(key) }

  /** Drop what is held and queued of `key` (its agent is forgotten). */
  forget (key: string): void {
    const had = this.held.get(key)
    if (had !== undefined && this.init.identity !== undefined) this.byIdentity.delete(this.init.identity.of(had))
    this.held.delete(key)
    this.seqs.delete(key)
    this.unqueue(key)
  }
}
