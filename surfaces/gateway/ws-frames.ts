/**
 * The WebSocket's frames (docs/gateway.md): JSON text, one object per frame. A client frame names
 * its `op` and may carry an `id` of its choosing, echoed in the answer (a `result` or an `error`
 * frame), and a W3C `traceparent` its operation's trace continues. What else a frame holds is the
 * operation's input, checked by the operation's own schema (surfaces/operations/schemas.ts).
 *
 *   → { "op": "subscribe", "id": 1, "topic": "news" }        ← { "type": "result", "id": 1, "result": { "topic": "news" } }
 *                                                             ← { "type": "event", "event": { "topic": "news", "id", "from", "payload", ... } }
 *   → { "op": "subscribe", "id": 2, "task": "t1" }           ← result, then { "type": "task", "status": { "task_id": "t1", "status", ... } } until it ends
 *   → { "op": "unsubscribe", "id": 3, "topic": "news" }      ← { "type": "result", "id": 3, "result": { "topic": "news" } }
 *   → { "op": "publish", "id": 4, "topic": "news", "payload": {...} }            ← result: { id, topic, timestamp }
 *   → { "op": "request", "id": 5, "agent": "a2", "command": "echo", "payload": {...} }  ← result: { agent, result }
 *   → { "op": "submit", "id": 6, "tasks": [...] }  (or "task": {...})          ← result: { task_ids }
 *   → { "op": "ping", "id": 7 }                                               ← { "type": "pong", "id": 7 }
 *   a frame that is not JSON, or not a frame             ← { "type": "error", "id"?, "error": { "code": "MSG002" | "MSG001", ... } }
 */
import { z } from 'zod'
import { TaskId, TaskInput, TopicName, type ErrorBody, type TaskStatus, type TopicEvent } from '../operations/index.js'
import { WS_MAX_ID_CHARS } from './constants.js'

export const OPS = ['subscribe', 'unsubscribe', 'publish', 'request', 'submit', 'ping'] as const
export type Op = typeof OPS[number]

export const FrameId = z.union([z.string().max(WS_MAX_ID_CHARS), z.number()])
export type FrameId = z.infer<typeof FrameId>

/** What every client frame has; the rest is the operation's input. */
export const ClientFrame = z.looseObject({
  op: z.enum(OPS),
  id: FrameId.optional(),
  traceparent: z.string().max(256).optional()
})

/**
 * subscribe / unsubscribe: a topic or a task, one of the two. One object with both optional, not
 * a union of the two shapes: a union that matches neither answers only zod's "Invalid input",
 * where a client needs to hear which field it left out (or that it gave both).
 */
export const SubscriptionTarget = z.strictObject({ topic: TopicName.optional(), task: TaskId.optional() })
  .superRefine((t, ctx) => {
    if (t.topic === undefined && t.task === undefined) ctx.addIssue({ code: 'custom', message: 'needs a "topic" (a topic name) or a "task" (a task id)' })
    else if (t.topic !== undefined && t.task !== undefined) ctx.addIssue({ code: 'custom', message: 'takes a "topic" or a "task", not both' })
  })
  .transform((t): { topic: string } | { task: string } => t.topic !== undefined ? { topic: t.topic } : { task: t.task as string })
export type SubscriptionTarget = z.output<typeof SubscriptionTarget>

/** submit: a pipeline (`tasks`) or one `task`. */
export const SubmitFrame = z.union([
  z.strictObject({ tasks: z.array(z.unknown()) }),
  z.strictObject({ task: TaskInput })
])

export type ServerFrame =
  | { type: 'result', id?: FrameId, result: unknown }
  | { type: 'error', id?: FrameId, error: ErrorBody['error'] }
  | { type: 'event', event: TopicEvent }
  | { type: 'task', status: TaskStatus }
  | { type: 'pong', id?: FrameId }
