/**
 * The caller's side of a peer's rate limits (limits.ts). A RATE001 answer names the limit and its
 * rate ("over the requests limit for this peer (1000/s): retry after 12 ms", RateGuard); from
 * then on this node's requests to that peer go out no faster than that rate, a little under it,
 * until RATE_PACE_KEPT_MS pass without another refusal.
 *
 * Why: the peer hangs up on a peer refused in every second for `rpc.floodSeconds`. Backing off
 * only the refused request let the next ones go out at once and empty the peer's bucket again,
 * so a caller with more to send than the limit admits (a loop of sequential requests, a batch
 * job) was refused in every second and disconnected as a flooder after five: ~6,500 sequential
 * requests at the default 1,000/s, then COM002 for the minute of the cool-down (test/protocols/rpc/limits.test.ts).
 * Paced, it is refused about once and then served at the limit for as long as it has work.
 *
 * Each request reserves its slot (GCRA-like: the next slot moves on by the request's share of the
 * rate), so concurrent callers queue in order and the long-run rate holds whatever the timers'
 * granularity. A request whose slot would come too late for its answer (`latestSlot`) takes none:
 * it fails at once with RATE001 rather than wait to time out, and leaves the slot to the next. `slot` and
 * `refused` are pure, given the clock; `wait` and `again` wait their slots out.
 */
import { INTERNAL_SUBJECTS, RATE_LIMIT_RETRIES, RATE_LIMIT_RETRY_BASE_MS, RATE_PACED_RETRIES, RATE_PACE_ANSWER_MS, RATE_PACE_KEPT_MS, RATE_PACE_SHARE } from './constants.js'
import { abortReason } from './channel.js'
import { pause } from './guard.js'
import { RateLimitedError } from '../core/errors.js'

/** A request as the pacer sees it. */
export interface Paced {
  peer: string
  subject: string
  /** Requests' worth (a command's `weight`, 1 for most). */
  weight: number
  /** Its frame's bytes. */
  bytes: number
  /** The latest a slot may start (ms since the epoch): its deadline less time for the answer (`latestSlot`). */
  until: number
}

interface Pace {
  /** What one slot costs: ms per request for a count limit, per byte for a bytes limit. */
  msPer: number
  /** The rate named: no request is charged more than a second of it (the peer's bucket holds one second's worth). */
  rate: number
  /** When the next request may go out. */
  nextAt: number
  /** Dropped after this (the last refusal plus RATE_PACE_KEPT_MS) once no slot is left ahead. */
  until: number
}

const REFUSAL = /over the (requests|internal|bytes|internal_bytes) limit for this peer \((\d+(?:\.\d+)?)\/s\): retry after (\d+) ms/
/** Gone: kept 10 s after its last refusal, and until every slot taken in it has come (else the queue behind them would go out at once). */
const spent = (p: Pace, now: number): boolean => p.until <= now && p.nextAt <= now
/** Paces kept before expired ones are swept. */
const SWEEP_ABOVE = 1_024

export class CallerPacer {
  /** By `${peer} ${limit}`. */
  private readonly paces = new Map<string, Pace>()

  /**
   * How long `r` waits before it goes out (ms; 0: at once), its slot taken in each of its peer's
   * paces it falls under: the count limit of its kind (`weight` requests' worth) and the bytes
   * limit. Undefined, and nothing taken, when its slot would come after its deadline.
   */
  slot (r: Paced, now: number): number | undefined {
    if (this.paces.size === 0) return 0
    const internal = INTERNAL_SUBJECTS.has(r.subject)
    const charged: Array<[Pace, number]> = []
    let start = now
    for (const [limit, n] of [[internal ? 'internal' : 'requests', r.weight], [internal ? 'internal_bytes' : 'bytes', r.bytes]] as const) {
      const key = `${r.peer} ${limit}`
      const pace = this.paces.get(key)
      if (pace === undefined) continue
      if (spent(pace, now)) { this.paces.delete(key); continue }
      charged.push([pace, Math.min(n, pace.rate)])
      start = Math.max(start, pace.nextAt)
    }
    if (start > r.until) return undefined
    for (const [pace, n] of charged) pace.nextAt = start + n * pace.msPer
    return start - now
  }

  /**
   * The refusal of `r`'s attempt `attempt` (0: its first; its error message): paces the limit it
   * names, and returns how long `r` waits before it is sent again (its slot in the pace), or
   * undefined when that is past its deadline or `r` has been refused too often. A refusal that
   * names its rate is tried again in its slot up to RATE_PACED_RETRIES times: its refusals are
   * mostly of requests that were on the wire before the caller knew the rate, or that queued
   * behind them at the peer (a burst of 80 at a peer's 40/s failed 2 requests in 480 with three
   * tries each on a loaded host), not of a caller over the pace. A message this node cannot
   * read (another implementation's) is tried again `retries` times only, after the backoff of
   * `attempt`: 50, 100, 200 ms, or the wait it names if it says one, with up to half again.
   */
  refused (r: Paced, message: string, attempt: number, now: number, retries = RATE_LIMIT_RETRIES): number | undefined {
    const said = REFUSAL.exec(message)
    const rate = Number(said?.[2] ?? 0)
    const hint = Number(said?.[3] ?? /retry after (\d+) ms/.exec(message)?.[1] ?? 0)
    if (said === null || rate <= 0) {
      if (attempt >= retries) return undefined
      const wait = Math.max(hint, RATE_LIMIT_RETRY_BASE_MS * 2 ** attempt) * (1 + Math.random() / 2)
      return now + wait > r.until ? undefined : wait
    }
    if (this.paces.size >= SWEEP_ABOVE) for (const [k, p] of this.paces) if (spent(p, now)) this.paces.delete(k)
    const key = `${r.peer} ${said[1]}`
    const pace = this.paces.get(key)
    const msPer = 1000 / (rate * RATE_PACE_SHARE)
    // The peer's bucket is empty now: nothing goes out before the wait it named.
    this.paces.set(key, { msPer, rate, nextAt: Math.max(pace?.nextAt ?? 0, now + hint), until: now + RATE_PACE_KEPT_MS })
    return attempt >= RATE_PACED_RETRIES ? undefined : this.slot(r, now)
  }

  /** Waits for `r`'s slot; RATE001 at once when it would come after its deadline. */
  async wait (r: Paced, signal: AbortSignal): Promise<void> {
    const ms = this.slot(r, Date.now())
    if (ms === undefined) throw new RateLimitedError(`${r.peer} is over its limit for this node: the next slot comes after this request's deadline`)
    await paced(ms, signal)
  }

  /** After a refusal of `r`: waits for its slot to send it again, or false when it gets none (`refused`). */
  async again (r: Paced, message: string, attempt: number, retries: number, signal: AbortSignal): Promise<boolean> {
    const ms = this.refused(r, message, attempt, Date.now(), retries)
    if (ms === undefined) return false
    await paced(ms, signal)
    return true
  }
}

/**
 * The latest a request due at `deadline` (ms since the epoch) may take a slot: a quarter of its
 * timeout, at most a second, is left for the answer. A slot just before the deadline would send
 * a request the peer runs but whose answer comes too late (COM001, and a failure for delivery's breaker).
 */
export const latestSlot = (deadline: number, timeoutMs: number): number => deadline - Math.min(timeoutMs / 4, RATE_PACE_ANSWER_MS)

/** Waits out a slot (none when `ms` is 0), or the request's deadline. */
async function paced (ms: number, signal: AbortSignal): Promise<void> {
  if (ms > 0) await pause(ms, signal, () => abortReason(signal))
}
