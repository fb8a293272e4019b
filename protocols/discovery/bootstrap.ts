/**
 * Joins the mesh through the configured bootstrap peers: dials them one at a time, in a random
 * order, until one answers, retrying the round with exponential backoff and jitter while none
 * does. The seed it joined through is dialled again when its connection is lost; every seed is
 * tried again when this node has no connection left. A node started before its seeds, or cut off
 * from them, joins as soon as it can.
 *
 * One seed, not all: every agent holding a connection to every seed made each seed carry the
 * whole mesh (200 agents, 3 seeds: ~200 connections a seed, its process's event loop 0.7 s
 * behind, and 28 agents whose every dial to a seed timed out). The rest of the mesh comes from
 * the peers the seed tells of (dialer.ts), and a healed partition is joined by dialling agents
 * held offline (reconnect.ts), as Serf does, not by holding links to the seeds.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { deadline } from '../core/deadline.js'
import { sharedController } from '../core/fan-out-signal.js'
import { equalJitter } from '../core/jitter.js'

export interface BootstrapInit {
  libp2p: Libp2p
  addresses: string[]
  initialDelayMs: number
  maxDelayMs: number
  dialTimeoutMs: number
  /**
   * Whether this node's member view knows the agent. Once joined, each seed it does not know is
   * dialled once (not held, not redialled): seeds started together may have joined each other in
   * separate groups, which nothing else would ever join up. Unset: no such sweep.
   */
  knows?: (peerId: string) => boolean
  /** How long after joining the seeds are looked over (time for the first full exchange). */
  sweepAfterMs?: number
  /** Whether the connection to a peer was closed by agreement (hand-off.ts): a seed that handed this node on is not redialled. */
  handedOff?: (peerId: string) => boolean
}

/**
 * A join round starts the next seed's dial after this long without an answer: a seed whose host
 * drops packets would otherwise hold a round for the whole dial timeout.
 */
const STAGGER_MS = 300
const SWEEP_AFTER_MS = 3_000
/**
 * A seed's dial that timed out waits twice as long the next time, up to this many times
 * `dialTimeoutMs` (60 s with the defaults; node/libp2p.ts lets one address take that long).
 * A seed whose event loop turns take seconds takes one connection from its accept queue a turn
 * (libuv accepts once per readiness since 1.45, libuv/libuv#3696; seen with strace); a joiner
 * that gave up and dialled again left its abandoned connection in that queue and queued a new
 * one behind it, so a join wave's retries outran what the seed could accept and the queue held
 * only dead connections (ss: 100-200 in CLOSE_WAIT) while a third of 200 agents never joined.
 * One attempt that waits is served.
 */
export const JOIN_DIAL_TIMEOUT_MAX_FACTOR = 6

export interface BootstrapEvents {
  /**
   * A bootstrap peer could not be reached. `retryInMs`: when this address is tried again (the
   * redial of the seed joined through; or, when no seed answered, the next join round starts, and
   * tries the seeds again until one answers). Absent when no retry is scheduled: another seed
   * answered (a seed the member view has not learnt of by then is dialled once, SWEEP_AFTER_MS
   * after joining), or the node stopped. A join round tells its failures when it ends, so one
   * seed that drops packets holds the others' reports back for as long as its dial is given
   * (`dialTimeoutMs`, doubled after each of its dials that timed out, JOIN_DIAL_TIMEOUT_MAX_FACTOR).
   */
  'dial:error': CustomEvent<{ address: string, error: Error, retryInMs?: number }>
}

/** `timeoutMs`: what its next dial gets (dialTimeoutMs, doubled after each dial that timed out). */
interface Target {
  address: string, peerId?: string, delay: number, timeoutMs: number, timer?: ReturnType<typeof setTimeout>, dialing: boolean, joined: boolean
}

export class BootstrapDialer extends TypedEventEmitter<BootstrapEvents> {
  private readonly init: BootstrapInit
  private readonly targets: Target[]
  // Every seed's dial listens to it (deadline()): a list of more than ten seeds dials them at once.
  private controller = sharedController()
  private running = false
  /** The join round (all seeds, one after the other) and its backoff. */
  private round: { timer?: ReturnType<typeof setTimeout>, delay: number, active: boolean, startedAt?: number, count: number }
  private sweep?: ReturnType<typeof setTimeout>
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    for (const t of this.targets) if (t.joined && t.peerId === id && this.init.handedOff?.(id) !== true) this.schedule(t, t.delay)
    if (this.init.libp2p.getConnections().length === 0) {
      // It was connected: a fresh loss, retried from the first delay, not from an old round's backoff.
      this.round.delay = this.init.initialDelayMs
      this.scheduleRound(this.init.initialDelayMs)
    }
  }

  constructor (init: BootstrapInit) {
    super()
    this.init = init
    this.targets = init.addresses.map(address => ({
      address,
      peerId: /\/p2p\/([^/]+)$/.exec(address)?.[1],
      delay: init.initialDelayMs,
      timeoutMs: init.dialTimeoutMs,
      dialing: false,
      joined: false
    }))
    this.round = { delay: init.initialDelayMs, active: false, count: 0 }
  }

  /**
   * Where joining stands, for a bench or an operator asking why an agent is alone: whether a
   * round is under way (and since when) or waits, and which seeds are being dialled.
   */
  get joinState (): { round: 'dialling' | 'waiting' | 'idle', roundForMs?: number, dialling: string[], rounds: number } {
    const round = this.round.active ? 'dialling' : this.round.timer !== undefined ? 'waiting' : 'idle'
    return {
      round,
      ...(this.round.active && this.round.startedAt !== undefined ? { roundForMs: Date.now() - this.round.startedAt } : {}),
      dialling: this.targets.filter(t => t.dialing).map(t => t.address),
      rounds: this.round.count
    }
  }

  /** The seeds this node joined through (peer ids), for /health and the tests. */
  get joinedThrough (): string[] { return this.targets.filter(t => t.joined && t.peerId !== undefined).map(t => t.peerId as string) }

  start (): void {
    if (this.running) return
    this.running = true
    if (this.controller.signal.aborted) this.controller = sharedController()
    this.init.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.scheduleRound(0)
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    this.controller.abort()
    this.init.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    for (const t of this.targets) {
      if (t.timer !== undefined) clearTimeout(t.timer)
      t.timer = undefined
    }
    if (this.round.timer !== undefined) clearTimeout(this.round.timer)
    this.round.timer = undefined
    if (this.sweep !== undefined) clearTimeout(this.sweep)
    this.sweep = undefined
  }

  private scheduleRound (delay: number): void {
    if (!this.running || this.round.timer !== undefined || this.round.active || this.targets.length === 0) return
    this.round.timer = setTimeout(() => { this.round.timer = undefined; void this.joinRound() }, delay)
  }

  /**
   * Each seed once, in a random order, until one answers: the next seed's dial starts when the
   * last one failed or after STAGGER_MS without an answer, and the first to answer is the one
   * joined through (a later answer is a plain connection). None did: the round again after a backoff.
   */
  private async joinRound (): Promise<void> {
    if (!this.running) return
    this.round.active = true
    this.round.startedAt = Date.now()
    this.round.count++
    let winner: Target | undefined
    // Told when the round is over: only then is it known whether, and when, each is dialled again.
    const failed: Array<{ address: string, error: Error }> = []
    // The seeds still being dialled once one answered are let go: one seed, not all (their dials
    // may now wait up to a minute, and would otherwise join this node to every slow seed).
    const settled = new AbortController()
    try {
      const order = this.targets.map(t => ({ t, r: Math.random() })).sort((a, b) => a.r - b.r).map(x => x.t)
      const attempts: Array<Promise<unknown>> = []
      for (const t of order) {
        if (!this.running || winner !== undefined) break
        if (t.timer !== undefined || t.dialing) continue
        const attempt = this.dial(t, 'round', failed, settled.signal).then(ok => {
          if (ok === true && winner === undefined && this.running) { winner = t; settled.abort(); this.joinedThroughOnly(t) }
        })
        attempts.push(attempt)
        let stagger: ReturnType<typeof setTimeout> | undefined
        await Promise.race([attempt, new Promise<void>(resolve => { stagger = setTimeout(resolve, STAGGER_MS) })])
        clearTimeout(stagger)
      }
      await Promise.all(attempts)
    } finally {
      this.round.active = false
    }
    // Stopped mid-round: its failures are still told (nothing is retried).
    if (!this.running) { for (const f of failed) this.tell(f); return }
    // Joined (through another seed, an inbound connection, a seed's own redial): nothing is retried.
    if (winner !== undefined || this.init.libp2p.getConnections().length > 0) {
      for (const f of failed) this.tell(f)
      return
    }
    const wait = Math.round(equalJitter(this.round.delay))
    this.round.delay = Math.min(this.round.delay * 2, this.init.maxDelayMs)
    for (const f of failed) this.tell(f, wait)
    this.scheduleRound(wait)
  }

  private tell (f: { address: string, error: Error }, retryInMs?: number): void {
    this.safeDispatchEvent('dial:error', { detail: retryInMs !== undefined ? { ...f, retryInMs } : f })
  }

  /** `t` is the one seed joined through: the others are neither held nor redialled; the seeds are looked over soon. */
  private joinedThroughOnly (t: Target): void {
    this.round.delay = this.init.initialDelayMs
    for (const o of this.targets) {
      o.joined = o === t
      if (o !== t && o.timer !== undefined) { clearTimeout(o.timer); o.timer = undefined }
    }
    const knows = this.init.knows
    if (knows === undefined || this.sweep !== undefined) return
    this.sweep = setTimeout(() => {
      this.sweep = undefined
      if (!this.running) return
      const self = this.init.libp2p.peerId.toString()
      for (const o of this.targets) {
        if (o.joined || o.dialing || o.peerId === self) continue
        if (o.peerId !== undefined && (knows(o.peerId) || this.init.libp2p.getConnections().some(c => c.remotePeer.toString() === o.peerId))) continue
        void this.dial(o, 'sweep')
      }
    }, this.init.sweepAfterMs ?? SWEEP_AFTER_MS)
    this.sweep.unref?.()
  }

  /** A redial of the seed this node joined through, after `delay`. */
  private schedule (t: Target, delay: number): void {
    if (!this.running || t.timer !== undefined || t.dialing) return
    t.timer = setTimeout(() => { t.timer = undefined; void this.dial(t, 'redial') }, delay)
  }

  /**
   * One dial of a seed: true when connected, 'self' for this node's own address, false otherwise.
   * A failed redial of the seed joined through is tried again after its backoff (and told so at
   * once); a failed dial of a join round goes into `failed`, told when the round ends; a failed
   * look over the seeds after joining is told and not retried.
   */
  private async dial (t: Target, why: 'redial' | 'round' | 'sweep', failed?: Array<{ address: string, error: Error }>, settled?: AbortSignal): Promise<boolean | 'self'> {
    if (!this.running) return false
    if (t.peerId !== undefined && t.peerId === this.init.libp2p.peerId.toString()) return 'self'
    t.dialing = true
    const limit = deadline(t.timeoutMs, this.controller.signal, settled)
    try {
      const conn = await this.init.libp2p.dial(multiaddr(t.address), { signal: limit.signal })
      t.peerId = conn.remotePeer.toString()
      t.delay = this.init.initialDelayMs
      t.timeoutMs = this.init.dialTimeoutMs
      return true
    } catch (err) {
      if (!this.running) return false
      // Let go: another seed of the round answered. Nothing to tell, nothing to back off from.
      if (settled?.aborted === true) return false
      // Out of time (not refused): the seed may be behind on its accept queue; wait longer next time.
      if ((limit.signal.reason as Error | undefined)?.name === 'TimeoutError') t.timeoutMs = Math.min(t.timeoutMs * 2, this.init.dialTimeoutMs * JOIN_DIAL_TIMEOUT_MAX_FACTOR)
      // Our own address (a StatefulSet gives every pod one list that names itself too): the
      // handshake found this node's peer id. Never dial it again, and say nothing.
      if (/dial self/i.test((err as Error).message)) { t.peerId = this.init.libp2p.peerId.toString(); return 'self' }
      // Equal jitter (half the delay fixed, half random) on the doubled delay, so nodes that lost
      // the same bootstrap peer at the same moment do not all come back at the same moment.
      const next = Math.min(t.delay * 2, this.init.maxDelayMs)
      const wait = Math.round(equalJitter(t.delay))
      t.delay = next
      const f = { address: t.address, error: err as Error }
      if (why === 'round') failed?.push(f)
      else this.tell(f, why === 'redial' ? wait : undefined)
      t.dialing = false
      if (why === 'redial') this.schedule(t, wait)
      return false
    } finally {
      limit.clear()
      t.dialing = false
    }
  }
}
