/**
 * Gathers envelopes bound for one gossip topic into batches (R-REL batching). At 5 nodes a
 * gossip message costs each receiver ~3 ms of CPU whatever its size (duplicates, IDONTWANT,
 * control traffic), so one gossip message per envelope caps a mesh at ~250 envelopes/s;
 * fifty per message lifts that ceiling fifty-fold.
 */
import { TokenBucket } from '../core/token-bucket.js'

export interface BatcherInit<T = string> {
  windowMs: number
  /**
   * Gossip messages this topic may cost per second before batches wait to grow. A gossip
   * message costs every receiver the same fixed work whatever its size, so under load it is
   * cheaper to send fewer, fuller batches than more, emptier ones.
   */
  maxBatchesPerSec: number
  /**
   * The node's budget, shared by every topic's batcher: its gossip messages a second in all. A
   * receiver charges them to this node whatever their topic (pubsub.publishPerSec, 400) and hangs
   * up on a publisher over it for 5 s, so 20 busy topics at 40 a second each got an honest agent
   * disconnected. Unset: only the topic's own budget.
   */
  shared?: BatchBudget
  /** Envelopes a receiver charges as one gossip message (GOSSIP_ENVELOPES_PER_MESSAGE): a larger batch costs the shared budget more. */
  sharedUnit?: number
  maxEnvelopes: number
  maxBytes: number
  /**
   * Bytes of a batch one transport message carries (NOISE_BATCH_BYTES less the topic's bytes);
   * with `maxSpill`, a batch that would end at most `maxSpill` bytes past a multiple of it is cut
   * before it. Unset: batches are cut by count and `maxBytes` only.
   */
  transportBytes?: number
  maxSpill?: number
  /** Envelopes held before `add` makes its caller wait. */
  maxQueued: number
  /** Writes one batch (its envelopes: their JSON texts, or what pubsub seals in the batch) to the network. */
  flush: (items: T[]) => Promise<void>
  onError: (err: unknown, count: number) => void
}

export class Batcher<T = string> {
  private readonly init: BatcherInit<T>
  private current: T[] = []
  private currentBytes = 0
  private readonly ready: T[][] = []
  private queued = 0
  private timer?: ReturnType<typeof setTimeout>
  private flushing = false
  private stopped = false
  private readonly spaceWaiters: Array<() => void> = []
  private readonly budget: BatchBudget

  constructor (init: BatcherInit<T>) {
    this.init = init
    // A burst of a few lets an occasional publisher send at the plain window's latency.
    this.budget = new BatchBudget(init.maxBatchesPerSec)
  }

  /**
   * Queue one envelope. Resolves at once while the queue has room, and otherwise when the
   * network has taken enough to make room: this is the backpressure on `publish`. `size`: its
   * bytes on the wire (of a JSON text, its length unless given).
   */
  async add (item: T, size?: number): Promise<void> {
    while (this.queued >= this.init.maxQueued && !this.stopped) {
      await new Promise<void>(resolve => { this.spaceWaiters.push(resolve) })
    }
    if (this.stopped) return
    const bytes = size ?? (typeof item === 'string' ? Buffer.byteLength(item) : 0)
    if (this.current.length > 0 && (this.currentBytes + bytes + 1 > this.init.maxBytes || this.spills(bytes + 1))) this.seal()
    this.current.push(item)
    this.currentBytes += bytes + 1
    this.queued++
    if (this.current.length >= this.init.maxEnvelopes || this.currentBytes >= this.init.maxBytes) {
      // A full batch goes at once (it is the cheapest message there is), in debt if need be.
      this.budget.take()
      this.seal()
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => { this.timer = undefined; this.onWindow() }, this.init.windowMs)
    }
  }

  get pending (): number { return this.queued }

  /**
   * Whether an item of `bytes` would take the batch across a transport message's end, and the
   * batch, filled to its count with items of that size, would end only a little past it: then
   * it is cheaper to cut it here than to send a further message for its last few bytes.
   */
  private spills (bytes: number): boolean {
    const unit = this.init.transportBytes
    const slack = this.init.maxSpill
    if (unit === undefined || slack === undefined || unit <= 0) return false
    const after = this.currentBytes + bytes
    const edge = Math.floor(after / unit) * unit
    if (edge <= this.currentBytes) return false // no message end crossed
    const end = Math.min(this.init.maxBytes, after + (this.init.maxEnvelopes - this.current.length - 1) * bytes)
    return end - edge <= slack
  }

  /** Send what is queued now and wait until it has been written. */
  async drain (): Promise<void> {
    this.seal()
    while ((this.flushing || this.ready.length > 0) && !this.stopped) {
      await new Promise<void>(resolve => { this.spaceWaiters.push(resolve) })
    }
  }

  stop (): void {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    for (const wake of this.spaceWaiters.splice(0)) wake()
  }

  /** The window closed: send now if the budget allows, else let the batch grow a little more. */
  private onWindow (): void {
    if (this.stopped || this.current.length === 0) return
    const shared = this.init.shared
    // The shared budget is charged as the batch is written (pump); while it is spent, the batch grows.
    if (this.budget.ready() && (shared?.ready() ?? true)) {
      this.budget.take()
      this.seal()
      return
    }
    const wait = Math.max(this.budget.msUntilNext(), shared?.msUntilNext() ?? 0)
    this.timer = setTimeout(() => { this.timer = undefined; this.onWindow() }, wait)
  }

  private seal (): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    if (this.current.length === 0) return
    this.ready.push(this.current)
    this.current = []
    this.currentBytes = 0
    if (!this.flushing) void this.pump()
  }

  /** Writes sealed batches one after another, so their order on the wire is publish order. */
  private async pump (): Promise<void> {
    this.flushing = true
    while (this.ready.length > 0 && !this.stopped) {
      const batch = this.ready.shift() as T[]
      // Full batches too: a receiver charges one per `sharedUnit` envelopes, however they came.
      const shared = this.init.shared
      const units = Math.ceil(batch.length / (this.init.sharedUnit ?? 1))
      if (shared !== undefined) while (!this.stopped && !shared.charge(units)) await new Promise(resolve => setTimeout(resolve, shared.msUntilNext()))
      if (this.stopped) break
      try {
        await this.init.flush(batch)
      } catch (err) {
        this.init.onError(err, batch.length)
      }
      this.queued -= batch.length
      for (const wake of this.spaceWaiters.splice(0)) wake()
    }
    this.flushing = false
    for (const wake of this.spaceWaiters.splice(0)) wake()
  }
}

/**
 * A batcher's budget of gossip messages: the core TokenBucket on performance.now(), its burst a
 * tenth of a second's worth (at least one) unless given; takes may run into debt.
 */
export class BatchBudget {
  private readonly bucket: TokenBucket
  constructor (rate: number, burst = Math.max(1, Math.ceil(rate / 10))) {
    this.bucket = new TokenBucket(rate, burst, performance.now())
  }

  /** Takes a token, into debt if there is none: the caller asked `ready` first, or sends at once whatever it costs (a full batch). */
  take (): void { this.bucket.spend(1, performance.now()) }

  /** Takes `n` once a token is there (running into debt for the rest): false while there is none. */
  charge (n: number): boolean { return this.bucket.charge(n, performance.now()) }

  /** A token is there to take. */
  ready (): boolean { return this.bucket.ready(performance.now()) }

  msUntilNext (): number { return this.bucket.msUntilNext(performance.now()) }
}
