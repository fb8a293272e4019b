/**
 * The task protocol on one node (R-TASK): every node runs the executor (it takes tasks), a
 * replica of the task table with the scheduler (acting only while this node is the coordinator
 * in office), and the client behind `node.submitTask`. Status changes are published on
 * `tasks.status.<task_id>` for anyone watching, and sent straight to the task's submitter.
 */
import type { RpcService } from '../rpc/index.js'
import type { NegotiationService } from '../negotiation/index.js'
import { NotCoordinatorError } from '../../node/errors.js'
import { TaskExecutor, type TaskHandler } from './executor.js'
import { TaskScheduler, type SchedulerResources } from './scheduler.js'
import { TaskClient, type TaskHandle } from './handle.js'
import {
  ControlCommand, QueryCommand, RecordsCommand, ReplicateCommand, ReportCommand, SubmitCommand, UpdateCommand,
  TaskSpec, type Requirements, type TaskRecord, type TaskSpecInput, type TaskStatus
} from './schemas.js'

export * from './schemas.js'
export { TaskHandle, TaskFailedError } from './handle.js'
export { TaskStopped, type TaskContext, type TaskHandler } from './executor.js'
export { checkDependencies } from './lifecycle.js'

export interface TaskServiceInit {
  self: string
  rpc: RpcService
  resources: Requirements
  inOffice: () => boolean
  term: () => number
  leader: () => string | undefined
  admits: (term: number, from: string) => 'ok' | 'stale-term' | 'not-coordinator'
  voters: () => string[]
  agents: () => string[]
  coordinator: (signal: AbortSignal) => Promise<string>
  publish: (topic: string, status: TaskStatus) => void
  onRejected: (from: string, message: string, reason: string) => void
  onError: (err: Error) => void
  requestTimeoutMs: number
  resourceManager: SchedulerResources
  negotiation: NegotiationService
}

export class TaskService {
  readonly executor: TaskExecutor
  readonly scheduler: TaskScheduler
  readonly client: TaskClient
  private readonly init: TaskServiceInit
  private unhandles: Array<() => void> = []

  constructor (init: TaskServiceInit) {
    this.init = init
    this.executor = new TaskExecutor({
      self: init.self,
      rpc: init.rpc,
      resources: init.resources,
      admits: init.admits,
      currentLeader: init.leader,
      localReport: (from, report) => this.scheduler.report(from, report),
      onRejected: init.onRejected,
      onError: init.onError
    })
    this.scheduler = new TaskScheduler({
      self: init.self,
      rpc: init.rpc,
      executor: this.executor,
      inOffice: init.inOffice,
      term: init.term,
      admits: init.admits,
      voters: init.voters,
      agents: init.agents,
      onStatus: (r) => { this.statusChanged(r) },
      onRejected: init.onRejected,
      onError: init.onError,
      requestTimeoutMs: init.requestTimeoutMs,
      resources: init.resourceManager,
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
      coordinator: init.coordinator,
      local: {
        submit: async (specs) => await this.scheduler.submit(init.self, specs),
        query: async (id) => await this.scheduler.query(id),
        control: async (c) => await this.scheduler.control(init.self, c)
      },
      submitTimeoutMs: 30_000
    })
  }

  start (): void {
    const { rpc } = this.init
    this.executor.start()
    this.scheduler.start()
    this.unhandles = [
      rpc.handle(SubmitCommand, async ({ tasks }, ctx) => ({ accepted: await this.scheduler.submit(ctx.peer, tasks) })),
      rpc.handle(QueryCommand, async ({ task_id: id }) => await this.scheduler.query(id)),
      rpc.handle(ControlCommand, async (c, ctx) => await this.scheduler.control(ctx.peer, c)),
      rpc.handle(ReportCommand, (r, ctx) => ({ known: this.scheduler.report(ctx.peer, r) })),
      rpc.handle(ReplicateCommand, ({ term, records }, ctx) => ({ stored: this.scheduler.replicate(ctx.peer, term, records) })),
      rpc.handle(RecordsCommand, ({ term }, ctx) => ({ records: this.scheduler.recordsFor(ctx.peer, term) })),
      rpc.handle(UpdateCommand, (s, ctx) => {
        // Only the coordinator this node follows speaks for the task table.
        if (ctx.peer !== this.init.leader()) {
          this.init.onRejected(ctx.peer, 'task-update', 'not-coordinator')
          throw new NotCoordinatorError(`${ctx.peer} is not the coordinator`)
        }
        this.client.update(s)
        return null
      })
    ]
  }

  stop (): void {
    for (const u of this.unhandles.splice(0)) u()
    this.scheduler.stop()
    this.executor.shutdown()
  }

  /** The coordinator changed: take over if it is us; re-sync open handles either way. */
  coordinatorChanged (): void {
    this.scheduler.officeCheck()
    void this.client.resync()
  }

  /** Run tasks of one type here; this agent also bids for them when a coordinator asks (contract net). */
  onTask (type: string, handler: TaskHandler): () => void {
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
    this.init.publish(`tasks.status.${r.spec.task_id}`, r.status)
    if (r.submitter === this.init.self) { this.client.update(r.status); return }
    this.init.rpc.request(r.submitter, UpdateCommand, r.status, { timeoutMs: this.init.requestTimeoutMs }).catch(() => {})
  }
}
