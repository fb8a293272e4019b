/**
 * Runs the Election state machine over RPC: one command, `$agentmesh/election`, carries votes,
 * heartbeats and voter-set queries; their replies come back as the RPC answers. One timer, at
 * the machine's next wake-up. The term, the vote and the voter set are written to the state file
 * (atomically, fsynced) before any message that depends on them leaves the node.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { z } from 'zod'
import { TypedEventEmitter } from 'main-event'
import { defineCommand, type RpcService } from '../rpc/index.js'
import { Election, type ElectionEvent, type ElectionMessage, type ElectionStatus, type ElectionTimings, type MemberInfo, type PersistedElection, type Role } from './election.js'

const PeerId = z.string().min(1).max(128)
const Term = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
export const VoterConfigSchema = z.strictObject({ version: Term, term: Term, voters: z.array(PeerId).max(256) })

export const ElectionMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('vote'), term: Term, candidate: PeerId, config: VoterConfigSchema, pre: z.boolean() }),
  z.strictObject({
    type: z.literal('vote-reply'),
    term: Term,
    granted: z.boolean(),
    pre: z.boolean(),
    reason: z.enum(['stale-term', 'already-voted', 'not-up-to-date', 'leader-alive', 'not-a-voter', 'bootstrap-mismatch', 'not-eligible']).optional(),
    config: VoterConfigSchema.optional()
  }),
  z.strictObject({ type: z.literal('heartbeat'), term: Term, leader: PeerId, config: VoterConfigSchema, seq: Term }),
  z.strictObject({ type: z.literal('heartbeat-ack'), term: Term, seq: Term, success: z.boolean(), configVersion: Term }),
  z.strictObject({ type: z.literal('config-query') }),
  z.strictObject({ type: z.literal('config-reply'), term: Term, config: VoterConfigSchema.optional() })
])

export const ElectionCommand = defineCommand('$agentmesh/election', {
  request: ElectionMessageSchema,
  response: z.union([ElectionMessageSchema, z.null()])
})

const REQUESTS = new Set<ElectionMessage['type']>(['vote', 'heartbeat', 'config-query'])

export interface CoordinatorChange { leader?: string, term: number, self: boolean }

export interface ElectionServiceEvents {
  'coordinator:change': CustomEvent<CoordinatorChange>
  'role:change': CustomEvent<{ role: Role, term: number }>
  'voters:change': CustomEvent<{ voters: string[], version: number }>
  rejected: CustomEvent<{ from: string, message: string, reason: string }>
}

export interface ElectionServiceInit extends ElectionTimings {
  self: string
  eligible: boolean
  rpc: RpcService
  stateFile?: string
  onError?: (err: Error) => void
}

export class ElectionService extends TypedEventEmitter<ElectionServiceEvents> {
  private readonly init: ElectionServiceInit
  private election?: Election
  private timer?: ReturnType<typeof setTimeout>
  private reviewTimer?: ReturnType<typeof setInterval>
  private unhandle?: () => void
  private running = false
  private members: MemberInfo[] = []

  constructor (init: ElectionServiceInit) {
    super()
    this.init = init
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.election = new Election({ ...this.init, random: Math.random, now: Date.now(), ...this.load() })
    this.election.setMembers(this.members)
    this.unhandle = this.init.rpc.handle(ElectionCommand, (msg, ctx) => {
      const e = this.election
      if (e === undefined || !this.running) return null
      e.receive(ctx.peer, msg as ElectionMessage, Date.now())
      return this.flush(ctx.peer)
    })
    this.reviewTimer = setInterval(() => { this.election?.reviewVoters(Date.now()); this.flush() }, 1_000)
    this.reviewTimer.unref?.()
    this.flush()
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    this.unhandle?.()
    if (this.timer !== undefined) clearTimeout(this.timer)
    if (this.reviewTimer !== undefined) clearInterval(this.reviewTimer)
  }

  /** The agents alive in the member view, with their eligibility. */
  setMembers (members: MemberInfo[]): void {
    this.members = members
    this.election?.setMembers(members)
    this.flush()
  }

  status (): ElectionStatus | undefined { return this.election?.status(Date.now()) }

  inOffice (): boolean { return this.election?.inOffice(Date.now()) ?? false }

  get term (): number { return this.election?.currentTerm ?? 0 }
  get leader (): string | undefined { return this.election?.currentLeader }

  admits (term: number, from: string): 'ok' | 'stale-term' | 'not-coordinator' {
    return this.election?.admits(term, from) ?? 'not-coordinator'
  }

  /**
   * Send what the machine produced and re-arm the timer. When called from a request handler,
   * the reply to `replyTo` is returned to become the RPC answer.
   */
  private flush (replyTo?: string): ElectionMessage | null {
    const e = this.election
    if (e === undefined || !this.running) return null
    const out = e.drain()
    if (out.persist !== undefined) this.save(out.persist)
    let reply: ElectionMessage | null = null
    for (const { to, msg } of out.messages) {
      if (to === replyTo && reply === null && !REQUESTS.has(msg.type)) { reply = msg; continue }
      if (REQUESTS.has(msg.type)) void this.send(to, msg)
      // A reply with no request to answer (the request's caller is gone) is dropped.
    }
    for (const ev of out.events) this.emit(ev)
    this.arm()
    return reply
  }

  private async send (to: string, msg: ElectionMessage): Promise<void> {
    try {
      const reply = await this.init.rpc.request(to, ElectionCommand, msg, { timeoutMs: this.init.electionTimeoutMinMs })
      if (reply !== null && this.running && this.election !== undefined) {
        this.election.receive(to, reply as ElectionMessage, Date.now())
        this.flush()
      }
    } catch {
      // An unreachable peer is what elections are for: its silence is the signal, not an error.
    }
  }

  private arm (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    const e = this.election
    if (e === undefined || !this.running) return
    let deferred = false
    const fire = (): void => {
      this.timer = undefined
      this.election?.tick(Date.now())
      this.flush()
    }
    const due = e.nextWakeup()
    const wait = Math.max(0, due - Date.now())
    this.timer = setTimeout(() => {
      this.timer = undefined
      const now = Date.now()
      // This process was stalled (a busy machine, a long GC): heartbeats that came meanwhile
      // wait unread in the socket, and timers run before I/O in Node's loop. A follower gives
      // them one heartbeat interval to be read before it counts the leader silent; the
      // leader's own heartbeats go at once.
      if (!deferred && now - due > this.init.heartbeatIntervalMs && this.election?.currentRole !== 'leader') {
        deferred = true
        this.timer = setTimeout(fire, this.init.heartbeatIntervalMs)
        this.timer.unref?.()
        return
      }
      fire()
    }, wait)
    this.timer.unref?.()
  }

  private emit (ev: ElectionEvent): void {
    try {
      switch (ev.type) {
        case 'leader': this.safeDispatchEvent('coordinator:change', { detail: { ...(ev.leader !== undefined ? { leader: ev.leader } : {}), term: ev.term, self: ev.leader === this.init.self } }); break
        case 'role': this.safeDispatchEvent('role:change', { detail: { role: ev.role, term: ev.term } }); break
        case 'voters': this.safeDispatchEvent('voters:change', { detail: { voters: ev.config.voters, version: ev.config.version } }); break
        case 'rejected': this.safeDispatchEvent('rejected', { detail: { from: ev.from, message: ev.message, reason: ev.reason } }); break
      }
    } catch { /* listeners' errors are theirs */ }
  }

  private load (): { persisted?: PersistedElection } {
    const file = this.init.stateFile
    if (file === undefined) return {}
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
      throw err
    }
    const parsed = z.strictObject({ term: Term, votedFor: PeerId.optional(), config: VoterConfigSchema.optional() }).safeParse(JSON.parse(text))
    if (!parsed.success) throw new Error(`coordination state file ${file} is damaged: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
    return { persisted: parsed.data }
  }

  private save (state: PersistedElection): void {
    const file = this.init.stateFile
    if (file === undefined) return
    try {
      const tmp = `${file}.tmp`
      const fd = openSync(tmp, 'w', 0o600)
      try {
        writeSync(fd, JSON.stringify(state))
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
      renameSync(tmp, file)
    } catch (err) {
      this.init.onError?.(err as Error)
    }
  }
}
