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
import { HEADER_SEQUENCE } from '../envelope/delivery.js'
import { ReorderBuffer, Sequencer, type GapReport } from './ordering.js'

/** The stream a sender's sequence numbers count in: new at each start, so a restarted sender does not collide with its past. */
export const HEADER_STREAM = 'am-stream'

export interface InOrderInit {
  reorderBuffer: number
  gapTimeoutMs: number
  onGap: (peer: string, report: Omit<GapReport<unknown>, 'items'>) => void
}

export class InOrder {
  private readonly buffer: ReorderBuffer<() => void>
  private readonly sequencer = new Sequencer()
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
    return { [HEADER_STREAM]: stream, [HEADER_SEQUENCE]: String(this.sequencer.next(peer)) }
  }

  /**
   * Resolves when `env` (from the authenticated `peer`) may run. A message without a sequence
   * runs at once; a retry of one already run runs at once too (the dedup window or at-least-once
   * rules decide what it does); one too far ahead is answered RATE001, which its sender retries.
   */
  async gate (env: Envelope, peer: string): Promise<void> {
    const stream = env.headers[HEADER_STREAM]
    const raw = env.headers[HEADER_SEQUENCE]
    if (stream === undefined || raw === undefined) return
    const key = `${peer}/${stream}`
    const seq = Number(raw)
    let release!: () => void
    const ready = new Promise<void>(resolve => { release = resolve })
    const r = this.buffer.accept(key, seq, release, Date.now())
    switch (r.outcome) {
      case 'delivered':
        for (const go of r.items) go()
        break
      case 'buffered':
        this.waiting.set(`${key}#${seq}`, ready)
        void ready.then(() => this.waiting.delete(`${key}#${seq}`))
        this.arm()
        break
      case 'duplicate':
        // Still waiting (an earlier attempt is buffered): run after it. Already run: run now.
        await this.waiting.get(`${key}#${seq}`)
        return
      case 'invalid':
        return
      default:
        throw new RateLimitedError(`message ${seq} of stream ${stream} is ${r.outcome === 'beyond' ? 'beyond the reorder buffer' : 'over the reorder buffers\' bound'}: retry later`)
    }
    await ready
  }

  stop (): void {
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
