/**
 * A bounded connection graph as a pure state machine: HyParView's two partial views (Leitão,
 * Pereira and Rodrigues, "HyParView: a membership protocol for reliable gossip-based broadcast",
 * DSN 2007). No I/O and no timers: the shell feeds it messages, connection losses and the time,
 * and drains what to send and which connections to keep (`drain`).
 *
 * - The **active view** (about log(N) + 1 peers) is the set of open connections: small, kept
 *   symmetric (a peer in mine has me in its own), and repaired at once when one drops, from the
 *   passive view. Broadcast and membership rumours travel over it, so an agent's connections
 *   stay bounded as the mesh grows, instead of reaching every member it knows.
 * - The **passive view** (a few times larger) holds peers known to be reachable but not
 *   connected: the reserve the active view is repaired from. A periodic shuffle (a random walk
 *   over the active views) swaps samples of both views with a peer far away, so the reserve stays
 *   fresh and spread over the mesh, and failed peers are forgotten as their dials fail.
 * - A newcomer joins through one contact; the contact's `forward-join` random walks place it in
 *   the active views of peers at the walk's end and in passive views along it, so joins spread
 *   over the mesh rather than piling onto the seeds.
 * - A join splits links (not in the paper): a full contact or walk's end drops a neighbour to
 *   take the newcomer, as in the paper, and hands that neighbour to the newcomer
 *   (`disconnect.next`), so the link it cut becomes two through the newcomer, the way a node is
 *   put into a random regular graph. Every view keeps its size, and two walks fill a view of six
 *   (`joinWalks`). In the paper's way each of the contact's neighbours walks the newcomer out,
 *   every full end drops one at random, and each dropped peer asks its reserve until one with
 *   room takes it: in a full mesh only the other dropped ones have room, so most asks are
 *   refused, each a connection opened for nothing. A newcomer also waits for its walks before
 *   asking its own reserve (`neighbourTimeoutMs`). `bench:views --shell --gap 20` (the shell's
 *   member view and connections, harness/view-sim.ts): connections opened per agent in a join
 *   wave and 30 s after, 36.4-36.9 at 1,000 and 47.1-47.3 at 3,000 with the paper's join,
 *   10.2-11.5 and 10.4-10.5 with this one, 6.8-7.0 at 1,000 once refused asks pause (below;
 *   docs/benchmarks.md).
 * - Priorities: a peer with no active neighbour asks with `high` priority and must be taken
 *   (the receiver drops a random neighbour, which moves to its passive view and repairs in turn):
 *   nobody stays isolated. Otherwise a full view refuses, and the asker tries another; one
 *   short of a full view, after a pause that doubles with each refusal in a row
 *   (`REFUSAL_PAUSE_MS`, up to a shuffle interval, when its refusals expire) and ends when it
 *   takes or loses a neighbour. Without it, an agent one short in a full mesh asked its whole
 *   reserve within a second, each ask a connection opened to be refused, and again once the
 *   refusals were a shuffle interval old (the simulator at 100 agents: 126 of the 127 asks in
 *   the 2-5 s after a join wave, docs/benchmarks.md).
 * - Swaps (not in the paper): views that fill up among a few peers stay that way for good in
 *   the paper's protocol, since full views ask nobody and shuffles walk within them: twelve
 *   agents with views of three split into a clique of four and the other eight (CI,
 *   2026-11-29). A shuffle from a neighbour carries a sample of that neighbour's own active view;
 *   when every peer in it is in this node's active view too (a closed neighbourhood, the mark of
 *   such an island; in a random graph of more than a few views' size, neighbours share few
 *   neighbours), this node trades one neighbour for a reserve peer, and that peer, if full, drops
 *   one of its own, which links with the one traded away (a double edge swap: every view keeps its
 *   size). At most one swap per `swapIntervalMs`. A closed neighbourhood marks only islands of
 *   about a view's size (cliques); larger ones, such as the two sides of a healed network
 *   partition, show none, so a node also swaps at random, rarely (`randomSwapMs`, 10 min): at
 *   every 120 s that cost 100 real agents on views 1.72% and 1.96% of a core each at rest,
 *   against 1.01% and 1.45% without (docs/benchmarks.md).
 *
 * - An insider's reach (not in the paper, which trusts every peer): a join's walks, a walk's end,
 *   a high-priority ask and a swap each make a full view drop a good neighbour, and the neighbour
 *   that replaces it costs connections, so one admitted agent sending them at will churned views
 *   across the mesh (200 agents, an insider's mix of the first three at 30 a second for 30 s:
 *   2,458 connections opened, against ~20 at rest). Now a contact walks a peer out once while it is
 *   a newcomer, and only a newcomer (`newcomer`: the shell's member view saw it come lately, not a
 *   suspicion it refuted nor a return soon after its last coming, newcomers.ts); a walk is taken
 *   only from a neighbour, and ends in a view only for a newcomer, once per node; per swap limit, a
 *   high-priority ask or a swap forces a drop once per asker, and a node drops neighbours for
 *   others at most twice its view's size in all. The same attack then opened 408-532 connections
 *   (hyparview.test), most of them the repairs after the insider's own disconnects, which any
 *   neighbour may send. A refused high-priority ask is asked again after the refusal pause (a node
 *   alone asked the same peer ~190 times a second), and a join its contact refuses is one more
 *   refusal (`paused`). A join wave is not slowed: `bench:views --shell --gap 20` opened the same
 *   connections per agent before and after. A member of long standing that joins again (its view
 *   emptied, a restart no member view noticed) is taken where there is room, else refused, and
 *   fills its view with high-priority asks: 20 restarts among 200 agents opened 489-692
 *   connections in the minute after, against 423-425 when every join was walked out.
 *
 * Peers are named by opaque ids (peer id strings). Which peers may be talked to at all is the
 * shell's question: in a closed mesh it feeds only messages from admitted peers and keeps only
 * admitted peers' addresses, so a view never names a peer the mesh has not admitted.
 */

export interface HyParViewConfig {
  /** Open connections kept (the active view's size): the paper's log10(N) + c; 6 holds 10,000 agents. */
  activeSize: number
  /** Known peers kept in reserve. */
  passiveSize: number
  /** Active random walk length: how far a `forward-join` travels before it makes a neighbour. */
  arwl: number
  /** Passive random walk length: the hop of a forward-join at which the newcomer is put in passive views. */
  prwl: number
  /** How often this node sends a shuffle. */
  shuffleIntervalMs: number
  /** Active peers and passive peers a shuffle carries. */
  shuffleActive: number
  shufflePassive: number
  /** How long a neighbour request may go unanswered before the peer counts as failed. */
  neighbourTimeoutMs: number
  /**
   * The least time between two swaps this node starts (0: never swap). A swap starts only on a
   * shuffle that shows a closed neighbourhood; each makes up to two new connections.
   */
  swapIntervalMs: number
  /**
   * How often, on average, a node with a full view swaps anyway, at random (0: never): the
   * backstop for islands that show no closed neighbourhood (larger ones, the two sides of a
   * healed network partition, each with full views of its own).
   */
  randomSwapMs: number
  /**
   * How long the shell counts a member as new to the mesh (`newcomer`, newcomers.ts): a contact
   * walks a peer out, and a node ends a walk naming it, once within this (and a swap limit).
   */
  newcomerMs: number
}

/**
 * The pause after a neighbour request is refused before a node one short asks another reserve
 * peer; doubled with each refusal in a row, up to `shuffleIntervalMs` (a review measured a cap of
 * a swap interval leaving twice the views one short five minutes on). A full mesh refuses
 * every low-priority ask, and a view one short is whole enough to wait: shuffles and swaps, or a
 * neighbour lost somewhere, make room.
 */
export const REFUSAL_PAUSE_MS = 500

export const HYPARVIEW_DEFAULTS: HyParViewConfig = {
  activeSize: 6,
  passiveSize: 36,
  arwl: 6,
  prwl: 3,
  shuffleIntervalMs: 10_000,
  shuffleActive: 3,
  shufflePassive: 4,
  neighbourTimeoutMs: 5_000,
  swapIntervalMs: 30_000,
  randomSwapMs: 600_000,
  newcomerMs: 60_000
}

export type ViewMessage =
  | { type: 'join' }
  | { type: 'forward-join', peer: string, ttl: number }
  | { type: 'neighbour', high: boolean }
  | { type: 'neighbour-reply', accepted: boolean }
  /** `next`: a peer to ask to be a neighbour in the dropped one's place (a swap's hand-over). */
  | { type: 'disconnect', next?: string }
  /** `peers`: the origin, then `active` of its active view (so its first hop can tell a closed neighbourhood), then some of its reserve. */
  | { type: 'shuffle', origin: string, ttl: number, peers: string[], active?: number }
  | { type: 'shuffle-reply', peers: string[] }
  /** Take the sender as a neighbour; if full, drop one of yours and hand it to `peer` (the neighbour the sender drops for you). */
  | { type: 'swap', peer?: string }
  /** A swap's answer; `handed`: the neighbour dropped for the sender, which the sender's dropped one is to ask. */
  | { type: 'swap-reply', accepted: boolean, handed?: string }

/**
 * What the shell does: send a message (over an open connection, or a short-lived one for a
 * peer not in the active view: a join's contact, a neighbour request, a shuffle's reply), and
 * keep or drop the connection to a peer as it enters or leaves the active view.
 */
export type ViewOutput =
  | { type: 'send', to: string, message: ViewMessage }
  | { type: 'up', peer: string }
  | { type: 'down', peer: string }

export interface HyParViewInit {
  self: string
  config?: Partial<HyParViewConfig>
  random: () => number
  now: number
  /**
   * Reserve peers to ask first when the active view has room (the shell's answer: those it holds
   * a connection to already). A request to one costs a message, to any other a new connection
   * (a handshake, and the card exchange behind it), which a loaded host may take longer to make
   * than the request may wait. Without it, any reserve peer at random (as in the paper).
   */
  prefer?: (peer: string) => boolean
  /**
   * Whether a shuffle whose walk ends here is answered (the shell's answer: only an origin it
   * holds a connection to). A node whose reserve is also learnt from a member view loses little
   * by not answering: the reply refreshes a reserve that the member view refreshes anyway, and to an
   * origin not connected it costs a connection (a handshake a side, about 60 ms of CPU here).
   * The walk's sample is taken either way. Without it, always (as in the paper).
   */
  answerShuffle?: (origin: string) => boolean
  /**
   * Whether `peer` is new to the mesh (the shell's answer: a member it first heard of, or heard
   * back from offline, lately). Only a newcomer's join is walked out and only a newcomer is taken
   * at a walk's end, each of which makes full views drop a neighbour: a member of long standing
   * that joins again has its neighbours already, or finds them in its reserve. Without it, every
   * peer is new (as in the paper).
   */
  newcomer?: (peer: string) => boolean
}

export class HyParView {
  readonly config: HyParViewConfig
  private readonly self: string
  private readonly random: () => number
  private readonly prefer: (peer: string) => boolean
  private readonly answerShuffle: (origin: string) => boolean
  private readonly newcomer: (peer: string) => boolean
  private readonly active = new Set<string>()
  private readonly passive = new Set<string>()
  /** Neighbour requests out, by peer: when each was sent (a peer that never answers counts as failed). */
  private readonly asking = new Map<string, number>()
  /**
   * Reserve peers that refused to be neighbours (their views were full), and when: not asked
   * again for a shuffle interval. Without it an agent one short of a full view asked its whole
   * reserve round after round at the network's speed (the simulation of 1,000 agents at rest:
   * 3.1 messages per agent per second, against 0.7 for the shuffles).
   */
  private readonly refused = new Map<string, number>()
  /**
   * Neighbours this node dropped (a `disconnect` sent), and when: an answer of theirs to a
   * neighbour request sent before the drop (a walk's end asks its newcomer) must not take them
   * back, since the drop reaches them after their answer left and they let this node go.
   * Forgotten after a neighbour timeout, or when taken again.
   */
  private readonly dropped = new Map<string, number>()
  /**
   * When this node joined through a contact: until a neighbour timeout later it waits for its
   * walks' ends and the peers handed to it, rather than asking its reserve (full views that
   * refuse, a connection each), unless it has no neighbour left.
   */
  private joinedAt = -Infinity
  /** The contact of this node's last join: its disconnect within a neighbour timeout is the join refused. */
  private contact?: string
  /** Neighbour requests refused in a row, and when this node may ask its reserve again (REFUSAL_PAUSE_MS). */
  private refusalsInRow = 0
  private askAfter = -Infinity
  /** The passive peers this node sent in its last shuffle: the first it evicts for the reply's. */
  private sentInShuffle: string[] = []
  private nextShuffle: number
  /** When this node last started a swap, and whether a shuffle showed a closed neighbourhood since. */
  private lastSwap = -Infinity
  private swapDue = false
  /** When the next swap at random is due (`randomSwapMs`). */
  private nextRandomSwap: number
  /** Hand-overs taken (a `disconnect.next` asked) within the last swap limit, by the neighbour that named the peer (`handOverLimit`). */
  private readonly handOvers = new Map<string, number>()
  /**
   * What one insider could otherwise repeat at will, each within the last swap limit (see "An
   * insider's reach" at the head of the file): the peers whose join this node walked out, the
   * newcomers whose walk ended here, the peers whose high-priority ask made it drop a
   * neighbour, and when it dropped one for a walk's end or such an ask (`mayDropFor`).
   */
  private readonly walkedOut = new Map<string, number>()
  private readonly walked = new Map<string, number>()
  private readonly forcedBy = new Map<string, number>()
  private forcedDrops: number[] = []
  /** The swap under way: the reserve peer asked, and the neighbour to drop for it once it accepts. */
  private swapping?: { with: string, drop: string }
  /** The time of the input being handled. */
  private now: number
  private out: ViewOutput[] = []

  constructor (init: HyParViewInit) {
    this.config = { ...HYPARVIEW_DEFAULTS, ...init.config }
    if (this.config.activeSize < 1 || this.config.passiveSize < 1) throw new RangeError('activeSize and passiveSize must be at least 1')
    if (this.config.prwl > this.config.arwl) throw new RangeError('prwl must not exceed arwl')
    this.self = init.self
    this.random = init.random
    this.prefer = init.prefer ?? (() => false)
    this.answerShuffle = init.answerShuffle ?? (() => true)
    this.newcomer = init.newcomer ?? (() => true)
    this.now = init.now
    // Spread the first shuffles over an interval: agents started together do not shuffle in step.
    this.nextShuffle = init.now + this.config.shuffleIntervalMs * (0.5 + this.random())
    this.nextRandomSwap = this.randomSwapAfter(init.now)
  }

  // --- what the shell asks ---------------------------------------------------------------

  /** The active view: the peers this node keeps connections to. */
  activeView (): string[] { return [...this.active] }
  passiveView (): string[] { return [...this.passive] }
  isActive (peer: string): boolean { return this.active.has(peer) }

  /** What to do since the last drain. */
  drain (): ViewOutput[] {
    const out = this.out
    this.out = []
    return out
  }

  // --- what the shell tells --------------------------------------------------------------

  /** Join the mesh through `contact` (a bootstrap peer). */
  join (contact: string, now: number): void {
    this.now = now
    if (contact === this.self) return
    this.send(contact, { type: 'join' })
    this.joinedAt = now
    this.contact = contact
    // The contact takes a newcomer into its active view: so does the joiner. Not a neighbour won
    // yet (a full contact refuses a member of long standing): a pause after refusals goes on.
    const [inRow, after] = [this.refusalsInRow, this.askAfter]
    this.addActive(contact)
    this.refusalsInRow = inRow
    this.askAfter = after
  }

  /**
   * Whether this node, after refusals, waits before it asks again (`REFUSAL_PAUSE_MS`): the shell
   * joins through another contact only once it is over (view-links.ts `joinIfAlone` joins on every
   * member change while alone: a full contact refusing each, it asked its reserve again each time).
   */
  paused (now: number): boolean { return now < this.askAfter }

  /**
   * Peers learnt elsewhere (the member view, mDNS, a bootstrap list) as candidates for the
   * reserve. Never the active peers or this node.
   */
  learn (peers: Iterable<string>, now: number): void {
    this.now = now
    // A random few, not all in list order: a full reserve evicts at random for each newcomer, so
    // every peer of a long list taken in order left mostly the list's last (1,000 members, five
    // rounds into a reserve of 36: 94% from the last tenth), bunched on whom the list names last.
    const list = [...peers]
    const k = Math.min(list.length, this.config.passiveSize)
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(this.random() * (list.length - i))
      ;[list[i], list[j]] = [list[j], list[i]]
      this.addPassive(list[i])
    }
    this.repair()
  }

  receive (from: string, msg: ViewMessage, now: number): void {
    this.now = now
    if (from === this.self) return
    switch (msg.type) {
      case 'join': this.onJoin(from); break
      case 'forward-join': this.onForwardJoin(from, msg.peer, msg.ttl); break
      case 'neighbour': this.onNeighbour(from, msg.high); break
      case 'neighbour-reply': this.onNeighbourReply(from, msg.accepted); break
      case 'disconnect': this.onDisconnect(from, msg.next); break
      case 'shuffle': this.onShuffle(from, msg); break
      case 'shuffle-reply': this.integrate(msg.peers, this.sentInShuffle); this.sentInShuffle = []; break
      case 'swap': this.onSwap(from, msg.peer); break
      case 'swap-reply': this.onNeighbourReply(from, msg.accepted, msg.handed); break
    }
  }

  /**
   * The connection to `peer` closed or could not be opened: a peer of the active view is
   * replaced from the reserve; one asked to be a neighbour is forgotten. Either way it leaves
   * the passive view too: a peer that is back will rejoin or be learnt again.
   */
  lost (peer: string, now: number): void {
    this.now = now
    this.passive.delete(peer)
    this.asking.delete(peer)
    if (this.swapping !== undefined && (this.swapping.with === peer || this.swapping.drop === peer)) this.swapping = undefined
    if (this.active.delete(peer)) { this.emit({ type: 'down', peer }); this.unpause() }
    this.repair()
  }

  tick (now: number): void {
    this.now = now
    for (const [peer, at] of this.asking) if (now - at >= this.config.neighbourTimeoutMs) this.lost(peer, now)
    for (const [peer, at] of this.dropped) if (now - at >= this.config.neighbourTimeoutMs) this.dropped.delete(peer)
    for (const [peer, at] of this.handOvers) if (now - at >= this.swapLimitMs()) this.handOvers.delete(peer)
    for (const seen of [this.walkedOut, this.walked]) for (const [peer, at] of seen) if (now - at >= this.newcomerLimitMs()) seen.delete(peer)
    for (const [peer, at] of this.forcedBy) if (now - at >= this.swapLimitMs()) this.forcedBy.delete(peer)
    if (now >= this.nextShuffle) {
      this.nextShuffle = now + this.config.shuffleIntervalMs
      this.shuffle()
    }
    if (now >= this.nextRandomSwap) {
      this.nextRandomSwap = this.randomSwapAfter(now)
      this.swapDue = true
    }
    if (this.swapDue && now >= this.lastSwap + this.config.swapIntervalMs) {
      this.swapDue = false
      if (this.swap()) this.lastSwap = now
    }
    this.repair()
  }

  /** When `tick` has something to do next. */
  nextWakeup (): number {
    let at = Math.min(this.nextRandomSwap, this.swapDue ? Math.min(this.nextShuffle, this.lastSwap + this.config.swapIntervalMs) : this.nextShuffle)
    for (const sent of this.asking.values()) at = Math.min(at, sent + this.config.neighbourTimeoutMs)
    // A newcomer short of neighbours asks its reserve once its walks had their time.
    const waited = this.joinedAt + this.config.neighbourTimeoutMs
    if (this.active.size < this.config.activeSize && this.now < waited) at = Math.min(at, waited)
    // One short, or alone, after a refusal asks again once its pause is over.
    if ((this.oneShort() || this.active.size === 0) && this.asking.size === 0 && this.now < this.askAfter) at = Math.min(at, this.askAfter)
    return at
  }

  // --- the protocol ----------------------------------------------------------------------

  private onJoin (from: string): void {
    if (this.within(this.walkedOut, from, this.newcomerLimitMs()) || !this.newcomer(from)) {
      // Joined through this node lately, or no newcomer (a member whose view emptied, a restart
      // heard of as no return): not walked out. Each join's walks end in two views some hops away,
      // each dropping a neighbour: an insider joining again and again would otherwise churn views
      // across the mesh at will. Taken where there is room; refused when full, so that the joiner,
      // alone, asks its reserve with high priority. Taken as a split instead (the neighbour dropped
      // handed to it), a joiner waited a neighbour timeout for walks that never came: 20 of 200
      // agents restarted before anyone suspected them filled their views in a median 5.1 s, not
      // 0.1 s, and opened 704-931 connections in a minute, not 502-692 (the review's scripts).
      if (this.active.has(from)) return
      if (this.active.size < this.config.activeSize) this.addActive(from)
      else this.drop(from, { type: 'disconnect' })
      return
    }
    this.walkedOut.set(from, this.now)
    // Taken, and the neighbour dropped for it (when full) handed to it: the link cut becomes two.
    this.addActive(from, from)
    // Walk the newcomer out over a few other neighbours: each walk ends in an active view some
    // hops away, and brings the newcomer two links when that view is full (`joinWalks`).
    const walks = this.sample([...this.active].filter(p => p !== from), this.joinWalks())
    for (const p of walks) this.send(p, { type: 'forward-join', peer: from, ttl: this.config.arwl })
  }

  /**
   * The walks a contact starts for a newcomer: enough for a view of `activeSize` when every
   * walk's end is full (the contact gives two links, each end two), the paper's every neighbour
   * when fewer are. Where views are not full yet (a young mesh) the newcomer has room left after
   * them, and asks its reserve once its walks had their time.
   */
  private joinWalks (): number { return Math.max(1, Math.ceil((this.config.activeSize - 2) / 2)) }

  private onForwardJoin (from: string, peer: string, ttl: number): void {
    // Walks go from neighbour to neighbour: one from a peer that is not a neighbour is dropped
    // (its newcomer asks its reserve for what it lacks).
    if (peer === this.self || !this.active.has(from)) return
    // A walk's length comes from the network: never longer than this node's own.
    const left = Math.min(ttl, this.config.arwl)
    const next = left <= 0 || this.active.size <= 1 ? undefined : this.pick([...this.active].filter(p => p !== from && p !== peer))
    if (next !== undefined) {
      if (left === this.config.prwl) this.addPassive(peer)
      this.send(next, { type: 'forward-join', peer, ttl: left - 1 })
      return
    }
    if (this.active.has(peer)) return
    // Its end: this node takes the newcomer and tells it so, as a neighbour request it must take;
    // a neighbour dropped for it is handed to it. Only a newcomer, once per swap limit (a
    // newcomer's walks seldom end at one node; a walk can loop back in a small mesh), and within
    // this node's drops for others; else it goes to the reserve.
    if (!this.newcomer(peer) || this.within(this.walked, peer, this.newcomerLimitMs()) || !this.mayDropFor()) { this.addPassive(peer); return }
    this.walked.set(peer, this.now)
    this.droppingFor()
    this.addActive(peer, peer)
    this.send(peer, { type: 'neighbour', high: true })
  }

  private onNeighbour (from: string, high: boolean): void {
    if (this.active.has(from)) {
      this.send(from, { type: 'neighbour-reply', accepted: true })
      return
    }
    const full = this.active.size >= this.config.activeSize
    // High priority makes a full view drop a neighbour: once per asker per swap limit, and within
    // this node's drops for others; past them it is a low-priority ask (a peer alone asks others).
    if (full && (!high || this.within(this.forcedBy, from) || !this.mayDropFor())) {
      this.send(from, { type: 'neighbour-reply', accepted: false })
      this.addPassive(from)
      return
    }
    if (full) { this.forcedBy.set(from, this.now); this.droppingFor() }
    this.addActive(from)
    this.send(from, { type: 'neighbour-reply', accepted: true })
  }

  private onNeighbourReply (from: string, accepted: boolean, handed?: string): void {
    const swap = this.swapping?.with === from ? this.swapping : undefined
    if (swap !== undefined) this.swapping = undefined
    if (!this.asking.delete(from)) {
      // An answer after this node gave up asking (it timed out): the peer took this node as a
      // neighbour. Taken if there is room, else undone, so that no view holds a peer whose own
      // does not hold it back.
      // One this node dropped since is told so again: the disconnect it had may have come before
      // it took this node on an earlier yes (a disconnect to a peer not holding this node is
      // nothing to it).
      if (!accepted || this.active.has(from)) return
      if (this.active.size < this.config.activeSize && !this.dropped.has(from)) { this.passive.delete(from); this.addActive(from) } else this.send(from, { type: 'disconnect' })
      return
    }
    if (accepted) {
      // A swap's peer took this node: the neighbour traded for it goes first, so that the view
      // keeps its size, and is told whom the swap's peer dropped (if it was full), so that the two
      // ask each other rather than the whole reserve.
      if (swap !== undefined && this.active.delete(swap.drop)) {
        this.drop(swap.drop, handed !== undefined && handed !== swap.drop ? { type: 'disconnect', next: handed } : { type: 'disconnect' })
        this.emit({ type: 'down', peer: swap.drop })
        this.addPassive(swap.drop)
      }
      this.passive.delete(from)
      this.addActive(from)
    } else {
      // Full: it stays in the reserve, and another is asked after a pause.
      this.refusedBy(from)
      this.repair()
    }
  }

  private onDisconnect (from: string, next?: string): void {
    if (!this.active.delete(from)) return
    this.emit({ type: 'down', peer: from })
    // The contact of a join just sent letting this node go refused the join (a full view, a
    // member of long standing): a refusal like any other, paused after.
    if (from === this.contact && this.now < this.joinedAt + this.config.neighbourTimeoutMs) this.refusedBy(from)
    else this.unpause()
    // It dropped this node to make room, not because it failed: it stays in the reserve.
    this.addPassive(from)
    // A hand-over: the peer named has room. A join's newcomer (this node was dropped to take it)
    // is filling its view; a swap's dropped neighbour has just lost one too (it is told to ask
    // this node at the same time: whichever request comes first links the two). Never to a peer
    // that refused lately, and within `handOverLimit`: a hand-over names a peer to dial.
    if (next !== undefined && next !== this.self && next !== from && !this.active.has(next) && !this.asking.has(next) &&
      !this.refused.has(next) && this.handOverLimit(from) && this.active.size + this.asking.size < this.config.activeSize) {
      this.handOvers.set(from, this.now)
      this.asking.set(next, this.now)
      this.send(next, { type: 'neighbour', high: false })
    }
    this.repair()
  }

  /**
   * The first hop of a neighbour's shuffle: whether every peer of its active view it sampled
   * (never this node) is in this node's active view too. Only a full view over a mesh larger than
   * it (a reserve to trade with) counts: in a mesh of at most a view and one, all are neighbours.
   */
  private closed (origin: string, sample: string[]): void {
    // Distinct peers, neither the origin nor this node, as many as a full view's other
    // neighbours: a neighbour with fewer shares them with this node often in any small graph, and
    // a sample of only some of them is often all shared in a dense one (8-10 agents with views of
    // six: a swap per agent every one or two minutes at rest), while an insider naming itself
    // again and again would pass any test of fewer.
    const others = new Set(sample.filter(p => p !== origin && p !== this.self))
    if (this.config.swapIntervalMs <= 0 || others.size < this.config.activeSize - 1 || !this.active.has(origin)) return
    if (this.active.size < this.config.activeSize || this.passive.size === 0) return
    for (const p of others) if (!this.active.has(p)) return
    this.swapDue = true
  }

  /** A random swap interval on, spread 0.5-1.5 times `randomSwapMs` so that nodes do not swap in step; never without it. */
  private randomSwapAfter (now: number): number {
    return this.config.randomSwapMs > 0 && this.config.swapIntervalMs > 0 ? now + this.config.randomSwapMs * (0.5 + this.random()) : Infinity
  }

  /** The least time between two evictions for others' swaps, and the window of `handOverLimit` (never under a shuffle interval). */
  private swapLimitMs (): number { return Math.max(this.config.swapIntervalMs, this.config.shuffleIntervalMs) }

  /**
   * Whether a hand-over named by `from` may be asked: one per neighbour and at most `activeSize`
   * in all per swap limit. An insider could otherwise aim this node at a peer again and again
   * (taken back after each drop, since a drop leaves room), and each ask may open a connection.
   * It cannot tilt the view: a hand-over replaces the neighbour that named it. A join wave drops
   * a node a few times a minute, by different neighbours.
   */
  private handOverLimit (from: string): boolean {
    return !this.handOvers.has(from) && this.handOvers.size < this.config.activeSize
  }

  /** Whether `peer` is in `seen` from within the last `windowMs` (a swap limit). */
  private within (seen: Map<string, number>, peer: string, windowMs = this.swapLimitMs()): boolean {
    const at = seen.get(peer)
    return at !== undefined && this.now - at < windowMs
  }

  /** How long a newcomer's join and walks are remembered: as long as it is a newcomer, and a swap limit at least. */
  private newcomerLimitMs (): number { return Math.max(this.swapLimitMs(), this.config.newcomerMs) }

  /**
   * Whether this node may drop a neighbour for another peer (a walk's end, a high-priority ask, a
   * swap) when full: at most twice `activeSize` times per swap limit, whoever asks. A join wave makes a
   * node a walk's end about twice on average, some nodes more: `bench:views --shell --gap 20` at
   * 1,000 agents opened 7.49 connections per agent with a cap of `activeSize`, 6.82 with twice
   * it, 6.94 with none. An isolated peer asks with high priority rarely.
   */
  private mayDropFor (): boolean {
    if (this.active.size < this.config.activeSize) return true
    this.forcedDrops = this.forcedDrops.filter(at => this.now - at < this.swapLimitMs())
    return this.forcedDrops.length < 2 * this.config.activeSize
  }

  /** A neighbour is about to be dropped for another peer (counted when the view is full). */
  private droppingFor (): void {
    if (this.active.size >= this.config.activeSize) this.forcedDrops.push(this.now)
  }

  /** A full view trades a random neighbour for a random reserve peer (see the head of the file); false when it cannot now. */
  private swap (): boolean {
    if (this.swapping !== undefined || this.asking.size > 0 || this.active.size < this.config.activeSize) return false
    const peer = this.pick([...this.passive].filter(p => !this.refused.has(p)))
    const drop = this.pick([...this.active])
    if (peer === undefined || drop === undefined) return false
    this.swapping = { with: peer, drop }
    this.asking.set(peer, this.now)
    this.send(peer, { type: 'swap', peer: drop })
    return true
  }

  private onSwap (from: string, handTo?: string): void {
    if (this.active.has(from)) {
      this.send(from, { type: 'swap-reply', accepted: true })
      return
    }
    let given: string | undefined
    if (this.active.size >= this.config.activeSize) {
      // Full: one of this node's neighbours and the one the asker drops are told to ask each
      // other, so that all four keep their size. A swap evicts a good neighbour and aims it at a
      // peer the asker names: once per asker per swap limit, within the drops for others. (It was
      // once per swap limit whoever asked: an insider swapping with every node every 30 s then
      // also refused honest swaps everywhere, which are what join islands again.)
      given = this.pick([...this.active].filter(p => p !== handTo))
      if (given === undefined || handTo === undefined || handTo === this.self || this.within(this.forcedBy, from) || !this.mayDropFor()) {
        this.send(from, { type: 'swap-reply', accepted: false })
        this.addPassive(from)
        return
      }
      this.forcedBy.set(from, this.now)
      this.droppingFor()
      this.active.delete(given)
      this.drop(given, { type: 'disconnect', next: handTo })
      this.emit({ type: 'down', peer: given })
      this.addPassive(given)
    }
    this.addActive(from)
    this.send(from, given !== undefined ? { type: 'swap-reply', accepted: true, handed: given } : { type: 'swap-reply', accepted: true })
  }

  private shuffle (): void {
    const target = this.pick([...this.active])
    if (target === undefined) return
    // Every other neighbour (not a sample of shuffleActive): the first hop tells a closed
    // neighbourhood only from all of them (`closed`).
    const active = this.sample([...this.active].filter(p => p !== target), Math.max(this.config.shuffleActive, this.config.activeSize - 1))
    const sample = [this.self, ...active, ...this.sample([...this.passive], this.config.shufflePassive)]
    this.sentInShuffle = sample
    this.send(target, { type: 'shuffle', origin: this.self, ttl: this.config.arwl, peers: sample, active: active.length })
  }

  private onShuffle (from: string, msg: { origin: string, ttl: number, peers: string[], active?: number }): void {
    // A shuffle goes only to a neighbour, so its sender held this node when it sent it: one this
    // node does not hold (and is not asking) is a one-sided link, left by answers that crossed or
    // came late (a yes taken after the peer let go, replies out of order). Told to drop it, as a
    // drop is (remembered: its late yes is refused too); the sender repairs its view, and the
    // link is symmetric again (or gone) a shuffle later. Not a peer dropped lately: a shuffle it
    // sent before our disconnect reached it says nothing new. The price, out of order only: a
    // link the sender is still forming (a walk's end whose `neighbour` the shuffle overtook) is
    // cut and repaired (the review's seeded worlds: mean view fill 0.986 against 0.983 without).
    if (!this.active.has(from) && !this.asking.has(from) && !this.dropped.has(from)) this.drop(from, { type: 'disconnect' })
    if (msg.origin === this.self) return
    if (from === msg.origin && msg.active !== undefined) this.closed(from, msg.peers.slice(1, 1 + msg.active))
    const carried = msg.peers.slice(0, 1 + Math.max(this.config.shuffleActive, this.config.activeSize - 1) + this.config.shufflePassive)
    const left = Math.min(msg.ttl, this.config.arwl) - 1
    const next = left > 0 ? this.pick([...this.active].filter(p => p !== from && p !== msg.origin)) : undefined
    if (next !== undefined) {
      this.send(next, { type: 'shuffle', origin: msg.origin, ttl: left, peers: carried })
      return
    }
    // The walk ends here: answer the origin with as many of this node's reserve, then take its sample.
    if (!this.answerShuffle(msg.origin)) { this.integrate(carried, []); return }
    const reply = this.sample([...this.passive], carried.length)
    this.send(msg.origin, { type: 'shuffle-reply', peers: reply })
    this.integrate(carried, reply)
  }

  /** Take `peers` into the reserve; when full, evict first those in `sentBack` (the other side has them now), then at random. */
  private integrate (peers: string[], sentBack: string[]): void {
    const evictable = sentBack.filter(p => this.passive.has(p))
    for (const p of peers) {
      if (p === this.self || this.active.has(p) || this.passive.has(p)) continue
      if (this.passive.size >= this.config.passiveSize) {
        const victim = evictable.shift() ?? this.pick([...this.passive])
        if (victim === undefined) return
        this.passive.delete(victim)
      }
      this.passive.add(p)
    }
  }

  /** `peer` refused this node: not asked again for a shuffle interval, and the next ask waits a pause (REFUSAL_PAUSE_MS). */
  private refusedBy (peer: string): void {
    this.refused.set(peer, this.now)
    this.refusalsInRow++
    this.askAfter = this.now + Math.min(this.config.shuffleIntervalMs, REFUSAL_PAUSE_MS * 2 ** (this.refusalsInRow - 1))
  }

  /** A view one short of full: whole enough to pause its asks after a refusal (two short asks on at once). */
  private oneShort (): boolean { return this.active.size === this.config.activeSize - 1 }

  /** A neighbour taken or lost: the next ask goes at once. */
  private unpause (): void {
    this.refusalsInRow = 0
    this.askAfter = -Infinity
  }

  /**
   * Ask reserve peers to be neighbours while the active view has room and nobody is being asked
   * in its place; a newcomer with a neighbour waits for its walks first (`joinedAt`), and after a
   * refusal for its pause (`askAfter`).
   */
  private repair (): void {
    for (const [peer, at] of this.refused) if (this.now - at >= this.config.shuffleIntervalMs || !this.passive.has(peer)) this.refused.delete(peer)
    if (this.active.size > 0 && this.now < this.joinedAt + this.config.neighbourTimeoutMs) return
    if (this.oneShort() && this.now < this.askAfter) return
    while (this.active.size + this.asking.size < this.config.activeSize) {
      // An isolated node asks those that refused too, with high priority, once its pause is over.
      // A high-priority ask is refused past the asked node's limits (an insider's reach, above):
      // asked again at once, the same peer refused again, ~190 times a second (the review of ad6cf10).
      let open = [...this.passive].filter(p => !this.asking.has(p) && !this.refused.has(p))
      if (open.length === 0 && this.active.size === 0 && this.now >= this.askAfter) open = [...this.passive].filter(p => !this.asking.has(p))
      const preferred = open.filter(p => this.prefer(p))
      const candidate = this.pick(preferred.length > 0 ? preferred : open)
      if (candidate === undefined) return
      this.asking.set(candidate, this.now)
      this.send(candidate, { type: 'neighbour', high: this.active.size === 0 })
    }
  }

  /** Tells a neighbour taken out of the active view that it is (and remembers it: `dropped`). */
  private drop (peer: string, message: ViewMessage & { type: 'disconnect' }): void {
    this.dropped.set(peer, this.now)
    this.send(peer, message)
  }

  /** Takes `peer` as a neighbour; when full, drops one at random, handed to `handTo` when given (a join's newcomer). */
  private addActive (peer: string, handTo?: string): void {
    if (peer === this.self || this.active.has(peer)) return
    this.passive.delete(peer)
    this.asking.delete(peer)
    this.dropped.delete(peer)
    if (this.active.size >= this.config.activeSize) {
      const dropped = this.pick([...this.active])
      if (dropped !== undefined) {
        this.active.delete(dropped)
        this.drop(dropped, handTo !== undefined ? { type: 'disconnect', next: handTo } : { type: 'disconnect' })
        this.emit({ type: 'down', peer: dropped })
        this.addPassive(dropped)
      }
    }
    this.active.add(peer)
    // A neighbour taken, asked for or not: refusals before it no longer count in a row.
    this.unpause()
    this.emit({ type: 'up', peer })
  }

  private addPassive (peer: string): void {
    if (peer === this.self || this.active.has(peer) || this.passive.has(peer)) return
    if (this.passive.size >= this.config.passiveSize) {
      const victim = this.pick([...this.passive])
      if (victim !== undefined) this.passive.delete(victim)
    }
    this.passive.add(peer)
  }

  private send (to: string, message: ViewMessage): void { this.out.push({ type: 'send', to, message }) }
  private emit (o: ViewOutput): void { this.out.push(o) }

  private pick<T> (xs: T[]): T | undefined {
    return xs.length === 0 ? undefined : xs[Math.floor(this.random() * xs.length)]
  }

  private sample<T> (xs: T[], k: number): T[] {
    const copy = [...xs]
    const out: T[] = []
    while (out.length < k && copy.length > 0) out.push(copy.splice(Math.floor(this.random() * copy.length), 1)[0])
    return out
  }
}
