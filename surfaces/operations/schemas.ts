/**
 * The operations a client that is not a libp2p node may run on the mesh through a node (the
 * gateway's REST, WebSocket, GraphQL and A2A bindings, and the MCP server), as zod schemas: one
 * place for what each operation takes and answers, from which the OpenAPI document, the GraphQL
 * argument types and the MCP tool input schemas are generated (z.toJSONSchema), so that what is
 * documented is what is validated.
 */
import { z } from 'zod'
import { TaskId, TaskSpec, TaskState, TaskStatus, TaskControlAnswer, ControlAction } from '../../protocols/task/schemas.js'
import { AllocateRequest, AllocateAnswer } from '../../protocols/resource/schemas.js'

export { TaskId, TaskSpec, TaskStatus, TaskControlAnswer, ControlAction, AllocateRequest, AllocateAnswer }

const Name = z.string().min(1).max(128)
/** A topic the application owns: names starting with "$" are agentmesh's own. */
// As gossip carries them (protocols/pubsub/topics.ts): a name it would refuse is bad input on every surface, not an internal error.
// An empty name stops at its first issue: it fails every rule after, and was told so three times.
export const TopicName = z.string().min(1, { abort: true }).max(200).regex(/^\S+$/, 'no whitespace in a topic name').regex(/^[^$]/, 'topic names starting with "$" are agentmesh\'s own')
/** A command the application owns: names starting with "$" are agentmesh's own. */
export const CommandName = z.string().min(1).max(256).regex(/^[^$]/, 'command names starting with "$" are agentmesh\'s own')
/** An agent named by its peer id or by the name in its card. */
export const AgentRef = z.string().min(1).max(128).describe('an agent\'s peer id, or its name')
export const Delivery = z.enum(['at-most-once', 'at-least-once', 'exactly-once'])

export const AgentQuery = z.strictObject({
  capability: Name.optional(),
  role: Name.optional(),
  name: Name.optional()
})
export type AgentQuery = z.infer<typeof AgentQuery>

/** An agent as clients see it: what its card says, with no connection details beyond its addresses. */
export const AgentSummary = z.strictObject({
  peerId: z.string(),
  name: z.string(),
  roles: z.array(z.string()),
  capabilities: z.array(z.string()),
  version: z.string(),
  addresses: z.array(z.string()),
  state: z.enum(['alive', 'suspect', 'offline', 'left', 'self']).optional(),
  joinedAt: z.number().optional()
})
export type AgentSummary = z.infer<typeof AgentSummary>

export const CoordinatorInfo = z.strictObject({
  term: z.number().int(),
  leader: z.string().optional(),
  leaderName: z.string().optional(),
  inOffice: z.boolean(),
  voters: z.array(z.string())
})
export type CoordinatorInfo = z.infer<typeof CoordinatorInfo>

export const PublishInput = z.strictObject({
  topic: TopicName,
  payload: z.unknown(),
  delivery: Delivery.optional(),
  /** With an at-least-once or exactly-once delivery: the agents that must acknowledge it (peer ids or names). */
  recipients: z.array(AgentRef).max(256).optional()
})
export type PublishInput = z.infer<typeof PublishInput>
export const PublishOutput = z.strictObject({ id: z.string(), topic: z.string(), timestamp: z.number().int().describe('ms since epoch') })
export type PublishOutput = z.infer<typeof PublishOutput>

export const RequestInput = z.strictObject({
  agent: AgentRef,
  command: CommandName,
  payload: z.unknown(),
  timeoutMs: z.number().int().min(1).max(300_000).optional(),
  delivery: Delivery.optional()
})
export type RequestInput = z.infer<typeof RequestInput>
export const RequestOutput = z.strictObject({ agent: z.string(), result: z.unknown() })
export type RequestOutput = z.infer<typeof RequestOutput>

/** A task as a client submits it: without a task_id, one is made up (a UUID) and answered. */
export const TaskInput = TaskSpec.extend({ task_id: TaskId.optional() })
export const SubmitInput = z.strictObject({
  /** One task, or a pipeline whose dependencies name each other's task_id. */
  tasks: z.array(TaskInput).min(1).max(1_000)
})
export type SubmitInput = z.input<typeof SubmitInput>
export const SubmitOutput = z.strictObject({
  task_ids: z.array(z.string()),
  /**
   * Those the coordinator held already (submission is idempotent by task_id; TaskHandle.duplicate):
   * the task held is unchanged, and a different spec given was not taken.
   */
  duplicates: z.array(z.string()).optional()
})
export type SubmitOutput = z.infer<typeof SubmitOutput>

export const ControlInput = z.strictObject({
  action: ControlAction,
  reason: z.string().max(1024).optional(),
  checkpoint: z.unknown().optional()
})
export type ControlInput = z.infer<typeof ControlInput>

/** More input to a task that is not over: its agent reads it from `ctx.messages` (docs/tasks.md). */
export const MessageInput = z.strictObject({
  /** The client's id for the message: sent again with the same id, the task takes it once. Made up when absent. */
  message_id: z.string().min(1).max(128).optional(),
  input: z.unknown()
})
export type MessageInput = z.infer<typeof MessageInput>
export const MessageOutput = z.strictObject({ task_id: z.string(), message_id: z.string(), status: TaskState.describe('the task\'s state as it took the message') })
export type MessageOutput = z.infer<typeof MessageOutput>

export const ReleaseInput = z.strictObject({
  task_id: z.string().min(1).max(128),
  resource_ids: z.array(z.string().max(256)).max(1_000).optional()
})
export type ReleaseInput = z.infer<typeof ReleaseInput>
export const ReleaseOutput = z.strictObject({ released: z.array(z.string()) })

/** One event of a topic as a client receives it (REST's recent events, WebSocket, GraphQL, MCP). */
export const TopicEvent = z.strictObject({
  topic: z.string(),
  id: z.string(),
  from: z.string(),
  fromName: z.string().optional(),
  timestamp: z.number().int().describe('ms since epoch, the publisher\'s clock'),
  payload: z.unknown()
})
export type TopicEvent = z.infer<typeof TopicEvent>

/** The error body every binding answers with: the spec's code (R-ERR), the class name, the message. */
export const ErrorBody = z.strictObject({
  error: z.strictObject({ code: z.string(), name: z.string(), message: z.string() })
})
export type ErrorBody = z.infer<typeof ErrorBody>
