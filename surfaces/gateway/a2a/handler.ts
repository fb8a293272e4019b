/**
 * The A2A methods on MeshOperations: the SDK's transports (JSON-RPC, HTTP+JSON) parse and
 * answer, this does what each method means on the mesh.
 *
 * Why not the SDK's DefaultRequestHandler: it runs an AgentExecutor in this process and keeps
 * tasks in its own TaskStore. A mesh task lives on the coordinator (replicated, surviving this
 * gateway's restart, visible to REST and GraphQL clients too), so GetTask, CancelTask and
 * SubscribeToTask ask the mesh, and the A2A task id is the mesh task id. What only A2A has (a
 * task's contextId and the message that started it) is kept here, for the last `remember`
 * tasks; a task it forgot keeps its id as its contextId.
 */
import type { A2ARequestHandler, ServerCallContext } from '@a2a-js/sdk/server'
import {
  Role, TaskState, type AgentCard, type CancelTaskRequest, type GetTaskRequest, type ListTasksRequest, type ListTasksResponse,
  type Message, type SendMessageRequest, type StreamResponse, type SubscribeToTaskRequest, type Task
} from '@a2a-js/sdk'
import {
  A2AError, ExtendedAgentCardNotConfiguredError, PushNotificationNotSupportedError, RequestMalformedError, UnsupportedOperationError
} from '@a2a-js/sdk/errors'
import type { Logger } from 'pino'
import { randomUUID } from 'node:crypto'
import type { MeshOperations } from '../../operations/index.js'
import { AgentMeshError, ValidationError } from '../../../protocols/core/errors.js'
import type { TaskStatus } from '../../../protocols/task/schemas.js'
import { deadline } from '../../../protocols/core/deadline.js'
import { untilAborted } from '../endable.js'
import { agentMessage, dataPart, ends, meshCall, STATES, toA2AError, toEvents, toTask, type MeshCall, type Remembered } from './mapping.js'

/** The key under which a call's AbortSignal travels in ServerCallContext.state (fires when the client goes). */
export const SIGNAL = 'agentmesh.signal'

export interface HandlerInit {
  ops: MeshOperations
  log: Logger
  card: () => AgentCard
  blockingWaitMs: number
  remember: number
  /** The task type a plain-text message becomes (A2aOptions.textTask). */
  textTask?: string
}

const PAGE_SIZE = 50

export class MeshA2AHandler implements A2ARequestHandler {
  private readonly remembered = new Map<string, Remembered>()

  constructor (private readonly init: HandlerInit) {}

  private get ops (): MeshOperations { return this.init.ops }

  async getAgentCard (): Promise<AgentCard> { return this.init.card() }

  async getAuthenticatedExtendedAgentCard (): Promise<AgentCard> {
    throw new ExtendedAgentCardNotConfiguredError('this gateway has no extended card: the public one says everything')
  }

  async sendMessage (params: SendMessageRequest, context: ServerCallContext): Promise<Message | Task> {
    const signal = signalOf(context)
    const { message, call } = this.read(params)
    try {
      if (call.kind === 'request') return await this.command(message, call, signal)
      const r = call.kind === 'submit' ? await this.submit(message, call, signal) : call.kind === 'input' ? await this.input(message, call) : await this.control(message, call)
      let status = await this.ops.task(r.taskId)
      if (params.configuration?.returnImmediately !== true && !ends(status.status)) {
        // Blocking: until the task ends or waits for the client, the client goes, or the bound.
        // deadline(), not AbortSignal.any with AbortSignal.timeout: on Node 20 a garbage
        // collection can take the timeout signal, and the call then waited for the task's end.
        const bound = deadline(this.init.blockingWaitMs, signal)
        try {
          for await (const s of untilAborted(this.ops.taskUpdates(r.taskId, { signal: bound.signal }), bound.signal)) {
            status = s
            if (ends(s.status)) break
          }
        } finally { bound.clear() }
      }
      return toTask(status, r, params.configuration?.historyLength)
    } catch (err) {
      throw this.fail(err, call.kind === 'control' && call.action === 'cancel' ? 'cancel' : undefined)
    }
  }

  async * sendMessageStream (params: SendMessageRequest, context: ServerCallContext): AsyncGenerator<StreamResponse> {
    const signal = signalOf(context)
    const { message, call } = this.read(params)
    let r: Remembered
    try {
      if (call.kind === 'request') {
        yield { payload: { $case: 'message', value: await this.command(message, call, signal) } }
        return
      }
      r = call.kind === 'submit' ? await this.submit(message, call, signal) : call.kind === 'input' ? await this.input(message, call) : await this.control(message, call)
    } catch (err) {
      throw this.fail(err)
    }
    yield * this.follow(r, signal)
  }

  async getTask (params: GetTaskRequest): Promise<Task> {
    const id = taskIdOf(params.id)
    historyLengthOf(params.historyLength)
    try {
      return toTask(await this.ops.task(id), this.remembered.get(id), params.historyLength)
    } catch (err) { throw this.fail(err) }
  }

  async cancelTask (params: CancelTaskRequest): Promise<Task> {
    const id = taskIdOf(params.id)
    try {
      const now = await this.ops.task(id)
      if (now.status === 'cancelled') return toTask(now, this.remembered.get(id))
      const ack = await this.ops.control(id, { action: 'cancel', reason: 'cancelled by an A2A client' })
      // A query may answer the state before an end the voters do not all hold yet: the ack is the coordinator's word.
      const after = await this.ops.task(id)
      return toTask(after.status === ack.status ? after : { ...after, status: ack.status }, this.remembered.get(id))
    } catch (err) { throw this.fail(err, 'cancel') }
  }

  async * resubscribe (params: SubscribeToTaskRequest, context: ServerCallContext): AsyncGenerator<StreamResponse> {
    const id = taskIdOf(params.id)
    let r: Remembered | undefined
    try {
      const now = await this.ops.task(id)
      if (now.status === 'completed' || now.status === 'failed' || now.status === 'cancelled') {
        throw new UnsupportedOperationError(`task ${id} is ${now.status}: there is nothing left to follow (GetTask has its outcome)`)
      }
      r = this.remembered.get(id)
    } catch (err) { throw this.fail(err) }
    yield * this.follow(r ?? { taskId: id, contextId: id, taskIds: [id], at: 0 }, signalOf(context), r === undefined)
  }

  /**
   * ListTasks: the tasks sent through this gateway that it remembers (newest status first),
   * each asked of the coordinator, filtered by context, state and time.
   */
  async listTasks (params: ListTasksRequest): Promise<ListTasksResponse> {
    const pageSize = params.pageSize ?? PAGE_SIZE
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) throw new RequestMalformedError('pageSize must be between 1 and 100')
    // Date.parse takes "-1" for a year: a time is only one that starts as an ISO 8601 date-time does.
    const given = params.statusTimestampAfter
    const after = given !== undefined && given !== '' ? (/^\d{4}-\d{2}-\d{2}T/.test(given) ? Date.parse(given) : Number.NaN) : undefined
    if (after !== undefined && Number.isNaN(after)) throw new RequestMalformedError('statusTimestampAfter must be an ISO 8601 time')
    // The codec reads a state it does not know as UNRECOGNIZED (-1): a filter that can match nothing is the caller's mistake.
    if (params.status < 0 || TaskState[params.status] === undefined) throw new RequestMalformedError('status must be one of the TASK_STATE_ values')
    historyLengthOf(params.historyLength)
    const offset = params.pageToken !== '' ? Number(params.pageToken) : 0
    if (!Number.isInteger(offset) || offset < 0) throw new RequestMalformedError('pageToken is not one this gateway gave')
    const candidates = [...this.remembered.values()].filter(r => params.contextId === '' || r.contextId === params.contextId)
    const statuses = await this.statuses(candidates.map(r => r.taskId))
    const tasks = statuses
      .filter(s => params.status === TaskState.TASK_STATE_UNSPECIFIED || STATES[s.status] === params.status)
      .filter(s => after === undefined || Date.parse(s.timestamp) > after)
      .sort((a, b) => b.timestamp.localeCompare(a.timestamp) || b.task_id.localeCompare(a.task_id))
    const page = tasks.slice(offset, offset + pageSize).map(s => {
      const t = toTask(s, this.remembered.get(s.task_id), params.historyLength)
      return params.includeArtifacts === true ? t : { ...t, artifacts: [] }
    })
    // pageSize: the tasks this page holds (what the TCK reads it as; at most the size asked for).
    return { tasks: page, nextPageToken: offset + pageSize < tasks.length ? String(offset + pageSize) : '', pageSize: page.length, totalSize: tasks.length }
  }

  async createTaskPushNotificationConfig (): Promise<never> { throw pushRefused() }
  async getTaskPushNotificationConfig (): Promise<never> { throw pushRefused() }
  async listTaskPushNotificationConfigs (): Promise<never> { throw pushRefused() }
  async deleteTaskPushNotificationConfig (): Promise<never> { throw pushRefused() }

  /** The task now, then its changes until it ends or waits for the client (or the client goes). */
  private async * follow (r: Remembered, signal: AbortSignal, forgotten = false): AsyncGenerator<StreamResponse> {
    let first = true
    try {
      for await (const s of untilAborted(this.ops.taskUpdates(r.taskId, { signal }), signal)) {
        if (first) {
          first = false
          yield { payload: { $case: 'task', value: toTask(s, forgotten ? undefined : r) } }
          if (ends(s.status)) return
          continue
        }
        yield * toEvents(s, forgotten ? undefined : r)
        if (ends(s.status)) return
      }
    } catch (err) { throw this.fail(err) }
  }

  private read (params: SendMessageRequest): { message: Message, call: MeshCall } {
    const message = params.message
    if (message === undefined || message.messageId === '') throw new RequestMalformedError('a message with a messageId is required')
    // role is REQUIRED (A2A 1.0, Message): the codec reads a missing or unknown one as UNSPECIFIED (0) or UNRECOGNIZED (-1).
    if (message.role !== Role.ROLE_USER && message.role !== Role.ROLE_AGENT) throw new RequestMalformedError('a message needs its role: ROLE_USER')
    try {
      return { message, call: meshCall(message, this.init.textTask) }
    } catch (err) { throw this.fail(err) }
  }

  private async submit (message: Message, call: Extract<MeshCall, { kind: 'submit' }>, signal: AbortSignal): Promise<Remembered> {
    const { task_ids: ids } = await this.ops.submit({ tasks: call.tasks }, { signal })
    const taskId = ids[ids.length - 1]
    const r: Remembered = { taskId, contextId: message.contextId !== '' ? message.contextId : randomUUID(), taskIds: ids, message: { ...message, taskId }, at: Date.now() }
    this.keep(r)
    return r
  }

  private async control (message: Message, call: Extract<MeshCall, { kind: 'control' }>): Promise<Remembered> {
    const id = message.taskId
    await this.ops.control(id, {
      action: call.action,
      ...(call.reason !== undefined ? { reason: call.reason } : {}),
      ...(call.checkpoint !== undefined ? { checkpoint: call.checkpoint } : {})
    })
    return this.remembered.get(id) ?? { taskId: id, contextId: message.contextId !== '' ? message.contextId : id, taskIds: [id], message, at: Date.now() }
  }

  /**
   * More input to an existing task (A2A 1.0 3.3.3: "Agents MAY accept additional messages for
   * tasks in non-terminal states"): the mesh keeps it with the task, and the task's agent reads it
   * (`ctx.messages`), as does any later attempt. Its messageId is the mesh message's id, so a
   * resend is taken once. Unknown task: TaskNotFound (-32001); a task over: UnsupportedOperation
   * (-32004, 3.1.1).
   */
  private async input (message: Message, call: Extract<MeshCall, { kind: 'input' }>): Promise<Remembered> {
    const id = message.taskId
    await this.ops.input(id, { message_id: message.messageId, input: call.input })
    // Not remembered here (another gateway started it): the task's history is what the mesh holds.
    return this.remembered.get(id) ?? { taskId: id, contextId: message.contextId !== '' ? message.contextId : id, taskIds: [id], at: Date.now() }
  }

  /** A command's answer as an agent message; without an agent, any that names the command among its capabilities. */
  private async command (message: Message, call: Extract<MeshCall, { kind: 'request' }>, signal: AbortSignal): Promise<Message> {
    const agent = call.agent ?? this.ops.agents({ capability: `command:${call.command}` }).find(a => a.state !== 'suspect')?.name
    if (agent === undefined) throw this.fail(new ValidationError(`no "agent" given, and no agent offers "command:${call.command}" among its capabilities`))
    try {
      const { agent: to, result } = await this.ops.request({
        agent,
        command: call.command,
        payload: call.payload,
        ...(call.timeoutMs !== undefined ? { timeoutMs: call.timeoutMs } : {}),
        ...(call.delivery !== undefined ? { delivery: call.delivery } : {})
      }, { signal })
      return agentMessage([dataPart(result)], { contextId: message.contextId }, { agentmesh: { agent: to, command: call.command } })
    } catch (err) { throw this.fail(err) }
  }

  /** The A2A error for a failure; one that is not the mesh's nor A2A's is a bug or a broken part: logged, its message not shown. */
  private fail (err: unknown, during?: 'cancel'): Error {
    if (!(err instanceof AgentMeshError) && !(err instanceof A2AError)) this.init.log.error({ err }, 'a2a call failed')
    return toA2AError(err, during)
  }

  private keep (r: Remembered): void {
    this.remembered.delete(r.taskId)
    this.remembered.set(r.taskId, r)
    while (this.remembered.size > this.init.remember) this.remembered.delete(this.remembered.keys().next().value as string)
  }

  /** The statuses of these tasks, a few questions at a time; a task the coordinator no longer knows is left out. */
  private async statuses (ids: string[]): Promise<TaskStatus[]> {
    const out: TaskStatus[] = []
    for (let i = 0; i < ids.length; i += 16) {
      const part = await Promise.all(ids.slice(i, i + 16).map(async id => await this.ops.task(id).catch((err: unknown) => {
        if (err instanceof AgentMeshError && err.code === 'TSK001') return undefined
        throw this.fail(err)
      })))
      for (const s of part) if (s !== undefined) out.push(s)
    }
    return out
  }
}

function signalOf (context: ServerCallContext): AbortSignal {
  const s = context.state.get(SIGNAL)
  return s instanceof AbortSignal ? s : new AbortController().signal
}

function taskIdOf (id: string): string {
  if (id.trim() === '') throw new RequestMalformedError('a task id is required')
  return id
}

/** historyLength, when given, is a count: 0 or more. */
function historyLengthOf (n: number | undefined): void {
  if (n !== undefined && (!Number.isInteger(n) || n < 0)) throw new RequestMalformedError('historyLength must be 0 or more')
}

function pushRefused (): Error {
  return new PushNotificationNotSupportedError('this gateway sends no push notifications: follow a task with SubscribeToTask, or ask with GetTask')
}
