/**
 * The submitter's side: `node.submitTask(spec)` returns a TaskHandle. Submission goes to the
 * coordinator in office and is retried, to whichever coordinator is in office, until one
 * acknowledges it: it is idempotent by task_id, so a retry after a lost acknowledgement never
 * runs the task twice. Status changes come from the coordinator (direct messages); when the
 * coordinator changes, every open handle asks the new one, and submits again if it must.
 */
import { randomUUID } from 'node:crypto'
import { AgentMeshError, TimeoutError, ValidationError } from '../core/errors.js'
import type { RpcService } from '../rpc/index.js'
import type { Office } from '../coordination/office.js'
import { ControlCommand, InputCommand, QueryCommand, QueryManyCommand, SubmitCommand, TaskSpec, TERMINAL, type SubmissionProof, type TaskControlAnswer, TaskInputRequest, type TaskSpecInput, type TaskStatus } from './schemas.js'
import { deadline } from '../core/deadline.js'

/** How long a question refused in a coordinator hand-over (CRD002) waits before it is asked again. */
const HANDOVER_RETRY_MS = 200

export interface TaskClientInit {
  self: string
  rpc: RpcService
  /** Where the coordinator in office is found (waiting for an election if need be). */
  office: Office
  /** This node's signature of a task it submits (submission.ts): the coordinator refuses unsigned ones. */
  sign: (spec: TaskSpec) => SubmissionProof
  /** Local calls when this node is the coordinator. */
  local: {
    submit: (specs: TaskSpec[], signed: SubmissionProof[]) => Promise<Array<{ task_id: string, duplicate: boolean }>>
    query: (taskId: string) => Promise<TaskStatus>
    queryMany: (taskIds: string[]) => Promise<TaskStatus[]>
    control: (c: { command_id: string, type: 'task.control.pause' | 'task.control.resume' | 'task.control.cancel', task_id: string, reason?: string, checkpoint?: unknown }) => Promise<TaskControlAnswer>
    input: (c: TaskInputRequest) => Promise<TaskControlAnswer>
  }
  submitTimeoutMs: number
}

/** A task's failure or cancellation, as `result()` rejects with it. */
export class TaskFailedError extends Error {
  constructor (readonly status: TaskStatus) {
    super(`task ${status.task_id} ${status.status}: ${status.error?.message ?? status.reason ?? ''}`)
    this.name = 'TaskFailedError'
  }

  get code (): string | undefined { return this.status.error?.code }
}

const POLL_EVERY_MS = 1_000
const QUIET_MS = 3_000

export class TaskHandle {
  readonly taskId: string
  /** The spec this handle was submitted with: the task's own, unless `duplicate`. */
  readonly spec: TaskSpec
  /**
   * The coordinator held a task of this `task_id` already when it was submitted (an earlier
   * submission, or this one's own attempt whose answer was lost): submission is idempotent by
   * task_id, so the task is the one held, and `spec`, if it differs, was not taken.
   */
  duplicate = false
  private last?: TaskStatus
  /** When this handle last heard of its task (an update or an answer). */
  heardAt = Date.now()
  private readonly queue: TaskStatus[] = []
  private readonly wakers = new Set<() => void>()
  private settled?: { status: TaskStatus }
  private readonly done: Promise<TaskStatus>
  private resolveDone!: (s: TaskStatus) => void

  constructor (spec: TaskSpec, private readonly client: TaskClient) {
    this.spec = spec
    this.taskId = spec.task_id
    this.done = new Promise(resolve => { this.resolveDone = resolve })
  }

  /** The latest status known here (no network); `status()` asks the coordinator. */
  get latest (): TaskStatus | undefined { return this.last }

  async status (): Promise<TaskStatus> {
    const s = await this.client.query(this.taskId)
    this.push(s)
    return s
  }

  /** Every status change from now until the task ends. */
  async * updates (): AsyncGenerator<TaskStatus> {
    let i = 0
    const seen = this.queue
    for (;;) {
      while (i < seen.length) yield seen[i++]
      if (this.settled !== undefined) return
      await new Promise<void>(resolve => { this.wakers.add(resolve) })
    }
  }

  /** The task's result once it completed; rejects with TaskFailedError if it failed or was cancelled. */
  async result (): Promise<unknown> {
    const s = await this.done
    if (s.status === 'completed') return s.result
    throw new TaskFailedError(s)
  }

  async pause (reason?: string): Promise<TaskControlAnswer> { return await this.client.control(this.taskId, 'task.control.pause', { ...(reason !== undefined ? { reason } : {}) }) }
  async resume (checkpoint?: unknown): Promise<TaskControlAnswer> { return await this.client.control(this.taskId, 'task.control.resume', { ...(checkpoint !== undefined ? { checkpoint } : {}) }) }
  async cancel (reason?: string): Promise<TaskControlAnswer> { return await this.client.control(this.taskId, 'task.control.cancel', { ...(reason !== undefined ? { reason } : {}) }) }

  /**
   * More input to the task while it is not over: its agent reads it from `ctx.messages`, and so
   * does every later attempt. `message_id` (made up when not given) makes a resend harmless.
   */
  async input (input: unknown, messageId?: string): Promise<TaskControlAnswer> {
    return await this.client.input(this.taskId, { input, ...(messageId !== undefined ? { message_id: messageId } : {}) })
  }

  /** A status from the coordinator: kept if newer than what we have. */
  push (s: TaskStatus): void {
    this.heardAt = Date.now()
    if (this.settled !== undefined) return
    const last = this.last
    if (last !== undefined && last.status === s.status && last.progress === s.progress && last.timestamp === s.timestamp) return
    if (last !== undefined && Date.parse(s.timestamp) < Date.parse(last.timestamp)) return
    this.last = s
    this.queue.push(s)
    if (TERMINAL.has(s.status)) { this.settled = { status: s }; this.resolveDone(s) }
    for (const w of this.wakers) w()
    this.wakers.clear()
  }

  get finished (): boolean { return this.settled !== undefined }
}

export class TaskClient {
  private readonly init: TaskClientInit
  readonly handles = new Map<string, TaskHandle>()

  private pollTimer?: ReturnType<typeof setInterval>
  private polling = false

  constructor (init: TaskClientInit) { this.init = init }

  /**
   * Updates are sent by the coordinator without a guarantee (a submitter busy or unreachable
   * for a moment loses them): a handle that heard nothing for a while asks for itself, so
   * `result()` settles even if the last update was lost.
   */
  start (): void {
    if (this.pollTimer !== undefined) return
    this.pollTimer = setInterval(() => { void this.poll() }, POLL_EVERY_MS)
    this.pollTimer.unref?.()
  }

  stop (): void {
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer)
    this.pollTimer = undefined
  }

  private async coordinator (signal: AbortSignal): Promise<string> { return await this.init.office.coordinator({ signal }) }

  private async poll (): Promise<void> {
    if (this.polling) return
    this.polling = true
    try {
      const quiet = Date.now() - QUIET_MS
      const asking: TaskHandle[] = []
      for (const h of [...this.handles.values()]) {
        if (h.finished) { this.handles.delete(h.taskId); continue }
        if (h.heardAt <= quiet) asking.push(h)
      }
      // One question for all of them; a task still queued is quiet for good reason.
      for (let i = 0; i < asking.length; i += 5_000) {
        const part = asking.slice(i, i + 5_000)
        try {
          const signal = AbortSignal.timeout(this.init.submitTimeoutMs)
          const coordinator = await this.coordinator(signal)
          const ids = part.map(h => h.taskId)
          const statuses = coordinator === this.init.self
            ? await this.init.local.queryMany(ids)
            : (await this.init.rpc.request(coordinator, QueryManyCommand, { task_ids: ids }, { signal })).statuses
          for (const s of statuses) this.handles.get(s.task_id)?.push(s)
        } catch { /* asked again next time */ }
        for (const h of part) h.heardAt = Date.now()
      }
    } finally { this.polling = false }
  }

  /** The tasks this node submitted and waits for, for the debug endpoint. */
  snapshot (limit: number): Array<{ task_id: string, status?: string, progress?: number, reason?: string, heard_ms_ago: number }> {
    const now = Date.now()
    return [...this.handles.values()].filter(h => !h.finished).slice(0, limit).map(h => ({
      task_id: h.taskId,
      ...(h.latest !== undefined ? { status: h.latest.status, progress: h.latest.progress } : {}),
      ...(h.latest?.reason !== undefined ? { reason: h.latest.reason } : {}),
      heard_ms_ago: now - h.heardAt
    }))
  }

  /** Submit tasks (a pipeline may refer to its own tasks in `dependencies`). */
  async submit (inputs: TaskSpecInput[], options: { signal?: AbortSignal } = {}): Promise<TaskHandle[]> {
    const specs = inputs.map((input, i) => {
      const parsed = TaskSpec.safeParse({ ...input, task_id: input.task_id ?? randomUUID() })
      if (!parsed.success) throw new ValidationError(`task ${i} (${String(input.task_id ?? 'no id')}): ${parsed.error.issues.map(x => `${x.path.join('.')}: ${x.message}`).join('; ')}`)
      return parsed.data
    })
    const handles = specs.map(s => this.handles.get(s.task_id) ?? new TaskHandle(s, this))
    for (const h of handles) this.handles.set(h.taskId, h)
    let accepted: Array<{ task_id: string, duplicate: boolean }>
    try {
      accepted = await this.send(specs, options.signal)
    } catch (err) {
      for (const h of handles) if (h.latest === undefined) this.handles.delete(h.taskId)
      throw err
    }
    const duplicates = new Set(accepted.filter(a => a.duplicate).map(a => a.task_id))
    for (const h of handles) h.duplicate = duplicates.has(h.taskId)
    return handles
  }

  /** The coordinator's answer for each task: held, and whether it held that task_id already. */
  private async send (specs: TaskSpec[], signal?: AbortSignal): Promise<Array<{ task_id: string, duplicate: boolean }>> {
    const limit = deadline(this.init.submitTimeoutMs, signal)
    // Signed once per submission, kept by the coordinator with each task's record.
    const signed = specs.map(s => this.init.sign(s))
    let last: unknown
    try {
      while (!limit.signal.aborted) {
        try {
          const coordinator = await this.coordinator(limit.signal)
          if (coordinator === this.init.self) return await this.init.local.submit(specs, signed)
          return (await this.init.rpc.request(coordinator, SubmitCommand, { tasks: specs, signed }, { signal: limit.signal })).accepted
        } catch (err) {
          last = err
          // A refusal for what the tasks are (validation, dependencies, deadline) is final.
          if (err instanceof AgentMeshError && (err.code === 'MSG001' || err.code === 'TSK003' || err.code === 'TSK005' || err.code === 'SEC004')) throw err
          await new Promise(resolve => setTimeout(resolve, 200))
        }
      }
    } finally {
      limit.clear()
    }
    if (signal?.aborted === true) throw signal.reason
    throw new TimeoutError(`no coordinator acknowledged the submission within ${this.init.submitTimeoutMs} ms (last: ${(last as Error)?.message ?? 'none'})`)
  }

  async query (taskId: string): Promise<TaskStatus> {
    return await this.atCoordinator(async (coordinator, signal) => coordinator === this.init.self
      ? await this.init.local.query(taskId)
      : await this.init.rpc.request(coordinator, QueryCommand, { task_id: taskId }, { signal }))
  }

  async control (taskId: string, type: 'task.control.pause' | 'task.control.resume' | 'task.control.cancel', extra: { reason?: string, checkpoint?: unknown }): Promise<TaskControlAnswer> {
    // One command id for every try: a coordinator that got it once answers a repeat as before.
    const c = { command_id: randomUUID(), type, task_id: taskId, ...extra }
    // The ack's status is the new state: the caller shows it at once rather than wait for the update.
    return await this.atCoordinator(async (coordinator, signal) => coordinator === this.init.self
      ? await this.init.local.control(c)
      : await this.init.rpc.request(coordinator, ControlCommand, c, { signal }))
  }

  /**
   * A message to a task (its submitter's, the coordinator's or a task operator's): acknowledged
   * with the task's state once a majority of the voters hold it, or rejected (TSK001, TSK002 for
   * a task over, TSK007, MSG002 past the caps). Asked again through a hand-over with the same
   * message id, which the task takes once.
   */
  async input (taskId: string, m: { message_id?: string, input: unknown }): Promise<TaskControlAnswer> {
    const c = { command_id: randomUUID(), task_id: taskId, message: { message_id: m.message_id ?? randomUUID(), input: m.input } }
    const parsed = TaskInputRequest.safeParse(c)
    if (!parsed.success) throw new ValidationError(`input to task ${taskId}: ${parsed.error.issues.map(x => `${x.path.join('.')}: ${x.message}`).join('; ')}`)
    return await this.atCoordinator(async (coordinator, signal) => coordinator === this.init.self
      ? await this.init.local.input(parsed.data)
      : await this.init.rpc.request(coordinator, InputCommand, parsed.data, { signal }))
  }

  /**
   * A question for the coordinator in office, asked again of whoever holds office while the one
   * asked refuses with CRD002: in a hand-over (an election, or a takeover still reading the
   * voters' records) the refusal means nothing was done, and the caller asked the mesh, not that
   * node. Any other answer or error is the caller's, as is the deadline's end.
   */
  private async atCoordinator<T> (ask: (coordinator: string, signal: AbortSignal) => Promise<T>): Promise<T> {
    const limit = deadline(this.init.submitTimeoutMs)
    const { signal } = limit
    try {
      for (;;) {
        // No coordinator in office until the deadline: said as COM001, not as the timer's
        // DOMException, which a gateway could only answer as an internal error.
        const coordinator = await this.coordinator(signal).catch((err: unknown) => {
          throw signal.aborted ? new TimeoutError(`no coordinator in office within ${this.init.submitTimeoutMs} ms to ask`, { cause: err }) : err
        })
        try {
          return await ask(coordinator, signal)
        } catch (err) {
          if (!(err instanceof AgentMeshError && err.code === 'CRD002') || signal.aborted) throw err
          await new Promise(resolve => setTimeout(resolve, HANDOVER_RETRY_MS))
        }
      }
    } finally {
      limit.clear()
    }
  }

  /** A status change sent by the coordinator. */
  update (s: TaskStatus): void { this.handles.get(s.task_id)?.push(s) }

  /** A new coordinator: bring every open handle up to date, and submit again what it lacks. */
  async resync (): Promise<void> {
    for (const h of this.handles.values()) {
      if (h.finished) { this.handles.delete(h.taskId); continue }
      try {
        await h.status()
      } catch (err) {
        if (err instanceof AgentMeshError && err.code === 'TSK001') await this.send([h.spec]).catch(() => {})
      }
    }
  }
}
