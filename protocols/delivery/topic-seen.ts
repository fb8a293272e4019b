/**
 * Exactly-once on a topic, the subscriber's side: the envelope ids delivered per (publisher,
 * topic), so a second copy (gossip and direct both arrive; gossipsub's own seen-cache is in memory
 * and forgets after two minutes) is dropped. Kept in the store's 'topic-seen' space, so also after
 * a restart; bounded like the dedup window (delivery.dedupWindowMs and dedupMaxEntries): by age,
 * then oldest first past the count.
 */
import type { StoreSpace } from '../core/store.js'
import { evictWindow } from './window.js'
import type { DedupPolicy } from './dedup.js'

export class TopicSeen {
  private readonly space: StoreSpace<number>
  private readonly policy: DedupPolicy
  /** Store key -> time first delivered, oldest first (insertion order). */
  private readonly order = new Map<string, number>()
  private readonly onEvict: (reason: 'age' | 'count', n: number) => void
  private readonly onError: (err: Error) => void

  constructor (space: StoreSpace<number>, policy: DedupPolicy, onEvict: (reason: 'age' | 'count', n: number) => void, onError: (err: Error) => void) {
    this.space = space
    this.policy = policy
    this.onEvict = onEvict
    this.onError = onError
  }

  load (): void {
    this.order.clear()
    const all = [...this.space.entries()].sort((a, b) => a[1] - b[1])
    for (const [k, at] of all) this.order.set(k, at)
  }

  get size (): number { return this.order.size }

  /** Peer ids hold no '/', and the envelope id is last: the key cannot be read two ways. */
  private key (publisher: string, topic: string, id: string): string { return `${publisher}/${id}/${topic}` }

  has (publisher: string, topic: string, id: string, now = Date.now()): boolean {
    const at = this.order.get(this.key(publisher, topic, id))
    return at !== undefined && now - at < this.policy.windowMs
  }

  /**
   * Remember an id as delivered. In memory at once (a copy arriving a moment later is dropped);
   * on disk a moment after, not awaited: the subscription that got it is in memory too, and a
   * crash loses both together.
   */
  add (publisher: string, topic: string, id: string, now = Date.now()): void {
    const k = this.key(publisher, topic, id)
    this.order.delete(k)
    this.order.set(k, now)
    this.space.put(k, now).catch(this.onError)
    if (this.order.size > this.policy.maxEntries) this.evict(now).catch(this.onError)
  }

  async evict (now = Date.now()): Promise<void> {
    await evictWindow(this.order, this.space, this.policy, now, this.onEvict)
  }
}
