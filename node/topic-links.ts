/**
 * Connections that let a topic's messages reach every subscriber of a large mesh
 * (protocols/discovery/topic-rendezvous.ts says why and where they go):
 * - this node's topics are stated in its member statement: a change within a second, but at most
 *   one statement for them every TOPIC_RETELL_MIN_MS (each is signed, sent to every member and
 *   checked by each: an application that subscribes to a topic per task must not flood the mesh);
 * - for each topic it subscribes to, it keeps a connection to the next subscriber in the topic's
 *   ring, dialled by a Reconnector (a few a round, each peer again only after a while), unless
 *   every agent subscribes;
 * - a publish on a topic with no subscriber connected (`reach`) first dials one subscriber the
 *   member view knows of, and waits, a bounded while, until gossipsub has its subscription and a
 *   stream to it; a subscriber that failed so is passed over for REACH_RETRY_MS. For a minute
 *   after such a publish the rounds dial the topic's subscriber again if its connection closed.
 * Nothing is dialled past nine tenths of the connection cap: past it libp2p's manager prunes,
 * and the dials would go round.
 */
import { sharedController } from '../protocols/core/fan-out-signal.js'
import type { Startable } from '../protocols/core/service.js'
import type { TopicReach } from '../protocols/pubsub/topic-reach.js'
import { deadline } from '../protocols/core/deadline.js'
import { Reconnector } from '../protocols/discovery/reconnect.js'
import { linkedTopic, rendezvous, ringNext, statedKeys, topicKey } from '../protocols/discovery/topic-rendezvous.js'

/** A subscriber a reach failed to get is passed over for this long (another is picked, or none waited for). */
export const REACH_RETRY_MS = 5_000
/** At most one statement of this node's topics this often: the first at once, changes within it merged into the next. */
export const TOPIC_RETELL_MIN_MS = 10_000
/** After a publish that found no subscriber connected, the rounds dial the topic's subscriber again for this long if its connection closed. */
export const PUBLISHER_LINK_MS = 60_000
/** How often a round dials the links missing, and this node's topics are checked for a change. */
export const TOPIC_LINK_INTERVAL_MS = 1_000

export interface TopicLinksInit {
  self: string
  /** The topics this node subscribes to, and the peers connected here that gossipsub knows subscribe to one. */
  subscriptions: () => string[]
  subscribers: (topic: string) => string[]
  /** Whether gossipsub has its own stream open to `peer` (without one it drops what it would send there): a reach's readiness when pubsub gives none. */
  sendsTo: (peer: string) => boolean
  /** The member view: who stated a topic's key, and a new statement when this node's topics changed. */
  members: { subscribersOf: (key: string) => string[], retell: () => void }
  /** Members alive or suspect, this node not counted. */
  live: () => number
  connected: (peer: string) => boolean
  dial: (peer: string, signal: AbortSignal) => Promise<void>
  /** Whether this node may open another connection (under nine tenths of its cap). */
  room: () => boolean
  /** 0: off. */
  intervalMs: number
  /** States its topics and keeps their rings: not a client, which is no member (it still reaches a subscriber before it publishes). */
  states: boolean
  dialTimeoutMs: number
  /** How long a publish waits at most for a subscriber to be dialled and ready (`pubsub.reachWaitMs`); 0: not at all. */
  reachWaitMs: number
}

export class TopicLinks implements Startable, TopicReach {
  private readonly init: TopicLinksInit
  private readonly links: Reconnector
  private timer?: ReturnType<typeof setInterval>
  private stopping?: AbortController
  /** The subscriptions as last seen and their keys; the keys as last stated, and when. */
  private seen = ''
  private keys: string[] = []
  private told: string[] = []
  private toldAt = 0
  /** Topics this node published on with no subscriber connected, and when last. */
  private readonly published = new Map<string, number>()
  /** Subscribers a reach did not get, and when: passed over for REACH_RETRY_MS. */
  private readonly failed = new Map<string, number>()

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

  /** The keys of this node's topics as last stated, for its member statements (none when off). */
  stated (): string[] { return this.told }

  /** The keys of this node's topics now. */
  private current (): string[] {
    if (this.init.intervalMs <= 0 || !this.init.states) return []
    const names = this.init.subscriptions().join('\n')
    if (names !== this.seen) {
      this.seen = names
      this.keys = statedKeys(this.init.subscriptions())
    }
    return this.keys
  }

  start (): void {
    if (this.stopping !== undefined || this.init.intervalMs <= 0) return
    // Every reach under way listens to it until it ends: one a busy topic, so more than ten at once is no leak.
    this.stopping = sharedController()
    this.links.start()
    this.timer = setInterval(() => {
      const now = Date.now()
      const keys = this.current()
      if (keys.join(' ') !== this.told.join(' ') && now - this.toldAt >= TOPIC_RETELL_MIN_MS) {
        this.told = keys
        this.toldAt = now
        this.init.members.retell()
      }
      for (const [topic, at] of this.published) if (now - at > PUBLISHER_LINK_MS) this.published.delete(topic)
      for (const [peer, at] of this.failed) if (now - at > REACH_RETRY_MS) this.failed.delete(peer)
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
    this.failed.clear()
  }

  /**
   * Before a publish on `topic` with no subscriber connected (pubsub's TopicReach): dial the
   * subscriber the member view knows of (rendezvous.ts), and wait until `ready`, which pubsub
   * hands down (gossipsub has the subscription and a stream to it, or to any other subscriber),
   * `reachWaitMs` at most. Never throws: a publish that still has nobody to reach goes as it would have.
   */
  async reach (topic: string, ready: () => boolean = () => this.init.subscribers(topic).some(p => this.init.sendsTo(p))): Promise<void> {
    const running = this.stopping
    if (running === undefined || !linkedTopic(topic) || this.init.reachWaitMs <= 0) return
    this.published.set(topic, Date.now())
    const pick = this.pick(topic)
    if (pick === undefined || !this.init.room()) return
    const limit = deadline(this.init.reachWaitMs, running.signal)
    try {
      if (!this.init.connected(pick)) await this.init.dial(pick, limit.signal)
      // The subscription comes over the peer's gossipsub stream, and ours opens once the connection is identified.
      while (!ready()) {
        if (limit.signal.aborted) throw new Error('no subscription in time')
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    } catch {
      this.failed.set(pick, Date.now())
    } finally {
      limit.clear()
    }
  }

  /** The subscriber of `topic` a publisher dials: by rendezvous, among those no reach failed to get lately. */
  private pick (topic: string): string | undefined {
    const key = topicKey(topic)
    return rendezvous(this.init.self, key, this.init.members.subscribersOf(key).filter(p => !this.failed.has(p)))
  }

  /** The agents whose member statement says they subscribe to `topic`, connected here or not (this node's own not among them). */
  stating (topic: string): string[] {
    return linkedTopic(topic) ? this.init.members.subscribersOf(topicKey(topic)).filter(p => p !== this.init.self) : []
  }

  /** Whether the member view knows a subscriber of `topic` besides this node. */
  known (topic: string): boolean { return this.stating(topic).length > 0 }

  /**
   * Dials a round makes: the next subscriber in each own topic's ring, and a subscriber of each
   * topic published on lately. A client, in no ring, dials a subscriber of each topic it reads
   * while it is connected to none: gossip among them then reaches it through that one.
   */
  private candidates (): string[] {
    if (!this.init.room()) return []
    const out = new Set<string>()
    const reading = this.init.states ? [] : this.init.subscriptions().filter(linkedTopic)
    const live = this.init.live()
    for (const key of this.current()) {
      const holders = this.init.members.subscribersOf(key)
      // Every agent subscribes: the mesh's own connections join them (membership keeps it one piece).
      if (holders.length >= live) continue
      const next = ringNext(this.init.self, key, holders)
      if (next !== undefined) out.add(next)
    }
    for (const topic of [...this.published.keys(), ...reading]) {
      if (this.init.subscribers(topic).length > 0) continue
      const pick = this.pick(topic)
      if (pick !== undefined) out.add(pick)
    }
    return [...out]
  }
}
