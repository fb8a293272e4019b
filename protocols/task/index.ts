/**
 * The task protocol on one node (R-TASK): every node runs the executor (it takes tasks), a
 * replica of the task table with the scheduler (acting only while this node is the coordinator
 * in office), and the client behind `node.submitTask`. Status changes are published on
 * `tasks.status.<task_id>` for anyone watching (without the result), and sent straight to the
 * task's submitter with it. Who may control a task or read its result: access.ts.
 */
import { TypedEventEmitter } from 'main-event'
import type { RpcService } from '../rpc/index.js'
import type { NegotiationService } from '../negotiation/index.js'
import type { Office, OfficeChange } from '../coordination/office.js'
import { electionKeys } from '../coordination/election-keys.js'
import type { Certificate } from '../coordination/election-types.js'
import type { MemberSource } from '../discovery/member-source.js'
import type { PrivateKey } from '@libp2p/interface'
import { ForbiddenError, NotCoordinatorError } from '../core/errors.js'
import { runRefusal, taskGrant, type TaskGrants } from './access.js'
import { answerItem } from './batch-call.js'
import type { AuditSink } from '../core/audit.js'
import { refusalAudit } from './refusal-audit.js'
import { MemoryStore, type Store } from '../core/store.js'
import { signSubmission } from './submission.js'
import { RecordSealer } from './record-seal.js'
import { TermProofs } from './term-proofs.js'
import { TaskExecutor, type TaskHandler } from './executor.js'
import { TaskScheduler, type SchedulerResources } from './scheduler.js'
import { TaskClient, type TaskHandle } from './handle.js'
import type { TaskServiceEvents } from './events.js'
import { PAGE_CHARS, pagesOf, weight } from './paging.js'
import {
  ControlCommand, InputCommand, QueryCommand, QueryManyCommand, RecordsCommand, ReplicaDigestCommand, ReplicateCommand, ReportCommand, ReportManyCommand,
  SubmitCommand, UpdateCommand,
  TaskSpec, type PrunedMark, type Requirements, type TaskRecord, type TaskSpecInput, type TaskStatus
} from './schemas.js'

export * from './schemas.js'
export { TaskHandle, TaskFailedError } from './handle.js'
export { TaskStopped, type TaskContext, type TaskHandler } from './executor.js'
export { checkDependencies } from './lifecycle.js'
export { signSubmission, SubmissionCheck } from './submission.js'
export type { TaskServiceEvents } from './events.js'
export type { SchedulerResources } from './placement.js'

const UPDATE_BATCH_MS = 5

export interface TaskServiceInit {
  self: string
  rpc: RpcService
  /** What this agent advertises and runs tasks within. */
  resources: Requirements
  /** Who coordinates: fencing, the voters, the coordinator to submit to; its 'coordinator:change' starts a takeover. */
  office: Office
  /** The member view: alive agents take tasks; one going offline or leaving loses them. */
  members: MemberSource
  /** Publish a status (without its result) on `tasks.status.<task_id>` (the node decides whether anyone listens). */
  publish: (topic: string, status: TaskStatus) => void
  requestTimeoutMs: number
  resourceManager: SchedulerResources
  negotiation: NegotiationService
  /** This node's identity key: it signs the tasks this node submits (submission.ts), and the records it writes as coordinator (record-seal.ts). */
  privateKey: PrivateKey
  /** The mesh's name: in what a record's signature covers, so a record of one mesh proves nothing in another. */
  mesh?: string
  /** Where refused task submissions and records (`signature.refused`), controls and reads (TSK007) are audited. */
  audit?: AuditSink
  /**
   * Who may run what (access.ts): placement offers a task only to agents whose grants cover it,
   * and this node refuses a handler its own grants do not cover (SEC002). None: no rule.
   */
  grants?: TaskGrants
  /**
   * Where this node keeps its replica of the task table (the 'tasks' space): the data
   * directory's store survives a restart; none means memory, lost with the process.
   */
  store?: Store
}

/**
 * Events: 'rejected' { from, message, reason } (a message refused), 'error' { error } (a
 * background failure), 'status' { status } (every status this node publishes as coordinator).
 */
export class TaskService extends TypedEventEmitter<TaskServiceEvents> {
  readonly executor: TaskExecutor
  readonly scheduler: TaskScheduler
  readonly client: TaskClient
  /** Who led which term, for the check of a record's signer (term-proofs.ts). */
  readonly proofs: TermProofs
  private readonly init: TaskServiceInit
  private unhandles: Array<() => void> = []
  private readonly outbox = new Map<string, TaskStatus[]>()
  /** The weight of each outbox (paging.ts), kept as statuses are added. */
  private readonly outboxChars = new Map<string, number>()
  private flushTimer?: ReturnType<typeof setTimeout>
  private started = false

  constructor (init: TaskServiceInit) {
    super()
    this.init = init
    // Refusals are told as events (counted and logged by the node) and every one a peer caused
    // goes to the audit trail (refusalAudit, below). A bad submission signature is audited where
    // it is checked (submission.ts), with what was wrong.
    this.addEventListener('rejected', ({ detail: d }) => {
      const audited = refusalAudit(d)
      if (audited !== undefined) init.audit?.record(audited)
    })
    this.executor = new TaskExecutor({
      self: init.self,
      rpc: init.rpc,
      resources: init.resources,
      office: init.office,
      localReport: (from, report) => this.scheduler.report(from, report),
      events: this
    })
    const store = init.store ?? new MemoryStore()
    const mesh = init.mesh ?? ''
    const error = (err: Error): void => { this.safeDispatchEvent('error', { detail: { error: err } }) }
    // Coordinator-signed records (record-seal.ts), and the certificates that say who led a term (term-proofs.ts).
    this.proofs = new TermProofs({ self: init.self, office: init.office, keys: electionKeys(init.privateKey, mesh), space: store.space<Certificate>('task-terms'), error })
    const trust = { mesh, sealer: new RecordSealer(init.self, mesh, init.privateKey), proofs: this.proofs }
    this.scheduler = new TaskScheduler({
      self: init.self,
      rpc: init.rpc,
      executor: this.executor,
      office: init.office,
      members: init.members,
      events: this,
      changed: (r) => { this.statusChanged(r) },
      requestTimeoutMs: init.requestTimeoutMs,
      resources: init.resourceManager,
      store: { records: store.space<TaskRecord>('tasks'), marks: store.space<PrunedMark>('tasks-pruned') },
      trust,
      ...(init.audit !== undefined ? { audit: init.audit } : {}),
      ...(init.grants !== undefined ? { grants: init.grants } : {}),
      contractNet: async (spec, candidates) => {
        const r = await init.negotiation.contractNet<{ running: number, free_cores: number }>({
          subject: `task:${spec.type}`,
          candidates,
          task: spec,
          replyWithinMs: 500,
          score: (p) => -p.running * 10_000 + p.free_cores
        })
        return r.winner?.peer
      }
    })
    this.client = new TaskClient({
      self: init.self,
      rpc: init.rpc,
      office: init.office,
      sign: (spec) => signSubmission(spec, init.self, init.privateKey),
      local: {
        submit: async (specs, signed) => await this.scheduler.submit(init.self, specs, signed),
        query: async (id) => await this.scheduler.query(init.self, id),
        queryMany: async (ids) => await this.scheduler.queryMany(init.self, ids),
        control: async (c) => await this.scheduler.control(init.self, c),
        input: async (c) => await this.scheduler.input(init.self, c)
      },
      submitTimeoutMs: 30_000
    })
  }

  /** `/tasks` on the debug endpoint: the table (as this replica holds it), what runs here, what this node waits for. */
  snapshot (limit = 100): { table: ReturnType<TaskScheduler['snapshot']>, executing: ReturnType<TaskExecutor['snapshot']>, submitted: ReturnType<TaskClient['snapshot']> } {
    return { table: this.scheduler.snapshot(limit), executing: this.executor.snapshot(limit), submitted: this.client.snapshot(limit) }
  }

  start (): void {
    if (this.started) return
    this.started = true
    const { rpc, office } = this.init
    office.addEventListener('coordinator:change', this.coordinatorChanged)
    this.proofs.load()
    this.executor.start()
    this.scheduler.start()
    this.client.start()
    this.unhandles = [
      rpc.handle(SubmitCommand, async ({ tasks, signed }, ctx) => ({ accepted: await this.scheduler.submit(ctx.peer, tasks, signed) })),
      // The asker is the authenticated peer of the stream: what it may see or do follows from it (access.ts).
      rpc.handle(QueryCommand, async ({ task_id: id }, ctx) => await this.scheduler.query(ctx.peer, id, ctx.envelope.id)),
      rpc.handle(QueryManyCommand, async ({ task_ids: ids }, ctx) => ({ statuses: await this.scheduler.queryMany(ctx.peer, ids, ctx.envelope.id) })),
      rpc.handle(ControlCommand, async (c, ctx) => await this.scheduler.control(ctx.peer, c, ctx.envelope.id)),
      rpc.handle(InputCommand, async (c, ctx) => await this.scheduler.input(ctx.peer, c, ctx.envelope.id)),
      rpc.handle(ReportCommand, (r, ctx) => ({ known: this.scheduler.report(ctx.peer, r, ctx.envelope.id) })),
      rpc.handle(ReportManyCommand, ({ reports }, ctx) => ({
        answers: reports.map(r => answerItem(() => ({ known: this.scheduler.report(ctx.peer, r, ctx.envelope.id) })))
      })),
      rpc.handle(ReplicateCommand, async ({ term, records, pruned, cert }, ctx) => ({
        stored: await this.scheduler.replica.replicate(ctx.peer, term, records, pruned, cert, ctx.envelope.id)
      })),
      rpc.handle(RecordsCommand, ({ term, ...page }, ctx) => this.scheduler.replica.recordsFor(ctx.peer, term, page, ctx.envelope.id)),
      rpc.handle(ReplicaDigestCommand, ({ term, sums, salt, bucket }, ctx) =>
        this.scheduler.replica.digestAnswer(ctx.peer, term, sums, salt, bucket, ctx.envelope.id)),
      rpc.handle(UpdateCommand, ({ statuses }, ctx) => {
        // Only the coordinator this node follows speaks for the task table.
        if (ctx.peer !== this.init.office.leader) {
          this.safeDispatchEvent('rejected', { detail: { from: ctx.peer, message: 'task-update', reason: 'not-coordinator', correlationId: ctx.envelope.id } })
          throw new NotCoordinatorError(`${ctx.peer} is not the coordinator`)
        }
        for (const s of statuses) this.client.update(s)
        return null
      })
    ]
  }

  stop (): void {
    if (!this.started) return
    this.started = false
    this.init.office.removeEventListener('coordinator:change', this.coordinatorChanged)
    for (const u of this.unhandles.splice(0)) u()
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    this.client.stop()
    this.scheduler.stop()
    this.executor.stop()
  }

  /** The coordinator changed: take over if it is us; re-sync open handles either way. */
  private readonly coordinatorChanged = (e: CustomEvent<OfficeChange>): void => {
    // A leader this node's election accepted (its certificate checked): proof of who led that term (term-proofs.ts).
    this.proofs.follow(e.detail.term, e.detail.leader)
    this.scheduler.officeCheck()
    void this.client.resync()
  }

  /** Run tasks of one type here; this agent also bids for them when a coordinator asks (contract net). */
  /**
   * Run tasks of `type` here. Refused (SEC002) where this node's own grants do not cover the type:
   * the coordinator would never place such a task here, so the handler could only wait forever.
   */
  onTask (type: string, handler: TaskHandler): () => void {
    const { grants } = this.init
    const refusal = grants !== undefined ? runRefusal({ type }, grants.held(this.init.self), grants.closed) : undefined
    if (refusal !== undefined) {
      throw new ForbiddenError(`cannot handle tasks of type "${type}": ${refusal} (the mesh's owner grants it: agentmesh credential issue --capabilities ${taskGrant(type)})`)
    }
    const off = this.executor.onTask(type, handler)
    const offBids = this.init.negotiation.onCallForProposals(`task:${type}`, {
      propose: (cfp) => {
        const spec = TaskSpec.safeParse(cfp.task)
        return spec.success ? this.executor.bid(spec.data) : undefined
      },
      award: () => ({ ready: true })
    })
    return () => { off(); offBids() }
  }

  async submit (spec: TaskSpecInput, options?: { signal?: AbortSignal }): Promise<TaskHandle> {
    const [h] = await this.client.submit([spec], options)
    return h
  }

  async submitAll (specs: TaskSpecInput[], options?: { signal?: AbortSignal }): Promise<TaskHandle[]> { return await this.client.submit(specs, options) }

  private statusChanged (r: TaskRecord): void {
    // The topic is open to anyone who subscribes: it carries the state, not the result nor the
    // messages sent to the task, which go to the submitter (and whoever access.ts lets query the task).
    const { result: _result, messages: _messages, ...open } = r.status
    this.init.publish(`tasks.status.${r.spec.task_id}`, open)
    this.safeDispatchEvent('status', { detail: { status: r.status } })
    if (r.submitter === this.init.self) { this.client.update(r.status); return }
    // Coalesced per submitter: a burst of changes is one message, not one per change.
    const box = this.outbox.get(r.submitter) ?? []
    box.push(r.status)
    this.outbox.set(r.submitter, box)
    const chars = (this.outboxChars.get(r.submitter) ?? 0) + weight(r.status)
    this.outboxChars.set(r.submitter, chars)
    // At 1,000 statuses, or once they weigh a page (paging.ts: a status may carry 64 KiB of messages).
    if (box.length >= 1_000 || chars >= PAGE_CHARS) this.flush(r.submitter)
    else if (this.flushTimer === undefined) {
      this.flushTimer = setTimeout(() => { this.flushTimer = undefined; for (const to of [...this.outbox.keys()]) this.flush(to) }, UPDATE_BATCH_MS)
      this.flushTimer.unref?.()
    }
  }

  private flush (to: string): void {
    const statuses = this.outbox.get(to)
    this.outbox.delete(to)
    this.outboxChars.delete(to)
    if (statuses === undefined || statuses.length === 0) return
    // A few tries; beyond them the submitter's handles ask for themselves (TaskClient.poll).
    const send = async (page: TaskStatus[]): Promise<void> => {
      for (let attempt = 0, delay = 100; attempt < 3; attempt++, delay *= 4) {
        try { await this.init.rpc.request(to, UpdateCommand, { statuses: page }, { timeoutMs: this.init.requestTimeoutMs }); return } catch {}
        await new Promise(resolve => setTimeout(resolve, delay).unref?.())
      }
    }
    for (const page of pagesOf(statuses, 1_000)) void send(page)
  }
}
