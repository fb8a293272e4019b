/**
 * The coordinator's side of the task protocol: the shell around the task table (`table.ts`,
 * pure) that acts on what it decides. Every node keeps a replica of the table; only the
 * coordinator in office changes it. The parts, each in its own file: placement on agents
 * (`placement.ts`), replication to the voters (`replication.ts`) and their replicas' anti-entropy
 * (`replica-sync.ts`), taking office and anti-entropy with the agents (`takeover.ts`), the deadline timer (`deadlines.ts`), this node's replica on disk and the
 * replica's side of the protocol (`replica.ts`).
 *
 * Nothing acknowledged is lost (docs/tasks.md):
 * - A submission is acknowledged only once a majority of the voters hold its record on disk; a
 *   new coordinator reads the records of a majority before it acts, also after a restart of the
 *   whole mesh (each node loads its replica on start). Records merge by term, then version.
 * - The end of a task is told (to its submitter, on its topic) only once a majority of the
 *   voters hold it on disk, so no restart can make a task end twice in anyone's eyes.
 * - An agent found offline or left loses its tasks to other agents; after `max_attempts` such
 *   losses the task fails with the reason.
 * - Reports are accepted only from the agent holding the current attempt (TSK004 otherwise), so
 *   a task completes at most once in the table even if a lost agent comes back.
 */
import type { RpcService } from '../rpc/index.js'
import type { Office } from '../coordination/office.js'
import { livePeers, memberBriefs, type MemberSource, type MemberSourceEvents } from '../discovery/member-source.js'
import { NotCoordinatorError, NotTaskHolderError, TaskAccessError, UnknownTaskError } from '../core/errors.js'
import type { StoreSpace } from '../core/store.js'
import { mayControl, mayRead, TASK_OPERATOR, type TaskGrants, type TaskParties } from './access.js'
import type { TaskExecutor } from './executor.js'
import type { TaskEvents } from './events.js'
import { controlRefusal } from './lifecycle.js'
import { DeadlineTimer } from './deadlines.js'
import { Placement, type SchedulerResources } from './placement.js'
import { UntoldEnds } from './untold.js'
import { VoterCatchUp } from './catch-up.js'
import { Replication } from './replication.js'
import { REPLICA_SETTLE_MS, ReplicaSync, type ReplicaSyncCounts } from './replica-sync.js'
import { TaskReplica } from './replica.js'
import { Takeover } from './takeover.js'
import { SubmissionCheck } from './submission.js'
import type { RecordTrust } from './record-check.js'
import type { AuditSink } from '../core/audit.js'
import { TaskTable, finishPatch, type TaskPatch } from './table.js'
import { fitting } from './paging.js'
import { DeliverCommand, StopCommand, TERMINAL, type PrunedMark, type SubmissionProof, type TaskControl, type TaskControlAnswer, type TaskInputRequest, type TaskRecord, type TaskReport, type TaskSpec, type TaskState, type TaskStatus } from './schemas.js'

export { FINISHED_RETENTION_MS } from './table.js'
export type { SchedulerResources } from './placement.js'

export interface SchedulerInit {
  self: string
  /** Who may run what (access.ts): placement offers a task only to agents it allows. */
  grants?: TaskGrants
  rpc: RpcService
  executor: TaskExecutor
  office: Office
  /** The member view: alive agents are the candidates; one going offline or leaving loses its tasks. */
  members: MemberSource
  /** Where 'rejected' and 'error' are reported (the TaskService). */
  events: TaskEvents
  /** A status change: publish it and tell the submitter. */
  changed: (record: TaskRecord) => void
  requestTimeoutMs: number
  /** Asks the candidates for bids and awards the task; resolves with the winner, if any. */
  contractNet: (spec: TaskSpec, candidates: string[]) => Promise<string | undefined>
  /** The resource manager on this node: placement allocates through it (R-RES). */
  resources: SchedulerResources
  /** Where refused submissions and records are reported (`signature.refused`); none by default. */
  audit?: AuditSink
  /** This node's replica of the table on disk (the store's 'tasks' space) and the marks of the records it pruned ('tasks-pruned'; replica.ts, pruned.ts). */
  store: { records: StoreSpace<TaskRecord>, marks: StoreSpace<PrunedMark> }
  trust: RecordTrust // signs the records this node sends as coordinator, proves who led the terms others name (record-check.ts)
}

const RESCHEDULE_EVERY_MS = 1_000

type TableSnapshot = { leading: boolean, term: number, taking_over: boolean, replica_sync: ReplicaSyncCounts } & ReturnType<TaskTable['overview']>

export class TaskScheduler {
  readonly table = new TaskTable()
  private readonly init: SchedulerInit
  private readonly placement: Placement
  private readonly replication: Replication
  /** Anti-entropy of the voters' replicas, while this node leads (replica-sync.ts). */
  private readonly replicaSync: ReplicaSync
  /** This node's replica on disk, and the replica's side of the protocol. */
  readonly replica: TaskReplica
  /** Voter-set changes wait for the table on a majority of the next set (catch-up.ts; CoordinationService.gateVoterChanges). */
  readonly catchUp: VoterCatchUp
  private readonly takeover: Takeover
  private readonly deadlines: DeadlineTimer
  private readonly check: SubmissionCheck
  private officeTerm = -1
  private ready: Promise<void> = Promise.resolve()
  private tick?: ReturnType<typeof setInterval>
  private running = false
  /** True while a new coordinator reads the records and the agents: nothing is placed meanwhile. */
  private takingOver = false
  /** Ends not yet on a majority (untold.ts): queries answer the status before, dependents wait. */
  private readonly untold: UntoldEnds
  /** Per queued task, the attempt this coordinator took for lost (`agent@attempt`): its end is still taken (report()). */
  private readonly lostAttempt = new Map<string, string>()

  constructor (init: SchedulerInit) {
    this.init = init
    this.check = new SubmissionCheck((from, message, taskId) => { this.rejected(from, message, 'SEC004', taskId !== undefined ? { taskId } : {}) }, init.audit)
    const { self, rpc, office, requestTimeoutMs, resources, executor } = init
    const leading = (): boolean => this.leading()
    const shared = { self, rpc, requestTimeoutMs, trust: init.trust }
    const rejected = (from: string, message: string, reason: string, correlationId?: string): void => {
      this.rejected(from, message, reason, correlationId !== undefined ? { correlationId } : {})
    }
    this.replica = new TaskReplica({ self, office, table: this.table, ...init.store, rejected, error: (err) => { this.error(err) }, trust: init.trust })
    this.replication = new Replication({ ...shared, office, leading, persist: async (records) => { await this.replica.persist(records) } })
    this.replicaSync = new ReplicaSync({
      rpc,
      requestTimeoutMs,
      table: () => this.table.records,
      mark: id => this.table.marks.get(id),
      recent: (id, ms) => this.replication.sentWithin(id, ms),
      send: async (voter, term, rs) => { await this.replication.repair(voter, term, rs) },
      tellPruned: async (voter, term, marks) => { await this.replication.tellPruned(voter, term, marks) }
    })
    const records = (): TaskRecord[] => [...this.table.records.values()]
    const write = async (rs: TaskRecord[], voters: string[]): Promise<boolean> => await this.replication.toVoters(rs, voters)
    this.catchUp = new VoterCatchUp({ settled: () => this.leading() && !this.takingOver, term: () => this.officeTerm, records, write })
    const told = (r: TaskRecord): void => { init.changed(r); this.schedule() }
    this.untold = new UntoldEnds({ queue: async r => await this.replication.queue(r), get: id => this.table.get(id), told })
    this.placement = new Placement({
      ...shared,
      office,
      resources,
      executor,
      leading,
      members: init.members,
      table: this.table,
      contractNet: init.contractNet,
      ...(init.grants !== undefined ? { grants: init.grants } : {}),
      assigned: (r, agent, attempt, serial) => this.change(r, { status: 'assigned', agent, ...(serial !== undefined ? { agent_serial: serial } : {}), attempt, reason: undefined }) !== undefined,
      waiting: (r, reason) => { this.update(r, { reason }) },
      deliver: (r, agent, attempt) => { this.deliverTo(agent, r, attempt) },
      withdraw: (r, agent, attempt) => { this.stopAttemptOn(agent, r.spec.task_id, attempt, 'cancel'); this.releaseResources(r) },
      abandoned: (r, agent, attempt, why) => {
        if (this.change(r, this.table.lostPatch(r, `agent ${agent}, which may run attempt ${attempt} (its offer went unanswered), was lost: ${why}`)) === undefined) return false
        this.stopAttemptOn(agent, r.spec.task_id, attempt, 'cancel')
        return true
      },
      stopAttempt: (agent, id, attempt) => { this.stopAttemptOn(agent, id, attempt, 'cancel') }
    })
    this.takeover = new Takeover({
      ...shared,
      executor,
      resources,
      table: this.table,
      replication: this.replication,
      current: (term) => this.running && this.officeTerm === term,
      write: (r, patch) => { this.update(r, patch) },
      lost: (r, why) => { this.lost(r, why) },
      placing: () => this.placement.busy,
      agents: () => [this.init.self, ...livePeers(this.init.members)],
      orphan: (r, agent, attempt) => {
        // An offer of this node's own earlier term: its mark decides (asked again with the same number); or one still out.
        if (this.placement.marked(r.spec.task_id, agent, attempt) || this.placement.busy.has(r.spec.task_id)) return
        // Numbered past, so a new offer to the same agent is not taken for that attempt again.
        this.table.offerRefused(r.spec.task_id, attempt)
        this.stopAttemptOn(agent, r.spec.task_id, attempt, 'cancel')
      },
      resume: () => { this.armDeadlines(); this.schedule() },
      check: this.check,
      dropped: (id) => { this.replica.pruned([id]) }
    })
    this.deadlines = new DeadlineTimer(() => { this.deadlinesPassed() })
    // A new manager answers allocations only once the takeover restored the running tasks' own.
    resources.settleWith?.(async () => { this.officeCheck(); await this.ready })
  }

  /** Every record this replica holds, by task id. */
  get records (): Map<string, TaskRecord> { return this.table.records }

  private readonly memberChanged = (e: MemberSourceEvents['member:change']): void => {
    if (e.detail.to === 'offline' || e.detail.to === 'left') this.agentLost(e.detail.peerId)
    // A voter back from offline may have missed batches: its replica is compared at the next second.
    if (e.detail.to === 'alive') this.replicaSync.soon(e.detail.peerId)
  }

  start (): void {
    if (this.running) return
    this.running = true
    // What this replica held before a restart: a coordinator taking office counts it among the majority it reads.
    this.replica.load()
    this.init.members.addEventListener('member:change', this.memberChanged)
    // Queued tasks wait for agents to come and resources to free: look again every second.
    this.tick = setInterval(() => { this.everySecond() }, RESCHEDULE_EVERY_MS)
    this.tick.unref?.()
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    this.officeTerm = -1
    this.lostAttempt.clear()
    this.placement.forget()
    this.init.members.removeEventListener('member:change', this.memberChanged)
    if (this.tick !== undefined) clearInterval(this.tick)
    this.tick = undefined
    this.replication.stop()
    this.deadlines.stop()
    this.takeover.stop()
    this.catchUp.stop()
    this.replicaSync.stop()
  }

  /** A fault here is reported, not thrown: thrown from a timer it would end the process. */
  private everySecond (): void {
    try {
      this.officeCheck()
      this.replica.prune(Date.now())
      // A mark whose task left the queue without a change here (pruned, merged from a voter): gone.
      for (const id of this.lostAttempt.keys()) if (this.table.get(id)?.status.status !== 'submitted') this.lostAttempt.delete(id)
      this.placement.forget(id => this.table.get(id)?.status.status === 'submitted')
      if (this.leading()) this.schedule()
      if (this.leading() && !this.takingOver) {
        this.takeover.quiet(this.officeTerm, Date.now())?.catch((err: Error) => { this.error(err) })
        this.heldByGone()
        // The voters the member view holds present: one it holds offline would only cost a timeout.
        const alive = new Set(livePeers(this.init.members))
        this.replicaSync.tick(this.officeTerm, this.init.office.voters().filter(v => v !== this.init.self && alive.has(v)), Date.now())
      } else this.replicaSync.stop()
      this.replication.sweep(REPLICA_SETTLE_MS)
    } catch (err) { this.error(err as Error) }
  }

  /** In office in the term this node took over, past the takeover's read (takeover.ts, `reading`). */
  private leading (): boolean { return this.running && this.init.office.inOffice && this.officeTerm === this.init.office.term && !this.takeover.reading }

  private error (error: Error): void { this.init.events.safeDispatchEvent('error', { detail: { error } }) }

  private rejected (from: string, message: string, reason: string, about: { correlationId?: string, taskId?: string } = {}): void {
    this.init.events.safeDispatchEvent('rejected', { detail: { from, message, reason, ...about } })
  }

  /** Called when the coordinator changes (and every second): take over when this node took office. */
  officeCheck (): void {
    if (!this.running || !this.init.office.inOffice) return
    const term = this.init.office.term
    if (this.officeTerm === term) { this.untold.retry(); return }
    this.officeTerm = term
    // Marks of an earlier term: the coordinators between may have changed those tasks (merged here, not through change()).
    // Those of unanswered offers stay: the takeover checks them against what it read (placement.ts `carry`).
    this.lostAttempt.clear()
    this.untold.clear()
    this.takingOver = true
    this.ready = this.takeover.takeOver(term).catch((err: Error) => {
      this.error(err)
      // Still this term's coordinator (its lease lapsed a moment, or a step failed): the next
      // second's check takes over again. Left as it was, the table would never be re-stamped
      // or resumed in this term, and the tasks submitted to it would wait for good.
      if (this.officeTerm === term) { this.officeTerm = -1; this.takingOver = false }
    }).finally(() => {
      if (this.officeTerm === term) { this.takingOver = false; this.schedule() }
    })
  }

  /** The table as `/tasks` shows it: counts by state, the open tasks oldest first with what each waits for (every replica has it). */
  snapshot (limit: number): TableSnapshot {
    const office = { leading: this.leading(), term: this.officeTerm, taking_over: this.takingOver, replica_sync: { ...this.replicaSync.counts } }
    return { ...office, ...this.table.overview(limit, this.placement.busy) }
  }

  // --- requests from submitters -----------------------------------------------------------

  /** Before answering a submitter: take over if this node just took office, and wait for it. */
  private async leadingNow (): Promise<void> {
    // A request may arrive before the coordinator:change event that starts the takeover, or
    // after a takeover of this term failed (a voter slow to answer its read on a loaded host:
    // the next second's check would start it again). Still in office, this node takes over
    // again now, once, rather than refuse a submitter whose coordinator it is.
    for (let tries = 0; tries < 2; tries++) {
      this.officeCheck()
      await this.ready
      if (this.leading() || !this.init.office.inOffice) break
    }
    if (!this.leading()) throw new NotCoordinatorError('this node is not the coordinator in office')
  }

  async submit (from: string, specs: TaskSpec[], signed?: SubmissionProof[]): Promise<Array<{ task_id: string, duplicate: boolean, status: TaskState }>> {
    await this.leadingNow()
    // Signed by `from` (the authenticated peer), or refused: the record keeps the signature (submission.ts).
    this.check.submissions(from, specs, signed)
    const created = this.table.submit(specs, from, Date.now(), signed)
    // Acknowledged only once a majority of the voters keep the records.
    if (created.length > 0) await this.replication.toMajority(created)
    for (const r of created) this.init.changed(r)
    this.armDeadlines()
    this.schedule()
    const made = new Set(created.map(r => r.spec))
    return specs.map(s => ({ task_id: s.task_id, duplicate: !made.has(s), status: (this.table.get(s.task_id) as TaskRecord).status.status }))
  }

  /** Who the task's parties are as this coordinator sees them (see access.ts). */
  private parties (): TaskParties {
    const grants = this.init.grants
    return {
      coordinator: this.init.self,
      voters: this.init.office.voters(),
      ...(grants !== undefined ? { operator: (peer: string) => grants.held(peer)?.capabilities.includes(TASK_OPERATOR) === true } : {})
    }
  }

  /** A task's status for `from` (the authenticated asker): TSK007 unless it is a party to the task. */
  async query (from: string, taskId: string, correlationId?: string): Promise<TaskStatus> {
    await this.leadingNow()
    const r = this.table.get(taskId)
    if (r === undefined) throw new UnknownTaskError(`no task ${taskId}`)
    if (!mayRead(r, from, this.parties())) {
      this.rejected(from, 'task-query', 'TSK007', { ...(correlationId !== undefined ? { correlationId } : {}), taskId })
      throw new TaskAccessError(`${from} is no party to task ${taskId}`)
    }
    return this.untold.status(r)
  }

  /**
   * Several tasks' statuses for `from`: unknown ones and those it is no party to are left out
   * (a submitter's poll still gets its own); TSK007 when it may see none of the known ones.
   */
  async queryMany (from: string, ids: string[], correlationId?: string): Promise<TaskStatus[]> {
    await this.leadingNow()
    const parties = this.parties()
    const known = ids.flatMap(id => this.table.get(id) ?? [])
    const visible = known.filter(r => mayRead(r, from, parties))
    if (visible.length < known.length) {
      this.rejected(from, 'task-query-many', 'TSK007', correlationId !== undefined ? { correlationId } : {})
      if (visible.length === 0) throw new TaskAccessError(`${from} is no party to any of the ${known.length} tasks asked about`)
    }
    // At most a page's weight (paging.ts): the statuses left out stay quiet at the asker, which
    // asks for them again at its next poll (TaskClient.poll).
    const statuses = visible.map(r => this.untold.status(r))
    return statuses.slice(0, fitting(statuses, statuses.length))
  }

  /** Pause, resume, cancel from `from` (the authenticated asker): only the submitter, this coordinator or a task operator (TSK007). */
  async control (from: string, c: TaskControl, correlationId?: string): Promise<TaskControlAnswer> {
    await this.leadingNow()
    const reject = (code: string, reason: string): TaskControlAnswer => {
      this.rejected(from, c.type, code, { ...(correlationId !== undefined ? { correlationId } : {}), taskId: c.task_id })
      return { type: 'task.control.reject', command_id: c.command_id, reason, code }
    }
    const r = this.table.get(c.task_id)
    if (r === undefined) return reject('TSK001', `no task ${c.task_id}`)
    if (!mayControl(r, from, this.parties())) return reject('TSK007', `only the task's submitter, the coordinator or a task operator may control it; ${from} is none of them`)
    const action = c.type.slice('task.control.'.length) as 'pause' | 'resume' | 'cancel'
    const refusal = controlRefusal(action, r.status.status)
    if (refusal !== undefined) return reject('TSK002', refusal)
    const open = holder(r)
    const patch = action === 'resume'
      ? { status: 'submitted' as const, reason: 'resumed', ...(c.checkpoint !== undefined ? { checkpoint: c.checkpoint } : {}) }
      : action === 'pause' ? { status: 'paused' as const, reason: c.reason ?? 'paused' } : finishPatch('cancelled', { reason: c.reason ?? 'cancelled' })
    // Written, or refused: the lease can lapse between leadingNow() and here on a loaded host (it
    // is the clock's, not an event's), and an ack of a change nobody wrote told the client
    // "running" for a cancel (the test loop's gateway-a2a-blocking.test). The client asks again
    // with the same command id on CRD002; nothing was written or stopped, so that is safe.
    if (this.change(r, patch) === undefined) {
      throw new NotCoordinatorError(`the ${action} of task ${c.task_id} was not written: this node is not leading now; ask again`)
    }
    // The agent is told to stop only once the change is written.
    if (action === 'resume') this.schedule()
    else if (open?.agent !== undefined) this.stopAttemptOn(open.agent, c.task_id, open.attempt, action)
    return { type: 'task.control.ack', command_id: c.command_id, status: r.status.status }
  }

  /**
   * A message to a task from `from` (the authenticated asker), as a control: TSK001 unknown task,
   * TSK007 unless the submitter, this coordinator or a task operator, TSK002 once the task is over,
   * MSG002 past the caps (table.ts, inputPatch). A message id the task holds is acknowledged again
   * and changes nothing. Otherwise the record keeps it (replicated like any change, and answered
   * only once a majority of the voters hold it: a new coordinator has it, and so does every
   * attempt after), and the agent running the task is given it.
   */
  async input (from: string, c: TaskInputRequest, correlationId?: string): Promise<TaskControlAnswer> {
    await this.leadingNow()
    const reject = (code: string, reason: string): TaskControlAnswer => {
      this.rejected(from, 'task.input', code, { ...(correlationId !== undefined ? { correlationId } : {}), taskId: c.task_id })
      return { type: 'task.control.reject', command_id: c.command_id, reason, code }
    }
    const r = this.table.get(c.task_id)
    if (r === undefined) return reject('TSK001', `no task ${c.task_id}`)
    if (!mayControl(r, from, this.parties())) return reject('TSK007', `only the task's submitter, the coordinator or a task operator may send it messages; ${from} is none of them`)
    const decision = this.table.inputPatch(r, { message_id: c.message.message_id, from, at: new Date().toISOString(), input: c.message.input })
    if ('refused' in decision) return reject(decision.refused.code, decision.refused.message)
    // Sent again (held): the record goes to the voters again, since the first answer may have been
    // lost before a majority held it, and the agent may have missed the deliver (it keeps each message once).
    const spread = 'patch' in decision ? this.change(r, decision.patch) : this.replication.queue(r)
    if (r.status.status === 'assigned' || r.status.status === 'running') this.deliver(r)
    if (spread === undefined || !await spread) {
      throw new NotCoordinatorError(`the message to task ${c.task_id} is not on a majority of the voters yet; send it again (a task takes a message once)`)
    }
    return { type: 'task.control.ack', command_id: c.command_id, status: r.status.status }
  }

  private deliver (r: TaskRecord): void {
    if (r.status.agent !== undefined) this.deliverTo(r.status.agent, r, r.status.attempt)
  }

  /** The task's messages to the agent running `attempt` (best effort: each later deliver, and every new attempt, carries them all). */
  private deliverTo (agent: string, r: TaskRecord, attempt: number): void {
    const messages = r.status.messages ?? []
    if (messages.length === 0 || attempt < 1) return
    const taskId = r.spec.task_id
    if (agent === this.init.self) { this.init.executor.deliver(taskId, attempt, messages); return }
    const req = { term: this.init.office.term, task_id: taskId, attempt, messages }
    this.init.rpc.request(agent, DeliverCommand, req, { timeoutMs: this.init.requestTimeoutMs }).catch(() => {})
  }

  // --- reports from agents ----------------------------------------------------------------

  report (from: string, rep: TaskReport, correlationId?: string): boolean {
    if (!this.leading()) return false
    const r = this.table.get(rep.task_id)
    if (r === undefined) return false
    // The agent may report before its acknowledgement of the run command is processed here.
    const offer = this.placement.offer(rep.task_id)
    // Or after it was given up: an offer that went unanswered (timeout, lost connection) may have
    // been taken, and nothing was offered since. Refused, the agent would run it unheard and the
    // next placement would stop it for a new attempt.
    const taken = offer !== undefined ? offer.agent === from && offer.attempt === rep.attempt : this.placement.mayHold(rep.task_id, from, rep.attempt)
    // A mark of this node's earlier term not checked yet: not known yet (the agent sends its end again), never refused.
    if (!taken && offer === undefined && r.status.status === 'submitted' && this.placement.unconfirmed(rep.task_id, from, rep.attempt)) return false
    if (taken && r.status.status === 'submitted') {
      if (offer !== undefined) this.placement.settle(rep.task_id)
      else {
        // The units granted for the offer are the attempt's; the messages taken since it left go to it now (the offer carried those before).
        const resources = this.placement.claim(rep.task_id)
        if (resources !== undefined) r.resources = resources
        this.deliverTo(from, r, rep.attempt)
      }
      const serial = this.init.grants?.held(from)?.serial
      this.update(r, { status: 'assigned', agent: from, ...(serial !== undefined ? { agent_serial: serial } : {}), attempt: rep.attempt, reason: undefined })
    } else if (offer === undefined && r.status.status === 'submitted' && (rep.status === 'completed' || rep.status === 'failed') &&
      this.lostAttempt.get(rep.task_id) === `${from}@${rep.attempt}` && (this.table.lastOffered(rep.task_id) ?? 0) <= rep.attempt) {
      // The end of the attempt this agent held when this coordinator took it for lost (its
      // member state flapped on a loaded host, or it did not answer a takeover), reported while
      // the task waits for another placement: taken, not thrown away to run the task again. With
      // an offer out, or one made since that may have been taken (its number spent), the next
      // attempt may already run, and this end is refused (below) as before; so is the end of an
      // attempt stopped by a pause, the task since resumed.
      this.lostAttempt.delete(rep.task_id)
      // The record still names the agent (and its credential's serial): only the state moves back.
      this.update(r, { status: 'assigned', attempt: rep.attempt, reason: undefined })
    }
    // A queued task has no holder: a lost attempt's progress is refused, not applied to the queue.
    if (r.status.status === 'submitted' || r.status.agent !== from || r.status.attempt !== rep.attempt) {
      this.rejected(from, 'task-report', 'not-holder', { ...(correlationId !== undefined ? { correlationId } : {}), taskId: rep.task_id })
      const now = r.status.status !== 'submitted'
        ? `it is attempt ${r.status.attempt} on ${r.status.agent ?? 'nobody'}`
        : r.status.agent === undefined ? 'it waits to be placed' : `it waits for another placement since attempt ${r.status.attempt} on ${r.status.agent} was taken for lost`
      throw new NotTaskHolderError(`task ${rep.task_id} attempt ${rep.attempt} is not held by ${from} (${now})`)
    }
    const patch = this.table.reportPatch(r, rep)
    if (patch !== undefined) this.update(r, patch)
    return true
  }

  /** The member view lost an agent: its running tasks go elsewhere. */
  agentLost (peer: string): void {
    if (!this.leading()) return
    for (const r of this.table.open(peer)) this.lost(r, `agent ${peer} was lost`)
    this.schedule()
  }

  private lost (r: TaskRecord, why: string): void {
    const held = r.status.agent !== undefined ? `${r.status.agent}@${r.status.attempt}` : undefined
    // Marked only once this coordinator queued it (change() writes nothing out of office, or to a replaced record).
    if (this.change(r, this.table.lostPatch(r, why)) !== undefined && r.status.status === 'submitted' && held !== undefined) this.lostAttempt.set(r.spec.task_id, held)
  }

  /**
   * Open attempts held by agents the member view holds offline or left: lost, as `agentLost`
   * does on the change. That event is acted on only while leading: one heard while this node's
   * lease had lapsed a moment, with office back in the same term (no takeover), left the task
   * assigned to an agent gone for good.
   */
  private heldByGone (): void {
    // Not an agent the view does not hold at all: a coordinator just restarted may not have heard
    // of every agent yet, and the takeover asked each holder what it holds.
    const gone = new Set(memberBriefs(this.init.members).filter(b => b.state === 'offline' || b.state === 'left').map(b => b.peer))
    if (gone.size === 0) return
    let any = false
    for (const r of this.table.open()) {
      const agent = r.status.agent
      if (agent === undefined || agent === this.init.self || !gone.has(agent)) continue
      this.lost(r, `agent ${agent} was lost`)
      any = true
    }
    if (any) this.schedule()
  }

  // --- the queue --------------------------------------------------------------------------

  /** Place every queued task whose dependencies completed, by priority, then age. */
  schedule (): void {
    if (!this.leading() || this.takingOver) return
    // The marks of unanswered offers made in this node's earlier terms, kept or settled before
    // anything is placed: those the takeover found, and those of offers that failed after it.
    this.placement.carry(this.officeTerm)
    for (const r of this.table.queue(this.placement.busy)) {
      if (r.spec.dependencies.some(d => this.untold.has(d))) continue
      const ready = this.table.readiness(r)
      if (ready.ready) void this.placement.place(r, ready.inputs)
      else if (ready.broken !== undefined) this.update(r, finishPatch('failed', { error: ready.broken }))
    }
  }

  private stopAttemptOn (agent: string, taskId: string, attempt: number, why: 'pause' | 'cancel' | 'deadline'): void {
    if (agent === this.init.self) { this.init.executor.stopAttempt(taskId, attempt, why); return }
    const req = { term: this.init.office.term, task_id: taskId, attempt, why }
    this.init.rpc.request(agent, StopCommand, req, { timeoutMs: this.init.requestTimeoutMs }).catch(() => {})
  }

  // --- deadlines --------------------------------------------------------------------------

  private armDeadlines (): void {
    if (!this.leading()) { this.deadlines.stop(); return }
    this.deadlines.arm(this.table.nextDeadline(), Date.now())
  }

  private deadlinesPassed (): void {
    for (const r of this.table.overdue(Date.now())) {
      if (!this.leading()) break
      // Overdue tasks found above may have ended since (a dependent failing, say).
      if (TERMINAL.has(r.status.status)) continue
      const open = holder(r)
      // The agent is told to stop only once the end is written (not leading any more: the next coordinator decides).
      if (this.change(r, this.table.deadlinePatch(r)) !== undefined && open?.agent !== undefined) this.stopAttemptOn(open.agent, r.spec.task_id, open.attempt, 'deadline')
    }
    this.armDeadlines()
  }

  // --- changes ----------------------------------------------------------------------------

  /** Write a change to a record, and do what follows from it: resources, replication, the status published, deadlines. */
  private update (r: TaskRecord, patch: TaskPatch): void { void this.change(r, patch) }

  /** `update`, resolving whether a majority of the voters hold the change (undefined: nothing was written). */
  private change (r: TaskRecord, patch: TaskPatch): Promise<boolean> | undefined {
    // Only the coordinator leading its term writes, to the record the table holds: a write settling from an
    // earlier term, or to an object a takeover's merge replaced, would be stamped with this term and win merges.
    if (!this.leading() || this.table.get(r.spec.task_id) !== r) return undefined
    const before = { ...r.status }
    let next: TaskStatus
    try {
      next = this.table.apply(r, patch, Date.now())
    } catch (err) {
      this.error(err as Error)
      return undefined
    }
    // The mark of a lost attempt lasts while the task waits to be placed again (report()).
    if (next.status !== 'submitted') this.lostAttempt.delete(r.spec.task_id)
    // Paused, cancelled, out of time, or placed with another agent or attempt while an offer went
    // unanswered: the agent that may run it is told to stop. Placed with another, too: a
    // takeover's reconcile can find the task running on the agent a coordinator in between gave
    // it, before this term's marks are checked (a helper's review).
    const unanswered = next.status !== 'submitted' ? this.placement.release(r.spec.task_id) : undefined
    const itsOwn = unanswered !== undefined && next.agent === unanswered.agent && next.attempt === unanswered.attempt && (next.status === 'assigned' || next.status === 'running')
    if (unanswered !== undefined && !itsOwn) {
      this.stopAttemptOn(unanswered.agent, r.spec.task_id, unanswered.attempt, next.status === 'paused' ? 'pause' : next.status === 'cancelled' ? 'cancel' : 'deadline')
    }
    // Only an attempt that is placed or runs holds resources.
    if (next.status !== 'assigned' && next.status !== 'running') this.releaseResources(r)
    const spread = this.replication.queue(r)
    if (!TERMINAL.has(next.status)) this.init.changed(r)
    else {
      // The end is told once a majority keep it on disk: a coordinator after any restart reads
      // it, so the task never ends a second time. Not on a majority (this node lost office):
      // the next coordinator decides, and the submitter's handle asks it.
      // Dependents run, or fail, only then too; until then queries answer `before` (untold.ts).
      this.untold.hold(r, before, spread)
      this.armDeadlines()
    }
    return spread
  }

  private releaseResources (r: TaskRecord): void {
    if (r.resources === undefined) return
    delete r.resources
    this.init.resources.free(r.spec.task_id)
    // What was freed may let a waiting task run.
    queueMicrotask(() => { this.schedule() })
  }
}

/** The agent and attempt of an attempt that is placed or runs: the one to tell to stop once a change that ends it is written. */
function holder (r: TaskRecord): { agent: string | undefined, attempt: number } | undefined {
  return r.status.status === 'assigned' || r.status.status === 'running' ? { agent: r.status.agent, attempt: r.status.attempt } : undefined
}
