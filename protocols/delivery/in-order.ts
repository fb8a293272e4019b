/**
 * Ordering of reliable direct messages (R-REL): each sender numbers its reliable messages per
 * destination (`am-seq`, within a stream `am-stream` that is new at each start of the sender),
 * and the receiver starts their handlers in that order. A message that arrives early waits
 * (ReorderBuffer, ordering.ts) for the ones before it; a gap still open after
 * delivery.gapTimeoutMs is reported (`gap` callback: event and metric) and the waiting ones run
 * past it. For at-least-once the sender's outbox repairs the gap by its own retries: the missing
 * message, when it comes, runs late rather than never.
 *
 * Order is of handler starts: handlers are async and may finish in any order, as with any server.
 */
import { RateLimitedError } from '../core/errors.js'
import type { Envelope } from '../envelope/index.js'
import { HEADER_SEQUENCE, HEADER_SEQUENCE_FLOOR } from '../envelope/delivery.js'
import { ReorderBuffer, type GapReport } from './ordering.js'

/** The stream a sender's sequence numbers count in: new at each start, so a restarted sender does not collide with its past. */
export const HEADER_STREAM = 'am-stream'

export interface InOrderInit {
  reorderBuffer: number
  gapTimeoutMs: number
  onGap: (peer: string, report: Omit<GapReport<unknown>, 'items'>) => void
}

export class InOrder {
  private readonly buffer: ReorderBuffer<() => void>
  /** Sender side, this run's stream: the next seq per destination, and those not yet answered or given up. */
  private readonly nextSeq = new Map<string, number>()
  private readonly open = new Map<string, Set<number>>()
  /** Messages let through or still waiting, by stream and seq: a retry of a waiting one waits with it. */
  private readonly waiting = new Map<string, Promise<void>>()
  private timer?: ReturnType<typeof setTimeout>
  private readonly init: InOrderInit

  constructor (init: InOrderInit) {
    this.init = init
    this.buffer = new ReorderBuffer({ reorderBuffer: init.reorderBuffer, gapTimeoutMs: init.gapTimeoutMs })
  }

  /** The headers a new reliable message to `peer` carries in sender stream `stream`. */
  number (stream: string, peer: string): Record<string, string> {
    const seq = this.nextSeq.get(peer) ?? 1
    this.nextSeq.set(peer, seq + 1)
    let open = this.open.get(peer)
    if (open === undefined) this.open.set(peer, open = new Set())
    open.add(seq)
    return { [HEADER_STREAM]: stream, [HEADER_SEQUENCE]: String(seq) }
  }

  /** A numbered message of this run ended (answered, or given up): the floor may rise past it. */
  settle (peer: string, headers: Record<string, string>, stream: string): void {
    if (headers[HEADER_STREAM] !== stream) return
    const open = this.open.get(peer)
    open?.delete(Number(headers[HEADER_SEQUENCE]))
    if (open?.size === 0) this.open.delete(peer)
  }

  /** The floor header an attempt to `peer` carries: its lowest open seq, or the next one when none is open. */
  floor (peer: string): Record<string, string> {
    const open = this.open.get(peer)
    const floor = open !== undefined && open.size > 0 ? Math.min(...open) : this.nextSeq.get(peer)
    return floor === undefined ? {} : { [HEADER_SEQUENCE_FLOOR]: String(floor) }
  }

  /**
   * Calls `begin` when `env` (from the authenticated `peer`) may run: at once for a message
   * without a sequence, or a retry of one already begun (the dedup window or at-least-once rules
   * decide what it does); after the ones before it otherwise. Those unblocked by one arrival are
   * begun synchronously, in order, so their handlers start in order (not merely get scheduled).
   * One too far ahead throws RATE001, which its sender retries.
   */
  admit (env: Envelope, peer: string, begin: () => void): void {
    const stream = env.headers[HEADER_STREAM]
    const raw = env.headers[HEADER_SEQUENCE]
    if (stream === undefined || raw === undefined) { begin(); return }
    const key = `${peer}/${stream}`
    const seq = Number(raw)
    const id = `${key}#${seq}`
    // A retry of this one while it waits begins right after it (`started`).
    let begun!: () => void
    const started = new Promise<void>(resolve => { begun = resolve })
    const item = (): void => { this.waiting.delete(id); begin(); begun() }
    const floor = env.headers[HEADER_SEQUENCE_FLOOR]
    if (floor !== undefined) for (const go of this.buffer.advance(key, Number(floor))) go()
    const r = this.buffer.accept(key, seq, item, Date.now())
    switch (r.outcome) {
      case 'delivered':
        for (const go of r.items) go()
        return
      case 'buffered':
        this.waiting.set(id, started)
        this.arm()
        return
      case 'duplicate': {
        const earlier = this.waiting.get(id)
        if (earlier === undefined) begin()
        else void earlier.then(begin)
        return
      }
      case 'invalid':
        begin()
        return
      default:
        throw new RateLimitedError(`message ${seq} of stream ${stream} is ${r.outcome === 'beyond' ? 'beyond the reorder buffer' : 'over the reorder buffers\' bound'}: retry later`)
    }
  }

  stop (): void {
    this.nextSeq.clear()
    this.open.clear()
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    // Whatever waits runs now: its callers get an answer (or their stream closes) rather than hang.
    for (const report of this.buffer.expire(Number.MAX_SAFE_INTEGER)) for (const go of report.items) go()
  }

  /** One timer, for the earliest gap that could expire. */
  private arm (): void {
    if (this.timer !== undefined) return
    const at = this.buffer.nextExpiry()
    if (at === undefined) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      for (const { items, ...report } of this.buffer.expire(Date.now())) {
        this.init.onGap(report.key.slice(0, report.key.indexOf('/')), report)
        for (const go of items) go()
      }
      this.arm()
    }, Math.max(0, at - Date.now()))
    this.timer.unref?.()
  }
}
