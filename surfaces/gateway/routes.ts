/**
 * The REST routes under /v1: one table, read both by the REST mount (rest.ts), which matches and
 * runs them, and by the OpenAPI generator (openapi.ts), which documents them from the same zod
 * schemas the operations validate with. A route added here is served and documented at once.
 *
 * Path parameters are `{name}` segments (URL-encoded: a topic with "/" is sent as %2F). Query
 * values arrive as strings: their schemas coerce. A body is JSON; where a route takes "any JSON"
 * (a topic event, a command's payload) the body is sent on as it is, an empty one as null.
 */
import { z } from 'zod'
import { errorFromWire } from '../../protocols/core/errors.js'
import { TaskState } from '../../protocols/task/schemas.js'
import {
  AgentQuery, AgentRef, AgentSummary, AllocateRequest, AllocateAnswer, CommandName, ControlInput, CoordinatorInfo, Delivery, MessageInput, MessageOutput,
  PublishOutput, ReleaseInput, ReleaseOutput, SubmitInput, SubmitOutput, TaskId, TaskInput, TaskStatus, TopicEvent, TopicName,
  type MeshOperations
} from '../operations/index.js'
import { DeadLetterPage, DeadLetterView, ReplayInput, ReplayOutput, deadLetter, listDeadLetters, replayDeadLetters } from '../operations/dead-letters.js'
import { UpgradeRequiredError } from './errors.js'

/** What a route's `run` gets: the operations, its parameters, its parsed query and its body. */
export interface RouteCall {
  ops: MeshOperations
  params: Record<string, string>
  query: Record<string, any>
  body: unknown
  /** Aborted when the client goes away before the answer. */
  signal: AbortSignal
  correlationId: string
  /** The OpenAPI document of this table (openapi.ts). */
  document: () => unknown
}

/** An answer other than 200 with the value as JSON: another status, extra headers. */
export class Reply {
  constructor (readonly status: number, readonly body: unknown, readonly headers: Record<string, string> = {}) {}
}

export interface Route {
  method: 'GET' | 'POST'
  path: string
  operationId: string
  summary: string
  tag: 'agents' | 'topics' | 'tasks' | 'resources' | 'dead letters' | 'gateway'
  params?: Record<string, z.ZodType>
  query?: z.ZodObject
  /** The body's schema ('any' for any JSON, passed on as it is); none: the route takes no body. */
  body?: z.ZodType | 'any'
  bodyRequired?: boolean
  /** The operation checks the body itself (against the schema documented here): for a union, whose own error would only say "invalid input". */
  bodyCheckedByRun?: boolean
  /** The success status (200 unless said). */
  status?: number
  response: z.ZodType | 'any'
  /** Error statuses this route answers besides 400 (bad input), 401/403 (refused) and 500. */
  errors: number[]
  run: (c: RouteCall) => unknown
}

const Limit = z.coerce.number().int().min(1).max(1_000).optional()
/**
 * Names in a query value, comma-separated. At most 1024 characters: the request line and headers
 * must fit the HTTP server's 16 KiB (Node's maxHeaderSize; beyond it Node answers 431 before the
 * gateway sees the request), and a character may take 9 bytes once percent-encoded.
 */
const CommaList = z.string().max(1_024).optional().describe('comma-separated')
/**
 * release's body with the wire's rules (protocols/resource/schemas.ts: a task id of letters, digits
 * and _ . : -, a resource id of at most 200 characters), which the signed request checks: an id
 * the wire refuses is a 400 here and not an internal error.
 */
const ReleaseBody = ReleaseInput.extend({ task_id: TaskId, resource_ids: z.array(z.string().max(200)).max(1_000).optional() })
const commaList = (v: string | undefined): string[] | undefined => v?.split(',').map(s => s.trim()).filter(s => s.length > 0)
const Flag = z.enum(['true', 'false', '1', '0']).optional()
const RecentEvents = z.strictObject({ events: z.array(TopicEvent), since: z.number().int().describe('events are kept from this time (ms since epoch)') })
const ControlBody = ControlInput.omit({ action: true })
const ControlOutput = z.strictObject({ task_id: z.string(), status: TaskState })
const Allocated = AllocateAnswer.options[0]

function control (action: 'pause' | 'resume' | 'cancel'): Route {
  return {
    method: 'POST',
    path: `/v1/tasks/{id}/${action}`,
    operationId: `${action}Task`,
    summary: `${action[0].toUpperCase()}${action.slice(1)} a task (the coordinator's ack: the state it is in now; a refusal is TSK001, TSK002 or TSK007)`,
    tag: 'tasks',
    params: { id: TaskId },
    body: ControlBody,
    response: ControlOutput,
    errors: [403, 404, 409, 502, 503, 504],
    run: async ({ ops, params, body }) => await ops.control(params.id, { ...(body as object ?? {}), action })
  }
}

export const ROUTES: Route[] = [
  {
    method: 'GET',
    path: '/v1/agents',
    operationId: 'listAgents',
    summary: 'The agents this node knows (itself included), filtered by capability, role and name',
    tag: 'agents',
    query: AgentQuery,
    response: z.strictObject({ agents: z.array(AgentSummary) }),
    errors: [],
    run: ({ ops, query }) => ({ agents: ops.agents(query) })
  },
  {
    method: 'GET',
    path: '/v1/agents/{ref}',
    operationId: 'getAgent',
    summary: 'One agent, by peer id or name',
    tag: 'agents',
    params: { ref: AgentRef },
    response: AgentSummary,
    errors: [404],
    run: ({ ops, params }) => ops.agent(params.ref)
  },
  {
    method: 'POST',
    path: '/v1/agents/{ref}/commands/{command}',
    operationId: 'callCommand',
    summary: 'Call a command on an agent: the body is its payload, the answer its result (the agent\'s peer id in x-agentmesh-agent)',
    tag: 'agents',
    params: { ref: AgentRef, command: CommandName },
    query: z.strictObject({ timeoutMs: z.coerce.number().int().min(1).max(300_000).optional(), delivery: Delivery.optional() }),
    body: 'any',
    response: 'any',
    errors: [404, 409, 422, 429, 502, 503, 504],
    run: async ({ ops, params, query, body, signal }) => {
      const out = await ops.request({ agent: params.ref, command: params.command, payload: body, ...query }, { signal })
      return new Reply(200, out.result ?? null, { 'x-agentmesh-agent': out.agent })
    }
  },
  {
    method: 'GET',
    path: '/v1/coordinator',
    operationId: 'getCoordinator',
    summary: 'Who coordinates the mesh, as this node sees it',
    tag: 'agents',
    response: CoordinatorInfo,
    errors: [],
    run: ({ ops }) => ops.coordinator()
  },
  {
    method: 'POST',
    path: '/v1/topics/{topic}/publish',
    operationId: 'publish',
    summary: 'Publish an event on a topic: the body is the event\'s payload; with delivery at-least-once or exactly-once, resolves once the recipients acknowledged it',
    tag: 'topics',
    params: { topic: TopicName },
    query: z.strictObject({ delivery: Delivery.optional(), recipients: CommaList.describe('agents (peer ids or names) that must acknowledge, comma-separated') }),
    body: 'any',
    response: PublishOutput,
    // 429: RATE001, a named recipient that has not acknowledged (rate-limited, or not subscribed yet) after the delivery's retries.
    errors: [404, 429, 502, 504],
    run: async ({ ops, params, query, body }) => await ops.publish({
      topic: params.topic,
      payload: body,
      ...(query.delivery !== undefined ? { delivery: query.delivery } : {}),
      ...(query.recipients !== undefined ? { recipients: commaList(query.recipients) } : {})
    })
  },
  {
    method: 'GET',
    path: '/v1/topics/{topic}/events',
    operationId: 'recentEvents',
    summary: 'A topic\'s last events, oldest first; the first ask starts keeping them (`since` says from when)',
    tag: 'topics',
    params: { topic: TopicName },
    query: z.strictObject({ limit: Limit }),
    response: RecentEvents,
    errors: [429],
    run: ({ ops, params, query }) => ops.recent(params.topic, query.limit)
  },
  {
    method: 'POST',
    path: '/v1/tasks',
    operationId: 'submitTasks',
    summary: 'Submit one task, or a pipeline ({"tasks": [...]} whose dependencies name each other\'s task_id); answers once the coordinator holds them on a majority',
    tag: 'tasks',
    body: z.union([SubmitInput, TaskInput]),
    bodyRequired: true,
    bodyCheckedByRun: true,
    status: 201,
    response: SubmitOutput,
    errors: [403, 409, 422, 502, 503, 504],
    run: async ({ ops, body, signal }) => {
      const input = typeof body === 'object' && body !== null && !Array.isArray(body) && 'tasks' in body ? body : { tasks: [body] }
      const out = await ops.submit(input, { signal })
      return new Reply(201, out, { location: `/v1/tasks/${encodeURIComponent(out.task_ids[0])}` })
    }
  },
  {
    method: 'GET',
    path: '/v1/tasks/{id}',
    operationId: 'getTask',
    summary: 'A task\'s status, with its result once completed',
    tag: 'tasks',
    params: { id: TaskId },
    response: TaskStatus,
    errors: [403, 404, 502, 503, 504],
    run: async ({ ops, params }) => await ops.task(params.id)
  },
  control('pause'),
  control('resume'),
  control('cancel'),
  {
    method: 'POST',
    path: '/v1/tasks/{id}/messages',
    operationId: 'sendTaskMessage',
    summary: 'More input to a task that is not over: its agent reads it (ctx.messages), as does any later attempt; the same message_id again is taken once. A refusal is TSK001, TSK002 (the task is over), TSK007 or MSG002 (past 32 messages or 64 KiB)',
    tag: 'tasks',
    params: { id: TaskId },
    body: MessageInput,
    bodyRequired: true,
    response: MessageOutput,
    errors: [400, 403, 404, 409, 502, 503, 504],
    run: async ({ ops, params, body }) => await ops.input(params.id, body)
  },
  {
    method: 'POST',
    path: '/v1/resources/allocate',
    operationId: 'allocate',
    summary: 'resource.allocate: units on one agent or any that has them free; a denial is CRD003 (409)',
    tag: 'resources',
    body: AllocateRequest,
    bodyRequired: true,
    response: Allocated,
    // 404: an agent named that this node does not see (COM002).
    errors: [404, 409, 502, 503, 504],
    run: async ({ ops, body, signal }) => {
      const answer = await ops.allocate(body, { signal })
      if (answer.type === 'resource.denied') throw errorFromWire({ code: answer.code, message: answer.reason })
      return answer
    }
  },
  {
    method: 'POST',
    path: '/v1/resources/release',
    operationId: 'release',
    summary: 'resource.release: some of a task\'s units, or all of them',
    tag: 'resources',
    body: ReleaseBody,
    bodyRequired: true,
    response: ReleaseOutput,
    errors: [502, 503, 504],
    run: async ({ ops, body, signal }) => await ops.release(body, { signal })
  },
  {
    method: 'GET',
    path: '/v1/dead-letters',
    operationId: 'listDeadLetters',
    summary: 'Messages reliable delivery gave up on, oldest first, a page at a time (docs/dead-letters.md)',
    tag: 'dead letters',
    query: z.strictObject({
      limit: Limit,
      after: z.string().max(128).optional(),
      reason: DeadLetterView.shape.reason.optional(),
      peer: z.string().max(128).optional(),
      newest: Flag
    }),
    response: DeadLetterPage,
    errors: [],
    run: ({ ops, query }) => listDeadLetters(ops.deadLetters, { ...query, ...(query.newest !== undefined ? { newest: query.newest === 'true' || query.newest === '1' } : {}) })
  },
  {
    method: 'GET',
    path: '/v1/dead-letters/{id}',
    operationId: 'getDeadLetter',
    summary: 'One dead letter, with its envelope, last error and attempts',
    tag: 'dead letters',
    params: { id: z.string().min(1).max(128) },
    response: DeadLetterView,
    errors: [404],
    run: ({ ops, params }) => deadLetter(ops.deadLetters, params.id)
  },
  {
    method: 'POST',
    path: '/v1/dead-letters/replay',
    operationId: 'replayDeadLetters',
    summary: 'Send dead letters again under their original message ids; each id answers resent, failed, unknown or busy',
    tag: 'dead letters',
    body: ReplayInput,
    bodyRequired: true,
    response: ReplayOutput,
    errors: [],
    run: async ({ ops, body }) => await replayDeadLetters(ops.deadLetters, body)
  },
  {
    method: 'GET',
    path: '/v1/ws',
    operationId: 'webSocket',
    summary: 'The WebSocket (Upgrade: websocket): JSON frames to subscribe to topics and tasks, publish, request and submit (docs/gateway.md); without the upgrade, 426',
    tag: 'gateway',
    status: 101,
    response: 'any',
    errors: [426, 503],
    run: () => { throw new UpgradeRequiredError() }
  },
  {
    method: 'GET',
    path: '/v1/openapi.json',
    operationId: 'openapi',
    summary: 'This document: OpenAPI 3.1, generated from this route table and the zod schemas the operations validate with',
    tag: 'gateway',
    response: z.record(z.string(), z.unknown()),
    errors: [],
    run: ({ document }) => document()
  }
]
