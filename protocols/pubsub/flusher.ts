/**
 * When a topic's open batch is sealed and written (issue 46): at once while the link is idle,
 * batched only while it is busy, the way Nagle's algorithm with a flusher (and NATS's client)
 * behave. Before, every batch waited out the 10-ms window and then the topic's budget of 40
 * batches a second, so a publisher paced at 1,000/s on ten nodes saw a p99 of ~31 ms where a
 * broker shows ~6, bound by that budget rather than by any work.
 *
 * The rules, first match wins:
 * 1. A full batch (`maxEnvelopes` or `maxBytes`: R-REL's limits, 50 envelopes by default) is
 *    sealed at once, whatever else is going on.
 * 2. Busy: a sealed batch is not yet written (waiting for the node's budget, a stream's drain,
 *    gossip's streams). Envelopes gather; the open batch is looked at again when that write
 *    completes, and sealed (queued behind it) once its first envelope has waited `windowMs`
 *    (R-REL's 10 ms), so no batch stays open longer than the spec's window while the link is busy.
 * 3. Just written: the link stays busy for `holdFactor` times as long as the last write took
 *    (never longer than `windowMs`). This is the clock Nagle's algorithm gets from acknowledgements
 *    and a loopback link never gives (a socket takes every write at once): measured, a batch to
 *    nine peers is nine socket writes of ~300 µs each on this 2-core machine under load, against
 *    ~30 µs quiet. Quiet, a write takes a fraction of a ms and the next batch goes at the end of
 *    its turn; loaded, writes take at most about half the publisher's time and batches grow.
 * 4. Idle, with a token in each budget that applies: sealed at the end of the current turn, so
 *    what is published in one turn travels together and a lone envelope goes as a batch of one.
 *    The budgets are the ceilings:
 *    - the node's batches a second, all topics together (`shared`): what receivers charge this
 *      node (pubsub.publishPerSec) and hang up on it for: a unit per `sharedUnit` envelopes begun
 *      (`sharedDirectWeight` a unit for a batch that goes directly: receivers charge a direct
 *      frame less, DIRECT_FRAME_WEIGHT), or its bytes / `sharedUnitBytes`, whichever is more;
 *    - the topic's own gossip messages a second (`gossipPerSec`), while its batches go by gossip:
 *      a gossip message costs each receiver a fixed few ms whatever it carries. A batch written
 *      over the direct fan-out streams costs a receiver one stream frame, and is not held to it.
 * 5. Idle, a budget spent: the batch grows until the token comes.
 *
 * Pure: every input carries the time (ms on the caller's clock), and each answer says what to
 * do next. batcher.ts is its shell (the timers, the queue, the writes).
 */
import { TokenBucket } from '../core/token-bucket.js'

/**
 * How a batch went: over the direct fan-out streams only, every receiver charging it at the direct
 * weight ('direct'), or one at least in full ('direct-full': an older build); or by gossip
 * (wholly or as repair).
 */
export type BatchRoute = 'direct' | 'direct-full' | 'gossip'

/** How a batch went, and its bytes as its receivers decode it (what they charge by, with its envelopes). */
export interface BatchSent { route: BatchRoute, bytes: number }

/** What the shell does next. */
export type FlushStep =
  /** Seal the open batch now. */
  | { do: 'seal' }
  /** Seal it at the end of this turn (then ask `step(now, true)`): the turn's other publishes join it. */
  | { do: 'turn' }
  /** Ask `step` again at `at`. */
  | { do: 'at', at: number }
  /** Nothing until the next input (no batch open). */
  | { do: 'wait' }

export interface FlusherInit {
  maxEnvelopes: number
  maxBytes: number
  windowMs: number
  /** The topic's gossip messages a second, and its burst (default a tenth of a second's worth, at least one). */
  gossipPerSec: number
  gossipBurst?: number
  /** How long the link stays busy after a write, as a multiple of the time the write took (WRITE_HOLD_FACTOR). */
  holdFactor: number
  /** The node's budget of batches, shared by every topic's flusher; a batch costs one per `sharedUnit` envelopes. */
  shared?: TokenBucket
  sharedUnit?: number
  /** What such a unit costs when the batch goes over the direct fan-out streams (receivers charge DIRECT_FRAME_WEIGHT); default 1. */
  sharedDirectWeight?: number
  /** Bytes that cost a unit at full weight (GOSSIP_BYTES_PER_MESSAGE): a batch costs at least its bytes / this, once they are known. */
  sharedUnitBytes?: number
  now: number
}

const SEAL: FlushStep = Object.freeze({ do: 'seal' })
const TURN: FlushStep = Object.freeze({ do: 'turn' })
const WAIT: FlushStep = Object.freeze({ do: 'wait' })

export class Flusher {
  private readonly init: FlusherInit
  private readonly gossip: TokenBucket
  /** The open batch. */
  private count = 0
  private bytes = 0
  private since = 0
  /** Batches sealed and not yet written. */
  private inFlight = 0
  /** When the write under way began, and until when the last one keeps the link busy (rule 3). */
  private writeStart?: number
  private quietAt = -Infinity
  /**
   * How the last batch went: the topic's gossip budget applies while its batches go by gossip.
   * Gossip until a batch has gone directly (the budget starts full: the first few go at once either way).
   */
  private route: BatchRoute = 'gossip'
  /** The `at` last answered, so a shell asked the same again keeps its timer. */
  private lastAt?: FlushStep
  /** The units of the batch being written, and what each was charged (its route guessed from the last). */
  private units = 0
  private charged = 1

  constructor (init: FlusherInit) {
    this.init = init
    this.gossip = new TokenBucket(init.gossipPerSec, init.gossipBurst ?? Math.max(1, Math.ceil(init.gossipPerSec / 10)), init.now)
  }

  /** An envelope of `bytes` joined the open batch. */
  add (bytes: number, now: number): FlushStep {
    if (this.count === 0) this.since = now
    this.count++
    this.bytes += bytes
    return this.step(now)
  }

  /** The open batch was sealed (as a step asked, or cut by the shell: a byte limit, a transport message's end). */
  sealed (): void {
    if (this.count === 0) return
    this.count = 0
    this.bytes = 0
    this.inFlight++
  }

  /**
   * A sealed batch of `count` envelopes is about to be written: 0 when it may go now (the node's
   * budget charged, into debt for a batch of more than a unit), else the ms to wait first. Its
   * route is known once written: it is charged as the last batch went, and a batch charged as
   * direct that went by gossip pays the rest in `written`.
   */
  admit (count: number, now: number): number {
    const shared = this.init.shared
    if (shared !== undefined) {
      const units = Math.ceil(count / (this.init.sharedUnit ?? 1))
      const weight = this.weight(this.route)
      if (!shared.charge(units * weight, now)) return shared.msUntilNext(now)
      this.units = units
      this.charged = weight
    }
    this.writeStart = now
    return 0
  }

  /** What a unit of the shared budget costs a batch that went `route`. */
  private weight (route: BatchRoute): number {
    return route === 'direct' ? this.init.sharedDirectWeight ?? 1 : 1
  }

  /**
   * A sealed batch was written (or failed: `route` gossip, the conservative answer), `bytes` long
   * as its receivers decode it (0: not known).
   */
  written (route: BatchRoute, now: number, bytes = 0): FlushStep {
    this.inFlight = Math.max(0, this.inFlight - 1)
    // Charged by its envelopes, as the last batch went: one that costs its receivers more (its
    // way, or its bytes) pays the rest now.
    const perBytes = this.init.sharedUnitBytes
    const cost = Math.max(this.units * this.weight(route), perBytes !== undefined && this.units > 0 ? bytes / perBytes : 0)
    const rest = cost - this.units * this.charged
    if (rest > 0) this.init.shared?.spend(rest, now)
    this.units = 0
    this.route = route
    const took = now - (this.writeStart ?? now)
    this.writeStart = undefined
    this.quietAt = now + Math.min(this.init.windowMs, this.init.holdFactor * took)
    // A gossip message is paid after it went, full ones too: the next waits while in debt.
    if (route === 'gossip') this.gossip.spend(1, now)
    return this.step(now)
  }

  /** What to do with the open batch now; `turnEnded`: the turn a `turn` step waited for is over. */
  step (now: number, turnEnded = false): FlushStep {
    if (this.count === 0) return WAIT
    if (this.count >= this.init.maxEnvelopes || this.bytes >= this.init.maxBytes) return SEAL
    if (this.inFlight > 0) {
      const due = this.since + this.init.windowMs
      return now >= due ? SEAL : this.at(due)
    }
    const wait = Math.max(this.quietAt - now, this.route === 'gossip' ? this.gossip.msUntilNext(now) : 0, this.init.shared?.msUntilNext(now) ?? 0)
    if (wait > 0) return this.at(now + wait)
    return turnEnded ? SEAL : TURN
  }

  /** Envelopes in the open batch. */
  get open (): number { return this.count }

  /** Whether a sealed batch is not yet written. */
  get busy (): boolean { return this.inFlight > 0 }

  private at (at: number): FlushStep {
    const last = this.lastAt
    if (last?.do === 'at' && last.at === at) return last
    this.lastAt = { do: 'at', at }
    return this.lastAt
  }
}
