/**
 * Between A2A and the mesh: task states (the table below, also in docs/gateway-graphql-a2a.md),
 * a mesh task's status as an A2A Task and its stream events, an A2A message as a mesh call,
 * and mesh errors as A2A errors with the spec's code kept in the error's metadata.
 *
 * | mesh      | A2A                       | why                                                         |
 * |-----------|---------------------------|-------------------------------------------------------------|
 * | submitted | TASK_STATE_SUBMITTED      | held by the coordinator, waiting for its dependencies or an agent |
 * | assigned  | TASK_STATE_WORKING        | an agent took it on                                         |
 * | running   | TASK_STATE_WORKING        |                                                             |
 * | paused    | TASK_STATE_INPUT_REQUIRED | waits for its submitter: a message to the task with {"action": "resume"} resumes it |
 * | completed | TASK_STATE_COMPLETED      | the result is the artifact "result"                         |
 * | failed    | TASK_STATE_FAILED         | the error's code and message in the status message         |
 * | cancelled | TASK_STATE_CANCELED       |                                                             |
 */
import { randomUUID } from 'node:crypto'
import { Role, TaskState, type Artifact, type Message, type Part, type StreamResponse, type Task } from '@a2a-js/sdk'
import {
  A2AError, RequestMalformedError, TaskNotCancelableError, TaskNotFoundError, UnsupportedOperationError
} from '@a2a-js/sdk/errors'
import { AgentMeshError } from '../../../protocols/core/errors.js'
import { ValidationError } from '../../../protocols/core/errors.js'
import { UnknownAgentError } from '../../operations/index.js'
import type { TaskMessage, TaskState as MeshState, TaskStatus } from '../../../protocols/task/schemas.js'

export const STATES: Record<MeshState, TaskState> = {
  submitted: TaskState.TASK_STATE_SUBMITTED,
  assigned: TaskState.TASK_STATE_WORKING,
  running: TaskState.TASK_STATE_WORKING,
  paused: TaskState.TASK_STATE_INPUT_REQUIRED,
  completed: TaskState.TASK_STATE_COMPLETED,
  failed: TaskState.TASK_STATE_FAILED,
  cancelled: TaskState.TASK_STATE_CANCELED
}

/** States after which a stream ends: the task is over, or waits for the client. */
export function ends (s: MeshState): boolean {
  return s === 'completed' || s === 'failed' || s === 'cancelled' || s === 'paused'
}

/** What the gateway keeps of a task sent through it (the mesh keeps the rest). */
export interface Remembered {
  taskId: string
  contextId: string
  /** Every mesh task the message submitted (a pipeline's), the A2A task being the last. */
  taskIds: string[]
  /** The message that started the task, when this gateway sent it. */
  message?: Message
  at: number
}

export function dataPart (value: unknown): Part {
  return { content: { $case: 'data', value }, metadata: undefined, filename: '', mediaType: 'application/json' }
}

function textPart (text: string): Part {
  return { content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' }
}

export function agentMessage (parts: Part[], ids: { taskId?: string, contextId?: string }, metadata?: Record<string, unknown>): Message {
  return { messageId: randomUUID(), contextId: ids.contextId ?? '', taskId: ids.taskId ?? '', role: Role.ROLE_AGENT, parts, metadata, extensions: [], referenceTaskIds: [] }
}

/** Why the task is where it is, for a person reading the status (failed: the error; paused: how to resume). */
function statusText (s: TaskStatus): string | undefined {
  if (s.status === 'failed') return `${s.error?.code ?? 'failed'}: ${s.error?.message ?? s.reason ?? ''}`
  if (s.status === 'paused') return `paused${s.reason !== undefined ? ` (${s.reason})` : ''}: send a message to this task with the data part {"action": "resume"} to resume it`
  return s.reason
}

function statusOf (s: TaskStatus, contextId: string): Task['status'] {
  const text = statusText(s)
  const message = text !== undefined ? agentMessage([textPart(text)], { taskId: s.task_id, contextId }) : undefined
  return { state: STATES[s.status], timestamp: s.timestamp, message }
}

function meshMetadata (s: TaskStatus, r?: Remembered): Record<string, unknown> {
  return {
    agentmesh: {
      status: s.status,
      progress: s.progress,
      attempt: s.attempt,
      ...(s.agent !== undefined ? { agent: s.agent } : {}),
      ...(Object.keys(s.metrics).length > 0 ? { metrics: s.metrics } : {}),
      ...(s.error !== undefined ? { error: s.error } : {}),
      ...(r !== undefined && r.taskIds.length > 1 ? { task_ids: r.taskIds } : {})
    }
  }
}

export function resultArtifact (s: TaskStatus): Artifact | undefined {
  if (s.status !== 'completed' || s.result === undefined) return undefined
  return { artifactId: 'result', name: 'result', description: 'what the task\'s handler returned', parts: [dataPart(s.result)], metadata: undefined, extensions: [] }
}

/**
 * A message the task holds (`$agentmesh/task/input`) as the user's A2A message: its text and data
 * back as parts (what `meshCall` made of them), any other input as a data part.
 */
function userMessage (m: TaskMessage, ids: { taskId: string, contextId: string }): Message {
  const v = m.input
  const shaped = typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).every(k => k === 'text' || k === 'data')
  const o = shaped ? v as MessageInputOf : undefined
  const parts = o === undefined
    ? [dataPart(v)]
    : [...(typeof o.text === 'string' ? [textPart(o.text)] : []), ...('data' in o ? [dataPart(o.data)] : [])]
  const { taskId, contextId } = ids
  return { messageId: m.message_id, contextId, taskId, role: Role.ROLE_USER, parts, metadata: undefined, extensions: [], referenceTaskIds: [] }
}

/**
 * A mesh task's status as an A2A Task; `r` adds what the gateway remembers (context, the message
 * that started it). Its history: that message (where this gateway sent it), then the messages the
 * task took since (the mesh holds them: any gateway shows them), the last `historyLength` of them.
 */
export function toTask (s: TaskStatus, r?: Remembered, historyLength?: number): Task {
  const contextId = r?.contextId ?? s.task_id
  const artifact = resultArtifact(s)
  const all = [...(r?.message !== undefined ? [r.message] : []), ...(s.messages ?? []).map(m => userMessage(m, { taskId: s.task_id, contextId }))]
  const history = historyLength === undefined ? all : historyLength === 0 ? [] : all.slice(-historyLength)
  const artifacts = artifact !== undefined ? [artifact] : []
  return { id: s.task_id, contextId, status: statusOf(s, contextId), artifacts, history, metadata: meshMetadata(s, r) }
}

/** The stream events of one status change: the result's artifact before the final status. */
export function toEvents (s: TaskStatus, r?: Remembered): StreamResponse[] {
  const contextId = r?.contextId ?? s.task_id
  const out: StreamResponse[] = []
  const artifact = resultArtifact(s)
  if (artifact !== undefined) out.push({ payload: { $case: 'artifactUpdate', value: { taskId: s.task_id, contextId, artifact, append: false, lastChunk: true, metadata: undefined } } })
  out.push({ payload: { $case: 'statusUpdate', value: { taskId: s.task_id, contextId, status: statusOf(s, contextId), metadata: meshMetadata(s, r) } } })
  return out
}

/** What a message asks of the mesh. */
export type MeshCall =
  | { kind: 'submit', tasks: unknown[] }
  | { kind: 'request', command: string, agent?: string, payload: unknown, timeoutMs?: unknown, delivery?: unknown }
  | { kind: 'control', action: 'pause' | 'resume' | 'cancel', reason?: unknown, checkpoint?: unknown }
  /** More input to an existing task (a follow-up text, say): the task's agent reads it from `ctx.messages`. */
  | { kind: 'input', input: MessageInputOf }

/** What a message to a task gives the task's agent (`ctx.messages`): its text parts joined, its (first) data part. */
export interface MessageInputOf { text?: string, data?: unknown }

/**
 * The mesh call a message carries in its (first) data part, or in a text part that is a JSON
 * object: {"type": ...} one task, {"tasks": [...]} a pipeline, {"command": ...} a command, and
 * for a message to an existing task {"action": "pause" | "resume" | "cancel"}; anything else to
 * an existing task is more input for it (its text and data, `ctx.messages`). With `textTask`, a new message
 * of plain text is one task of that type. The operations check the rest against their schemas.
 */
export function meshCall (message: Message, textTask?: string): MeshCall {
  const value = dataOf(message)
  const text = textOf(message)
  // Plain text, with a task type for it: a new task of that type, the text its input.
  if (value === undefined && textTask !== undefined && text !== undefined && message.taskId === '') {
    return { kind: 'submit', tasks: [{ type: textTask, metadata: { text } }] }
  }
  const object = typeof value === 'object' && value !== null && !Array.isArray(value)
  if (message.taskId !== '') {
    const v = object ? value as Record<string, unknown> : {}
    if (v.action === 'pause' || v.action === 'resume' || v.action === 'cancel') return { kind: 'control', action: v.action, reason: v.reason, checkpoint: v.checkpoint }
    if (v.action !== undefined) throw new ValidationError('a message to an existing task carries {"action": "pause" | "resume" | "cancel"}, or input for it')
    const data = message.parts.find(p => p.content?.$case === 'data')
    const input: MessageInputOf = {
      ...(text !== undefined ? { text } : {}),
      ...(data?.content?.$case === 'data' ? { data: data.content.value } : {})
    }
    if (input.text === undefined && !('data' in input)) throw new ValidationError('a message to an existing task needs a text or data part')
    return { kind: 'input', input }
  }
  if (!object) {
    throw new ValidationError('the message needs a data part (or a text part that is a JSON object): {"type": ..., "metadata": ...} for a task, {"tasks": [...]} for a pipeline, {"command": ..., "agent": ..., "payload": ...} for a command')
  }
  const v = value as Record<string, unknown>
  if (Array.isArray(v.tasks)) return { kind: 'submit', tasks: v.tasks }
  if (typeof v.command === 'string') {
    const { command, agent, payload, timeoutMs, delivery } = v
    return { kind: 'request', command, ...(typeof agent === 'string' ? { agent } : {}), payload, timeoutMs, delivery }
  }
  if (typeof v.type === 'string') return { kind: 'submit', tasks: [v] }
  throw new ValidationError('the data part names no "type" (a task), "tasks" (a pipeline) nor "command"')
}

/** The message's text parts, joined; undefined when it has none. */
function textOf (message: Message): string | undefined {
  const texts = message.parts.flatMap(p => p.content?.$case === 'text' ? [p.content.value] : [])
  return texts.length > 0 ? texts.join('\n') : undefined
}

function dataOf (message: Message): unknown {
  for (const p of message.parts) if (p.content?.$case === 'data') return p.content.value
  for (const p of message.parts) {
    if (p.content?.$case !== 'text') continue
    try { return JSON.parse(p.content.value) } catch { /* not JSON: try the next part */ }
  }
  return undefined
}

/**
 * A mesh error as the A2A error that fits: TSK001 TaskNotFound, TSK002 TaskNotCancelable (on a
 * cancel) or UnsupportedOperation, CMD001 (the agent serves no such command) UnsupportedOperation,
 * input errors and an agent this node does not know RequestMalformed (JSON-RPC -32602 invalid
 * params), anything else the generic A2A error (-32603)
 * with its message. The spec's code is in the error's metadata (`data[0].metadata.code` in
 * JSON-RPC, with `name`), so a client can tell a timeout from a refusal.
 */
export function toA2AError (err: unknown, during?: 'cancel'): Error {
  if (err instanceof A2AError) return err
  if (!(err instanceof AgentMeshError)) return new A2AError({ message: 'internal error (see the node\'s log)', metadata: { code: 'INTERNAL' } })
  const options = { message: err.message, metadata: { code: err.code, name: err.name } }
  // A command's "agent" that names no agent this node knows (COM002, UnknownAgentError) is a
  // wrong parameter of the client's message: invalid params (-32602; HTTP+JSON 400), which A2A
  // clients read as "fix the request" (the SDK's client throws RequestMalformedError). Not
  // TaskNotFound (-32001): A2A has no "agent not found", and -32001 tells a client the task id it
  // sent is unknown, while a command names no task. Not -32603: nothing failed inside the gateway.
  if (err instanceof UnknownAgentError) return new RequestMalformedError(options)
  switch (err.code) {
    case 'TSK001': return new TaskNotFoundError(options)
    case 'TSK002': return during === 'cancel' ? new TaskNotCancelableError(options) : new UnsupportedOperationError(options)
    // The agent reached serves no such command: what it does not support, asked of it by name
    // (-32004; HTTP+JSON 400), not a failure inside the gateway (it was -32603, 500, so a client
    // retried what can never succeed).
    case 'CMD001': return new UnsupportedOperationError(options)
    case 'MSG001': case 'MSG002': case 'TSK003': case 'TSK005': case 'CFG001': return new RequestMalformedError(options)
    default: return new A2AError(options)
  }
}
