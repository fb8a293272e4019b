/**
 * Whether a publisher reaches every subscriber of a topic by writing to its direct peers (pure;
 * fanout.ts feeds it). Gossip carries a message only through peers that subscribe to its topic,
 * so every subscriber gossip could reach is a subscriber connected to the publisher, or connected
 * to such a subscriber, and so on. Each node tells its direct peers, per topic it subscribes to,
 * the peers connected to it that subscribe too (its reach). When every subscriber connected to
 * the publisher has told its reach and each lists only the publisher and subscribers connected
 * to the publisher, no subscriber is beyond them (by induction along any gossip path): the
 * publisher may write to them alone. Otherwise its batches go by gossip, as before.
 */
export type ReachMap = Record<string, string[] | null>

export class ReachTable {
  /** Per peer, per topic it subscribes to: the peers it reaches, or null when it has too many to list. */
  private readonly peers = new Map<string, Map<string, ReadonlySet<string> | null>>()

  /** The reach a peer told (replacing what it told before). */
  set (peer: string, reach: ReachMap): void {
    const m = new Map<string, ReadonlySet<string> | null>()
    for (const [topic, list] of Object.entries(reach)) m.set(topic, list === null ? null : new Set(list))
    this.peers.set(peer, m)
  }

  forget (peer: string): void { this.peers.delete(peer) }

  /** Peers that told their reach. */
  get size (): number { return this.peers.size }

  /**
   * Whether `subscribers` (the subscribers of `topic` connected to `self`) are every subscriber
   * gossip from `self` could reach: each told its reach for the topic, and lists only `self` and
   * peers among `subscribers`. A peer that has not told (yet) or lists too many to name says no.
   */
  covers (self: string, topic: string, subscribers: readonly string[]): boolean {
    const direct = new Set(subscribers)
    for (const peer of subscribers) {
      const reach = this.peers.get(peer)?.get(topic)
      if (reach === undefined || reach === null) return false
      for (const other of reach) if (other !== self && !direct.has(other)) return false
    }
    return true
  }

  /**
   * Subscribers of `topic` that the peers in `subscribers` told of and that are not among them:
   * reached from `self` only through a relay (gossip). Empty does not mean there are none: a
   * peer that has not told, or listed too many to name, hides those beyond it.
   */
  beyond (self: string, topic: string, subscribers: readonly string[]): string[] {
    const direct = new Set(subscribers)
    const out = new Set<string>()
    for (const peer of subscribers) {
      for (const other of this.peers.get(peer)?.get(topic) ?? []) if (other !== self && !direct.has(other)) out.add(other)
    }
    return [...out]
  }
}

/**
 * This node's reach: for each topic it subscribes to, its connected peers that subscribe (null
 * past `max`), sorted so that an unchanged view makes the same text and is not sent again.
 */
export function ownReach (topics: Iterable<string>, subscribersOf: (topic: string) => string[], max: number): ReachMap {
  const out: ReachMap = {}
  for (const topic of [...topics].sort()) {
    const subs = subscribersOf(topic)
    out[topic] = subs.length > max ? null : subs.sort()
  }
  return out
}
