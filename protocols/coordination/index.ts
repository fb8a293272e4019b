/**
 * Coordination elected among the peers (R-COORD, R-SHAPE): the election, the managed agent's
 * side and the coordinator's side, wired to one node's RPC service and member view. Every node
 * runs all three; only the node in office acts as coordinator.
 */
import { situationReason, type Situation } from './situation.js'
import { TypedEventEmitter } from 'main-event'
import type { RpcService } from '../rpc/index.js'
import type { PubSubService } from '../pubsub/index.js'
import { AbortError } from '../core/errors.js'
import { noAudit, type AuditSink } from '../core/audit.js'
import { livePeers, memberBriefs, type MemberSource } from '../discovery/member-source.js'
import { isLive } from '../discovery/failure-detector.js'
import type { MemberChange } from '../discovery/members.js'
import type { Office } from './office.js'
import { BOOTSTRAP_CHECK_ASK } from './constants.js'
import { ElectionService, type CoordinatorChange } from './election-service.js'
import type { ElectionKeys, ElectionTimings, Role } from './election.js'
import type { Certificate, PeerLinks } from './election-types.js'
import { AgentSide, type ConsensusHandler, type DirectiveHandler, type DirectiveRun, type StatusProvider } from './agent-side.js'
import { Coordinator, type ConsensusResult, type CoordinationReport, type PlannedDirective, type Planner } from './coordinator.js'
import type { CoordinatorState } from './coordinator-state.js'
import { ProgressCommand, type AgentStatus, type DirectiveAction, type ProgressUpdate } from './schemas.js'

export * from './schemas.js'
export type { CoordinatorChange } from './election-service.js'
export type { ElectionStatus, Role, VoterConfig } from './election.js'
export type { DirectiveContext, DirectiveHandler, DirectiveRun, StatusProvider, ConsensusHandler } from './agent-side.js'
export type { Planner, PlanContext, PlannedDirective, CoordinationReport, DirectiveOutcome, ConsensusResult } from './coordinator.js'
export type { CoordinatorState } from './coordinator-state.js'

export interface CoordinationEvents {
  /** A coordinator took office (or none is known): on every node. */
  'coordinator:change': CustomEvent<CoordinatorChange>
  /** This node's election role changed. */
  'role:change': CustomEvent<{ role: Role, term: number }>
  /** The voter set this node holds changed (a newer one was committed or taken). */
  'voters:change': CustomEvent<{ voters: string[], version: number }>
  /** On the coordinator: its state machine moved. */
  'state:change': CustomEvent<{ from: CoordinatorState, to: CoordinatorState, trigger: string }>
  /** On the coordinator: a round finished. */
  report: CustomEvent<CoordinationReport>
  /** On the coordinator: an agent reported progress on a directive. */
  progress: CustomEvent<ProgressUpdate>
  /** A coordination message (election, directive, status, rollback, consensus) was refused. */
  rejected: CustomEvent<{ from: string, message: string, reason: string, correlationId?: string }>
  /** A directive was sent (by the coordinator, with its duration once it ended) or received (by an agent). */
  directive: CustomEvent<DirectiveEvent>
  /** Something failed in the background (the state file could not be written, progress could not be told). */
  error: CustomEvent<{ error: Error }>
}

export interface DirectiveEvent {
  role: 'sent' | 'received'
  action: string
  /** sent: completed or failed; received: ack, reject, completed or failed. */
  outcome: string
  /** sent: seconds from sending to the end. */
  seconds?: number
}

export interface CoordinationStatus {
  term: number
  leader?: string
  /** This node's role in the election, and whether it is the coordinator in office. */
  role: Role
  inOffice: boolean
  eligible: boolean
  voters: string[]
  voterSetVersion: number
  quorum: { size: number, needed: number, reachable: number, has: boolean }
  /** How much the election timeouts are stretched now because heartbeats or acks came late (ms). */
  slackMs: number
  /** no-quorum: this node cannot see a majority of the voters, so nobody here can coordinate. */
  situation: Situation
  /** Why there is no coordinator, in words ("waiting for 3 eligible agents ..., 2 seen"); null when there is one. */
  reason: string | null
  /** The coordinator's state machine (idle on every other node). */
  state: CoordinatorState
  leaseRemainingMs?: number
  lastLeaderContactMsAgo?: number
  offlineAgents: string[]
  successRate: number
}

export interface CoordinationInit extends ElectionTimings {
  self: { peerId: string, name: string, capabilities: string[] }
  eligible: boolean
  /** A client (config `client`): it never votes, and no coordinator directs it. */
  client?: boolean
  rpc: RpcService
  stateFile?: string
  /** Signs this node's election votes and checks others' (`electionKeys` of election-keys.ts). */
  keys: ElectionKeys
  requestTimeoutMs: number
  /** The member view: who may be planned for and who may vote; followed on 'member:change'. */
  members: MemberSource
  /** Where refused directives and election messages are recorded (with the request's envelope id). */
  audit?: AuditSink
  /** Gossip, for the coordinator's announcements (a client's is ignored: it follows no coordinator). */
  pubsub?: PubSubService
  /** Connection facts for the election (`peerLinks`, node/member-connections.ts): an exited coordinator is replaced without waiting out a timeout. */
  links?: PeerLinks
}

/** What the fencing verdicts are as error codes, for the audit trail. */
const REFUSAL_CODES: Record<string, string> = { 'stale-term': 'CRD001', 'not-coordinator': 'CRD002', 'wrong-target': 'MSG001' }
/** The agent side's messages; every other refused message is the election's. */
const DIRECTIVE_MESSAGES = new Set(['directive', 'status', 'rollback', 'consensus'])

export class CoordinationService extends TypedEventEmitter<CoordinationEvents> implements Office {
  readonly election: ElectionService
  private readonly agent: AgentSide
  private readonly coordinatorSide: Coordinator
  private readonly init: CoordinationInit
  private unhandle?: () => void
  private running = false
  /** A read of the member view for the election is queued. */
  private telling = false
  /** gateVoterChanges: what must hold before the leader changes the voter set. */
  private voterGate?: (voters: string[]) => boolean
  private readonly onMemberChange = (e: CustomEvent<MemberChange>): void => { this.memberChanged(e.detail) }

  constructor (init: CoordinationInit) {
    super()
    this.init = init
    const audit = init.audit ?? noAudit
    const rejected = (from: string, message: string, reason: string, correlationId?: string): void => {
      this.forward('rejected', { from, message, reason, ...(correlationId !== undefined ? { correlationId } : {}) })
      const code = REFUSAL_CODES[reason]
      audit.record({
        kind: DIRECTIVE_MESSAGES.has(message) ? 'directive.refused' : 'vote.refused',
        peer: from,
        ...(correlationId !== undefined ? { correlationId } : {}),
        ...(code !== undefined ? { code } : {}),
        reason,
        detail: { message, term: this.election.term }
      })
    }
    const error = (err: Error): void => { this.forward('error', { error: err }) }
    const { pubsub, ...rest } = init
    this.election = new ElectionService({
      ...rest,
      self: init.self.peerId,
      ...(init.stateFile !== undefined ? { stateFile: init.stateFile } : {}),
      ...(pubsub !== undefined && init.client !== true ? { pubsub } : {}),
      mayChangeVoters: (voters) => this.voterGate?.(voters) ?? true
    })
    this.election.addEventListener('coordinator:change', (e) => { this.forward('coordinator:change', e.detail) })
    this.election.addEventListener('role:change', (e) => { this.forward('role:change', e.detail) })
    this.election.addEventListener('voters:change', (e) => { this.forward('voters:change', e.detail) })
    this.election.addEventListener('rejected', (e) => { rejected(e.detail.from, e.detail.message, e.detail.reason, e.detail.correlationId) })
    this.election.addEventListener('error', (e) => { error(e.detail.error) })
    this.agent = new AgentSide({
      self: init.self,
      rpc: init.rpc,
      admits: (term, from) => this.election.admits(term, from),
      // The followed leader's: what fencing compares with (a non-voter may follow one a term behind its own).
      currentTerm: () => this.election.leaderTerm,
      currentLeader: () => this.election.leader,
      onRejected: rejected,
      onDirective: (action, outcome) => { this.forward('directive', { role: 'received', action, outcome }) },
      onError: error,
      progressTimeoutMs: init.requestTimeoutMs
    })
    this.coordinatorSide = new Coordinator({
      self: init.self.peerId,
      rpc: init.rpc,
      agent: this.agent,
      inOffice: () => this.election.inOffice(),
      officeBack: async (signal) => { await this.leaseBack(signal) },
      term: () => this.election.term,
      agents: () => livePeers(init.members),
      requestTimeoutMs: init.requestTimeoutMs,
      onStateChange: (from, to, trigger) => { this.forward('state:change', { from, to, trigger }) },
      onDirective: (action, outcome, seconds) => { this.forward('directive', { role: 'sent', action, outcome, seconds }) },
      onReport: (r) => { this.forward('report', r) }
    })
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.agent.start()
    this.coordinatorSide.start()
    this.unhandle = this.init.rpc.handle(ProgressCommand, (u) => {
      const known = this.coordinatorSide.progress(u)
      if (known) this.forward('progress', u)
      return { known }
    })
    this.init.members.addEventListener('member:change', this.onMemberChange)
    this.tellElection()
    this.election.start()
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    this.init.members.removeEventListener('member:change', this.onMemberChange)
    this.election.stop()
    this.coordinatorSide.stop()
    this.agent.stop()
    this.unhandle?.()
    this.unhandle = undefined
  }

  private memberChanged (c: MemberChange): void {
    if (c.to === 'alive') this.coordinatorSide.cleared(c.peerId)
    // A full exchange or a gossip message changes many members at once: the election reads the
    // view once for all of them (each read walks every member: per change, it was quadratic).
    if (this.telling) return
    this.telling = true
    queueMicrotask(() => {
      this.telling = false
      // Outside the event's dispatch now: a throw here would be uncaught.
      try { if (this.running) this.tellElection() } catch (err) { this.forward('error', { error: err as Error }) }
    })
  }

  /**
   * A voter-set change waits until `gate` says the next set may be made (the task service: its
   * table is on a majority of that set, docs/tasks.md); asked again on the next review.
   */
  gateVoterChanges (gate: (voters: string[]) => boolean): void { this.voterGate = gate }

  /** Read the member view again: who may vote changed without a change of state (a credential shown). */
  refreshMembers (): void { if (this.running) this.tellElection() }

  /** The election's view: agents alive (or only suspected), and those that announced they leave. */
  private tellElection (): void {
    const members = memberBriefs(this.init.members)
      .filter(m => m.state === 'alive' || m.state === 'suspect' || m.state === 'left')
      .map(m => ({ peer: m.peer, eligible: m.eligible, ...(m.state === 'left' ? { left: true } : {}) }))
    this.election.setMembers(members)
  }

  // --- what every agent does -------------------------------------------------------------

  /** Handle directives of one action: a function (run after the ack) or { accept, run, rollback }. */
  onDirective (action: DirectiveAction, handler: DirectiveHandler | DirectiveRun): () => void { return this.agent.onDirective(action, handler) }

  /** What this agent answers to the coordinator's status requests. */
  onStatusRequest (provider: StatusProvider): void { this.agent.onStatusRequest(provider) }

  /** This agent's answer to a consensus question. */
  onConsensus (question: string, handler: ConsensusHandler): () => void { return this.agent.onConsensus(question, handler) }

  // --- what the coordinator does (each call throws CRD002 on a node not in office) --------

  setPlanner (planner: Planner): void { this.coordinatorSide.setPlanner(planner) }

  async coordinate (options?: { planner?: Planner, signal?: AbortSignal, maxAttempts?: number }): Promise<CoordinationReport> {
    return await this.coordinatorSide.coordinate(options)
  }

  /**
   * A leader whose lease lapsed for a moment is back in office at its next acks: its voters still
   * follow it, their acks were only late (a loaded host: the lease counts on promises of about
   * 2.5 heartbeats, voter-hold.ts promiseMs). A round, directive or status request asked for
   * meanwhile waits for them, up to the longest election timeout, instead of failing CRD002 at
   * once; past it, or once this node is no leader, the call's own check says CRD002. The
   * coordinator side waits here before each of its calls, so a round whose lease lapses between
   * its status requests and its directives waits too (it sent every directive to be rejected).
   */
  private async leaseBack (signal?: AbortSignal): Promise<void> {
    const end = Date.now() + this.init.electionTimeoutMaxMs
    while (this.running && !this.inOffice && this.election.status()?.role === 'leader' && Date.now() < end && signal?.aborted !== true) {
      await new Promise(resolve => setTimeout(resolve, this.init.heartbeatIntervalMs))
    }
  }

  async requestStatus (target: string, signal?: AbortSignal): Promise<AgentStatus> {
    return await this.coordinatorSide.requestStatus(target, signal)
  }

  async statusAll (signal?: AbortSignal): Promise<{ statuses: AgentStatus[], unavailable: string[] }> {
    return await this.coordinatorSide.statusAll(signal)
  }

  async directive (
    directive: PlannedDirective,
    options?: { onProgress?: (u: ProgressUpdate) => void, signal?: AbortSignal }
  ): Promise<{ directiveId: string, duplicate: boolean, completion: Promise<ProgressUpdate> }> {
    return await this.coordinatorSide.directive(directive.target, directive.action, directive.parameters, options)
  }

  async consensus (question: string, input: unknown, options?: { signal?: AbortSignal }): Promise<ConsensusResult> {
    return await this.coordinatorSide.consensus(question, input, options)
  }

  // --- observation (the Office interface) ------------------------------------------------

  get inOffice (): boolean { return this.election.inOffice() }
  get leader (): string | undefined { return this.election.leader }
  get term (): number { return this.election.term }
  /** The certificate of the newest term this node knows a leader of (task records' proof of a term, protocols/task/term-proofs.ts). */
  certificate (): Certificate | undefined { return this.election.certificate }

  voters (): string[] { return this.election.status()?.voters ?? [] }
  /** The voter set held, else the first one this node would propose (its campaign must reach each of them). */
  votersOrProposed (): string[] { const held = this.voters(); return held.length > 0 ? held : this.election.proposedVoters() }
  /**
   * Whom the election may ask before a first voter set exists, connected or not: the voters of the
   * set it would propose (pre-votes, votes) and the first few agents it met (the bootstrap check
   * asks BOOTSTRAP_CHECK_ASK of them, passing over the dead: twice as many). Hand-off keeps their
   * links (hand-off.ts). None once a set is held; until then, before the node sees enough agents to
   * propose one too, so that the links are kept from the start.
   */
  bootstrapContacts (): string[] {
    if (this.voters().length > 0) return []
    return [...new Set([...this.election.proposedVoters(), ...this.election.firstMet().slice(0, 2 * BOOTSTRAP_CHECK_ASK)])]
  }

  /** Fencing: a message of `term` from `from` comes from the coordinator this node follows. */
  admits (term: number, from: string): boolean { return this.election.admits(term, from) === 'ok' }
  fencing (term: number, from: string): 'ok' | 'stale-term' | 'not-coordinator' { return this.election.admits(term, from) }

  /**
   * Resolves with the coordinator's peer id once one is in office as this node sees it (this
   * node in office, or a leader it follows); waits on 'coordinator:change'. Rejects when
   * `signal` fires.
   *
   * This node may lead with its lease lapsed for a moment (late acks on a loaded host, see
   * `leaseBack`): no event tells when the next acks renew it, since the coordinator did not
   * change. While that lasts it looks again every heartbeat interval. It waited on the event
   * alone before, and a submission that came during such a lapse on the leader's own node
   * waited its whole 30 s and failed COM001 though the leader was back in office 100 ms later
   * (the suite's gateway tests beside a CPU burner, about one run in four).
   */
  async coordinator (options: { signal?: AbortSignal } = {}): Promise<string> {
    const { signal } = options
    const found = (): string | undefined => {
      if (this.inOffice) return this.init.self.peerId
      const leader = this.leader
      return leader !== undefined && leader !== this.init.self.peerId ? leader : undefined
    }
    const now = found()
    if (now !== undefined) return now
    if (signal?.aborted === true) throw abortReason(signal)
    return await new Promise<string>((resolve, reject) => {
      const onChange = (): void => {
        const got = found()
        if (got === undefined) return
        done()
        resolve(got)
      }
      const onAbort = (): void => { done(); reject(abortReason(signal as AbortSignal)) }
      const lease = setInterval(() => { if (this.leader === this.init.self.peerId) onChange() }, this.init.heartbeatIntervalMs)
      const done = (): void => {
        clearInterval(lease)
        this.removeEventListener('coordinator:change', onChange)
        signal?.removeEventListener('abort', onAbort)
      }
      this.addEventListener('coordinator:change', onChange)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  get state (): CoordinatorState { return this.coordinatorSide.machine.state }

  successRate (): number { return this.coordinatorSide.successRate() }

  status (): CoordinationStatus {
    const s = this.election.status()
    const now = Date.now()
    const role = s?.role ?? 'follower'
    const inOffice = s?.inOffice ?? false
    const voters = s?.voters ?? []
    const quorum = s?.quorum ?? { size: 0, needed: 0, reachable: 0, has: false }
    const situation: Situation = inOffice
      ? 'coordinator'
      : s?.leader !== undefined && s.leader !== this.init.self.peerId
        ? 'following'
        : voters.length === 0 ? 'no-voter-set' : quorum.has ? 'electing' : 'no-quorum'
    const eligibleSeen = memberBriefs(this.init.members).filter(m => m.eligible && isLive(m.state)).length
    const term = s?.term ?? 0
    const { eligible, bootstrapExpect } = this.init
    const reason = situationReason({ situation, term, eligible, client: this.init.client === true, bootstrapExpect, eligibleSeen, quorum })
    return {
      term,
      ...(s?.leader !== undefined ? { leader: s.leader } : {}),
      role,
      inOffice,
      eligible: this.init.eligible,
      voters,
      voterSetVersion: s?.configVersion ?? 0,
      quorum,
      slackMs: s?.slackMs ?? 0,
      situation,
      reason,
      state: this.coordinatorSide.machine.state,
      ...(s?.leaseUntil !== undefined ? { leaseRemainingMs: Math.max(0, Math.round(s.leaseUntil - now)) } : {}),
      ...(s?.lastLeaderContact !== undefined ? { lastLeaderContactMsAgo: now - s.lastLeaderContact } : {}),
      offlineAgents: this.coordinatorSide.offlineAgents(),
      successRate: this.coordinatorSide.successRate()
    }
  }

  private forward<K extends keyof CoordinationEvents> (type: K, detail: CoordinationEvents[K]['detail']): void {
    try {
      this.safeDispatchEvent(type, { detail } as any)
    } catch { /* listeners' errors are theirs */ }
  }
}

function abortReason (signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new AbortError()
}
