/**
 * Ordered delivery (issue 14): per-stream sequence numbers handed out by the sender
 * (`Sequencer`) and a receiver's reorder buffer (`ReorderBuffer`) that delivers each stream's
 * items in sequence order, drops duplicates and sequence numbers from too far in the future, and
 * reports a gap that stays open past a timeout, then delivers past it. Pure: no network, no
 * timers, no clock (every method that needs the time takes `now`); the delivery service carries
 * the numbers in the `am-seq` header, calls `expire(now)` on its own timer, and turns the
 * outcomes into events, metrics and, for at-least-once, resend requests.
 *
 * A stream is what the caller names by its key: a sender (direct messages), or a sender and a
 * topic. The key must change when the sender's counter starts again from 1 (a sender restart
 * without a durable counter): include the sender's incarnation in it, or a restarted sender's
 * first messages look like duplicates of its last life's and are dropped.
 *
 * Memory is bounded twice: per stream, at most `reorderBuffer` items wait (anything past
 * next + reorderBuffer is refused, so the pending seqs all lie in that window); in total, at most
 * `maxStreams` streams are tracked (the one used least recently is forgotten first, its waiting
 * items dropped and counted) and at most `maxBuffered` items wait across all of them (an item
 * over that is refused and counted, like one beyond its stream's buffer, and left to the
 * sender's resend). A stream's state without waiting items is two numbers.
 */

import { DEFAULT_GAP_TIMEOUT_MS, DEFAULT_REORDER_BUFFER } from './constants.js'

/**
 * Streams tracked at most. A node's streams are its peers and their topics, which the
 * connection and subscription limits keep far below this; a stream forgotten past it starts
 * again at the next number it sees.
 */
export const DEFAULT_ORDERING_MAX_STREAMS = 10_000
/** Items waiting across all streams at most: 100 streams with full buffers (the default of 1,000 each). */
export const DEFAULT_ORDERING_MAX_BUFFERED = 100_000

export interface ReorderOptions {
  /** Items one stream may hold while it waits for a gap to fill (`delivery.reorderBuffer`). */
  reorderBuffer?: number
  /** How long a gap may stay open before it is reported and skipped (`delivery.gapTimeoutMs`). */
  gapTimeoutMs?: number
  maxStreams?: number
  maxBuffered?: number
}

/**
 * What became of one arrival.
 * - `delivered`: it was next; it and any buffered items it unblocked are in `items`, in order.
 * - `buffered`: it waits for the missing ones before it.
 * - `duplicate`: delivered or buffered already (or skipped over as part of a reported gap).
 * - `beyond`: from the future beyond the buffer (seq > next + reorderBuffer); dropped.
 * - `overflow`: the buffers of all streams together are full; dropped.
 * - `invalid`: not a positive safe integer; dropped.
 */
export type ReorderOutcome = 'delivered' | 'buffered' | 'duplicate' | 'beyond' | 'overflow' | 'invalid'

export interface Accepted<T> {
  outcome: ReorderOutcome
  /** The items now deliverable, in order (empty unless `delivered`). */
  items: T[]
}

/** A gap reported by `expire`: seqs `from`..`to` (inclusive) never came and were skipped. */
export interface GapReport<T> {
  key: string
  from: number
  to: number
  /** When the gap opened: the arrival of the first item that had to wait behind it. */
  openedAt: number
  /**
   * The stream's first arrivals waited for seqs that were never seen on this stream (a receiver
   * that joined late or restarted): not a loss to alarm about, nor to ask a resend for.
   */
  initial: boolean
  /** The items delivered past the gap, in order, up to the next gap or the end of the buffer. */
  items: T[]
}

export interface ReorderStats {
  streams: number
  buffered: number
  delivered: number
  duplicates: number
  beyond: number
  overflow: number
  invalid: number
  /** Gaps reported by `expire`, and the seqs they skipped. */
  gaps: number
  skipped: number
  /** Streams forgotten to stay under `maxStreams`, and the waiting items lost with them. */
  evictedStreams: number
  evictedItems: number
}

interface Stream<T> {
  /** The seq to deliver next. */
  next: number
  /** Items waiting, by seq; every key is in (next, next + reorderBuffer]. */
  pending: Map<number, { item: T, at: number }>
  /** Nothing delivered yet: the gap at `next` is the stream's start, not a loss. */
  fresh: boolean
}

export class ReorderBuffer<T> {
  readonly reorderBuffer: number
  readonly gapTimeoutMs: number
  readonly maxStreams: number
  readonly maxBuffered: number
  /** In least-recently-used order: a Map iterates in insertion order, and a use re-inserts. */
  private readonly streams = new Map<string, Stream<T>>()
  private readonly counts: Omit<ReorderStats, 'streams'> = {
    buffered: 0, delivered: 0, duplicates: 0, beyond: 0, overflow: 0, invalid: 0, gaps: 0, skipped: 0, evictedStreams: 0, evictedItems: 0
  }

  constructor (options: ReorderOptions = {}) {
    this.reorderBuffer = options.reorderBuffer ?? DEFAULT_REORDER_BUFFER
    this.gapTimeoutMs = options.gapTimeoutMs ?? DEFAULT_GAP_TIMEOUT_MS
    this.maxStreams = options.maxStreams ?? DEFAULT_ORDERING_MAX_STREAMS
    this.maxBuffered = options.maxBuffered ?? DEFAULT_ORDERING_MAX_BUFFERED
    for (const [name, v] of Object.entries({ reorderBuffer: this.reorderBuffer, maxStreams: this.maxStreams, maxBuffered: this.maxBuffered })) {
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, not ${v}`)
    }
    if (!(this.gapTimeoutMs >= 0)) throw new RangeError(`gapTimeoutMs must be ≥ 0, not ${this.gapTimeoutMs}`)
  }

  /** One arrival on stream `key`, at `now`. */
  accept (key: string, seq: number, item: T, now: number): Accepted<T> {
    if (!Number.isSafeInteger(seq) || seq < 1) return this.drop('invalid')
    let stream = this.streams.get(key)
    if (stream === undefined) {
      // Senders count from 1. A first seq within the buffer waits for the ones before it (the
      // first messages of a stream may be reordered too); one further on starts the stream
      // there: a receiver that joined late or forgot cannot wait for the sender's whole history.
      stream = { next: seq <= this.reorderBuffer ? 1 : seq, pending: new Map(), fresh: true }
      this.evictFor(key)
    } else {
      this.streams.delete(key)
    }
    this.streams.set(key, stream)
    if (seq < stream.next || stream.pending.has(seq)) return this.drop('duplicate')
    if (seq > stream.next + this.reorderBuffer) return this.drop('beyond')
    if (seq > stream.next) {
      if (this.counts.buffered >= this.maxBuffered) return this.drop('overflow')
      stream.pending.set(seq, { item, at: now })
      this.counts.buffered++
      return { outcome: 'buffered', items: [] }
    }
    stream.next++
    stream.fresh = false
    const items = [item, ...this.drain(stream)]
    this.counts.delivered++
    return { outcome: 'delivered', items }
  }

  /**
   * Reports each gap open for `gapTimeoutMs` or longer at `now` and delivers past it: the
   * buffered items up to the next gap come with the report. Several gaps of one stream may be
   * reported at once, in order.
   */
  expire (now: number): Array<GapReport<T>> {
    const reports: Array<GapReport<T>> = []
    for (const [key, stream] of this.streams) {
      while (stream.pending.size > 0) {
        let first = Infinity
        let openedAt = Infinity
        for (const [seq, { at }] of stream.pending) {
          if (seq < first) first = seq
          if (at < openedAt) openedAt = at
        }
        if (now - openedAt < this.gapTimeoutMs) break
        const from = stream.next
        const initial = stream.fresh
        this.counts.gaps++
        this.counts.skipped += first - from
        stream.next = first
        stream.fresh = false
        reports.push({ key, from, to: first - 1, openedAt, initial, items: this.drain(stream) })
      }
    }
    return reports
  }

  /** The earliest `now` at which `expire` would report a gap; undefined when nothing waits. */
  nextExpiry (): number | undefined {
    let earliest: number | undefined
    for (const stream of this.streams.values()) {
      for (const { at } of stream.pending.values()) {
        if (earliest === undefined || at < earliest) earliest = at
      }
    }
    return earliest === undefined ? undefined : earliest + this.gapTimeoutMs
  }

  /**
   * The sender says no seq below `floor` will come (each was answered or given up): what waits
   * below it is delivered now, in order, with what it unblocks, and the stream moves on to
   * `floor`. A stream not tracked yet (a receiver that restarted) starts there instead of waiting
   * for seqs it will never see. A floor beyond the buffer is taken only up to it.
   */
  advance (key: string, floor: number): T[] {
    if (!Number.isSafeInteger(floor) || floor < 1) return []
    const stream = this.streams.get(key)
    if (stream === undefined) {
      this.evictFor(key)
      this.streams.set(key, { next: floor, pending: new Map(), fresh: false })
      return []
    }
    const to = Math.min(floor, stream.next + this.reorderBuffer)
    if (to <= stream.next) return []
    const items: T[] = []
    for (const seq of [...stream.pending.keys()].filter(q => q < to).sort((x, y) => x - y)) {
      items.push((stream.pending.get(seq) as { item: T }).item)
      stream.pending.delete(seq)
    }
    this.counts.buffered -= items.length
    this.counts.delivered += items.length
    this.counts.skipped += to - stream.next - items.length
    stream.next = to
    stream.fresh = false
    return [...items, ...this.drain(stream)]
  }

  /** Forgets a stream (its sender left): its waiting items are dropped, not counted as evicted. */
  forget (key: string): void {
    const stream = this.streams.get(key)
    if (stream === undefined) return
    this.counts.buffered -= stream.pending.size
    this.streams.delete(key)
  }

  /** The seq stream `key` delivers next (undefined for a stream not tracked). */
  expected (key: string): number | undefined {
    return this.streams.get(key)?.next
  }

  stats (): ReorderStats {
    return { streams: this.streams.size, ...this.counts }
  }

  private drop (outcome: 'duplicate' | 'beyond' | 'overflow' | 'invalid'): Accepted<T> {
    this.counts[outcome === 'duplicate' ? 'duplicates' : outcome]++
    return { outcome, items: [] }
  }

  /** The buffered items that follow `next` without a gap, taken out in order. */
  private drain (stream: Stream<T>): T[] {
    const items: T[] = []
    for (let waiting = stream.pending.get(stream.next); waiting !== undefined; waiting = stream.pending.get(stream.next)) {
      stream.pending.delete(stream.next)
      stream.next++
      items.push(waiting.item)
    }
    this.counts.buffered -= items.length
    this.counts.delivered += items.length
    return items
  }

  private evictFor (key: string): void {
    while (this.streams.size >= this.maxStreams) {
      const [oldest, stream] = this.streams.entries().next().value as [string, Stream<T>]
      if (oldest === key) return
      this.streams.delete(oldest)
      this.counts.evictedStreams++
      this.counts.evictedItems += stream.pending.size
      this.counts.buffered -= stream.pending.size
    }
  }
}

/**
 * The sender's side: the next sequence number of each stream, from 1. Its keys are the
 * sender's own streams (a peer it sends to, a topic it publishes on), bounded by its
 * connections and topics; `forget` one when it ends. Counters live in memory: a restarted
 * sender counts from 1 again, so receivers must key its streams by its incarnation too.
 */
export class Sequencer {
  private readonly counters = new Map<string, number>()

  /** The number for the next item on stream `key`. */
  next (key: string): number {
    const seq = (this.counters.get(key) ?? 0) + 1
    this.counters.set(key, seq)
    return seq
  }

  /** The last number handed out on `key` (0 before the first). */
  last (key: string): number {
    return this.counters.get(key) ?? 0
  }

  forget (key: string): void {
    this.counters.delete(key)
  }

  get size (): number {
    return this.counters.size
  }
}
