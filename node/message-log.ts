/**
 * Recent messages, for people watching a node: a fixed ring (the debug endpoint's /messages), a
 * sampled feed (its /events stream) and running counts per gossip topic (from which
 * surfaces/debug/topic-rates.ts makes its /gossip rates).
 * Bounded in memory and in rate whatever the traffic.
 */
import type { Envelope } from '../protocols/envelope/index.js'

/** Topics counted one by one; the rest are counted together under OTHER_TOPICS. */
export const MAX_COUNTED_TOPICS = 256
export const OTHER_TOPICS = '(other topics)'

export interface MessageRecord {
  at: number
  direction: 'in' | 'out'
  id: string
  type: string
  subject: string
  source: string
  destination: string
  topic?: string
  size?: number
  /** in: sender timestamp to receipt (ms, sender clock); out REQUEST: send to answer. */
  latencyMs?: number
}

export class MessageLog {
  private readonly ring: Array<MessageRecord | undefined>
  private next = 0
  private listeners = new Set<(r: MessageRecord) => void>()
  private windowStart = 0
  private inWindow = 0
  /** Gossip messages in and out per topic since start, for the rates on /gossip and the live page. */
  private readonly perTopic = new Map<string, { in: number, out: number }>()
  /** Messages exchanged with each remote peer since the last takeCounts(). */
  private perPeer = new Map<string, number>()
  /**
   * Records are kept only where someone can read them (a node with a debug endpoint); elsewhere
   * only the per-peer counts behind the mesh announcements are, which cost far less.
   */
  keepRecords = true

  /** `capacity` records kept; at most `samplesPerSec` passed on to listeners. */
  constructor (readonly capacity = 500, readonly samplesPerSec = 20) {
    this.ring = new Array(capacity)
  }

  add (env: Envelope, direction: 'in' | 'out', size?: number, latencyMs?: number): void {
    const d = env.destination
    const remote = direction === 'in' ? env.source : ('peer' in d ? d.peer : undefined)
    if (remote !== undefined) this.perPeer.set(remote, (this.perPeer.get(remote) ?? 0) + 1)
    if (!this.keepRecords) return
    const rec: MessageRecord = {
      at: Date.now(),
      direction,
      id: env.id,
      type: env.type,
      subject: env.subject,
      source: env.source,
      destination: 'peer' in d ? d.peer : 'peers' in d ? d.peers.join(',') : `topic:${d.topic}`
    }
    if ('topic' in d) {
      rec.topic = d.topic
      this.countTopic(d.topic, direction)
    }
    if (size !== undefined) rec.size = size
    if (latencyMs !== undefined) rec.latencyMs = Math.round(latencyMs * 1000) / 1000
    this.ring[this.next] = rec
    this.next = (this.next + 1) % this.capacity
    if (this.listeners.size > 0 && this.admit(rec.at)) for (const l of this.listeners) l(rec)
  }

  /** Per-peer message counts since the previous call, and a fresh count from now on. */
  takeCounts (): Map<string, number> {
    const counts = this.perPeer
    this.perPeer = new Map()
    return counts
  }

  /** Gossip messages in and out per topic since start (counted where records are kept). */
  topicTotals (): ReadonlyMap<string, { readonly in: number, readonly out: number }> { return this.perTopic }

  /** The most recent records, newest first. */
  recent (limit: number): MessageRecord[] {
    const out: MessageRecord[] = []
    for (let i = 1; i <= this.capacity && out.length < limit; i++) {
      const r = this.ring[(this.next - i + this.capacity) % this.capacity]
      if (r === undefined) break
      out.push(r)
    }
    return out
  }

  /** Sampled records as they happen; returns the function that stops them. */
  listen (fn: (r: MessageRecord) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  private countTopic (topic: string, direction: 'in' | 'out'): void {
    let c = this.perTopic.get(topic)
    if (c === undefined) {
      // Topics may be made per task or per request: past the cap they share one line, so the map stays small.
      const key = this.perTopic.size < MAX_COUNTED_TOPICS ? topic : OTHER_TOPICS
      c = this.perTopic.get(key) ?? { in: 0, out: 0 }
      this.perTopic.set(key, c)
    }
    c[direction]++
  }

  private admit (now: number): boolean {
    if (now - this.windowStart >= 1000) { this.windowStart = now; this.inWindow = 0 }
    return ++this.inWindow <= this.samplesPerSec
  }
}
