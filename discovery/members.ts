/**
 * The mesh's member list with failure detection: every agent's view of every other agent as
 * alive, suspect, offline or left. It drives the pure FailureDetector with three sources, after
 * hashicorp/memberlist:
 *
 * - Heartbeats on an internal gossip topic every `heartbeatIntervalMs`, carrying the sender's
 *   incarnation and the suspicions it holds (so others' suspicions count as confirmations).
 * - Direct probes over RPC, one agent per `probeIntervalMs` in shuffled round robin, and at once
 *   for an agent silent for `silenceMs`. A probe without an answer in `probeTimeoutMs` suspects.
 * - A graceful stop announces "left".
 *
 * An agent told it is suspected refutes by raising its incarnation and telling the mesh at once.
 */
import { z } from 'zod'
import { TypedEventEmitter } from 'main-event'
import { defineCommand, type RpcService } from '../protocols/rpc/index.js'
import type { PubSubService } from '../protocols/pubsub/index.js'
import { defineTopic } from '../protocols/pubsub/topics.js'
import { FailureDetector, type MemberState, type Transition } from './failure-detector.js'

const PeerIdString = z.string().min(1).max(128)

export const MemberHeartbeat = z.strictObject({
  peerId: PeerIdString,
  name: z.string().max(64),
  roles: z.array(z.string().max(64)).max(32),
  eligible: z.boolean(),
  incarnation: z.number().int().nonnegative(),
  leaving: z.boolean().optional(),
  suspects: z.array(z.strictObject({ peerId: PeerIdString, incarnation: z.number().int().nonnegative() })).max(256)
})
export type MemberHeartbeat = z.infer<typeof MemberHeartbeat>

export const MEMBERS_TOPIC = defineTopic('$agentmesh/members', MemberHeartbeat)

export const Probe = defineCommand('$agentmesh/probe', {
  request: z.strictObject({ incarnation: z.number().int().nonnegative() }),
  response: z.strictObject({ incarnation: z.number().int().nonnegative(), eligible: z.boolean(), name: z.string().max(64), roles: z.array(z.string().max(64)).max(32) })
})

export interface Member {
  peerId: string
  name: string
  roles: string[]
  /** May vote and be elected coordinator. */
  eligible: boolean
  state: MemberState
  incarnation: number
  /** When it entered its state (ms since epoch). */
  since: number
  /** When this node last heard from it, directly or by gossip. */
  lastHeard: number
}

export interface MemberChange { peerId: string, name: string, from: MemberState | 'unknown', to: MemberState, incarnation: number }

export interface MemberViewEvents {
  'member:change': CustomEvent<MemberChange>
}

export interface MemberTimings {
  heartbeatIntervalMs: number
  probeIntervalMs: number
  probeTimeoutMs: number
  silenceMs: number
  suspicionMinMs: number
  suspicionMaxMs: number
  confirmationsForMin: number
}

export interface MemberViewInit extends MemberTimings {
  self: { peerId: string, name: string, roles: string[], eligible: boolean }
  rpc: RpcService
  pubsub: PubSubService
  onError?: (err: Error) => void
}

export class MemberView extends TypedEventEmitter<MemberViewEvents> {
  private readonly init: MemberViewInit
  private readonly fd: FailureDetector
  private readonly info = new Map<string, { name: string, roles: string[], eligible: boolean, lastHeard: number }>()
  private incarnation = 0
  private running = false
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private deadlineTimer?: ReturnType<typeof setTimeout>
  private probeOrder: string[] = []
  private readonly probing = new Set<string>()
  private unsubscribe?: () => void
  private unhandle?: () => void

  constructor (init: MemberViewInit) {
    super()
    this.init = init
    this.fd = new FailureDetector(init)
  }

  start (): void {
    if (this.running) return
    this.running = true
    // Start above any incarnation of an earlier run with the same identity, or a restarted
    // agent's heartbeats would be taken for stale ones and it would stay "offline".
    this.incarnation = Date.now()
    this.unhandle = this.init.rpc.handle(Probe, (req, ctx) => {
      this.heard(ctx.peer, req.incarnation)
      return { incarnation: this.incarnation, eligible: this.init.self.eligible, name: this.init.self.name, roles: this.init.self.roles }
    })
    const sub = this.init.pubsub.subscribe(MEMBERS_TOPIC)
    this.unsubscribe = () => { sub.unsubscribe() }
    void (async () => {
      for await (const m of sub) {
        // The gossip validator already checked that the envelope's source signed it.
        if (m.from === m.payload.peerId && m.from !== this.init.self.peerId) this.onHeartbeat(m.payload)
      }
    })()
    this.every(this.init.heartbeatIntervalMs, () => { this.announce() })
    this.every(this.init.probeIntervalMs, () => { this.probeNext() })
    this.announce()
  }

  /** Tell the mesh this agent leaves (best effort), then stop. */
  async stop (): Promise<void> {
    if (!this.running) return
    this.announce(true)
    this.running = false
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer)
    this.unsubscribe?.()
    this.unhandle?.()
  }

  /** An agent connected and showed its card: as good as a heartbeat at the incarnation we know. */
  seen (peerId: string, card: { name: string, roles: string[] }): void {
    const known = this.info.get(peerId)
    this.info.set(peerId, { eligible: known?.eligible ?? false, ...known, name: card.name, roles: card.roles, lastHeard: Date.now() })
    this.apply(this.fd.heartbeat(peerId, this.fd.incarnation(peerId) ?? 0, Date.now()))
    // Eligibility is only told by heartbeats and probes: ask now rather than wait for gossip.
    if (known === undefined) void this.probe(peerId)
  }

  members (): Member[] {
    return this.fd.view().map(v => {
      const i = this.info.get(v.peer)
      return { peerId: v.peer, name: i?.name ?? '', roles: i?.roles ?? [], eligible: i?.eligible ?? false, state: v.state, incarnation: v.incarnation, since: v.since, lastHeard: i?.lastHeard ?? 0 }
    })
  }

  member (peerId: string): Member | undefined { return this.members().find(m => m.peerId === peerId) }

  get ownIncarnation (): number { return this.incarnation }

  private onHeartbeat (hb: MemberHeartbeat): void {
    const now = Date.now()
    this.learn(hb.peerId, { name: hb.name, roles: hb.roles, eligible: hb.eligible }, now)
    if (hb.leaving === true) { this.apply(this.fd.leave(hb.peerId, hb.incarnation, now)); return }
    this.apply(this.fd.heartbeat(hb.peerId, hb.incarnation, now))
    for (const s of hb.suspects) {
      if (s.peerId === this.init.self.peerId) {
        // Refute: a newer incarnation outranks every suspicion of the older one.
        if (s.incarnation >= this.incarnation) { this.incarnation = s.incarnation + 1; this.announce() }
        continue
      }
      this.apply(this.fd.suspicionReported(s.peerId, hb.peerId, s.incarnation, now))
    }
  }

  private heard (peerId: string, incarnation: number, extra?: { name: string, roles: string[], eligible: boolean }): void {
    const known = this.info.get(peerId)
    const now = Date.now()
    if (extra !== undefined) this.learn(peerId, extra, now)
    else if (known !== undefined) known.lastHeard = now
    this.apply(this.fd.heartbeat(peerId, incarnation, now))
  }

  /**
   * What an agent told of itself. A change of eligibility is a member change of its own: the
   * election's view of who may vote must follow it, whether a heartbeat or a probe told it.
   */
  private learn (peerId: string, told: { name: string, roles: string[], eligible: boolean }, now: number): void {
    const known = this.info.get(peerId)
    this.info.set(peerId, { ...told, lastHeard: now })
    const state = this.fd.state(peerId)
    if (known !== undefined && known.eligible !== told.eligible && state !== undefined) this.emitChange(peerId, state, state)
  }

  private announce (leaving = false): void {
    if (!this.running) return
    const suspects = this.fd.view().filter(v => v.state === 'suspect').map(v => ({ peerId: v.peer, incarnation: v.incarnation }))
    const { peerId, name, roles, eligible } = this.init.self
    this.init.pubsub.publish(MEMBERS_TOPIC, { peerId, name, roles, eligible, incarnation: this.incarnation, suspects: suspects.slice(0, 256), ...(leaving ? { leaving } : {}) })
      .catch((err) => { if (this.running) this.init.onError?.(err as Error) })
  }

  private probeNext (): void {
    const now = Date.now()
    const candidates = this.fd.view().filter(v => v.state === 'alive' || v.state === 'suspect')
    // Silent agents first, out of turn.
    for (const v of candidates) {
      if (now - (this.info.get(v.peer)?.lastHeard ?? 0) >= this.init.silenceMs) void this.probe(v.peer)
    }
    if (this.probeOrder.length === 0) this.probeOrder = shuffle(candidates.map(v => v.peer))
    const next = this.probeOrder.pop()
    if (next !== undefined) void this.probe(next)
  }

  private async probe (peerId: string): Promise<void> {
    if (this.probing.has(peerId) || !this.running) return
    this.probing.add(peerId)
    try {
      const answer = await this.init.rpc.request(peerId, Probe, { incarnation: this.incarnation }, { timeoutMs: this.init.probeTimeoutMs })
      this.heard(peerId, answer.incarnation, { name: answer.name, roles: answer.roles, eligible: answer.eligible })
    } catch {
      if (this.running) this.apply(this.fd.probeFailed(peerId, this.init.self.peerId, Date.now()))
    } finally {
      this.probing.delete(peerId)
    }
  }

  private apply (transitions: Transition[]): void {
    for (const t of transitions) this.emitChange(t.peer, t.from, t.to, t.incarnation)
    this.armDeadline()
  }

  private emitChange (peerId: string, from: MemberState | 'unknown', to: MemberState, incarnation = this.fd.incarnation(peerId) ?? 0): void {
    try {
      this.safeDispatchEvent('member:change', { detail: { peerId, name: this.info.get(peerId)?.name ?? '', from, to, incarnation } })
    } catch { /* listeners' errors are theirs */ }
  }

  /** One timer, at the next suspicion deadline. */
  private armDeadline (): void {
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer)
    this.deadlineTimer = undefined
    const next = this.fd.nextDeadline()
    if (next === undefined || !this.running) return
    this.deadlineTimer = setTimeout(() => { this.apply(this.fd.tick(Date.now())) }, Math.max(0, next - Date.now()))
    this.deadlineTimer.unref?.()
  }

  private every (ms: number, fn: () => void): void {
    const run = (): void => {
      if (!this.running) return
      fn()
      // Jitter keeps agents started together from beating in lockstep.
      const t = setTimeout(() => { this.timers.delete(t); run() }, ms * (0.9 + Math.random() * 0.2))
      t.unref?.()
      this.timers.add(t)
    }
    const t = setTimeout(() => { this.timers.delete(t); run() }, Math.random() * ms)
    t.unref?.()
    this.timers.add(t)
  }
}

function shuffle<T> (xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const tmp = xs[i]; xs[i] = xs[j]; xs[j] = tmp
  }
  return xs
}
