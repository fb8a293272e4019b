/**
 * Connections that let a topic's messages reach every subscriber of a large mesh
 * (discovery/topic-rendezvous.ts says why and where they go):
 * - this node's topics are stated in its member statement, again within a second of a change;
 * - for each topic it subscribes to, it keeps a connection to the next subscriber in the topic's
 *   ring, dialled by a Reconnector (a few a round, each peer again only after a while), unless
 *   every agent subscribes;
 * - a publish on a topic with no subscriber connected (`reach`) first dials one subscriber the
 *   member view knows of, and waits, a bounded while, until gossipsub has its subscription; the
 *   link is kept up for a minute after the topic's last publish.
 * Nothing is dialled past nine tenths of the connection cap: past it libp2p's manager prunes,
 * and the dials would go round.
 */
import type { Startable } from '../protocols/core/service.js'
import { deadline } from '../protocols/core/deadline.js'
import { Reconnector } from '../discovery/reconnect.js'
import { linkedTopic, rendezvous, ringNext, statedKeys, topicKey } from '../discovery/topic-rendezvous.js'

/** How long a publish waits at most for a subscriber to be dialled and its subscription known. */
export const REACH_WAIT_MS = 2_000
/** After a reach that failed, publishes on that topic go without waiting for this long. */
export const REACH_RETRY_MS = 5_000
/** A publisher keeps its link to a topic's subscriber this long after its last publish there. */
export const PUBLISHER_LINK_MS = 60_000
/** How often a round dials the links missing, and this node's topics are checked for a change. */
export const TOPIC_LINK_INTERVAL_MS = 1_000

export interface TopicLinksInit {
  self: string
  /** The topics this node subscribes to, and the peers connected here that gossipsub knows subscribe to one. */
  subscriptions: () => string[]
  subscribers: (topic: string) => string[]
  /** The member view: who stated a topic's key, and a new statement when this node's topics changed. */
  members: { subscribersOf: (key: string) => string[], retell: () => void }
  /** Members alive or suspect, this node not counted. */
  live: () => number
  connected: (peer: string) => boolean
  dial: (peer: string, signal: AbortSignal) => Promise<void>
  /** Whether this node may open another connection (under nine tenths of its cap). */
  room: () => boolean
  /** 0: off (a client states nothing and keeps no ring). */
  intervalMs: number
  dialTimeoutMs: number
}

export class TopicLinks implements Startable {
  private readonly init: TopicLinksInit
  private readonly links: Reconnector
  private timer?: ReturnType<typeof setInterval>
  private stopping?: AbortController
  /** The subscriptions as last seen, and their keys (what the member view states); the subscriptions as last told. */
  private seen = ''
  private keys: string[] = []
  private told = ''
  /** Topics this node published on with no subscriber connected: when last, and when a reach last failed. */
  private readonly published = new Map<string, { at: number, failedAt: number }>()

  constructor (init: TopicLinksInit) {
    this.init = init
    this.links = new Reconnector({
      intervalMs: init.intervalMs,
      candidates: () => this.candidates(),
      perRound: 4,
      repickAfterMs: 10 * Math.max(1_000, init.intervalMs),
      connected: init.connected,
      dial: init.dial,
      dialTimeoutMs: init.dialTimeoutMs
    })
  }

  /** The keys of this node's topics, for its member statement (none when off). */
  stated (): string[] {
    if (this.init.intervalMs <= 0) return []
    const names = this.init.subscriptions().join('\n')
    if (names !== this.seen) {
      this.seen = names
      this.keys = statedKeys(this.init.subscriptions())
    }
    return this.keys
  }

  start (): void {
    if (this.stopping !== undefined || this.init.intervalMs <= 0) return
    this.stopping = new AbortController()
    this.links.start()
    this.timer = setInterval(() => {
      // A new statement only when they changed: each is signed and goes to every member.
      const names = this.init.subscriptions().join('\n')
      if (names !== this.told) { this.told = names; this.init.members.retell() }
      const now = Date.now()
      for (const [topic, p] of this.published) if (now - p.at > PUBLISHER_LINK_MS) this.published.delete(topic)
    }, Math.max(100, this.init.intervalMs))
    this.timer.unref?.()
  }

  stop (): void {
    this.stopping?.abort()
    this.stopping = undefined
    this.links.stop()
    clearInterval(this.timer)
    this.timer = undefined
    this.published.clear()
  }

  /**
   * Before a publish on `topic` with no subscriber connected: dial the subscriber the member view
   * knows of (rendezvous.ts), and wait until gossipsub has its subscription, REACH_WAIT_MS at most.
   * Never throws: a publish that still has nobody to reach goes as it would have.
   */
  async reach (topic: string): Promise<void> {
    const running = this.stopping
    if (running === undefined || !linkedTopic(topic)) return
    const now = Date.now()
    const p = this.published.get(topic) ?? { at: now, failedAt: 0 }
    p.at = now
    this.published.set(topic, p)
    const pick = rendezvous(this.init.self, topicKey(topic), this.init.members.subscribersOf(topicKey(topic)))
    if (pick === undefined || now - p.failedAt < REACH_RETRY_MS || !this.init.room()) return
    const limit = deadline(REACH_WAIT_MS, running.signal)
    try {
      if (!this.init.connected(pick)) await this.init.dial(pick, limit.signal)
      // The subscription comes over gossipsub's stream, opened once the connection is identified.
      while (!this.init.subscribers(topic).includes(pick)) {
        if (limit.signal.aborted) throw new Error('no subscription in time')
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    } catch {
      p.failedAt = Date.now()
    } finally {
      limit.clear()
    }
  }

  /** The agents whose member statement says they subscribe to `topic`, connected here or not (this node's own not among them). */
  stating (topic: string): string[] {
    return linkedTopic(topic) ? this.init.members.subscribersOf(topicKey(topic)).filter(p => p !== this.init.self) : []
  }

  /** Whether the member view knows a subscriber of `topic` besides this node. */
  known (topic: string): boolean { return this.stating(topic).length > 0 }

  /** Dials a round makes: the next subscriber in each own topic's ring, and a subscriber of each topic published on lately. */
  private candidates (): string[] {
    if (!this.init.room()) return []
    const out = new Set<string>()
    const live = this.init.live()
    for (const key of this.stated()) {
      const holders = this.init.members.subscribersOf(key)
      // Every agent subscribes: the mesh's own connections join them (membership keeps it one piece).
      if (holders.length >= live) continue
      const next = ringNext(this.init.self, key, holders)
      if (next !== undefined) out.add(next)
    }
    for (const topic of this.published.keys()) {
      if (this.init.subscribers(topic).length > 0) continue
      const key = topicKey(topic)
      const pick = rendezvous(this.init.self, key, this.init.members.subscribersOf(key))
      if (pick !== undefined) out.add(pick)
    }
    return [...out]
  }
}
