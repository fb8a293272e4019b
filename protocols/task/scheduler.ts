/**
 * The coordinator's side of the task protocol: the task table, the queue, placement on agents,
 * control commands, deadlines, and recovery. Every node keeps a replica of the table; only the
 * coordinator in office changes it.
 *
 * Nothing acknowledged is lost (docs/tasks.md):
 * - A submission is acknowledged only once a majority of the voters hold its record. A new
 *   coordinator reads the records of a majority of the voters before it acts (it could not have
 *   been elected without one), so every acknowledged task is in what it reads: two majorities
 *   share a voter. Records merge by version.
 * - It then asks every agent what it holds: an attempt that finished while no coordinator was
 *   listening is taken from the agent; an attempt its agent does not hold (or an agent gone) is
 *   placed again.
 * - An agent found offline or left loses its tasks to other agents; after `max_attempts` such
 *   losses the task fails with the reason.
 * - Reports are accepted only from the agent holding the current attempt (TSK004 otherwise), so
 *   a task completes at most once in the table even if a lost agent comes back.
 */
import type { z } from 'zod'
import type { RpcService } from '../rpc/index.js'
import { AgentMeshError, DeadlineError, DependencyError, NotCoordinatorError, NotTaskHolderError, TimeoutError, UnknownTaskError } from '../core/errors.js'
import type { TaskExecutor } from './executor.js'
import type { ResourceItem } from '../resource/items.js'
import type { AllocateAnswer } from '../resource/schemas.js'
import { canMove, checkDependencies, controlRefusal } from './lifecycle.js'
import {
  HeldCommand, RecordsCommand, ReplicateCommand, RunCommand, StopCommand, TERMINAL,
  type TaskControl, type TaskControlAnswer, type TaskRecord, type TaskReport, type TaskSpec, type TaskState, type TaskStatus
} from './schemas.js'

export interface SchedulerInit {
  self: string
  rpc: RpcService
  executor: TaskExecutor
  inOffice: () => boolean
  term: () => number
  admits: (term: number, from: string) => 'ok' | 'stale-term' | 'not-coordinator'
  voters: () => string[]
  /** Agents alive in the member view, this node excluded. */
  agents: () => string[]
  /** A status change: publish it and tell the submitter. */
  onStatus: (record: TaskRecord) => void
  onRejected: (from: string, message: string, reason: string) => void
  onError: (err: Error) => void
  requestTimeoutMs: number
  /** Asks the candidates for bids and awards the task; resolves with the winner, if any. */
  contractNet: (spec: TaskSpec, candidates: string[]) => Promise<string | undefined>
  /** The resource manager on this node: placement allocates through it (R-RES). */
  resources: SchedulerResources
}

export interface SchedulerResources {
  ready: () => Promise<void>
  grant: (taskId: string, holder: string, r: TaskSpec['requirements'], agents: string[]) => AllocateAnswer
  free: (taskId: string) => string[]
  restore: (a: { task_id: string, agent: string, holder: string, resources: ResourceItem[] }) => void
  /** Hold the manager's own answers until `takenOver` resolves (the tasks' allocations restored). */
  settleWith?: (takenOver: () => Promise<void>) => void
}

/** What an agent says of an attempt it was given (HeldCommand). */
type HeldTask = z.output<typeof HeldCommand.response>['tasks'][number]

const REPLICATE_EVERY_MS = 25
const RESCHEDULE_EVERY_MS = 1_000
const NO_HANDLER_RETRY_MS = 30_000
/** Records per message when replicating or reading the table (a record is ~1 KB; messages stay far below 1 MiB). */
const RECORDS_PAGE = 200
/** An open task with no word from its agent for this long is asked about (reconcileQuiet). */
const RECONCILE_AFTER_MS = 5_000
/** A finished task's record is kept this long (idempotent resubmission, status queries), then dropped everywhere. */
export const FINISHED_RETENTION_MS = 10 * 60_000

export class TaskScheduler {
  readonly records = new Map<string, TaskRecord>()
  private readonly init: SchedulerInit
  private readonly placing = new Set<string>()
  /** The run command in flight for a task being placed: its agent and attempt. */
  private readonly offered = new Map<string, { agent: string, attempt: number }>()
  private readonly pending = new Map<string, TaskRecord>()
  private officeTerm = -1
  private ready: Promise<void> = Promise.resolve()
  private replicateTimer?: ReturnType<typeof setTimeout>
  private deadlineTimer?: ReturnType<typeof setTimeout>
  private tick?: ReturnType<typeof setInterval>
  private running = false
  /** The attempt number of the latest offer of each task (offers may be refused or lost). */
  private readonly lastOffer = new Map<string, number>()
  /** Agents that answered TSK006 for a task type (no handler), skipped until the time stored. */
  private readonly cannotRun = new Map<string, number>()
  /** True while a new coordinator reads the records and the agents: nothing is placed meanwhile. */
  private takingOver = false
  private reconciling = false
  /** When reconcileQuiet() last asked about a task. */
  private readonly checkedAt = new Map<string, number>()

  constructor (init: SchedulerInit) {
    this.init = init
    init.resources.settleWith?.(async () => { this.officeCheck(); await this.ready })
  }

  start (): void {
    this.running = true
    // Queued tasks wait for agents to come and resources to free: look again every second.
    this.tick = setInterval(() => { this.officeCheck(); this.prune(); if (this.leading()) { this.schedule(); this.reconcileQuiet() } }, RESCHEDULE_EVERY_MS)
    this.tick.unref?.()
  }

  stop (): void {
    this.running = false
    if (this.tick !== undefined) clearInterval(this.tick)
    if (this.replicateTimer !== undefined) clearTimeout(this.replicateTimer)
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer)
  }

  private leading (): boolean { return this.running && this.init.inOffice() && this.officeTerm === this.init.term() }

  /** Called when the coordinator changes (and every second): take over when this node took office. */
  officeCheck (): void {
    if (!this.running || !this.init.inOffice()) return
    const term = this.init.term()
    if (this.officeTerm === term) return
    this.officeTerm = term
    this.takingOver = true
    this.ready = this.takeOver(term).catch((err: Error) => { this.init.onError(err) }).finally(() => {
      if (this.officeTerm === term) { this.takingOver = false; this.schedule() }
    })
  }

  /**
   * The table as the debug endpoint shows it (`/tasks`): counts by state and the open tasks,
   * oldest first, with what each waits for. Every replica has the table; only the coordinator
   * in office acts on it.
   */
  snapshot (limit: number): { leading: boolean, term: number, taking_over: boolean, records: number, counts: Record<string, number>, open: Array<TaskStatus & { type: string, priority: number, placing: boolean, waiting_on?: string[] }> } {
    const counts: Record<string, number> = {}
    const open: TaskRecord[] = []
    for (const r of this.records.values()) {
      counts[r.status.status] = (counts[r.status.status] ?? 0) + 1
      if (!TERMINAL.has(r.status.status)) open.push(r)
    }
    open.sort((a, b) => a.submitted_at - b.submitted_at)
    return {
      leading: this.leading(),
      term: this.officeTerm,
      taking_over: this.takingOver,
      records: this.records.size,
      counts,
      open: open.slice(0, limit).map(r => {
        const waiting = r.spec.dependencies.filter(d => this.records.get(d)?.status.status !== 'completed')
        return { ...r.status, type: r.spec.type, priority: r.spec.priority, placing: this.placing.has(r.spec.task_id), ...(waiting.length > 0 ? { waiting_on: waiting } : {}) }
      })
    }
  }

  // --- the replica's side (every node) ----------------------------------------------------

  replicate (from: string, term: number, records: TaskRecord[]): number {
    this.fence(term, from, 'task-replicate')
    for (const r of records) this.merge(r)
    return records.length
  }

  recordsFor (from: string, term: number, offset: number, limit: number): { records: TaskRecord[], more: boolean } {
    if (from !== this.init.self && this.init.admits(term, from) === 'stale-term') {
      this.init.onRejected(from, 'task-records', 'stale-term')
      throw new NotCoordinatorError(`term ${term} is stale`)
    }
    const all = [...this.records.values()]
    return { records: all.slice(offset, offset + limit), more: offset + limit < all.length }
  }

  /**
   * Drop the records of tasks that finished more than FINISHED_RETENTION_MS ago, unless an
   * open task depends on them. Every replica applies the same rule to the same timestamps, so
   * the tables agree without a message. A submit of a dropped task id is a new task.
   */
  private prune (): void {
    const before = Date.now() - FINISHED_RETENTION_MS
    const needed = new Set<string>()
    for (const r of this.records.values()) if (!TERMINAL.has(r.status.status)) for (const d of r.spec.dependencies) needed.add(d)
    for (const [id, r] of this.records) {
      if (TERMINAL.has(r.status.status) && Date.parse(r.status.timestamp) < before && !needed.has(id)) this.records.delete(id)
    }
  }

  private merge (r: TaskRecord): void {
    const mine = this.records.get(r.spec.task_id)
    if (mine === undefined || r.version > mine.version) this.records.set(r.spec.task_id, r)
  }

  private fence (term: number, from: string, message: string): void {
    if (from === this.init.self) return
    const v = this.init.admits(term, from)
    if (v === 'ok') return
    this.init.onRejected(from, message, v)
    throw new NotCoordinatorError(`${from} is not the coordinator of term ${term} here (${v})`)
  }

  // --- taking office ----------------------------------------------------------------------

  private async takeOver (term: number): Promise<void> {
    const voters = this.init.voters().filter(v => v !== this.init.self)
    const needed = Math.floor((voters.length + 1) / 2) + 1
    let heard = 1
    await new Promise<void>((resolve) => {
      if (heard >= needed) { resolve(); return }
      let left = voters.length
      const t = setTimeout(resolve, this.init.requestTimeoutMs)
      for (const v of voters) {
        // Page by page: a table of thousands of tasks does not fit one message.
        const readAll = async (): Promise<void> => {
          for (let offset = 0; ; offset += RECORDS_PAGE) {
            const page = await this.init.rpc.request(v, RecordsCommand, { term, offset, limit: RECORDS_PAGE }, { timeoutMs: this.init.requestTimeoutMs })
            for (const r of page.records) this.merge(r)
            if (!page.more) return
          }
        }
        readAll().then(() => {
          if (++heard >= needed) { clearTimeout(t); resolve() }
        }, () => {}).finally(() => { if (--left === 0) { clearTimeout(t); resolve() } })
      }
    })
    if (this.officeTerm !== term) return
    // What the agents hold decides attempts that ran while nobody was coordinating.
    const open = [...this.records.values()].filter(r => r.status.status === 'assigned' || r.status.status === 'running')
    await this.reconcile(open, term, true)
    if (this.officeTerm !== term) return
    // The resource table is rebuilt: agents' direct allocations, then those of running tasks.
    await this.init.resources.ready()
    if (this.officeTerm !== term) return
    for (const r of this.records.values()) {
      if ((r.status.status === 'assigned' || r.status.status === 'running') && r.status.agent !== undefined && r.resources !== undefined) {
        this.init.resources.restore({ task_id: r.spec.task_id, agent: r.status.agent, holder: this.init.self, resources: r.resources })
      }
    }
    // Every record is re-stamped by the new coordinator and sent to the voters.
    for (const r of this.records.values()) { r.version++; this.queueReplication(r) }
    this.armDeadlines()
    this.schedule()
  }

  /**
   * Ask the agents holding these tasks what became of them, and take their word: the end of an
   * attempt whose report was lost, an attempt the agent never took. On taking office, for every
   * open task (an agent that does not answer loses its tasks); then every second for the tasks
   * quiet for RECONCILE_AFTER_MS (anti-entropy: a lost report cannot leave a task "assigned"
   * for ever; an agent slow to answer keeps its tasks, the member view judges it).
   */
  private async reconcile (open: TaskRecord[], term: number, unansweredIsLost: boolean): Promise<void> {
    const asked = new Map(open.map(r => [r.spec.task_id, { agent: r.status.agent, attempt: r.status.attempt }]))
    const holders = new Set(open.map(r => r.status.agent).filter((a): a is string => a !== undefined))
    const held = new Map<string, Map<string, HeldTask>>()
    await Promise.all([...holders].map(async (agent) => {
      try {
        const ids = open.filter(r => r.status.agent === agent).map(r => r.spec.task_id)
        const found = new Map<string, HeldTask>()
        for (let i = 0; i < ids.length; i += RECORDS_PAGE) {
          const part = ids.slice(i, i + RECORDS_PAGE)
          const { tasks } = agent === this.init.self
            ? { tasks: this.init.executor.held(part) }
            : await this.init.rpc.request(agent, HeldCommand, { term, task_ids: part }, { timeoutMs: this.init.requestTimeoutMs })
          for (const t of tasks) found.set(t.task_id, t)
        }
        held.set(agent, found)
      } catch { /* unanswered: see unansweredIsLost */ }
    }))
    for (const r of open) {
      if (this.officeTerm !== term || !this.running) return
      const was = asked.get(r.spec.task_id)
      // Changed while the question was out (a report came): the newer word stands.
      if (was?.agent !== r.status.agent || was?.attempt !== r.status.attempt || (r.status.status !== 'assigned' && r.status.status !== 'running')) continue
      const answers = held.get(r.status.agent ?? '')
      if (answers === undefined && !unansweredIsLost) continue
      const h = answers?.get(r.spec.task_id)
      if (h === undefined || h.attempt !== r.status.attempt) {
        const holds = h !== undefined ? ` (it holds attempt ${h.attempt}, ${h.state})` : answers === undefined ? ' (it did not answer)' : ''
        this.lost(r, `its agent ${r.status.agent ?? '?'} does not hold attempt ${r.status.attempt}${holds}`)
        continue
      }
      if (h.state === 'completed') this.finish(r, 'completed', { result: h.result })
      else if (h.state === 'failed') this.finish(r, 'failed', { error: h.error ?? { code: 'CMD002', message: 'failed' } })
      else if (h.state === 'cancelled') this.finish(r, 'cancelled', { reason: 'cancelled' })
      else if (h.state === 'paused') this.update(r, { status: 'paused', checkpoint: h.checkpoint })
      else if (r.status.status !== 'running' || r.status.progress !== h.progress) this.update(r, { status: 'running', progress: h.progress })
    }
  }

  /** The steady-state half of reconcile(): open tasks nobody heard of for a while. */
  private reconcileQuiet (): void {
    if (!this.leading() || this.takingOver || this.reconciling) return
    const now = Date.now()
    const quiet = [...this.records.values()].filter(r => (r.status.status === 'assigned' || r.status.status === 'running') &&
      !this.placing.has(r.spec.task_id) && now - Date.parse(r.status.timestamp) > RECONCILE_AFTER_MS &&
      now - (this.checkedAt.get(r.spec.task_id) ?? 0) > RECONCILE_AFTER_MS)
    for (const id of this.checkedAt.keys()) { const r = this.records.get(id); if (r === undefined || TERMINAL.has(r.status.status)) this.checkedAt.delete(id) }
    if (quiet.length === 0) return
    for (const r of quiet) this.checkedAt.set(r.spec.task_id, now)
    this.reconciling = true
    this.reconcile(quiet, this.officeTerm, false).catch((err: Error) => { this.init.onError(err) }).finally(() => { this.reconciling = false })
  }

  // --- requests from submitters -----------------------------------------------------------

  async submit (from: string, specs: TaskSpec[]): Promise<Array<{ task_id: string, duplicate: boolean, status: TaskState }>> {
    // A submission may arrive before the coordinator:change event that starts the takeover.
    this.officeCheck()
    await this.ready
    this.assertLeading()
    const fresh = specs.filter(s => !this.records.has(s.task_id))
    const now = Date.now()
    for (const s of fresh) {
      if (s.deadline !== undefined && Date.parse(s.deadline) <= now) throw new DeadlineError(`task ${s.task_id}: deadline ${s.deadline} is already past`)
    }
    checkDependencies(fresh, id => this.records.has(id))
    const created: TaskRecord[] = []
    for (const spec of fresh) {
      const r: TaskRecord = {
        spec,
        submitter: from,
        submitted_at: now,
        version: 1,
        losses: 0,
        status: { task_id: spec.task_id, status: 'submitted', progress: 0, metrics: {}, timestamp: new Date(now).toISOString(), attempt: 0, ...(spec.dependencies.length > 0 ? { reason: 'waiting for dependencies' } : {}) }
      }
      this.records.set(spec.task_id, r)
      created.push(r)
    }
    // Acknowledged only once a majority of the voters keep the records.
    if (created.length > 0) await this.replicateToMajority(created)
    for (const r of created) this.init.onStatus(r)
    this.armDeadlines()
    this.schedule()
    return specs.map(s => ({ task_id: s.task_id, duplicate: !fresh.includes(s), status: (this.records.get(s.task_id) as TaskRecord).status.status }))
  }

  async query (taskId: string): Promise<TaskStatus> {
    this.officeCheck()
    await this.ready
    this.assertLeading()
    const r = this.records.get(taskId)
    if (r === undefined) throw new UnknownTaskError(`no task ${taskId}`)
    return r.status
  }

  async queryMany (ids: string[]): Promise<TaskStatus[]> {
    this.officeCheck()
    await this.ready
    this.assertLeading()
    return ids.flatMap(id => { const r = this.records.get(id); return r !== undefined ? [r.status] : [] })
  }

  async control (from: string, c: TaskControl): Promise<TaskControlAnswer> {
    this.officeCheck()
    await this.ready
    this.assertLeading()
    const reject = (code: string, reason: string): TaskControlAnswer => {
      this.init.onRejected(from, c.type, code)
      return { type: 'task.control.reject', command_id: c.command_id, reason, code }
    }
    const r = this.records.get(c.task_id)
    if (r === undefined) return reject('TSK001', `no task ${c.task_id}`)
    const action = c.type.slice('task.control.'.length) as 'pause' | 'resume' | 'cancel'
    const refusal = controlRefusal(action, r.status.status)
    if (refusal !== undefined) return reject('TSK002', refusal)
    const ack = (): TaskControlAnswer => ({ type: 'task.control.ack', command_id: c.command_id, status: r.status.status })
    if (action === 'resume') {
      this.update(r, { status: 'submitted', reason: 'resumed', ...(c.checkpoint !== undefined ? { checkpoint: c.checkpoint } : {}) })
      this.schedule()
      return ack()
    }
    if (r.status.status === 'assigned' || r.status.status === 'running') this.stopAttempt(r, action)
    if (action === 'pause') this.update(r, { status: 'paused', reason: c.reason ?? 'paused' })
    else this.finish(r, 'cancelled', { reason: c.reason ?? 'cancelled' })
    return ack()
  }

  // --- reports from agents ----------------------------------------------------------------

  report (from: string, rep: TaskReport): boolean {
    if (!this.leading()) return false
    const r = this.records.get(rep.task_id)
    if (r === undefined) return false
    // The agent may report before its acknowledgement of the run command is processed here.
    const offer = this.offered.get(rep.task_id)
    if (offer !== undefined && offer.agent === from && offer.attempt === rep.attempt && r.status.status === 'submitted') {
      this.offered.delete(rep.task_id)
      this.update(r, { status: 'assigned', agent: from, attempt: rep.attempt, reason: undefined })
    }
    if (r.status.agent !== from || r.status.attempt !== rep.attempt) {
      this.init.onRejected(from, 'task-report', 'not-holder')
      throw new NotTaskHolderError(`task ${rep.task_id} attempt ${rep.attempt} is not held by ${from} (it is attempt ${r.status.attempt} on ${r.status.agent ?? 'nobody'})`)
    }
    if (TERMINAL.has(r.status.status)) return true
    const checkpoint = rep.checkpoint !== undefined ? { checkpoint: rep.checkpoint } : {}
    switch (rep.status) {
      case 'running':
        if (r.status.status === 'paused') { this.update(r, checkpoint); break }
        this.update(r, { status: 'running', progress: rep.progress, metrics: rep.metrics, ...checkpoint })
        break
      case 'completed': this.finish(r, 'completed', { result: rep.result, metrics: rep.metrics }); break
      case 'failed': this.finish(r, 'failed', { error: rep.error ?? { code: 'CMD002', message: 'the handler failed' }, metrics: rep.metrics }); break
      case 'paused': this.update(r, { status: 'paused', ...checkpoint }); break
      case 'cancelled': if (r.status.status !== 'paused') this.finish(r, 'cancelled', { reason: r.status.reason ?? 'cancelled' }); break
    }
    return true
  }

  /** The member view lost an agent: its running tasks go elsewhere. */
  agentLost (peer: string): void {
    if (!this.leading()) return
    for (const r of this.records.values()) {
      if (r.status.agent === peer && (r.status.status === 'assigned' || r.status.status === 'running')) this.lost(r, `agent ${peer} was lost`)
    }
    this.schedule()
  }

  private lost (r: TaskRecord, why: string): void {
    const losses = r.losses + 1
    if (losses >= r.spec.max_attempts) {
      this.finish(r, 'failed', { error: { code: 'COM002', message: `${why}; ${losses} of ${r.spec.max_attempts} attempts lost` }, losses })
      return
    }
    this.update(r, { status: 'submitted', reason: `${why}; placing it again`, losses })
  }

  // --- the queue --------------------------------------------------------------------------

  /** Place every queued task whose dependencies completed, by priority, then age. */
  schedule (): void {
    if (!this.leading() || this.takingOver) return
    const queue = [...this.records.values()]
      .filter(r => r.status.status === 'submitted' && !this.placing.has(r.spec.task_id))
      .sort((a, b) => a.spec.priority - b.spec.priority || a.submitted_at - b.submitted_at)
    for (const r of queue) {
      const deps = r.spec.dependencies.map(d => this.records.get(d))
      const broken = deps.find(d => d === undefined || d.status.status === 'failed' || d.status.status === 'cancelled')
      if (broken !== undefined || deps.includes(undefined)) {
        const e = new DependencyError(`dependency ${broken?.spec.task_id ?? '?'} ${broken?.status.status ?? 'is unknown'}`)
        this.finish(r, 'failed', { error: { code: e.code, message: e.message } })
        continue
      }
      if (!deps.every(d => d?.status.status === 'completed')) continue
      void this.place(r, Object.fromEntries(deps.map(d => [(d as TaskRecord).spec.task_id, (d as TaskRecord).status.result])))
    }
  }

  private async place (r: TaskRecord, inputs: Record<string, unknown>): Promise<void> {
    const id = r.spec.task_id
    this.placing.add(id)
    try {
      const load = new Map<string, number>()
      for (const x of this.records.values()) {
        if ((x.status.status === 'assigned' || x.status.status === 'running') && x.status.agent !== undefined) load.set(x.status.agent, (load.get(x.status.agent) ?? 0) + 1)
      }
      const now = Date.now()
      const able = (c: string): boolean => (this.cannotRun.get(`${c}\0${r.spec.type}`) ?? 0) < now
      let candidates = [this.init.self, ...this.init.agents()].filter(able)
        .map(c => ({ c, load: load.get(c) ?? 0, tie: Math.random() }))
        .sort((a, b) => a.load - b.load || a.tie - b.tie)
        .map(x => x.c)
      if (r.spec.assignment === 'contract_net') {
        // The submitter asked for bids: the agents other than the coordinator are called, and
        // the one awarded is the only candidate for this attempt.
        const winner = await this.init.contractNet(r.spec, candidates.filter(c => c !== this.init.self)).catch(() => undefined)
        candidates = winner !== undefined ? [winner] : []
        if (winner === undefined && this.leading() && r.status.status === 'submitted' && r.status.reason !== 'no agent bid for it (NEG002)') this.update(r, { reason: 'no agent bid for it (NEG002)' })
        if (winner === undefined) return
      }
      // A fresh attempt number for every offer: an agent that took an earlier offer whose
      // acknowledgement was lost must not take this one for a duplicate of it.
      const refusals: string[] = []
      for (const agent of candidates) {
        if (!this.leading() || r.status.status !== 'submitted') return
        // The resource manager's word first: two tasks never hold the same unit. A denial
        // (CRD003) is the re-plan rule's conflict: the task waits and is placed again on the
        // next release.
        const grant = this.init.resources.grant(id, this.init.self, r.spec.requirements, [agent])
        if (grant.type === 'resource.denied') { refusals.push(grant.code); continue }
        const attempt = Math.max(r.status.attempt, this.lastOffer.get(id) ?? 0) + 1
        this.lastOffer.set(id, attempt)
        this.offered.set(id, { agent, attempt })
        try {
          const answer = agent === this.init.self
            ? this.init.executor.accept(r.spec, attempt, r.checkpoint, inputs, grant.resources)
            : await this.init.rpc.request(agent, RunCommand, { term: this.init.term(), spec: r.spec, attempt, ...(r.checkpoint !== undefined ? { checkpoint: r.checkpoint } : {}), inputs, resources: grant.resources }, { timeoutMs: this.init.requestTimeoutMs })
          if (!answer.accepted) {
            // It holds a later attempt, offered by an earlier coordinator: number past it.
            this.lastOffer.set(id, Math.max(this.lastOffer.get(id) ?? 0, answer.holds))
            this.init.resources.free(id)
            refusals.push('older attempt')
            continue
          }
        } catch (err) {
          this.init.resources.free(id)
          refusals.push(err instanceof AgentMeshError ? err.code : 'error')
          // A refusal the agent answered (no handler, no room, not its coordinator) took
          // nothing: the number is free again, so attempts count runs. After a timeout or a lost
          // connection the agent may have taken it, and the number stays spent.
          if (err instanceof AgentMeshError && !['COM001', 'COM002', 'MSG001'].includes(err.code) && this.lastOffer.get(id) === attempt) this.lastOffer.set(id, attempt - 1)
          // No handler for the type there: do not ask again for a while (handlers may come later).
          if (err instanceof AgentMeshError && err.code === 'TSK006' && /no handler/.test(err.message)) this.cannotRun.set(`${agent}\0${r.spec.type}`, Date.now() + NO_HANDLER_RETRY_MS)
          continue
        }
        r.resources = grant.resources
        if (r.status.agent === agent && r.status.attempt === attempt) return // its first report came first
        if (r.status.status !== 'submitted') {
          // Cancelled or deadline passed while it was being placed.
          this.stopAttemptOn(agent, id, attempt, 'cancel')
          this.releaseResources(r)
          return
        }
        this.update(r, { status: 'assigned', agent, attempt, reason: undefined })
        return
      }
      const reason = candidates.length === 0 ? 'no agents' : `no agent can run it now (${[...new Set(refusals)].join(', ')})`
      if (r.status.reason !== reason) this.update(r, { reason })
    } finally {
      this.placing.delete(id)
      this.offered.delete(id)
    }
  }

  private stopAttempt (r: TaskRecord, why: 'pause' | 'cancel' | 'deadline'): void {
    if (r.status.agent !== undefined) this.stopAttemptOn(r.status.agent, r.spec.task_id, r.status.attempt, why)
  }

  private stopAttemptOn (agent: string, taskId: string, attempt: number, why: 'pause' | 'cancel' | 'deadline'): void {
    if (agent === this.init.self) { this.init.executor.stop(taskId, attempt, why); return }
    this.init.rpc.request(agent, StopCommand, { term: this.init.term(), task_id: taskId, attempt, why }, { timeoutMs: this.init.requestTimeoutMs }).catch(() => {})
  }

  // --- deadlines --------------------------------------------------------------------------

  private armDeadlines (): void {
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer)
    if (!this.leading()) return
    let next = Infinity
    for (const r of this.records.values()) {
      if (r.spec.deadline !== undefined && !TERMINAL.has(r.status.status)) next = Math.min(next, Date.parse(r.spec.deadline))
    }
    if (!Number.isFinite(next)) return
    this.deadlineTimer = setTimeout(() => { this.deadlines() }, Math.max(0, Math.min(next - Date.now(), 2 ** 31 - 1)))
    this.deadlineTimer.unref?.()
  }

  private deadlines (): void {
    const now = Date.now()
    for (const r of this.records.values()) {
      if (r.spec.deadline === undefined || TERMINAL.has(r.status.status) || Date.parse(r.spec.deadline) > now) continue
      if (!this.leading()) break
      if (r.status.status === 'assigned' || r.status.status === 'running') this.stopAttempt(r, 'deadline')
      const e = new DeadlineError(`task ${r.spec.task_id} missed its deadline ${r.spec.deadline}`)
      if (r.spec.on_deadline === 'cancel') this.finish(r, 'cancelled', { reason: e.message, error: { code: e.code, message: e.message } })
      else this.finish(r, 'failed', { error: { code: e.code, message: e.message } })
    }
    this.armDeadlines()
  }

  // --- changes ----------------------------------------------------------------------------

  private finish (r: TaskRecord, status: 'completed' | 'failed' | 'cancelled', extra: { result?: unknown, error?: { code: string, message: string }, reason?: string, metrics?: Record<string, unknown>, losses?: number }): void {
    this.update(r, {
      status,
      ...(status === 'completed' ? { progress: 1 } : {}),
      ...(extra.result !== undefined ? { result: extra.result } : {}),
      ...(extra.error !== undefined ? { error: extra.error } : {}),
      ...(extra.metrics !== undefined ? { metrics: extra.metrics } : {}),
      ...(extra.losses !== undefined ? { losses: extra.losses } : {}),
      reason: extra.reason ?? (extra.error !== undefined ? extra.error.message : undefined)
    })
    // Dependents may now run, or fail.
    queueMicrotask(() => { this.schedule() })
  }

  private update (r: TaskRecord, patch: { status?: TaskState, progress?: number, metrics?: Record<string, unknown>, agent?: string, attempt?: number, result?: unknown, error?: { code: string, message: string }, reason?: string | undefined, checkpoint?: unknown, losses?: number }): void {
    const s = r.status
    if (patch.status !== undefined && !canMove(s.status, patch.status)) {
      this.init.onError(new Error(`task ${r.spec.task_id}: no move from ${s.status} to ${patch.status}`))
      return
    }
    const next: TaskStatus = {
      ...s,
      ...(patch.status !== undefined ? { status: patch.status } : {}),
      ...(patch.progress !== undefined ? { progress: patch.progress } : {}),
      ...(patch.metrics !== undefined ? { metrics: patch.metrics } : {}),
      ...(patch.agent !== undefined ? { agent: patch.agent } : {}),
      ...(patch.attempt !== undefined ? { attempt: patch.attempt } : {}),
      ...(patch.result !== undefined ? { result: patch.result } : {}),
      ...(patch.error !== undefined ? { error: patch.error } : {}),
      timestamp: new Date().toISOString()
    }
    if ('reason' in patch) {
      if (patch.reason === undefined) delete next.reason
      else next.reason = patch.reason
    }
    r.status = next
    if (TERMINAL.has(next.status)) this.lastOffer.delete(r.spec.task_id)
    // Only an attempt that is placed or runs holds resources.
    if (next.status !== 'assigned' && next.status !== 'running') this.releaseResources(r)
    if (patch.checkpoint !== undefined) r.checkpoint = patch.checkpoint
    if (patch.losses !== undefined) r.losses = patch.losses
    r.version++
    this.queueReplication(r)
    this.init.onStatus(r)
    if (TERMINAL.has(next.status)) this.armDeadlines()
  }

  private releaseResources (r: TaskRecord): void {
    if (r.resources === undefined) return
    delete r.resources
    this.init.resources.free(r.spec.task_id)
    // What was freed may let a waiting task run.
    queueMicrotask(() => { this.schedule() })
  }

  // --- replication ------------------------------------------------------------------------

  private queueReplication (r: TaskRecord): void {
    this.pending.set(r.spec.task_id, r)
    if (this.replicateTimer !== undefined) return
    this.replicateTimer = setTimeout(() => {
      this.replicateTimer = undefined
      const batch = [...this.pending.values()]
      this.pending.clear()
      if (this.leading()) void this.sendToVoters(batch)
    }, REPLICATE_EVERY_MS)
    this.replicateTimer.unref?.()
  }

  private async sendToVoters (records: TaskRecord[]): Promise<number> {
    const term = this.init.term()
    const voters = this.init.voters().filter(v => v !== this.init.self)
    const results = await Promise.all(voters.map(async v => {
      try {
        for (let i = 0; i < records.length; i += RECORDS_PAGE) await this.init.rpc.request(v, ReplicateCommand, { term, records: records.slice(i, i + RECORDS_PAGE) }, { timeoutMs: this.init.requestTimeoutMs })
        return 1
      } catch { return 0 }
    }))
    return results.reduce<number>((a, b) => a + b, 0)
  }

  private async replicateToMajority (records: TaskRecord[]): Promise<void> {
    const voters = this.init.voters()
    const needed = Math.floor(voters.length / 2) + 1
    const others = voters.filter(v => v !== this.init.self)
    const term = this.init.term()
    let acked = voters.includes(this.init.self) ? 1 : 0
    if (acked >= needed) { void this.sendToVoters(records); return }
    await new Promise<void>((resolve, reject) => {
      let left = others.length
      const fail = (): void => { reject(new TimeoutError(`the task records reached ${acked} of the ${needed} voters needed; submit again (it is idempotent)`)) }
      if (left === 0) { fail(); return }
      const pages = async (v: string): Promise<void> => {
        for (let i = 0; i < records.length; i += RECORDS_PAGE) await this.init.rpc.request(v, ReplicateCommand, { term, records: records.slice(i, i + RECORDS_PAGE) }, { timeoutMs: this.init.requestTimeoutMs })
      }
      for (const v of others) {
        pages(v).then(() => {
          if (++acked === needed) resolve()
        }, () => {}).finally(() => { if (--left === 0 && acked < needed) fail() })
      }
    })
  }

  private assertLeading (): void {
    if (!this.leading()) throw new NotCoordinatorError('this node is not the coordinator in office')
  }
}
