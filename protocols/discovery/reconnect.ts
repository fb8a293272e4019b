/**
 * Dials, every interval, one agent the member view holds offline and this node is not connected
 * to (Serf's reconnect: `reconnect_interval`, one random failed member a round). This is what
 * joins the two sides of a healed partition: each side holds the other offline, and nothing else
 * dials an agent that is offline (the bootstrap dialer joins through one seed and keeps only that
 * link, bootstrap.ts; the peer dialer dials agents that others tell of). A dead host costs one
 * failed dial a round; the addresses come from the agents' statements (member-addresses.ts).
 *
 * A node watching the mesh map uses one too, for the agents alive that it has not heard from:
 * an agent's announcement reaches only the watchers connected to it (mesh-announcer.ts).
 */
import type { Startable } from '../core/service.js'
import { deadline } from '../core/deadline.js'
import { jittered } from '../core/jitter.js'

export interface ReconnectInit {
  /** How often a round dials (jittered by up to half either way); 0 never. */
  intervalMs: number
  /**
   * Peer ids to pick from: for the member view's reconnect, the agents it holds offline (not
   * those that left); for a node watching the mesh map, agents alive that it has not heard from.
   */
  candidates: () => string[]
  /** Dials a round makes at once (1 unless given). */
  perRound?: number
  /**
   * A peer dialled is not picked again for this long (0 or unset: it may be the next round's).
   * For candidates that a dial may not take off the list: an agent that connects and stays silent,
   * or whose connection its own manager prunes, would otherwise be dialled every round.
   */
  repickAfterMs?: number
  connected: (peerId: string) => boolean
  /** Dial the agent by peer id (its addresses are in the peer store); rejects when it cannot. */
  dial: (peerId: string, signal: AbortSignal) => Promise<void>
  dialTimeoutMs: number
}

export class Reconnector implements Startable {
  private readonly init: ReconnectInit
  private timer?: ReturnType<typeof setTimeout>
  private controller?: AbortController
  private dialing = false
  /** When each peer was last picked (with repickAfterMs; entries past it are dropped each round). */
  private readonly picked = new Map<string, number>()
  /** Dials made and those that connected (for the tests and /metrics). */
  readonly counts = { attempts: 0, connected: 0 }

  constructor (init: ReconnectInit) { this.init = init }

  start (): void {
    if (this.controller !== undefined || this.init.intervalMs <= 0) return
    this.controller = new AbortController()
    this.schedule()
  }

  stop (): void {
    this.controller?.abort()
    this.controller = undefined
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  private schedule (): void {
    const running = this.controller
    if (running === undefined) return
    const wait = Math.round(jittered(this.init.intervalMs, 0.5))
    this.timer = setTimeout(() => {
      this.timer = undefined
      // Only the chain of this start goes on: a stop and start while a dial was out begins its own.
      void this.round().finally(() => { if (this.controller === running) this.schedule() })
    }, wait)
    this.timer.unref?.()
  }

  private async round (): Promise<void> {
    const running = this.controller
    if (running === undefined || this.dialing) return
    const now = Date.now()
    const repick = this.init.repickAfterMs ?? 0
    for (const [p, at] of this.picked) if (now - at >= repick) this.picked.delete(p)
    const candidates = this.init.candidates().filter(p => !this.init.connected(p) && !this.picked.has(p))
    if (candidates.length === 0) return
    // A random few (a partial Fisher-Yates shuffle): a dead host picked every round would hold the others back.
    const n = Math.min(candidates.length, Math.max(1, this.init.perRound ?? 1))
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(Math.random() * (candidates.length - i))
      ;[candidates[i], candidates[j]] = [candidates[j], candidates[i]]
    }
    if (repick > 0) for (const p of candidates.slice(0, n)) this.picked.set(p, now)
    this.dialing = true
    // deadline(), not AbortSignal.any with a timeout signal: on Node 20 that timeout can be
    // collected before it fires (protocols/core/deadline.ts), and a stuck dial would stop the rounds.
    const limit = deadline(this.init.dialTimeoutMs, running.signal)
    try {
      await Promise.all(candidates.slice(0, n).map(async peer => {
        this.counts.attempts++
        try {
          await this.init.dial(peer, limit.signal)
          this.counts.connected++
        } catch {
          // Still gone, or still on the other side: another round tries another, or this one again.
        }
      }))
    } finally {
      limit.clear()
      this.dialing = false
    }
  }
}
