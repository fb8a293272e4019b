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
 * What is believed of whom (a heartbeat speaks for its sender only; suspicions from members, up
 * to the incarnation the suspect itself said) is MemberTable's and FailureDetector's rule.
 */
import { z } from 'zod'
import { TypedEventEmitter } from 'main-event'
import { defineCommand, type RpcService } from '../protocols/rpc/index.js'
import type { PubSubService } from '../protocols/pubsub/index.js'
import { defineTopic } from '../protocols/pubsub/topics.js'
import { MemberTable, type Member, type MemberChange } from './member-table.js'
import type { MemberTimings } from './member-timings.js'
import type { MemberSource } from './member-source.js'

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
  response: z.strictObject({
    incarnation: z.number().int().nonnegative(),
    eligible: z.boolean(),
    name: z.string().max(64),
    roles: z.array(z.string().max(64)).max(32)
  })
})

export type { Member, MemberChange } from './member-table.js'
export type { MemberTimings } from './member-timings.js'

export interface MemberViewEvents {
  'member:change': CustomEvent<MemberChange>
}

export interface MemberViewInit extends MemberTimings {
  self: { peerId: string, name: string, roles: string[], eligible: boolean }
  rpc: RpcService
  pubsub: PubSubService
  /**
   * A client's view: it listens to the members' heartbeats but sends none and probes nobody, so
   * no agent ever counts it as a member (a probe would make the prober known to the probed).
   */
  passive?: boolean
  /** Peers whose heartbeats and probes are dropped: the clients, which are no members. */
  ignores?: (peerId: string) => boolean
  /**
   * Whether a member may be eligible at all (closed mesh: its credential grants the coordinator
   * role). A member is eligible only when it says so and this allows it; what it says cannot widen it.
   */
  mayBeEligible?: (peerId: string) => boolean
  onError?: (err: Error) => void
}

/** The I/O shell around MemberTable: gossip, probes over RPC, and the timers. */
export class MemberView extends TypedEventEmitter<MemberViewEvents> implements MemberSource {
  private readonly init: MemberViewInit
  private readonly table: MemberTable
  private running = false
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private deadlineTimer?: ReturnType<typeof setTimeout>
  private unsubscribe?: () => void
  private unhandle?: () => void

  constructor (init: MemberViewInit) {
    super()
    this.init = init
    this.table = new MemberTable({ ...init, incarnation: 0, random: Math.random })
  }

  start (): void {
    if (this.running) return
    this.running = true
    // Start above any incarnation of an earlier run with the same identity, or a restarted
    // agent's heartbeats would be taken for stale ones and it would stay "offline".
    this.table.incarnation = Math.max(Date.now(), this.table.incarnation + 1)
    this.unhandle = this.init.rpc.handle(Probe, (req, ctx) => {
      if (this.init.ignores?.(ctx.peer) !== true) {
        this.table.probedBy(ctx.peer, req.incarnation, Date.now())
        this.flush()
      }
      const { eligible, name, roles } = this.init.self
      return { incarnation: this.table.incarnation, eligible, name, roles }
    })
    const sub = this.init.pubsub.subscribe(MEMBERS_TOPIC)
    this.unsubscribe = () => { sub.unsubscribe() }
    void (async () => {
      for await (const m of sub) {
        // The gossip validator already checked that the envelope's source signed it; the table
        // takes a heartbeat only from the agent it speaks for (see MemberTable.heartbeat).
        if (this.init.ignores?.(m.from) !== true) {
          this.table.heartbeat(m.payload, Date.now(), m.from)
          this.flush()
        }
      }
    })()
    this.every(this.init.heartbeatIntervalMs, () => { this.announce() })
    this.every(this.init.probeIntervalMs, () => { for (const p of this.table.probeRound(Date.now())) void this.probe(p) })
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
    this.deadlineTimer = undefined
    this.unsubscribe?.()
    this.unhandle?.()
    this.unsubscribe = undefined
    this.unhandle = undefined
  }

  /** An agent connected and showed its card: as good as a heartbeat at the incarnation we know. */
  seen (peerId: string, card: { name: string, roles: string[] }): void {
    const unknown = this.table.seen(peerId, card, Date.now())
    this.flush()
    if (unknown) void this.probe(peerId)
  }

  members (): Member[] {
    const may = this.init.mayBeEligible
    return may === undefined ? this.table.members() : this.table.members().map(m => m.eligible && !may(m.peerId) ? { ...m, eligible: false } : m)
  }

  member (peerId: string): Member | undefined { return this.members().find(m => m.peerId === peerId) }

  get ownIncarnation (): number { return this.table.incarnation }

  private announce (leaving = false): void {
    if (!this.running || this.init.passive === true) return
    this.init.pubsub.publish(MEMBERS_TOPIC, this.table.announcement(leaving))
      .catch((err) => { if (this.running) this.init.onError?.(err as Error) })
  }

  private async probe (peerId: string): Promise<void> {
    if (!this.running || this.init.passive === true || !this.table.probeStarted(peerId, Date.now())) return
    this.armDeadline()
    try {
      const answer = await this.init.rpc.request(peerId, Probe, { incarnation: this.table.incarnation }, { timeoutMs: this.init.probeTimeoutMs })
      this.table.probeAnswered(peerId, answer, Date.now())
    } catch {
      if (!this.running) return
      this.table.probeFailed(peerId, Date.now())
    }
    this.flush()
  }

  /** Tell the changes the table made, announce a refutation at once, re-arm the deadline timer. */
  private flush (): void {
    const { changes, announce } = this.table.drain()
    for (const c of changes) {
      try {
        this.safeDispatchEvent('member:change', { detail: c })
      } catch { /* listeners' errors are theirs */ }
    }
    if (announce) this.announce()
    this.armDeadline()
  }

  /** One timer, at the next suspicion or probe deadline. */
  private armDeadline (): void {
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer)
    this.deadlineTimer = undefined
    const next = this.table.nextDeadline()
    if (next === undefined || !this.running) return
    this.deadlineTimer = setTimeout(() => { this.table.tick(Date.now()); this.flush() }, Math.max(0, next - Date.now()))
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
