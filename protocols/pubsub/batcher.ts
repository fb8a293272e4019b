/**
 * Gathers envelopes bound for one gossip topic into batches (R-REL batching). At 5 nodes a
 * gossip message costs each receiver ~3 ms of CPU whatever its size (duplicates, IDONTWANT,
 * control traffic), so one gossip message per envelope caps a mesh at ~250 envelopes/s;
 * fifty per message lifts that ceiling fifty-fold. When a batch is sealed is the Flusher's
 * answer (flusher.ts: at once on an idle link, gathered while it is busy); this is its shell: the
 * queue, the timers and the writes, one after another.
 */
import { TokenBucket } from '../core/token-bucket.js'
import { Flusher, type BatchRoute, type BatchSent, type FlushStep } from './flusher.js'
import { WRITE_HOLD_FACTOR } from './constants.js'

export interface BatcherInit<T = string> {
  /** The longest an envelope waits in an open batch while a write is under way (R-REL: 10 ms). */
  windowMs: number
  /**
   * Gossip messages this topic may cost per second before batches wait to grow. A gossip
   * message costs every receiver the same fixed work whatever its size, so under load it is
   * cheaper to send fewer, fuller batches than more, emptier ones. Batches that go over the
   * direct fan-out streams (`flush` answers 'direct' or 'direct-full') are not held to it.
   */
  maxBatchesPerSec: number
  /**
   * The node's budget, shared by every topic's batcher: its batches a second in all. A receiver
   * charges them to this node whatever their topic and way (pubsub.publishPerSec, 400) and hangs
   * up on a publisher over it for 5 s, so 20 busy topics at 40 a second each got an honest agent
   * disconnected. Unset: only the topic's own budget.
   */
  shared?: BatchBudget
  /** Envelopes a receiver charges as one gossip message (GOSSIP_ENVELOPES_PER_MESSAGE): a larger batch costs the shared budget more. */
  sharedUnit?: number
  /** What such a unit costs a batch written over the direct fan-out streams (DIRECT_FRAME_WEIGHT); default 1. */
  sharedDirectWeight?: number
  /** Bytes such a unit covers (GOSSIP_BYTES_PER_MESSAGE), when `flush` says the batch's bytes. */
  sharedUnitBytes?: number
  maxEnvelopes: number
  maxBytes: number
  /**
   * Bytes of a batch one transport message carries (NOISE_BATCH_BYTES less the topic's bytes);
   * with `maxSpill`, a batch that would end at most `maxSpill` bytes past a multiple of it is cut
   * before it. Unset: batches are cut by count and `maxBytes` only.
   */
  transportBytes?: number
  maxSpill?: number
  /** The link's busy time after a write, as a multiple of the write's (default WRITE_HOLD_FACTOR; flusher.ts). */
  holdFactor?: number
  /** Envelopes held before `add` makes its caller wait. */
  maxQueued: number
  /**
   * Writes one batch (its envelopes: their JSON texts, or what pubsub seals in the batch) to the
   * network, and says how it went (and its bytes, which the shared budget charges by too); no
   * answer counts as gossip (the topic's budget applies).
   */
  flush: (items: T[]) => Promise<BatchRoute | BatchSent | undefined | void>
  onError: (err: unknown, count: number) => void
}

export class Batcher<T = string> {
  private readonly init: BatcherInit<T>
  private current: T[] = []
  private currentBytes = 0
  private readonly ready: T[][] = []
  private queued = 0
  private timer?: ReturnType<typeof setTimeout>
  private timerAt = 0
  private immediate?: ReturnType<typeof setImmediate>
  private flushing = false
  private stopped = false
  private readonly spaceWaiters: Array<() => void> = []
  private readonly flusher: Flusher

  constructor (init: BatcherInit<T>) {
    this.init = init
    this.flusher = new Flusher({
      maxEnvelopes: init.maxEnvelopes,
      maxBytes: init.maxBytes,
      windowMs: init.windowMs,
      gossipPerSec: init.maxBatchesPerSec,
      holdFactor: init.holdFactor ?? WRITE_HOLD_FACTOR,
      ...(init.shared !== undefined
        ? { shared: init.shared.bucket, sharedUnit: init.sharedUnit, sharedDirectWeight: init.sharedDirectWeight, sharedUnitBytes: init.sharedUnitBytes }
        : {}),
      now: performance.now()
    })
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
    this.apply(this.flusher.add(bytes + 1, performance.now()))
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
    this.clearWake()
    for (const wake of this.spaceWaiters.splice(0)) wake()
  }

  /** Does what the flusher answered; one wake-up (a turn's end or a time) is armed at most. */
  private apply (step: FlushStep): void {
    if (this.stopped) return
    switch (step.do) {
      case 'seal':
        this.seal()
        return
      case 'turn':
        if (this.immediate !== undefined) return
        this.clearWake()
        this.immediate = setImmediate(() => { this.immediate = undefined; this.apply(this.flusher.step(performance.now(), true)) })
        return
      case 'at': {
        if (this.timer !== undefined && this.timerAt === step.at) return
        this.clearWake()
        this.timerAt = step.at
        this.timer = setTimeout(() => { this.timer = undefined; this.apply(this.flusher.step(performance.now())) }, Math.max(0, step.at - performance.now()))
        return
      }
      case 'wait':
        this.clearWake()
    }
  }

  private clearWake (): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    if (this.immediate !== undefined) { clearImmediate(this.immediate); this.immediate = undefined }
  }

  private seal (): void {
    this.clearWake()
    if (this.current.length === 0) return
    this.flusher.sealed()
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
      // Full batches too: a receiver charges one per `sharedUnit` envelopes (a direct frame less), however they came.
      const admit = (): number => this.flusher.admit(batch.length, performance.now())
      for (let wait = admit(); wait > 0 && !this.stopped; wait = admit()) await new Promise(resolve => setTimeout(resolve, wait))
      if (this.stopped) break
      let sent: BatchSent = { route: 'gossip', bytes: 0 }
      try {
        const r = await this.init.flush(batch)
        if (typeof r === 'string') sent = { route: r, bytes: 0 }
        else if (r !== undefined) sent = r
      } catch (err) {
        this.init.onError(err, batch.length)
      }
      this.queued -= batch.length
      for (const wake of this.spaceWaiters.splice(0)) wake()
      this.apply(this.flusher.written(sent.route, performance.now(), sent.bytes))
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
  /** The bucket itself, for a flusher that keeps its own clock (flusher.ts). */
  readonly bucket: TokenBucket
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
