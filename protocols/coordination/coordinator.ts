/**
 * The coordinator's side of R-COORD, run by the elected coordinator only (every call checks that
 * this node is in office, with a lease, and stamps its term on what it sends):
 *
 *   idle -> coordinating: ask every agent for its status, then call the plan hook
 *        -> executing:    send the plan's directives, gather the acknowledgements
 *        -> monitoring:   wait for each directive's completion (progress updates)
 *        -> idle, with a performance report (published on `coordination.performance`)
 *
 * The specification's error rules: an agent that does not answer is marked offline and not
 * retried; a resource conflict (CRD003) sends the round back to coordinating to re-plan, and
 * the plan is retried; a directive that failed is rolled back on its agent and retried. A plan
 * hook that throws puts the coordinator in `error`, from which it retries or gives up.
 */
import { randomUUID } from 'node:crypto'
import type { RpcService } from '../rpc/index.js'
import { AbortError, AgentMeshError, ConnectionError, NotCoordinatorError } from '../core/errors.js'
import { fanOut } from '../core/fan-out-signal.js'
import { canonicalJson } from '../envelope/index.js'
import { CoordinatorStateMachine, type CoordinatorState } from './coordinator-state.js'
import type { AgentSide } from './agent-side.js'
import {
  ConsensusCommand, DirectiveCommand, RollbackCommand, StatusCommand,
  type AgentStatus, type CoordinationDirective, type DirectiveAction, type ProgressUpdate
} from './schemas.js'

// --- what the coordinator's rounds work with: plans, their context, outcomes and reports ---
export interface PlannedDirective { target: string, action: DirectiveAction, parameters: Record<string, unknown> }

export interface PlanContext {
  /** Status of every agent that answered (this node included). */
  statuses: AgentStatus[]
  /** Agents marked offline (did not answer a status request or a directive). */
  offline: string[]
  /** 1 for the first plan of a round; more after a resource conflict or a planning error. */
  attempt: number
  /** Directives refused for a resource conflict in the previous attempt. */
  conflicts: Array<PlannedDirective & { reason: string }>
  signal: AbortSignal
}

export type Planner = (ctx: PlanContext) => PlannedDirective[] | Promise<PlannedDirective[]>

export interface DirectiveOutcome {
  directiveId: string
  target: string
  action: DirectiveAction
  outcome: 'completed' | 'failed' | 'unavailable' | 'conflict' | 'rejected'
  attempts: number
  durationMs: number
  result?: unknown
  error?: { code: string, message: string }
}

export interface CoordinationReport {
  roundId: string
  term: number
  coordinator: string
  outcome: 'completed' | 'partial' | 'failed'
  startedAt: string
  durationMs: number
  agentsAsked: number
  agentsAnswered: number
  offline: string[]
  plans: number
  directives: DirectiveOutcome[]
  successRate: number
  error?: string
}

export interface ConsensusResult {
  roundId: string
  question: string
  /** Every agent asked answered, and all answers are equal. */
  agreed: boolean
  value?: unknown
  results: Record<string, unknown>
  /** Agents that did not answer (unreachable, no handler, or an error), with the reason. */
  missing: Record<string, string>
}

export interface CoordinatorInit {
  self: string
  rpc: RpcService
  agent: AgentSide
  inOffice: () => boolean
  /**
   * Resolves once this node is in office again after a lease that lapsed for a moment, or when
   * waiting is pointless (no leader any more, past the longest election timeout, aborted). Each
   * call of the coordinator waits on it before its own check, a round's later steps as well as
   * its first: a lapse between the status requests and the directives is as likely as one before.
   */
  officeBack?: (signal?: AbortSignal) => Promise<void>
  term: () => number
  /** Agents alive in the member view (peer ids, this node excluded). */
  agents: () => string[]
  requestTimeoutMs: number
  onStateChange?: (from: CoordinatorState, to: CoordinatorState, trigger: string) => void
  onDirective?: (action: string, outcome: string, seconds: number) => void
  onReport?: (report: CoordinationReport) => void
}

/** A directive sent: awaiting its completion, or failed at once. */
interface Sent {
  p: PlannedDirective
  directiveId: string
  attempt: number
  started: number
  completion?: Promise<ProgressUpdate>
  failure?: DirectiveOutcome
}

type DirectiveParams = Record<string, unknown>
interface DirectiveOptions { directiveId?: string, attempt?: number, onProgress?: (u: ProgressUpdate) => void, signal?: AbortSignal }
/** A directive acknowledged; `completion` settles with the agent's final progress update. */
interface Issued { directiveId: string, duplicate: boolean, completion: Promise<ProgressUpdate> }

interface Waiter { resolve: (u: ProgressUpdate) => void, onProgress?: (u: ProgressUpdate) => void }

const MAX_DIRECTIVE_RETRIES = 3

export class Coordinator {
  private readonly init: CoordinatorInit
  readonly machine: CoordinatorStateMachine
  private readonly waiters = new Map<string, Waiter>()
  private readonly offline = new Set<string>()
  private planner?: Planner
  private running?: Promise<CoordinationReport>
  private rounds = 0
  private roundsOk = 0
  private started = false

  constructor (init: CoordinatorInit) {
    this.init = init
    this.machine = new CoordinatorStateMachine(init.onStateChange)
  }

  start (): void { this.started = true }

  /** Directives still awaited end as failed (their agent is not heard any more): no round waits for ever. */
  stop (): void {
    if (!this.started) return
    this.started = false
    for (const [k, w] of [...this.waiters]) {
      const [id, attempt] = k.split('#')
      w.resolve({
        event_id: randomUUID(),
        timestamp: new Date().toISOString(),
        source_agent: this.init.self,
        directive_id: id,
        attempt: Number(attempt),
        status: 'failed',
        metrics: {},
        error: { code: 'COM002', message: 'the coordinator stopped before the directive ended' }
      })
    }
  }

  setPlanner (planner: Planner): void { this.planner = planner }

  /** Completed rounds over all rounds (R-MON coordination_success_rate); 1 before any round. */
  successRate (): number { return this.rounds === 0 ? 1 : this.roundsOk / this.rounds }

  offlineAgents (): string[] { return [...this.offline] }

  /** The member view says an agent is alive again: it may be planned for. */
  cleared (peer: string): void { this.offline.delete(peer) }

  /** A progress update arrived (over RPC, or from this node's own agent side). */
  progress (update: ProgressUpdate): boolean {
    const w = this.waiters.get(key(update.directive_id, update.attempt))
    if (w === undefined) return false
    if (update.status === 'in_progress') w.onProgress?.(update)
    else w.resolve(update)
    return true
  }

  private assertInOffice (): void {
    if (!this.init.inOffice()) throw new NotCoordinatorError('this node is not the coordinator in office (no election won, or its lease lapsed without a quorum)')
  }

  /**
   * In office now, or back after a moment's lapse of the lease; CRD002 otherwise. A round's steps give its term: a round
   * planned on statuses of one term sends nothing in the next (this node re-elected while it waited), it ends CRD002.
   */
  private async office (signal?: AbortSignal, term?: number): Promise<void> {
    // Stopped: nothing more goes out (the election keeps its lease until it lapses).
    if (!this.started) throw new NotCoordinatorError('this coordinator stopped')
    if (!this.init.inOffice()) await this.init.officeBack?.(signal)
    if (signal?.aborted === true) throw new AbortError('the coordinator\'s call was aborted', { cause: signal.reason })
    if (!this.started) throw new NotCoordinatorError('this coordinator stopped')
    this.assertInOffice()
    if (term !== undefined && this.init.term() !== term) throw termChanged(term, this.init.term())
  }

  async requestStatus (target: string, signal?: AbortSignal): Promise<AgentStatus> {
    await this.office(signal)
    const requestId = randomUUID()
    if (target === this.init.self) return await this.init.agent.statusReport(requestId)
    const request = { request_id: requestId, timestamp: new Date().toISOString(), target_agent: target, term: this.init.term() }
    return await this.init.rpc.request(target, StatusCommand, request, { timeoutMs: this.init.requestTimeoutMs, ...(signal !== undefined ? { signal } : {}) })
  }

  /** Status of every agent; those that do not answer are marked offline. */
  async statusAll (signal?: AbortSignal): Promise<{ statuses: AgentStatus[], unavailable: string[] }> {
    await this.office(signal)
    const targets = [this.init.self, ...this.init.agents().filter(p => !this.offline.has(p))]
    const shared = fanOut(signal)
    const ask = async (t: string): Promise<{ t: string, s: AgentStatus } | { t: string, err: Error }> =>
      await this.requestStatus(t, shared.signal).then(s => ({ t, s }), (err: Error) => ({ t, err }))
    const answers = await Promise.all(targets.map(ask)).finally(shared.done)
    const statuses: AgentStatus[] = []
    const unavailable: string[] = []
    for (const a of answers) {
      if ('s' in a) statuses.push(a.s)
      else if (isUnavailable(a.err)) { unavailable.push(a.t); this.offline.add(a.t) }
    }
    return { statuses, unavailable }
  }

  /**
   * Send one directive and wait for its acknowledgement. `completion` settles with the agent's
   * final progress update (completed or failed).
   */
  async directive (target: string, action: DirectiveAction, parameters: DirectiveParams, options: DirectiveOptions = {}): Promise<Issued> {
    return await this.issue(target, action, parameters, options)
  }

  /** A directive of a round (`term`: the round's, the term it must still be in) or of a caller (undefined). */
  private async issue (target: string, action: DirectiveAction, parameters: DirectiveParams, options: DirectiveOptions, term?: number): Promise<Issued> {
    await this.office(options.signal, term)
    const d: CoordinationDirective = {
      directive_id: options.directiveId ?? randomUUID(),
      timestamp: new Date().toISOString(),
      target_agent: target,
      action,
      parameters,
      term: this.init.term(),
      attempt: options.attempt ?? 1
    }
    const k = key(d.directive_id, d.attempt)
    const completion = new Promise<ProgressUpdate>((resolve) => {
      const onProgress = options.onProgress !== undefined ? { onProgress: options.onProgress } : {}
      this.waiters.set(k, { resolve: (u) => { this.waiters.delete(k); resolve(u) }, ...onProgress })
    })
    try {
      const ack = target === this.init.self
        ? await this.init.agent.takeLocal(d, (u) => { this.progress(u) })
        : await this.init.rpc.request(target, DirectiveCommand, d, { timeoutMs: this.init.requestTimeoutMs, type: 'COMMAND', ...(options.signal !== undefined ? { signal: options.signal } : {}) })
      return { directiveId: d.directive_id, duplicate: ack.duplicate, completion }
    } catch (err) {
      this.waiters.delete(k)
      throw err
    }
  }

  /** Ask every agent the same question and report whether their answers agree. */
  async consensus (question: string, input: unknown, options: { signal?: AbortSignal } = {}): Promise<ConsensusResult> {
    await this.office(options.signal)
    const roundId = randomUUID()
    const term = this.init.term()
    const targets = [this.init.self, ...this.init.agents().filter(p => !this.offline.has(p))]
    const results: Record<string, unknown> = {}
    const missing: Record<string, string> = {}
    const shared = fanOut(options.signal)
    await Promise.all(targets.map(async t => {
      try {
        results[t] = t === this.init.self
          ? await this.init.agent.answerConsensus(question, input, { from: t, term, roundId })
          : (await this.init.rpc.request(t, ConsensusCommand, { round_id: roundId, term, question, input }, {
              timeoutMs: this.init.requestTimeoutMs,
              ...(shared.signal !== undefined ? { signal: shared.signal } : {})
            })).result
      } catch (err) {
        missing[t] = err instanceof AgentMeshError ? `${err.code} ${err.message}` : String(err)
      }
    })).finally(shared.done)
    // JSON with sorted keys: equal answers compare equal whatever their key order.
    const values = Object.values(results).map(v => canonicalJson(v) ?? 'undefined')
    const agreed = Object.keys(missing).length === 0 && values.length > 0 && values.every(v => v === values[0])
    return { roundId, question, agreed, ...(agreed ? { value: Object.values(results)[0] } : {}), results, missing }
  }

  /** One coordination round, from status collection to the performance report. */
  async coordinate (options: { planner?: Planner, signal?: AbortSignal, maxAttempts?: number } = {}): Promise<CoordinationReport> {
    await this.office(options.signal)
    if (this.running !== undefined) throw new Error('a coordination round is already running on this coordinator')
    const planner = options.planner ?? this.planner
    if (planner === undefined) throw new TypeError('no planner: pass one, or set it with setPlanner()')
    const run = this.round(planner, options.signal ?? new AbortController().signal, options.maxAttempts ?? 3)
    this.running = run
    try {
      return await run
    } finally {
      this.running = undefined
    }
  }

  private async round (planner: Planner, signal: AbortSignal, maxAttempts: number): Promise<CoordinationReport> {
    const started = performance.now()
    const report: CoordinationReport = {
      roundId: randomUUID(),
      term: this.init.term(),
      coordinator: this.init.self,
      outcome: 'completed',
      startedAt: new Date().toISOString(),
      durationMs: 0,
      agentsAsked: 0,
      agentsAnswered: 0,
      offline: [],
      plans: 0,
      directives: [],
      successRate: 0
    }
    const m = this.machine
    let conflicts: PlanContext['conflicts'] = []
    try {
      m.fire('system_state_change')
      for (let attempt = 1; ; attempt++) {
        try {
          await this.office(signal, report.term)
        } catch (err) {
          // Not in office (or in another term) at the start: nothing was done, the caller is told.
          // Past the first attempt directives went out: the round ends with what they did.
          if (attempt === 1) throw err
          m.reset()
          report.outcome = report.directives.some(d => d.outcome === 'completed') ? 'partial' : 'failed'
          report.error = (err as Error).message
          return this.finish(report, started)
        }
        const { statuses, unavailable } = await this.statusAll(signal)
        report.agentsAsked = statuses.length + unavailable.length
        report.agentsAnswered = statuses.length
        let plan: PlannedDirective[]
        try {
          plan = await planner({ statuses, offline: this.offlineAgents(), attempt, conflicts, signal })
          report.plans++
        } catch (err) {
          m.fire('coordination_failure')
          if (attempt < maxAttempts && !signal.aborted) { m.fire('retry_coordination'); continue }
          m.fire('recovery_complete')
          report.outcome = 'failed'
          report.error = `planning failed: ${(err as Error).message}`
          return this.finish(report, started)
        }
        m.fire('plan_ready')
        const acked = await Promise.all(plan.map(async p => await this.send(p, 1, report.term, signal)))
        m.fire('execution_started')
        const outcomes = await Promise.all(acked.map(async a => await this.monitor(a, report.term, signal)))
        conflicts = outcomes.filter(o => o.outcome === 'conflict').map(o => ({ target: o.target, action: o.action, parameters: plan.find(p => p.target === o.target && p.action === o.action)?.parameters ?? {}, reason: o.error?.message ?? 'resource conflict' }))
        report.directives.push(...outcomes.filter(o => o.outcome !== 'conflict' || attempt >= maxAttempts))
        if (conflicts.length > 0 && attempt < maxAttempts && !signal.aborted) {
          m.fire('adjustment_needed')
          continue
        }
        m.fire('completion')
        report.outcome = report.directives.every(d => d.outcome === 'completed') ? 'completed' : 'partial'
        return this.finish(report, started)
      }
    } catch (err) {
      m.reset()
      throw err
    }
  }

  private finish (report: CoordinationReport, started: number): CoordinationReport {
    report.durationMs = Math.round((performance.now() - started) * 100) / 100
    report.offline = this.offlineAgents()
    report.successRate = report.directives.length === 0 ? 1 : report.directives.filter(d => d.outcome === 'completed').length / report.directives.length
    this.rounds++
    if (report.outcome === 'completed') this.roundsOk++
    this.init.onReport?.(report)
    return report
  }

  private async send (p: PlannedDirective, attempt: number, term: number, signal: AbortSignal, directiveId: string = randomUUID()): Promise<Sent> {
    const started = performance.now()
    try {
      const sent = await this.issue(p.target, p.action, p.parameters, { directiveId, attempt, signal }, term)
      return { p, directiveId, attempt, started, completion: sent.completion }
    } catch (err) {
      // An abort is the caller's doing: the directive is rejected, its agent not marked offline.
      const e = err instanceof AgentMeshError || err instanceof AbortError ? err : new ConnectionError(String(err))
      const outcome: DirectiveOutcome['outcome'] = isUnavailable(e) ? 'unavailable' : e.code === 'CRD003' ? 'conflict' : 'rejected'
      // Agent unavailable: marked offline, not retried (the specification's rule).
      if (outcome === 'unavailable') this.offline.add(p.target)
      const durationMs = performance.now() - started
      const failure = { directiveId, target: p.target, action: p.action, outcome, attempts: attempt, durationMs, error: { code: e.code, message: e.message } }
      return { p, directiveId, attempt, started, failure }
    }
  }

  /** Wait for completion; a failed directive is rolled back and retried. */
  private async monitor (a: Awaited<ReturnType<Coordinator['send']>>, term: number, signal: AbortSignal): Promise<DirectiveOutcome> {
    let cur = a
    for (;;) {
      if (cur.failure !== undefined) return cur.failure
      const done = await this.withTimeout(cur.completion as Promise<ProgressUpdate>, cur)
      const seconds = (performance.now() - a.started) / 1000
      if (done.status === 'completed') {
        this.init.onDirective?.(a.p.action, 'completed', seconds)
        return { directiveId: a.directiveId, target: a.p.target, action: a.p.action, outcome: 'completed', attempts: cur.attempt, durationMs: seconds * 1000, result: done.result }
      }
      this.init.onDirective?.(a.p.action, 'failed', seconds)
      const failed: DirectiveOutcome = { directiveId: a.directiveId, target: a.p.target, action: a.p.action, outcome: 'failed', attempts: cur.attempt, durationMs: seconds * 1000, ...(done.error !== undefined ? { error: done.error } : {}) }
      if (cur.attempt >= MAX_DIRECTIVE_RETRIES) return failed
      // The rollback and the retry go out in the round's term, in office (a lapsed lease waited
      // for): otherwise the directive ends with the agent's own failure, not with a refused retry.
      if (!(await this.office(signal, term).then(() => true, () => false))) return failed
      await this.rollback(a.p.target, a.directiveId, cur.attempt, term)
      cur = { ...(await this.send(a.p, cur.attempt + 1, term, signal, a.directiveId)), started: a.started }
    }
  }

  /** An agent that accepted and then went silent: its directive fails as unavailable. */
  private async withTimeout (completion: Promise<ProgressUpdate>, a: { directiveId: string, attempt: number, p: PlannedDirective }): Promise<ProgressUpdate> {
    let timer: ReturnType<typeof setInterval> | undefined
    const gone = new Promise<ProgressUpdate>((resolve) => {
      timer = setInterval(() => {
        if (a.p.target !== this.init.self && !this.init.agents().includes(a.p.target)) {
          resolve({ event_id: randomUUID(), timestamp: new Date().toISOString(), source_agent: a.p.target, directive_id: a.directiveId, attempt: a.attempt, status: 'failed', metrics: {}, error: { code: 'COM002', message: 'the agent went offline while running the directive' } })
        }
      }, 250)
    })
    try {
      return await Promise.race([completion, gone])
    } finally {
      clearInterval(timer)
      this.waiters.delete(key(a.directiveId, a.attempt))
    }
  }

  private async rollback (target: string, directiveId: string, attempt: number, term: number): Promise<void> {
    try {
      if (target === this.init.self) await this.init.agent.rollback(directiveId, attempt)
      else {
        const request = { directive_id: directiveId, attempt, term }
        await this.init.rpc.request(target, RollbackCommand, request, { timeoutMs: this.init.requestTimeoutMs })
      }
    } catch { /* a rollback that cannot reach its agent leaves the retry to find out */ }
  }
}

function key (id: string, attempt: number): string { return `${id}#${attempt}` }

function termChanged (from: number, to: number): NotCoordinatorError {
  return new NotCoordinatorError(`this coordinator's term changed during the round (${from} to ${to}): its plan was made on statuses of term ${from}; plan again from this term's`)
}

function isUnavailable (err: unknown): boolean {
  return err instanceof AgentMeshError && (err.code === 'COM001' || err.code === 'COM002')
}
