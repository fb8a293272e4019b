/**
 * HyParView's partial views (protocols/discovery/hyparview.ts) over a simulated network, for
 * test/protocols/discovery/hyparview.test.ts and `npm run bench:views`: messages take 1-10 ms,
 * in order on each link (one connection per pair); a crashed agent's neighbours see its
 * connection close after 50 ms, and a send to it fails after 100 ms. Every agent ticks each
 * 100 ms. Seeded: one seed gives one run.
 */
import { HyParView, type HyParViewConfig, type ViewMessage } from '../protocols/discovery/hyparview.js'
import { seededRandom } from './random.js'
import { Flights } from './flights.js'

interface Event { at: number, order: number, run: () => void }

/** How the simulated links carry view messages (ViewWorld's constructor). */
export interface LinkModel { late?: number, lateMs?: number, inOrder?: boolean }

export class ViewWorld {
  now = 0
  readonly agents = new Map<string, HyParView>()
  readonly dead = new Set<string>()
  readonly random: () => number
  /** Messages sent so far, all agents, and by type. */
  sent = 0
  private readonly sentByType = new Map<ViewMessage['type'], number>()
  private readonly queue = new Flights<Event>()
  private order = 0
  /** When each link's last message arrives. */
  private readonly linkFree = new Map<string, number>()

  /**
   * Links take 1-10 ms and keep order (one connection per pair) unless told: `late` of the
   * messages take 1 s to `lateMs` more, and without `inOrder` each message goes its own way
   * (the shell sends each as a request of its own, on a stream of its own).
   */
  constructor (seed: number, private readonly config: Partial<HyParViewConfig> = {}, readonly links: LinkModel = {}) {
    this.random = seededRandom(seed)
  }

  add (id: string): HyParView {
    const hv = new HyParView({ self: id, random: seededRandom(Math.floor(this.random() * 2 ** 31)), now: this.now, config: this.config })
    this.agents.set(id, hv)
    return hv
  }

  at (delay: number, run: () => void): void { this.queue.push({ at: this.now + delay, order: this.order++, run }) }

  /** What `id` wants done: messages onto the network; a send to a crashed agent fails after 100 ms. */
  flush (id: string): void {
    const hv = this.agents.get(id)
    if (hv === undefined || this.dead.has(id)) return
    for (const o of hv.drain()) {
      if (o.type !== 'send') continue
      this.sent++
      const { to, message } = o
      this.sentByType.set(message.type, (this.sentByType.get(message.type) ?? 0) + 1)
      if (this.dead.has(to) || !this.agents.has(to)) {
        this.at(100, () => { this.lose(id, to) })
        continue
      }
      // One connection per pair, so in order: never before what was sent on it earlier.
      const link = `${id}>${to}`
      let delay = 1 + this.random() * 9
      if ((this.links.late ?? 0) > 0 && this.random() < (this.links.late ?? 0)) delay += 1_000 + this.random() * ((this.links.lateMs ?? 1_000) - 1_000)
      const at = this.links.inOrder === false ? this.now + delay : Math.max(this.now + delay, this.linkFree.get(link) ?? 0)
      this.linkFree.set(link, at)
      this.at(at - this.now, () => { this.deliver(id, to, message) })
    }
  }

  join (id: string, contact: string): void {
    this.agents.get(id)?.join(contact, this.now)
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
        for (const [id, hv] of this.agents) { if (!this.dead.has(id)) { hv.tick(this.now); this.flush(id) } }
        nextTick += 100
      }
    }
  }

  /** Messages of `type` sent so far, all agents. */
  count (type: ViewMessage['type']): number { return this.sentByType.get(type) ?? 0 }

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
