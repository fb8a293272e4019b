/**
 * The agent's side of the task protocol: it runs the tasks the coordinator hands it, within the
 * resources it advertises, and reports back. Each (task, attempt) runs at most once here; a
 * handler sees an AbortSignal that fires on pause, cancel or a missed deadline, can save a
 * checkpoint, and reports progress. The end of an attempt is reported to whichever coordinator
 * is in office, again and again until one acknowledges it: a coordinator that dies mid-task does
 * not lose the result.
 */
import type { RpcService } from '../rpc/index.js'
import type { Office } from '../coordination/office.js'
import { AgentMeshError, CannotRunTaskError, ConfigError, ConnectionError, HandlerError, NotCoordinatorError, StaleTermError } from '../core/errors.js'
import type { ResourceItem } from '../resource/schemas.js'
import type { TaskEvents } from './events.js'
import { BatchCall, answerItem } from './batch-call.js'
import {
  DeliverCommand, HeldCommand, ReportCommand, ReportManyCommand, RunCommand, RunManyCommand, StopCommand,
  type Requirements, type TaskMessage, type TaskReport, type TaskSpec
} from './schemas.js'

export interface TaskContext {
  readonly taskId: string
  readonly attempt: number
  readonly task: TaskSpec
  /** Results of the tasks this one depends on, by task id. */
  readonly inputs: Record<string, unknown>
  /** Where a resumed task starts from: the checkpoint saved before its pause, or given on resume. */
  readonly checkpoint: unknown
  /** The units the resource manager allocated to this attempt (cores, GPUs, memory, storage). */
  readonly resources: ResourceItem[]
  /** Fires on pause, cancel, a missed deadline, or the node stopping; `signal.reason` says which. */
  readonly signal: AbortSignal
  /** Report progress (0..1) and metrics; best effort, published on tasks.status.<task_id>. */
  progress: (fraction: number, metrics?: Record<string, unknown>) => void
  /** Save where to resume from; sent with the next progress report, and kept across a pause. */
  saveCheckpoint: (checkpoint: unknown) => void
  /**
   * The messages sent to the task since its submission (`$agentmesh/task/input`): those it held
   * when this attempt started first, then each one as it comes, each once; the iteration ends
   * when the attempt does (the handler returned or threw, or `signal` fired). Each loop over it
   * starts from the first message. A handler that never reads it is unaffected.
   */
  readonly messages: AsyncIterable<TaskMessage>
}

export type TaskHandler = (ctx: TaskContext) => unknown

export class TaskStopped extends Error {
  constructor (readonly why: 'pause' | 'cancel' | 'deadline' | 'stopping') { super(`task stopped: ${why}`); this.name = 'TaskStopped' }
}

interface Attempt {
  spec: TaskSpec
  attempt: number
  state: 'running' | 'completed' | 'failed' | 'paused' | 'cancelled'
  progress: number
  controller: AbortController
  checkpoint?: unknown
  result?: unknown
  error?: { code: string, message: string }
  /** The final report was acknowledged by a coordinator. */
  delivered: boolean
  /** The task's messages this attempt holds, in order, each once (by message_id). */
  inbox: TaskMessage[]
  /** Readers of `ctx.messages` waiting for the next message or the end. */
  waiting: Set<() => void>
  /** The handler returned or threw: `ctx.messages` ends. */
  over: boolean
}

export interface ExecutorInit {
  self: string
  rpc: RpcService
  resources: Requirements
  /** Fences the coordinator's commands; reports go to its leader. */
  office: Office
  /** Reports for the coordinator on this node go straight to it. */
  localReport: (from: string, report: TaskReport) => boolean
  /** Where 'rejected' and 'error' are reported (the TaskService). */
  events: TaskEvents
}

/** Finished attempts kept for a new coordinator's questions, oldest dropped first. */
const KEEP_FINISHED = 10_000
const REPORT_TIMEOUT_MS = 2_000

export class TaskExecutor {
  private readonly init: ExecutorInit
  private readonly handlers = new Map<string, TaskHandler>()
  private readonly attempts = new Map<string, Attempt>()
  private unhandles: Array<() => void> = []
  private running = false
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  /**
   * Progress reports not sent yet, the latest of each task: they leave on the next turn of the
   * event loop, and the attempt's end drops its own. A task that ends within the turn it started
   * in (a no-op, a cached answer) costs the coordinator one report instead of two, and a handler
   * calling progress() in a loop sends one report a turn, not one a call.
   */
  private readonly unsent = new Map<string, TaskReport>()
  private flushing?: ReturnType<typeof setImmediate>
  /** Reports to the coordinator, those of one turn in one request (batch-call.ts). */
  private readonly reports = new BatchCall<TaskReport, { known: boolean }>({
    many: async (peer, reports) => (await this.init.rpc.request(peer, ReportManyCommand, { reports }, { timeoutMs: REPORT_TIMEOUT_MS })).answers,
    one: async (peer, report) => await this.init.rpc.request(peer, ReportCommand, report, { timeoutMs: REPORT_TIMEOUT_MS })
  })

  constructor (init: ExecutorInit) { this.init = init }

  onTask (type: string, handler: TaskHandler): () => void {
    if (this.handlers.has(type)) throw new ConfigError(`a handler for task type "${type}" is already registered`)
    this.handlers.set(type, handler)
    return () => { if (this.handlers.get(type) === handler) this.handlers.delete(type) }
  }

  start (): void {
    if (this.running) return
    this.running = true
    const { rpc } = this.init
    this.unhandles = [
      rpc.handle(RunCommand, (req, ctx) => {
        this.fence(req.term, ctx.peer, 'task-run', ctx.envelope.id)
        return this.accept(req.spec, req.attempt, req.checkpoint, req.inputs, req.resources, req.messages)
      }),
      rpc.handle(RunManyCommand, (req, ctx) => {
        this.fence(req.term, ctx.peer, 'task-run', ctx.envelope.id)
        return { answers: req.runs.map(r => answerItem(() => this.accept(r.spec, r.attempt, r.checkpoint, r.inputs, r.resources, r.messages))) }
      }),
      rpc.handle(StopCommand, (req, ctx) => {
        this.fence(req.term, ctx.peer, 'task-stop', ctx.envelope.id)
        return { stopped: this.stopAttempt(req.task_id, req.attempt, req.why) }
      }),
      rpc.handle(DeliverCommand, (req, ctx) => {
        this.fence(req.term, ctx.peer, 'task-deliver', ctx.envelope.id)
        return { delivered: this.deliver(req.task_id, req.attempt, req.messages) }
      }),
      rpc.handle(HeldCommand, (req, ctx) => {
        this.fence(req.term, ctx.peer, 'task-held', ctx.envelope.id)
        return { tasks: this.held(req.task_ids) }
      })
    ]
  }

  /** Stop a running attempt (pause, cancel, deadline); false if this agent does not run that attempt. */
  stopAttempt (taskId: string, attempt: number, why: 'pause' | 'cancel' | 'deadline'): boolean {
    const a = this.attempts.get(taskId)
    if (a === undefined || a.attempt !== attempt || a.state !== 'running') return false
    a.controller.abort(new TaskStopped(why))
    return true
  }

  /**
   * Messages for a running attempt (the coordinator's deliver, or its own call): each one the
   * attempt does not hold yet is added to its inbox, in order. False if this agent does not run that attempt.
   */
  deliver (taskId: string, attempt: number, messages: readonly TaskMessage[]): boolean {
    const a = this.attempts.get(taskId)
    if (a === undefined || a.attempt !== attempt || a.state !== 'running') return false
    take(a, messages)
    return true
  }

  /** Unregister the handlers and stop every attempt running here (their ends are not reported). */
  stop (): void {
    if (!this.running) return
    this.running = false
    for (const u of this.unhandles.splice(0)) u()
    for (const a of this.attempts.values()) if (a.state === 'running') a.controller.abort(new TaskStopped('stopping'))
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    if (this.flushing !== undefined) clearImmediate(this.flushing)
    this.flushing = undefined
    this.unsent.clear()
    this.reports.stop(new ConnectionError('the node is stopping'))
  }

  /** What this agent holds, for a coordinator that took office. */
  held (ids?: string[]): Array<{ task_id: string, attempt: number, state: Attempt['state'], progress: number, result?: unknown, error?: { code: string, message: string }, checkpoint?: unknown }> {
    const asked = ids !== undefined ? new Set(ids) : undefined
    return [...this.attempts.values()].filter(a => asked === undefined || asked.has(a.spec.task_id)).map(a => ({
      task_id: a.spec.task_id,
      attempt: a.attempt,
      state: a.state,
      progress: a.progress,
      ...(a.result !== undefined ? { result: a.result } : {}),
      ...(a.error !== undefined ? { error: a.error } : {}),
      ...(a.checkpoint !== undefined ? { checkpoint: a.checkpoint } : {})
    }))
  }

  /** The attempts this agent holds, for the debug endpoint (running first). */
  snapshot (limit: number): Array<{ task_id: string, type: string, attempt: number, state: Attempt['state'], progress: number, delivered: boolean }> {
    return [...this.attempts.values()]
      .sort((a, b) => Number(b.state === 'running') - Number(a.state === 'running'))
      .slice(0, limit)
      .map(a => ({ task_id: a.spec.task_id, type: a.spec.type, attempt: a.attempt, state: a.state, progress: a.progress, delivered: a.delivered }))
  }

  /** Resources taken by the attempts running now. */
  inUse (): Required<Requirements> {
    const sum = { cpu_cores: 0, memory_gb: 0, storage_gb: 0, gpu_units: 0 }
    for (const a of this.attempts.values()) {
      if (a.state !== 'running') continue
      sum.cpu_cores += a.spec.requirements.cpu_cores
      sum.memory_gb += a.spec.requirements.memory_gb
      sum.storage_gb += a.spec.requirements.storage_gb
      sum.gpu_units += a.spec.requirements.gpu_units ?? 0
    }
    return sum
  }

  private fence (term: number, from: string, message: string, correlationId: string): void {
    if (from === this.init.self) return
    const v = this.init.office.fencing(term, from)
    if (v === 'ok') return
    this.init.events.safeDispatchEvent('rejected', { detail: { from, message, reason: v, correlationId } })
    if (v === 'stale-term') throw new StaleTermError(`term ${term} is no longer current: ${from} is not the coordinator`)
    throw new NotCoordinatorError(`${from} is not the coordinator this agent follows`)
  }

  /** Take a task (the coordinator's run command, or the local coordinator's call). */
  accept (
    spec: TaskSpec, attempt: number, checkpoint: unknown, inputs: Record<string, unknown>, resources: ResourceItem[] = [], messages: readonly TaskMessage[] = []
  ): { accepted: true, duplicate: boolean } | { accepted: false, holds: number } {
    const known = this.attempts.get(spec.task_id)
    // An older attempt than one this agent took: the coordinator offering it has not seen the
    // later offer (it took office since). Saying "yes, a duplicate" would leave it waiting for
    // reports of an attempt nobody runs; it is told the number to go past instead.
    if (known !== undefined && known.attempt > attempt) return { accepted: false, holds: known.attempt }
    if (known !== undefined && known.attempt === attempt) {
      // The same offer again (its acknowledgement was lost): if that attempt already ended, its
      // end is told again, since the coordinator evidently does not have it.
      if (known.state !== 'running') setImmediate(() => { void this.sendEnd(known) })
      else take(known, messages)
      return { accepted: true, duplicate: true }
    }
    const handler = this.handlers.get(spec.type)
    if (handler === undefined) throw new CannotRunTaskError(`no handler for task type "${spec.type}" on this agent`)
    const free = this.free()
    const r = spec.requirements
    if (r.cpu_cores > free.cpu_cores || r.memory_gb > free.memory_gb || r.storage_gb > free.storage_gb || (r.gpu_units ?? 0) > (free.gpu_units ?? 0)) {
      throw new CannotRunTaskError(`not enough free resources for task ${spec.task_id} (needs ${JSON.stringify(r)}, free ${JSON.stringify(free)})`)
    }
    if (known?.state === 'running') known.controller.abort(new TaskStopped('cancel'))
    const a: Attempt = {
      spec, attempt, state: 'running', progress: 0, controller: new AbortController(), delivered: false, inbox: [], waiting: new Set(), over: false, ...(checkpoint !== undefined ? { checkpoint } : {})
    }
    take(a, messages)
    a.controller.signal.addEventListener('abort', () => { wake(a) }, { once: true })
    this.attempts.set(spec.task_id, a)
    this.forgetOld()
    // After the acknowledgement: the coordinator learns of the start from the first report.
    setImmediate(() => { void this.run(a, handler, checkpoint, inputs, resources) })
    return { accepted: true, duplicate: false }
  }

  /**
   * This agent's bid for a task in a contract net: undefined if it cannot take it now, else how
   * busy it is (the coordinator's default scoring prefers fewer running tasks, then more cores).
   */
  bid (spec: TaskSpec): { running: number, free_cores: number } | undefined {
    if (!this.handlers.has(spec.type)) return undefined
    const free = this.free()
    const r = spec.requirements
    const fits = r.cpu_cores <= free.cpu_cores && r.memory_gb <= free.memory_gb && r.storage_gb <= free.storage_gb &&
      (r.gpu_units ?? 0) <= (free.gpu_units ?? 0)
    if (!fits) return undefined
    return { running: [...this.attempts.values()].filter(a => a.state === 'running').length, free_cores: free.cpu_cores }
  }

  private free (): Requirements {
    const used = this.inUse()
    const all = this.init.resources
    return {
      cpu_cores: all.cpu_cores - used.cpu_cores,
      memory_gb: all.memory_gb - used.memory_gb,
      storage_gb: all.storage_gb - used.storage_gb,
      gpu_units: (all.gpu_units ?? 0) - used.gpu_units
    }
  }

  private async run (a: Attempt, handler: TaskHandler, checkpoint: unknown, inputs: Record<string, unknown>, resources: ResourceItem[]): Promise<void> {
    const report = (extra: Partial<TaskReport> = {}): void => {
      // An attempt stopped and replaced by a later one of the same task says nothing more (its
      // unsent report would take the place of the later attempt's, keyed by task).
      if (this.attempts.get(a.spec.task_id) !== a) return
      this.progressReport({ task_id: a.spec.task_id, attempt: a.attempt, status: 'running', progress: a.progress, metrics: {}, ...(a.checkpoint !== undefined ? { checkpoint: a.checkpoint } : {}), ...extra })
    }
    report()
    const ctx: TaskContext = {
      taskId: a.spec.task_id,
      attempt: a.attempt,
      task: a.spec,
      inputs,
      checkpoint,
      resources,
      signal: a.controller.signal,
      progress: (fraction, metrics) => {
        if (a.state !== 'running') return
        a.progress = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0))
        report({ metrics: metrics ?? {} })
      },
      saveCheckpoint: (c) => { a.checkpoint = c },
      messages: { [Symbol.asyncIterator]: () => inboxOf(a) }
    }
    try {
      const result = await handler(ctx)
      if (a.controller.signal.aborted) throw a.controller.signal.reason
      a.state = 'completed'
      a.progress = 1
      a.result = result
    } catch (err) {
      const stopped = a.controller.signal.aborted ? a.controller.signal.reason : err
      if (stopped instanceof TaskStopped) {
        a.state = stopped.why === 'pause' ? 'paused' : 'cancelled'
        if (stopped.why === 'stopping') return // this node stops: the coordinator will see it gone
      } else {
        a.state = 'failed'
        const e = err instanceof AgentMeshError ? err : new HandlerError(err instanceof Error ? err.message : String(err))
        a.error = { code: e.code, message: e.message.slice(0, 4096) }
      }
    } finally {
      a.over = true
      wake(a)
      // Nobody reads them once the handler is done; finished attempts are kept (10,000 of them),
      // and their messages with them would be up to 64 KiB each.
      a.inbox = []
    }
    await this.sendEnd(a)
  }

  private progressReport (report: TaskReport): void {
    this.unsent.set(report.task_id, report)
    this.flushing ??= setImmediate(() => {
      this.flushing = undefined
      const due = [...this.unsent.values()]
      this.unsent.clear()
      for (const r of due) void this.send(r, false)
    })
  }

  private async sendEnd (a: Attempt): Promise<void> {
    if (a.state === 'running') return
    // The end says all a progress report not sent yet would have.
    if (this.unsent.get(a.spec.task_id)?.attempt === a.attempt) this.unsent.delete(a.spec.task_id)
    await this.send({
      task_id: a.spec.task_id,
      attempt: a.attempt,
      status: a.state,
      progress: a.progress,
      metrics: {},
      ...(a.checkpoint !== undefined ? { checkpoint: a.checkpoint } : {}),
      ...(a.result !== undefined ? { result: a.result } : {}),
      ...(a.error !== undefined ? { error: a.error } : {})
    }, true)
  }

  /**
   * Report to the coordinator in office. A progress report is sent once; the end of an attempt
   * is sent until a coordinator acknowledges it (backing off to 2 s), so that a coordinator
   * dying mid-task, or none being in office for a while, does not lose it.
   */
  private async send (report: TaskReport, final: boolean): Promise<void> {
    let delay = 100
    while (this.running) {
      const leader = this.init.office.leader
      if (leader !== undefined) {
        try {
          if (leader === this.init.self) {
            if (this.init.localReport(this.init.self, report) || !final) break
          } else {
            const { known } = await this.reports.call(leader, report)
            if (known || !final) break
          }
        } catch (err) {
          if (!final) return
          // The coordinator gave the task to another agent (this one was thought lost): the
          // attempt's end is no longer anyone's to take, and retrying would never succeed.
          if (err instanceof AgentMeshError && err.code === 'TSK004') break
          if (!(err instanceof AgentMeshError)) this.init.events.safeDispatchEvent('error', { detail: { error: err as Error } })
        }
      } else if (!final) return
      await new Promise<void>(resolve => { const t = setTimeout(() => { this.timers.delete(t); resolve() }, delay); this.timers.add(t) })
      delay = Math.min(2_000, delay * 2)
    }
    const a = this.attempts.get(report.task_id)
    if (final && a !== undefined && a.attempt === report.attempt) a.delivered = true
  }

  private forgetOld (): void {
    if (this.attempts.size <= KEEP_FINISHED) return
    for (const [id, a] of this.attempts) {
      if (this.attempts.size <= KEEP_FINISHED) break
      if (a.state !== 'running' && a.delivered) this.attempts.delete(id)
    }
  }
}

/** Add the messages `a` does not hold yet (by message_id), in order, and wake its readers. */
function take (a: Attempt, messages: readonly TaskMessage[]): void {
  let added = false
  for (const m of messages) {
    if (a.inbox.some(x => x.message_id === m.message_id)) continue
    a.inbox.push(m)
    added = true
  }
  if (added) wake(a)
}

function wake (a: Attempt): void {
  for (const w of a.waiting) w()
  a.waiting.clear()
}

/** One reader of an attempt's inbox: every message from the first, then each new one, until the attempt ends or is stopped. */
async function * inboxOf (a: Attempt): AsyncGenerator<TaskMessage> {
  let i = 0
  for (;;) {
    while (i < a.inbox.length) yield a.inbox[i++]
    if (a.over || a.controller.signal.aborted) return
    await new Promise<void>(resolve => { a.waiting.add(resolve) })
  }
}
