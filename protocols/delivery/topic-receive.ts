/**
 * The subscriber's side of reliable publish: the gate every at-least-once and exactly-once topic
 * envelope passes (by gossip or sent directly) before its subscriptions get it.
 * - Order: the publisher numbers its reliable publishes per topic (`am-seq` in its run's stream
 *   `am-stream`); they are delivered in that order through a ReorderBuffer (ordering.ts) keyed by
 *   (publisher, stream, topic). A gap open past delivery.gapTimeoutMs is reported and passed.
 *   `am-seq-floor`, the publisher's lowest seq on the topic not yet acknowledged by all its
 *   recipients, says what is still worth waiting for: a late subscriber starts there at once.
 * - exactly-once: an id already delivered (TopicSeen, durable) is dropped.
 * - Acknowledgement: a subscriber named in `am-ack` tells the publisher it has a gossip copy
 *   (batched per publisher); a direct copy is acknowledged by its rpc answer.
 */
import type { Envelope } from '../envelope/index.js'
import { HEADER_DELIVERY, HEADER_SEQUENCE, HEADER_SEQUENCE_FLOOR } from '../envelope/delivery.js'
import type { GateVerdict } from '../pubsub/index.js'
import { TOPIC_ACK_BATCH_MS } from './constants.js'
import { HEADER_STREAM } from './in-order.js'
import { ReorderBuffer, type GapReport } from './ordering.js'
import { HEADER_ACK } from './topic-commands.js'
import type { TopicSeen } from './topic-seen.js'

export interface TopicReceiverInit {
  self: string
  seen: TopicSeen
  reorderBuffer: number
  gapTimeoutMs: number
  /** Send these ids' acknowledgements to their publisher (best effort: a lost ack only costs a direct copy). */
  ack: (publisher: string, ids: string[]) => void
  onGap: (publisher: string, topic: string, report: Omit<GapReport<unknown>, 'items' | 'key'>) => void
  onDuplicate: (publisher: string) => void
}

export class TopicReceiver {
  private readonly init: TopicReceiverInit
  private readonly buffer: ReorderBuffer<() => void>
  private readonly acks = new Map<string, string[]>()
  private ackTimer?: ReturnType<typeof setTimeout>
  private gapTimer?: ReturnType<typeof setTimeout>

  constructor (init: TopicReceiverInit) {
    this.init = init
    this.buffer = new ReorderBuffer({ reorderBuffer: init.reorderBuffer, gapTimeoutMs: init.gapTimeoutMs })
  }

  /** The TopicGate pubsub calls (protocols/pubsub/publish-options.ts). */
  readonly gate = (env: Envelope, topic: string, via: 'gossip' | 'direct', deliver: () => void): GateVerdict => {
    const verdict = this.admit(env, topic, deliver)
    // Acknowledged even as a duplicate: the publisher may have missed the first ack.
    if (via === 'gossip' && verdict !== 'refused' && this.named(env)) this.queueAck(env.source, env.id)
    return verdict
  }

  stop (): void {
    if (this.ackTimer !== undefined) clearTimeout(this.ackTimer)
    this.ackTimer = undefined
    this.acks.clear()
    if (this.gapTimer !== undefined) clearTimeout(this.gapTimer)
    this.gapTimer = undefined
    // What waits is delivered now rather than lost with the buffer.
    for (const report of this.buffer.expire(Number.MAX_SAFE_INTEGER)) for (const go of report.items) go()
  }

  private named (env: Envelope): boolean {
    return env.headers[HEADER_ACK]?.split(',').includes(this.init.self) ?? false
  }

  private admit (env: Envelope, topic: string, deliver: () => void): GateVerdict {
    const exactly = env.headers[HEADER_DELIVERY] === 'exactly-once'
    if (exactly && this.init.seen.has(env.source, topic, env.id)) {
      this.init.onDuplicate(env.source)
      return 'duplicate'
    }
    const verdict = this.order(env, topic, deliver)
    if (verdict === 'duplicate') this.init.onDuplicate(env.source)
    if (exactly && verdict === 'accepted') this.init.seen.add(env.source, topic, env.id)
    return verdict
  }

  private order (env: Envelope, topic: string, deliver: () => void): GateVerdict {
    const stream = env.headers[HEADER_STREAM]
    const raw = env.headers[HEADER_SEQUENCE]
    // A stream with a '/' could not be told from the topic in the key: unsequenced, as a malformed seq is.
    if (stream === undefined || raw === undefined || stream.includes('/')) { deliver(); return 'accepted' }
    // Peer ids and streams hold no '/': the key reads back into (publisher, stream, topic) for gap reports.
    const key = `${env.source}/${stream}/${topic}`
    const floor = env.headers[HEADER_SEQUENCE_FLOOR]
    if (floor !== undefined) for (const go of this.buffer.advance(key, Number(floor))) go()
    const r = this.buffer.accept(key, Number(raw), deliver, Date.now())
    switch (r.outcome) {
      case 'delivered':
        for (const go of r.items) go()
        return 'accepted'
      case 'buffered':
        this.arm()
        return 'accepted'
      case 'duplicate':
        return 'duplicate'
      case 'invalid':
        deliver()
        return 'accepted'
      default:
        // Too far ahead, or all buffers full: not taken, not acknowledged; its direct copy comes later.
        return 'refused'
    }
  }

  private queueAck (publisher: string, id: string): void {
    let ids = this.acks.get(publisher)
    if (ids === undefined) this.acks.set(publisher, ids = [])
    ids.push(id)
    if (this.ackTimer !== undefined) return
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined
      for (const [p, list] of this.acks) {
        for (let i = 0; i < list.length; i += 1_000) this.init.ack(p, list.slice(i, i + 1_000))
      }
      this.acks.clear()
    }, TOPIC_ACK_BATCH_MS)
    this.ackTimer.unref?.()
  }

  /** One timer, for the earliest gap that could expire (as in-order.ts). */
  private arm (): void {
    if (this.gapTimer !== undefined) return
    const at = this.buffer.nextExpiry()
    if (at === undefined) return
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined
      for (const { items, key, ...report } of this.buffer.expire(Date.now())) {
        const [publisher, stream] = key.split('/', 2)
        this.init.onGap(publisher, key.slice(publisher.length + stream.length + 2), report)
        for (const go of items) go()
      }
      this.arm()
    }, Math.max(0, at - Date.now()))
    this.gapTimer.unref?.()
  }
}
