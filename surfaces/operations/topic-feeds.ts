/**
 * Topics watched on behalf of clients that are not libp2p nodes: one subscription of the node per
 * topic however many clients watch it, the last events of each kept for a client that asks what
 * happened lately (REST, MCP), and a live stream per watcher (WebSocket, GraphQL, SSE).
 *
 * Bounded everywhere: a topic keeps its last `recent` events; at most `maxTopics` topics are
 * watched (the one unwatched longest is dropped first); a watcher that does not read loses its
 * oldest events past `watcherBuffer` (counted in `dropped`), so a slow client never grows the
 * node's memory. A topic nobody watches live is kept `idleMs` for its recent events, then let go.
 */
import type { AgentNode } from '../../node/agent-node.js'
import type { Message, Subscription } from '../../protocols/pubsub/index.js'
import { RateLimitedError } from '../../protocols/core/errors.js'
import type { TopicEvent } from './schemas.js'

export interface TopicFeedsOptions {
  recent?: number
  maxTopics?: number
  watcherBuffer?: number
  idleMs?: number
}

interface Feed {
  topic: string
  sub: Subscription
  recent: TopicEvent[]
  watchers: Set<Watcher>
  /** Last time a watcher left or a client read the recent events (for the idle sweep). */
  touchedAt: number
}

/** A live stream of one topic's events for one client: iterate it; `close()` (or `break`) ends it. */
export class Watcher implements AsyncIterable<TopicEvent> {
  private readonly queue: TopicEvent[] = []
  private wake?: () => void
  private ended = false
  /** Events this watcher lost because it did not read fast enough. */
  dropped = 0

  constructor (readonly topic: string, private readonly capacity: number, private readonly onClose: (w: Watcher) => void) {}

  push (e: TopicEvent): void {
    if (this.ended) return
    if (this.queue.length >= this.capacity) { this.queue.shift(); this.dropped++ }
    this.queue.push(e)
    this.wake?.()
  }

  close (): void {
    if (this.ended) return
    this.ended = true
    this.onClose(this)
    this.wake?.()
  }

  get closed (): boolean { return this.ended }

  async * [Symbol.asyncIterator] (): AsyncGenerator<TopicEvent> {
    try {
      for (;;) {
        while (this.queue.length > 0) yield this.queue.shift() as TopicEvent
        if (this.ended) return
        await new Promise<void>(resolve => { this.wake = resolve })
        this.wake = undefined
      }
    } finally { this.close() }
  }
}

export class TopicFeeds {
  private readonly feeds = new Map<string, Feed>()
  private readonly recentMax: number
  private readonly maxTopics: number
  private readonly watcherBuffer: number
  private readonly idleMs: number
  private timer?: ReturnType<typeof setInterval>

  constructor (private readonly node: AgentNode, options: TopicFeedsOptions = {}) {
    this.recentMax = options.recent ?? 100
    this.maxTopics = options.maxTopics ?? 256
    this.watcherBuffer = options.watcherBuffer ?? 1_000
    this.idleMs = options.idleMs ?? 10 * 60_000
  }

  /** Topics watched now, with their live watchers and the events kept. */
  list (): Array<{ topic: string, watchers: number, recent: number }> {
    return [...this.feeds.values()].map(f => ({ topic: f.topic, watchers: f.watchers.size, recent: f.recent.length }))
  }

  /** A live stream of the topic's events from now on. */
  watch (topic: string): Watcher {
    const feed = this.feed(topic)
    const w = new Watcher(topic, this.watcherBuffer, (x) => { feed.watchers.delete(x); feed.touchedAt = Date.now() })
    feed.watchers.add(w)
    return w
  }

  /**
   * The topic's last events, oldest first (at most `limit`). The first call for a topic starts
   * watching it: it answers with nothing yet, and `since` tells from when events are kept.
   */
  recent (topic: string, limit = this.recentMax): { events: TopicEvent[], since: number } {
    const feed = this.feed(topic)
    feed.touchedAt = Date.now()
    return { events: feed.recent.slice(-Math.max(1, Math.min(limit, this.recentMax))), since: feed.touchedAt }
  }

  start (): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => { this.sweep() }, Math.min(60_000, Math.max(1_000, this.idleMs / 4)))
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
    for (const feed of this.feeds.values()) this.drop(feed)
  }

  private feed (topic: string): Feed {
    const known = this.feeds.get(topic)
    if (known !== undefined) return known
    if (this.feeds.size >= this.maxTopics) {
      // The one with no live watcher untouched longest makes room; if every one is watched, refuse.
      const idle = [...this.feeds.values()].filter(f => f.watchers.size === 0).sort((a, b) => a.touchedAt - b.touchedAt)[0]
      if (idle === undefined) throw new RateLimitedError(`this node already watches ${this.maxTopics} topics for its clients`)
      this.drop(idle)
    }
    const sub = this.node.subscribe(topic)
    const feed: Feed = { topic, sub, recent: [], watchers: new Set(), touchedAt: Date.now() }
    this.feeds.set(topic, feed)
    void this.pump(feed)
    return feed
  }

  private async pump (feed: Feed): Promise<void> {
    for await (const msg of feed.sub) {
      const e = this.event(msg)
      feed.recent.push(e)
      if (feed.recent.length > this.recentMax) feed.recent.shift()
      for (const w of feed.watchers) w.push(e)
    }
  }

  private event (msg: Message): TopicEvent {
    const fromName = msg.from === this.node.peerId ? this.node.name : this.node.member(msg.from)?.name
    return {
      topic: msg.topic,
      id: msg.envelope.id,
      from: msg.from,
      ...(fromName !== undefined ? { fromName } : {}),
      timestamp: msg.envelope.timestamp,
      payload: msg.payload
    }
  }

  private sweep (): void {
    const old = Date.now() - this.idleMs
    for (const feed of [...this.feeds.values()]) if (feed.watchers.size === 0 && feed.touchedAt < old) this.drop(feed)
  }

  private drop (feed: Feed): void {
    this.feeds.delete(feed.topic)
    feed.sub.unsubscribe()
    for (const w of [...feed.watchers]) w.close()
  }
}
