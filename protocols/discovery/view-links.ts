/**
 * The node's side of HyParView (hyparview.ts, the pure state machine): its messages on the wire
 * as the internal command `$agentmesh/view`, its timers, and the connections its active view
 * keeps (`connections.graph: 'views'`, issue 46). With it a node holds about `activeSize`
 * connections to other agents whatever the mesh's size, instead of topping up to `targetPeers`
 * from every peer it is told of; member rumours and gossip travel over those links.
 *
 * Which peers may be in a view is the member view's answer (`member`): a live agent whose signed
 * statement this node holds (in a closed mesh: whose credential it checked), never a client and
 * never a peer only named in a view message. A message from a peer that is not such a member
 * waits a moment for its card (`PENDING_MS`) and is refused after (an error its sender sees), and
 * the peers a message names that are not are dropped from it, so an insider cannot fill a view
 * with strangers or make this node dial them. A forward-join for a newcomer whose statement has
 * not reached this node yet waits for it as long.
 *
 * A message is a request answered empty: a peer that does not answer within the neighbour
 * timeout counts as lost to the view (`lost`), which is how a dead neighbour is noticed besides
 * its connection closing. A view message to a peer not connected opens a connection (a join's
 * contact, a neighbour request, a shuffle's reply), as does an application's request to an agent
 * outside the active view; such a connection is closed again once no request has used it for
 * IDLE_MS (`sweep`), and a neighbour's a second after it leaves the active view (`unlink`),
 * unless `keep` says another part of the node needs it (voter links, topic links, the watcher's
 * map). Such a close tells the member view nothing (node/services.ts): only the active view's
 * links are probed and watched. *
 * Experimental (opt-in): 12 agents through one seed hold (test/protocols/discovery/view-links.test.ts),
 * 40 in two processes on a loaded host saw each other within 90 s but elected no coordinator in
 * that time (docs/benchmarks.md, "Views in real nodes": the causes found, what was changed for
 * them, and what a loaded host still breaks).
 */
import { z } from 'zod'
import { defineCommand, type RpcService } from '../rpc/index.js'
import type { Startable } from '../core/service.js'
import { HyParView, type HyParViewConfig, type ViewMessage, type ViewOutput } from './hyparview.js'
import { deadline } from '../core/deadline.js'
import { Newcomers } from './newcomers.js'
import type { MemberState } from './failure-detector.js'

const PeerIdText = z.string().min(32).max(128).regex(/^[1-9A-HJ-NP-Za-km-z]+$/)
/** The most peers one shuffle carries (the state machine sends itself, its other neighbours (up to 31) and shufflePassive (4)). */
const MAX_SHUFFLE_PEERS = 40

export const ViewWire = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('join') }),
  z.strictObject({ type: z.literal('forward-join'), peer: PeerIdText, ttl: z.number().int().min(0).max(32) }),
  z.strictObject({ type: z.literal('neighbour'), high: z.boolean() }),
  z.strictObject({ type: z.literal('neighbour-reply'), accepted: z.boolean() }),
  z.strictObject({ type: z.literal('disconnect'), next: PeerIdText.optional() }),
  z.strictObject({ type: z.literal('shuffle'), origin: PeerIdText, ttl: z.number().int().min(0).max(32), peers: z.array(PeerIdText).max(MAX_SHUFFLE_PEERS), active: z.number().int().min(0).max(MAX_SHUFFLE_PEERS).optional() }),
  z.strictObject({ type: z.literal('shuffle-reply'), peers: z.array(PeerIdText).max(MAX_SHUFFLE_PEERS) }),
  z.strictObject({ type: z.literal('swap'), peer: PeerIdText.optional() }),
  z.strictObject({ type: z.literal('swap-reply'), accepted: z.boolean(), handed: PeerIdText.optional() })
])

/**
 * A swap's hand-over names a peer to be asked (`swap.peer`, `swap-reply.handed`): left out when it
 * is no member here, so that an insider cannot make this node dial a stranger. A drop's
 * (`disconnect.next`) is kept: it names a join's newcomer, whose statement is often still on its
 * way here (the walk's end that dropped this node waited for it; gossip brings it a moment
 * later), and the ask waits for it to be a member here (`send`), or is given up.
 */
function withoutStrangers (message: ViewMessage, member: (peer: string) => boolean): ViewMessage {
  switch (message.type) {
    case 'swap': return message.peer === undefined || member(message.peer) ? message : { type: 'swap' }
    case 'swap-reply': return message.handed === undefined || member(message.handed) ? message : { type: 'swap-reply', accepted: message.accepted }
    default: return message
  }
}

export const ViewExchange = defineCommand('$agentmesh/view', { request: ViewWire, response: z.strictObject({}) })

/** A message whose sender (or forward-join's newcomer) this node does not know yet waits this long for its card or statement. */
const PENDING_MS = 3_000
/** Messages waiting at once (past it a message from an unknown sender is refused at once). */
const MAX_PENDING = 64
/** How often waiting messages are looked at besides member changes (a card arrives with no member change when the member view knows the agent already). */
const WAIT_POLL_MS = 200
/** The reserve is topped up from the member view on a member change at most this often (and every SWEEP_MS). */
const LEARN_MS = 1_000
/** A peer dropped from the active view has its connection closed this long after (its `disconnect` goes first). */
const UNLINK_AFTER_MS = 1_000
/** Times a `disconnect` is sent before it is given up. */
const DISCONNECT_TRIES = 3
/** How often the reserve is topped up from the member view and idle connections looked over. */
const SWEEP_MS = 5_000
/**
 * A connection to an agent outside the active view is closed once it is this old and has carried
 * no request for this long (`keep` aside): a request to an agent outside the view, a neighbour
 * request to a reserve peer. Shuffle replies opened most of them while they were sent to any
 * origin (12 agents, active views of 3: ~170 view messages to peers outside the view in 45 s; 20
 * agents at rest: 0.13 connections opened per agent a second); they go only over a connection now.
 */
export const IDLE_MS = 15_000

export interface ViewLinksInit {
  self: string
  rpc: RpcService
  config?: Partial<HyParViewConfig>
  /** Whether `peer` may be in a view: a live agent of the member view, not a client. */
  member: (peer: string) => boolean
  /** The live agents of the member view: the reserve is learnt from them. */
  members: () => string[]
  /** The agents this node is connected to (a join's contact is one of them). */
  connected: () => string[]
  /** When this node's connection to `peer` opened (its oldest open one), undefined when none is. */
  connectedSince: (peer: string) => number | undefined
  /** How long since a request with `peer` was under way either way (rpc's `quietFor`): 0 while one is. */
  quietFor: (peer: string) => number
  /** Opens a connection to `peer` (by peer id: its addresses come from its statement). */
  dial: (peer: string, signal: AbortSignal) => Promise<void>
  /** Closes this node's connections to `peer`. */
  hangUp: (peer: string) => void
  /** Another part of the node needs its connection to `peer` kept. */
  keep: (peer: string) => boolean
  dialTimeoutMs: number
  random?: () => number
  /** Counted: messages in and out by type, and connections closed as idle. */
  count?: (what: 'in' | 'out' | 'dialled' | 'failed' | 'unknown' | 'idle-closed', type?: ViewMessage['type']) => void
}

export class ViewLinks implements Startable {
  private readonly init: ViewLinksInit
  private view?: HyParView
  /** Members new to the mesh, from the member view's changes (`membersChanged`): the state machine's `newcomer`. */
  private newcomers?: Newcomers
  private unhandle?: () => void
  private timer?: ReturnType<typeof setTimeout>
  private sweeper?: ReturnType<typeof setInterval>
  /** Messages waiting for their sender (or a forward-join's newcomer) to be known: checked on every member change and every WAIT_POLL_MS. */
  private readonly waiting = new Set<{ ready: () => boolean, done: (ok: boolean) => void, until: number }>()
  private poller?: ReturnType<typeof setInterval>
  private learnt = 0
  private readonly dials = new Map<string, AbortController>()
  private readonly closing = new Set<ReturnType<typeof setTimeout>>()

  constructor (init: ViewLinksInit) { this.init = init }

  start (): void {
    if (this.view !== undefined) return
    const config = this.init.config !== undefined ? { config: this.init.config } : {}
    this.view = new HyParView({
      self: this.init.self,
      random: this.init.random ?? Math.random,
      now: Date.now(),
      // Connected reserve peers are asked first: a request to one needs no new connection.
      prefer: peer => this.init.connectedSince(peer) !== undefined,
      // The reserve is learnt from the member view (`sweep`): a shuffle's reply is worth no handshake.
      answerShuffle: origin => this.init.connectedSince(origin) !== undefined,
      newcomer: peer => this.newcomers?.isNew(peer, Date.now()) ?? true,
      ...config
    })
    this.newcomers = new Newcomers(this.view.config.newcomerMs)
    this.unhandle = this.init.rpc.handle(ViewExchange, async (message, ctx) => { await this.receive(ctx.peer, message as ViewMessage, ctx.signal); return {} })
    this.sweeper = setInterval(() => { this.sweep() }, SWEEP_MS)
    this.sweeper.unref?.()
    this.schedule()
  }

  stop (): void {
    this.unhandle?.()
    this.unhandle = undefined
    if (this.timer !== undefined) clearTimeout(this.timer)
    if (this.sweeper !== undefined) clearInterval(this.sweeper)
    this.timer = this.sweeper = undefined
    for (const d of this.dials.values()) d.abort(new Error('node stopping'))
    this.dials.clear()
    for (const t of this.closing) clearTimeout(t)
    this.closing.clear()
    for (const w of this.waiting) w.done(false)
    this.waiting.clear()
    if (this.poller !== undefined) clearInterval(this.poller)
    this.poller = undefined
    this.view = undefined
  }

  /** The peers this node keeps connections to. */
  active (): string[] { return this.view?.activeView() ?? [] }
  /** The reserve. */
  passive (): string[] { return this.view?.passiveView() ?? [] }
  isActive (peer: string): boolean { return this.view?.isActive(peer) === true }

  /**
   * The member view changed (`change`, its `member:change`): a member's coming is noted
   * (Newcomers), a newcomer a held forward-join named may be known now, a member gone is lost to
   * the view, and an agent with no neighbour joins through one it is connected to.
   */
  membersChanged (change?: { peerId: string, from: MemberState | 'unknown', to: MemberState }): void {
    const view = this.view
    if (view === undefined) return
    const now = Date.now()
    if (change !== undefined) this.newcomers?.change(change.peerId, change.from, change.to, now)
    this.wake(now)
    // A newcomer's reserve from the members it has just learnt, not at the next sweep: dropped by a
    // full seed before then, it had nobody to ask (at most once a LEARN_MS).
    if (now - this.learnt >= LEARN_MS) { this.learnt = now; view.learn(this.init.members().filter(p => p !== this.init.self), now) }
    for (const peer of view.activeView()) if (!this.init.member(peer)) view.lost(peer, now)
    this.joinIfAlone(now)
    this.flush()
  }

  /** The last connection to `peer` closed: an active neighbour is replaced from the reserve. */
  disconnected (peer: string): void {
    if (this.view?.isActive(peer) !== true) return
    this.view.lost(peer, Date.now())
    this.flush()
  }

  /**
   * A message from a peer not known yet as a member (its card still on the way: a newcomer's
   * join overtakes it at the contact, a walk's end asks the newcomer to be its neighbour over a
   * connection it has just opened), or a forward-join naming a newcomer not known yet (rumours
   * are slower than a walk of a few hops), waits for it up to PENDING_MS, then counts. A sender
   * still unknown is answered with an error: one that took this node as a neighbour (a walk's
   * end, a join's newcomer) sees the request fail and drops this node in turn, so no view holds
   * a peer whose own does not hold it back. Dropped instead of held, the walk's end kept the
   * newcomer as a neighbour the newcomer never knew of (40 agents: 5-19 one-sided links
   * throughout the join, a dozen agents with no neighbour 20 s in).
   */
  private async receive (from: string, message: ViewMessage, signal: AbortSignal): Promise<void> {
    if (this.view === undefined) return
    const named = message.type === 'forward-join' ? message.peer : undefined
    const ready = (): boolean => this.init.member(from) && (named === undefined || this.init.member(named))
    if (!ready() && !(await this.waitFor(ready, signal))) {
      // A forward-join's next hop is a neighbour in good standing: its walk just ends here.
      this.init.count?.('unknown', message.type)
      if (message.type === 'forward-join' && this.init.member(from)) return
      throw new Error('not a member here')
    }
    const view = this.view
    if (view === undefined) return
    const now = Date.now()
    this.init.count?.('in', message.type)
    if (message.type === 'shuffle') {
      if (!this.init.member(message.origin)) return
      // Strangers left out; `active` counts what is left of the origin's active sample.
      const kept = message.peers.flatMap((p, i) => p === message.origin || this.init.member(p) ? [{ p, i }] : [])
      const active = message.active === undefined ? {} : { active: kept.filter(k => k.i >= 1 && k.i <= (message.active as number)).length }
      view.receive(from, { ...message, peers: kept.map(k => k.p), ...active }, now)
    } else if (message.type === 'shuffle-reply') {
      view.receive(from, { ...message, peers: message.peers.filter(p => this.init.member(p)) }, now)
    } else {
      view.receive(from, withoutStrangers(message, this.init.member), now)
    }
    // A refusal to be a neighbour ends what its connection was opened for. (A shuffle's reply comes
    // only over a connection opened for something else: `answerShuffle`.)
    if ((message.type === 'neighbour-reply' || message.type === 'swap-reply') && !message.accepted && !view.isActive(from)) this.unlink(from)
    this.flush()
  }

  /** Resolves true once `ready()` holds, false after PENDING_MS, when the request is given up, or past MAX_PENDING waiting. */
  private async waitFor (ready: () => boolean, signal: AbortSignal): Promise<boolean> {
    if (this.waiting.size >= MAX_PENDING || signal.aborted) return false
    return await new Promise<boolean>(resolve => {
      const w = {
        ready,
        until: Date.now() + PENDING_MS,
        done: (ok: boolean) => { this.waiting.delete(w); signal.removeEventListener('abort', onAbort); resolve(ok) }
      }
      const onAbort = (): void => { w.done(false) }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiting.add(w)
      if (this.poller === undefined) {
        this.poller = setInterval(() => { this.wake(Date.now()) }, WAIT_POLL_MS)
        this.poller.unref?.()
      }
    })
  }

  /** Lets go the messages whose peers are known now, and those that waited long enough. */
  private wake (now: number): void {
    for (const w of [...this.waiting]) {
      if (w.ready()) w.done(true)
      else if (w.until <= now) w.done(false)
    }
    if (this.waiting.size === 0 && this.poller !== undefined) { clearInterval(this.poller); this.poller = undefined }
  }

  /**
   * With no neighbour: join through a connected member (the state machine then walks it out); with
   * none connected either, open a connection to a member it knows (its reserve, else the member
   * view) and join through it at the next look. Without it an agent that every neighbour dropped
   * and whose seed had let it go was left alone for good (100 agents: 14 of them).
   */
  private joinIfAlone (now: number): void {
    const view = this.view
    // Not while refusals pause its asks: each join to a full contact is one more refusal.
    if (view === undefined || view.activeView().length > 0 || view.paused(now)) return
    const pick = <T>(xs: T[]): T | undefined => xs.length === 0 ? undefined : xs[Math.floor((this.init.random ?? Math.random)() * xs.length)]
    const contact = pick(this.init.connected().filter(p => this.init.member(p)))
    if (contact !== undefined) { view.join(contact, now); return }
    const known = view.passiveView().length > 0 ? view.passiveView() : this.init.members().filter(p => p !== this.init.self)
    const next = pick(known.filter(p => !this.dials.has(p)))
    if (next === undefined) return
    const dial = new AbortController()
    this.dials.set(next, dial)
    // deadline(), not AbortSignal.any with AbortSignal.timeout: on Node 20 that timeout can be
    // collected before it fires (protocols/core/deadline.ts), and a hung dial stayed in `dials`.
    const limit = deadline(this.init.dialTimeoutMs, dial.signal)
    this.init.dial(next, limit.signal)
      .then(() => { if (this.view !== undefined) { this.joinIfAlone(Date.now()); this.flush() } }, () => {})
      .finally(() => { limit.clear(); if (this.dials.get(next) === dial) this.dials.delete(next) })
  }

  /** Carries out what the state machine asked, and sets the timer for its next wakeup. */
  private flush (): void {
    const view = this.view
    if (view === undefined) return
    for (const o of view.drain()) this.apply(o)
    this.schedule()
  }

  private apply (o: ViewOutput): void {
    switch (o.type) {
      case 'send': void this.send(o.to, o.message); break
      case 'up': void this.link(o.peer); break
      case 'down': this.unlink(o.peer); break
    }
  }

  private async send (to: string, message: ViewMessage, attempt = 0): Promise<void> {
    // Never a message to a peer that is not a member here: one a hand-over named before its
    // statement came (a join's newcomer) waits for it, and is lost to the view if it never comes.
    if (!this.init.member(to) && !(await this.waitFor(() => this.init.member(to), new AbortController().signal))) {
      this.init.count?.('unknown', message.type)
      this.unreached(to, message)
      return
    }
    this.init.count?.('out', message.type)
    if (this.init.connectedSince(to) === undefined) this.init.count?.('dialled', message.type)
    try {
      await this.init.rpc.request(to, ViewExchange, message, { timeoutMs: this.view?.config.neighbourTimeoutMs ?? 5_000, rateLimitRetries: 1 })
      // The same on the answering side: an agent short of neighbours asked every full one in
      // turn and kept each connection busy past IDLE_MS (12 agents: one held all 11).
      if ((message.type === 'neighbour-reply' || message.type === 'swap-reply') && !message.accepted && this.view?.isActive(to) === false) this.unlink(to)
    } catch {
      this.init.count?.('failed', message.type)
      // A lost `disconnect` leaves this node in the peer's view while the peer is not in its own,
      // for as long as something else keeps their connection (a voter's link): sent again.
      if (message.type === 'disconnect' && attempt < DISCONNECT_TRIES - 1 && this.view !== undefined) {
        const t = setTimeout(() => { this.closing.delete(t); void this.send(to, message, attempt + 1) }, UNLINK_AFTER_MS)
        t.unref?.()
        this.closing.add(t)
        return
      }
      this.unreached(to, message)
    }
  }

  /**
   * `message` could not reach `to`: a neighbour (or one asked to be) is lost to the view; anyone
   * else (a shuffle's origin, a walk's next hop) just missed one message.
   */
  private unreached (to: string, message: ViewMessage): void {
    const view = this.view
    if (view !== undefined && (view.isActive(to) || message.type === 'neighbour')) {
      view.lost(to, Date.now())
      this.flush()
    }
  }

  /** A peer entered the active view: its connection is opened (if it is not already). */
  private async link (peer: string): Promise<void> {
    if (this.init.connectedSince(peer) !== undefined || this.dials.has(peer)) return
    const dial = new AbortController()
    this.dials.set(peer, dial)
    const limit = deadline(this.init.dialTimeoutMs, dial.signal)
    try {
      await this.init.dial(peer, limit.signal)
    } catch {
      if (!dial.signal.aborted) this.disconnected(peer)
    } finally {
      limit.clear()
      if (this.dials.get(peer) === dial) this.dials.delete(peer)
    }
  }

  /**
   * A peer left the active view (dropped to make room, or it said so): its connection closes a
   * moment later (the `disconnect` message goes first), unless another part of the node needs it
   * or it came back. As in the paper, where the TCP connection is the link: a peer that still held
   * this node as a neighbour sees it close and repairs its own view. Left open until idle, a link
   * one side had dropped stayed in the other's view while its probes kept the connection busy.
   */
  private unlink (peer: string): void {
    this.dials.get(peer)?.abort(new Error('left the active view'))
    const t = setTimeout(() => {
      this.closing.delete(t)
      if (this.view === undefined || this.view.isActive(peer) || this.init.keep(peer) || this.init.quietFor(peer) === 0) return
      this.init.hangUp(peer)
    }, UNLINK_AFTER_MS)
    t.unref?.()
    this.closing.add(t)
  }

  /**
   * Every SWEEP_MS: the reserve learns the live members; a lone node joins; connections to agents
   * outside the active view, older than IDLE_MS, with no request for as long and needed by
   * nothing else, are closed.
   */
  private sweep (): void {
    const view = this.view
    if (view === undefined) return
    const now = Date.now()
    view.learn(this.init.members().filter(p => p !== this.init.self), now)
    // A neighbour with no connection and none being opened (a close this node missed) is lost.
    for (const peer of view.activeView()) if (this.init.connectedSince(peer) === undefined && !this.dials.has(peer)) view.lost(peer, now)
    this.joinIfAlone(now)
    for (const peer of this.init.connected()) {
      if (view.isActive(peer) || !this.init.member(peer) || this.init.keep(peer)) continue
      const since = this.init.connectedSince(peer)
      if (since !== undefined && now - since >= IDLE_MS && this.init.quietFor(peer) >= IDLE_MS) {
        this.init.count?.('idle-closed')
        this.init.hangUp(peer)
      }
    }
    this.flush()
  }

  private schedule (): void {
    const view = this.view
    if (view === undefined) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    const wait = Math.max(0, view.nextWakeup() - Date.now())
    this.timer = setTimeout(() => {
      this.timer = undefined
      const v = this.view
      if (v === undefined) return
      v.tick(Date.now())
      this.flush()
    }, Math.min(wait, 2 ** 31 - 1))
    this.timer.unref?.()
  }
}
