/**
 * Runs the Election state machine over RPC (the command in election-wire.ts), with one timer at
 * the machine's next wake-up. The term, the vote and the voter set are written to the state file
 * (election-state-file.ts) before any message that depends on them leaves the node; when that
 * write fails, nothing of that step goes out (a vote is refused, never granted), the machine is
 * rebuilt from the state last stored, as after a restart, and an 'error' event is emitted.
 */
import { TypedEventEmitter } from 'main-event'
import type { RpcService } from '../rpc/index.js'
import type { PubSubService } from '../pubsub/index.js'
import { Election } from './election.js'
import type {
  Certificate, ElectionEvent, ElectionKeys, ElectionMessage, ElectionStatus, ElectionTimings, MemberInfo, PeerLinks, PersistedElection, Role
} from './election-types.js'
import { ElectionStateFile } from './election-state-file.js'
import { COORDINATOR_TOPIC, ElectionCommand, REQUESTS, staleAnswer } from './election-wire.js'
import { SLACK_CAP_FACTOR } from './election-slack.js'
import { deadline } from '../core/deadline.js'

export { ElectionCommand, ElectionMessageSchema, VoterConfigSchema } from './election-wire.js'
export { electionKeys, privateKeyOf } from './election-keys.js'

export interface CoordinatorChange { leader?: string, term: number, self: boolean }

export interface ElectionServiceEvents {
  /** A coordinator is in office (for this node itself: once its lease holds), or none is known. */
  'coordinator:change': CustomEvent<CoordinatorChange>
  'role:change': CustomEvent<{ role: Role, term: number }>
  'voters:change': CustomEvent<{ voters: string[], version: number }>
  /** With the refused request's envelope id when a request was refused (not a reply). */
  rejected: CustomEvent<{ from: string, message: string, reason: string, correlationId?: string }>
  /** The state file could not be written: what depended on it was not sent. */
  error: CustomEvent<{ error: Error }>
}

export interface ElectionServiceInit extends ElectionTimings {
  self: string
  eligible: boolean
  rpc: RpcService
  stateFile?: string
  /** Signs this node's votes and checks others' (election-keys.ts: `electionKeys(privateKey, mesh)`). */
  keys: ElectionKeys
  /** Passed to the machine (ElectionInit): whether the leader may move to this voter set now. */
  mayChangeVoters?: (voters: string[]) => boolean
  /**
   * Where the leader's announcements go and come from (COORDINATOR_TOPIC): a node without it
   * follows a leader only on heartbeats, which go to the voters alone. A client passes none: it
   * follows no coordinator.
   */
  pubsub?: PubSubService
  /** Connection facts (PeerLinks): a follower whose leader's process exited calls an election without waiting out its timeout. */
  links?: PeerLinks
}

export class ElectionService extends TypedEventEmitter<ElectionServiceEvents> {
  private readonly init: ElectionServiceInit
  private readonly file?: ElectionStateFile
  private election?: Election
  /** The state last stored (or loaded): what the machine is rebuilt from when a write fails. */
  private stored?: PersistedElection
  private timer?: ReturnType<typeof setTimeout>
  private reviewTimer?: ReturnType<typeof setInterval>
  private unhandle?: () => void
  private unsubscribe?: () => void
  private unlink?: () => void
  /** Aborts the exit checks under way when the service stops. */
  private stopping?: AbortController
  private running = false
  private members: MemberInfo[] = []
  /** The leader last told to listeners; this node's own win is told once its lease holds. */
  private told?: string
  /** The envelope id of the request being handled, for the refusals it causes. */
  private inbound?: string
  private pendingOffice?: number
  /** The coordinator topic's subscribers, direct and relayed, at the last look (watchAudience). */
  private audience = new Set<string>()

  constructor (init: ElectionServiceInit) {
    super()
    this.init = init
    if (init.stateFile !== undefined) this.file = new ElectionStateFile(init.stateFile)
  }

  start (): void {
    if (this.running) return
    this.stored = this.file?.load()
    this.told = undefined
    this.pendingOffice = undefined
    this.running = true
    this.election = this.build()
    this.unhandle = this.init.rpc.handle(ElectionCommand, (msg, ctx) => {
      const e = this.election
      if (e === undefined || !this.running) return null
      // A reply sent as a request (an ack with a high term, a voter set nobody asked for) is a forgery.
      if (!REQUESTS.has(msg.type)) {
        this.safeDispatchEvent('rejected', { detail: { from: ctx.peer, message: msg.type, reason: 'malformed', correlationId: ctx.envelope.id } })
        return null
      }
      // The machine's refusals of this request are told while it flushes, tagged with its id.
      this.inbound = ctx.envelope.id
      try {
        e.receive(ctx.peer, msg as ElectionMessage, Date.now())
        return this.flush(ctx.peer)
      } finally {
        this.inbound = undefined
      }
    })
    const pubsub = this.init.pubsub
    if (pubsub !== undefined) {
      const sub = pubsub.subscribe(COORDINATOR_TOPIC)
      this.unsubscribe = () => { sub.unsubscribe() }
      void (async () => {
        // The gossip layer checked that `from` published it; the machine checks the rest.
        for await (const m of sub) {
          if (!this.running || this.election === undefined) continue
          this.election.announcement(m.from, m.payload, Date.now())
          this.flush()
        }
      })()
    }
    this.stopping = new AbortController()
    this.unlink = this.init.links?.onClose(peer => { this.closed(peer) })
    this.reviewTimer = setInterval(() => { this.election?.reviewVoters(Date.now()); this.watchAudience(); this.flush() }, 1_000)
    this.reviewTimer.unref?.()
    this.flush()
  }

  /**
   * Who the announcements reach: the coordinator topic's subscribers among this node's peers and
   * those told through them. One more than at the last look is told to the machine
   * (Election.audienceGrew), which announces soon when it leads. Looked at with the voter review,
   * once a second.
   */
  private watchAudience (): void {
    const pubsub = this.init.pubsub
    if (pubsub === undefined || this.election === undefined) return
    const topic = COORDINATOR_TOPIC.name
    const now = new Set([...pubsub.subscribers(topic), ...pubsub.relayedSubscribers(topic)])
    let grew = false
    for (const p of now) if (!this.audience.has(p)) { grew = true; break }
    this.audience = now
    if (grew) this.election.audienceGrew()
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    this.unhandle?.()
    this.unhandle = undefined
    this.unsubscribe?.()
    this.unsubscribe = undefined
    this.unlink?.()
    this.unlink = undefined
    this.stopping?.abort()
    if (this.timer !== undefined) clearTimeout(this.timer)
    if (this.reviewTimer !== undefined) clearInterval(this.reviewTimer)
    this.timer = undefined
    this.reviewTimer = undefined
  }

  /** The agents alive in the member view, with their eligibility (and those that left, flagged). */
  setMembers (members: MemberInfo[]): void {
    this.members = members
    this.election?.setMembers(members)
    this.flush()
  }

  status (): ElectionStatus | undefined { return this.election?.status(Date.now()) }
  /** The voters of the first set this node would propose while it holds none (election.ts `proposedVoters`). */
  proposedVoters (): string[] { return this.election?.proposedVoters() ?? [] }
  /** The agents the election met first, in that order, while it holds no set (bootstrap-check.ts): its bootstrap check asks from among them. */
  firstMet (): string[] { return this.election?.bootstrap.met() ?? [] }

  inOffice (): boolean { return this.election?.inOffice(Date.now()) ?? false }

  get term (): number { return this.election?.currentTerm ?? 0 }
  /** The term of the leader followed: `term`, but for a non-voter that follows one a term behind it. */
  get leaderTerm (): number { return this.election?.leaderTerm ?? 0 }
  get leader (): string | undefined { return this.election?.currentLeader }
  get certificate (): Certificate | undefined { return this.election?.certificate }

  admits (term: number, from: string): 'ok' | 'stale-term' | 'not-coordinator' {
    return this.election?.admits(term, from) ?? 'not-coordinator'
  }

  /**
   * The last connection to `peer` closed. A voter that followed it as leader asks once whether
   * its process exited (PeerLinks.exited), and if so frees what it did not promise
   * (Election.peerExited). Within the minimum timeout: later, the timeout has done it anyway.
   */
  private closed (peer: string): void {
    const e = this.election
    const links = this.init.links
    if (e === undefined || links === undefined || !this.running || this.stopping === undefined) return
    if (e.currentLeader !== peer || e.currentRole !== 'follower' || !e.isVoter) return
    const since = { term: e.currentTerm, at: Date.now() }
    // deadline(), not AbortSignal.any with a timeout signal: on Node 20 that timeout can be
    // collected before it fires (protocols/core/deadline.ts), and the question would be asked for good.
    const limit = deadline(this.init.electionTimeoutMinMs, this.stopping.signal)
    links.exited(peer, limit.signal).then(gone => {
      if (!gone || !this.running || this.election !== e) return
      e.peerExited(peer, since, Date.now())
      this.flush()
    }, () => { /* tells nothing: the timeout decides */ }).finally(limit.clear)
  }

  private build (): Election {
    const connected = this.init.links?.connected
    const e = new Election({
      ...this.init,
      random: Math.random,
      now: Date.now(),
      ...(this.stored !== undefined ? { persisted: this.stored } : {}),
      ...(connected !== undefined ? { connected } : {})
    })
    e.setMembers(this.members)
    return e
  }

  /**
   * Store, then send what the machine produced, and re-arm the timer. When called from a request
   * handler, the reply to `replyTo` is returned to become the RPC answer.
   */
  private flush (replyTo?: string): ElectionMessage | null {
    const e = this.election
    if (e === undefined || !this.running) return null
    const out = e.drain()
    if (out.persist !== undefined && !this.store(out.persist)) return this.refuse(out.messages.find(m => m.to === replyTo && !REQUESTS.has(m.msg.type))?.msg)
    let reply: ElectionMessage | null = null
    for (const { to, msg } of out.messages) {
      if (to === replyTo && reply === null && !REQUESTS.has(msg.type)) { reply = msg; continue }
      if (REQUESTS.has(msg.type)) void this.send(to, msg)
      // A reply with no request to answer (the request's caller is gone) is dropped.
    }
    if (out.announce !== undefined) this.init.pubsub?.publish(COORDINATOR_TOPIC, out.announce).catch(() => { /* stopping; the next one goes in an interval */ })
    for (const ev of out.events) this.emit(ev)
    this.tellOffice()
    this.arm()
    return reply
  }

  private store (state: PersistedElection): boolean {
    if (this.file === undefined) { this.stored = state; return true }
    try {
      this.file.save(state)
      this.stored = state
      return true
    } catch (err) {
      this.safeDispatchEvent('error', { detail: { error: err as Error } })
      return false
    }
  }

  /**
   * The state of this step could not be stored: nothing of it goes out, the machine is rebuilt
   * from what was stored (as after a crash), and a reply that granted something is turned into
   * a refusal in the term still stored.
   */
  private refuse (reply: ElectionMessage | undefined): ElectionMessage | null {
    this.election = this.build()
    this.election.drain()
    this.pendingOffice = undefined
    if (this.told !== undefined) this.emit({ type: 'leader', leader: undefined, term: this.term })
    this.arm()
    if (reply?.type === 'vote-reply') return { type: 'vote-reply', term: this.term, granted: false, pre: reply.pre }
    // Rebuilt, not copied: an endorsement in it is a vote, and it was not stored.
    if (reply?.type === 'heartbeat-ack') return { type: 'heartbeat-ack', term: this.term, seq: reply.seq, success: false, configVersion: reply.configVersion }
    return null
  }

  private async send (to: string, msg: ElectionMessage): Promise<void> {
    try {
      // As long as the longest campaign waits: a vote or an ack that comes late still counts (a
      // vote in its term, an ack towards check-quorum; the lease runs from the heartbeat's send
      // time, so a late ack cannot stretch it), and tells how late answers come. Cut at the
      // minimum timeout, replies from a process lagging that much were dropped unseen, and on a
      // busy machine no election could end.
      const sentAt = Date.now()
      const reply = await this.init.rpc.request(to, ElectionCommand, msg, { timeoutMs: this.init.electionTimeoutMaxMs * (1 + SLACK_CAP_FACTOR) })
      this.election?.observeReply(Date.now() - sentAt, Date.now())
      if (reply !== null && !staleAnswer(msg, reply, sentAt, this.election) && this.running && this.election !== undefined) {
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

  /** This node won: tell it once its lease holds, so a listener finds it in office. */
  private tellOffice (): void {
    if (this.pendingOffice === undefined || !this.inOffice() || this.term !== this.pendingOffice) return
    this.pendingOffice = undefined
    this.told = this.init.self
    this.safeDispatchEvent('coordinator:change', { detail: { leader: this.init.self, term: this.term, self: true } })
  }

  private emit (ev: ElectionEvent): void {
    try {
      switch (ev.type) {
        case 'leader':
          if (ev.leader === this.init.self) { this.pendingOffice = ev.term; break }
          this.pendingOffice = undefined
          // Listeners never heard of a win whose lease did not start: no loss to tell them.
          if (ev.leader === undefined && this.told === undefined) break
          this.told = ev.leader
          this.safeDispatchEvent('coordinator:change', { detail: { ...(ev.leader !== undefined ? { leader: ev.leader } : {}), term: ev.term, self: false } })
          break
        case 'role': this.safeDispatchEvent('role:change', { detail: { role: ev.role, term: ev.term } }); break
        case 'voters': this.safeDispatchEvent('voters:change', { detail: { voters: ev.config.voters, version: ev.config.version } }); break
        case 'rejected': {
          const correlationId = this.inbound
          this.safeDispatchEvent('rejected', { detail: { from: ev.from, message: ev.message, reason: ev.reason, ...(correlationId !== undefined ? { correlationId } : {}) } })
          break
        }
      }
    } catch { /* listeners' errors are theirs */ }
  }
}
