/**
 * HyParView's partial views (protocols/discovery/hyparview.ts) over a simulated network, for
 * test/protocols/discovery/hyparview.test.ts and `npm run bench:views`: messages take 1-10 ms,
 * in order on each link (one connection per pair); a crashed agent's neighbours see its
 * connection close after 50 ms, and a send to it fails after 100 ms. Every agent ticks each
 * 100 ms. Seeded: one seed gives one run.
 */
import { HYPARVIEW_DEFAULTS, HyParView, type HyParViewConfig, type ViewMessage } from '../protocols/discovery/hyparview.js'
import { seededRandom } from './random.js'
import { Flights } from './flights.js'

interface Event { at: number, order: number, run: () => void }

/**
 * How the simulated links carry view messages (ViewWorld's constructor). `shell`: each agent
 * asks reserve peers it holds a connection to first and answers only a shuffle's origin it holds
 * one to, as the real shell does (view-links.ts `prefer`, `answerShuffle`).
 */
export interface LinkModel { late?: number, lateMs?: number, inOrder?: boolean, shell?: boolean }

/**
 * The connections the shell would hold (view-links.ts): one per pair, open while either side
 * has the other in its active view; otherwise closed a second after a side drops the other
 * (UNLINK_AFTER_MS), or once no message used it for IDLE_MS. A message between a pair with none
 * open opens one: a dial, the handshakes' CPU on both sides.
 */
const UNLINK_MS = 1_000
const IDLE_MS = 15_000
const SWEEP_MS = 5_000
interface Connection { used: number, closeAt: number }

export class ViewWorld {
  now = 0
  readonly agents = new Map<string, HyParView>()
  readonly dead = new Set<string>()
  readonly random: () => number
  /** Messages sent so far, all agents, and by type. */
  sent = 0
  /** Messages injected so far (`inject`): an insider's own, not its state machine's. */
  injected = 0
  private readonly sentByType = new Map<ViewMessage['type'], number>()
  private readonly queue = new Flights<Event>()
  private order = 0
  /** When each link's last message arrives. */
  private readonly linkFree = new Map<string, number>()
  /** Connections opened so far (see Connection), all agents, and by the type of the message that opened each. */
  dials = 0
  private readonly dialsByType = new Map<ViewMessage['type'], number>()
  private readonly connections = new Map<string, Connection>()
  /** The agents that joined (or started the mesh), in order: what the shell's member view knows of. */
  private readonly joined: string[] = []
  private readonly joinedSet = new Set<string>()
  /** When each agent joined (the shell's member view hears of it then). */
  private readonly joinedAt = new Map<string, number>()

  /**
   * Links take 1-10 ms and keep order (one connection per pair) unless told: `late` of the
   * messages take 1 s to `lateMs` more, and without `inOrder` each message goes its own way
   * (the shell sends each as a request of its own, on a stream of its own).
   */
  constructor (seed: number, private readonly config: Partial<HyParViewConfig> = {}, readonly links: LinkModel = {}) {
    this.random = seededRandom(seed)
  }

  add (id: string): HyParView {
    const shell = this.links.shell === true
      ? {
          prefer: (peer: string) => this.connected(id, peer),
          answerShuffle: (origin: string) => this.connected(id, origin),
          // The shell's member view (newcomers.ts): a member heard of within newcomerMs is new.
          newcomer: (peer: string) => {
            const at = this.joinedAt.get(peer)
            return at === undefined || this.now - at < (this.config.newcomerMs ?? HYPARVIEW_DEFAULTS.newcomerMs)
          }
        }
      : {}
    const hv = new HyParView({ self: id, random: seededRandom(Math.floor(this.random() * 2 ** 31)), now: this.now, config: this.config, ...shell })
    this.agents.set(id, hv)
    return hv
  }

  at (delay: number, run: () => void): void { this.queue.push({ at: this.now + delay, order: this.order++, run }) }

  /** What `id` wants done: messages onto the network; a send to a crashed agent fails after 100 ms. */
  flush (id: string): void {
    const hv = this.agents.get(id)
    if (hv === undefined || this.dead.has(id)) return
    for (const o of hv.drain()) {
      if (o.type !== 'send') {
        const c = this.connections.get(pair(id, o.peer))
        if (c !== undefined) c.closeAt = o.type === 'up' ? Infinity : Math.min(c.closeAt, this.now + UNLINK_MS)
        continue
      }
      this.post(id, o.to, o.message)
    }
  }

  /**
   * A message `from`'s state machine did not ask for: an insider's own, written by a test. It
   * goes as the machine's do (a connection opened when the pair holds none), and is counted apart
   * (`injected`), not in `sent`.
   */
  inject (from: string, to: string, message: ViewMessage): void {
    this.injected++
    this.post(from, to, message, false)
  }

  private post (id: string, to: string, message: ViewMessage, counted = true): void {
    if (counted) {
      this.sent++
      this.sentByType.set(message.type, (this.sentByType.get(message.type) ?? 0) + 1)
    }
    if (this.connected(id, to)) (this.connections.get(pair(id, to)) as Connection).used = this.now
    else {
      this.dials++
      this.dialsByType.set(message.type, (this.dialsByType.get(message.type) ?? 0) + 1)
      this.connections.set(pair(id, to), { used: this.now, closeAt: Infinity })
    }
    if (this.dead.has(to) || !this.agents.has(to)) {
      this.at(100, () => { this.lose(id, to) })
      return
    }
    // One connection per pair, so in order: never before what was sent on it earlier.
    const link = `${id}>${to}`
    let delay = 1 + this.random() * 9
    if ((this.links.late ?? 0) > 0 && this.random() < (this.links.late ?? 0)) delay += 1_000 + this.random() * ((this.links.lateMs ?? 1_000) - 1_000)
    const at = this.links.inOrder === false ? this.now + delay : Math.max(this.now + delay, this.linkFree.get(link) ?? 0)
    this.linkFree.set(link, at)
    this.at(at - this.now, () => { this.deliver(id, to, message) })
  }

  join (id: string, contact: string): void {
    const hv = this.agents.get(id)
    hv?.join(contact, this.now)
    // The shell: a newcomer learns the members from its contact's full exchange at once.
    if (this.links.shell === true) hv?.learn(this.joined.filter(p => p !== id && !this.dead.has(p)), this.now)
    this.joined.push(id)
    this.joinedSet.add(id)
    this.joinedAt.set(id, this.now)
    this.flush(id)
  }

  crash (id: string): void {
    this.dead.add(id)
    for (const [other, hv] of this.agents) {
      if (!this.dead.has(other) && hv.isActive(id)) this.at(50, () => { this.lose(other, id) })
    }
  }

  /** Run until `until`, ticking every live agent each 100 ms. */
  run (until: number): void {
    let nextTick = Math.floor(this.now / 100) * 100 + 100
    while (this.now < until) {
      const e = this.queue.peek()
      if (e !== undefined && e.at <= nextTick && e.at <= until) {
        this.queue.pop()
        this.now = Math.max(this.now, e.at)
        e.run()
        continue
      }
      this.now = Math.min(nextTick, until)
      if (this.now === nextTick) {
        // The shell's sweep: every 5 s the reserve learns the live members.
        const sweep = this.links.shell === true && this.now % SWEEP_MS === 0
        const live = sweep ? this.joined.filter(p => !this.dead.has(p)) : []
        for (const [id, hv] of this.agents) {
          if (this.dead.has(id)) continue
          if (sweep && this.joinedSet.has(id)) hv.learn(live.filter(p => p !== id), this.now)
          hv.tick(this.now)
          this.flush(id)
        }
        nextTick += 100
      }
    }
  }

  /** Messages of `type` sent so far, all agents. */
  count (type: ViewMessage['type']): number { return this.sentByType.get(type) ?? 0 }

  /** Connections opened so far by a message of `type` (see Connection). */
  dialsBy (type: ViewMessage['type']): number { return this.dialsByType.get(type) ?? 0 }

  /** Whether `a` and `b` hold a connection now (see Connection). */
  connected (a: string, b: string): boolean {
    const c = this.connections.get(pair(a, b))
    if (c === undefined) return false
    if (this.agents.get(a)?.isActive(b) === true || this.agents.get(b)?.isActive(a) === true) return true
    if (this.now >= c.closeAt || this.now - c.used >= IDLE_MS) { this.connections.delete(pair(a, b)); return false }
    return true
  }

  live (): string[] { return [...this.agents.keys()].filter(id => !this.dead.has(id)) }

  /** Every live agent's active view: its size, and the names in it that are crashed or do not name it back. */
  views (): { max: number, mean: number, full: number, asymmetric: string[], deadNamed: string[] } {
    const live = this.live()
    const asymmetric: string[] = []
    const deadNamed: string[] = []
    let max = 0
    let sum = 0
    let full = 0
    for (const id of live) {
      const hv = this.agents.get(id) as HyParView
      const view = hv.activeView()
      max = Math.max(max, view.length)
      sum += view.length
      if (view.length >= hv.config.activeSize) full++
      for (const p of view) {
        if (this.dead.has(p)) deadNamed.push(`${id}->${p}`)
        else if (this.agents.get(p)?.isActive(id) !== true) asymmetric.push(`${id}->${p}`)
      }
    }
    return { max, mean: live.length === 0 ? 0 : sum / live.length, full, asymmetric, deadNamed }
  }

  /** A flood from `origin` over the live agents' active views: who got it, and how many copies arrived in all. */
  flood (origin: string): { reached: number, copies: number } {
    const seen = new Set([origin])
    let copies = 0
    const frontier = [origin]
    while (frontier.length > 0) {
      const at = frontier.pop() as string
      for (const p of this.agents.get(at)?.activeView() ?? []) {
        if (this.dead.has(p)) continue
        copies++
        if (!seen.has(p)) { seen.add(p); frontier.push(p) }
      }
    }
    return { reached: seen.size, copies }
  }

  /**
   * `n` agents a0..a(n-1): three seeds, then everyone through one of them, `gapMs` apart (the
   * joins are scheduled, not run: `run` plays them). Returns their ids.
   */
  joinWave (n: number, gapMs = 5): string[] {
    const ids = Array.from({ length: n }, (_, i) => `a${i}`)
    for (const id of ids) this.add(id)
    this.joined.push(ids[0])
    this.joinedSet.add(ids[0])
    this.joinedAt.set(ids[0], this.now)
    ids.forEach((id, i) => {
      if (i === 0) return
      const contact = i < 3 ? 'a0' : `a${Math.floor(this.random() * 3)}`
      this.at(i * gapMs, () => { this.join(id, contact) })
    })
    return ids
  }

  private deliver (from: string, to: string, message: ViewMessage): void {
    const hv = this.agents.get(to)
    if (hv === undefined) return
    // Sent before the crash, arrived after: the sender's connection fails.
    if (this.dead.has(to)) { this.at(100, () => { this.lose(from, to) }); return }
    hv.receive(from, message, this.now)
    this.flush(to)
  }

  private lose (who: string, peer: string): void {
    const hv = this.agents.get(who)
    if (hv === undefined || this.dead.has(who)) return
    hv.lost(peer, this.now)
    this.flush(who)
  }
}

function pair (a: string, b: string): string { return a < b ? `${a} ${b}` : `${b} ${a}` }
