/**
 * The coordination protocol's messages (R-COORD), with the field names of the specification's
 * message definitions (snake_case, as in its examples). Every message from the coordinator
 * carries its `term`: agents fence on it.
 */
import { z } from 'zod'
import { defineCommand } from '../rpc/index.js'

const Id = z.string().min(1).max(128)
const Term = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
/** ISO 8601, as the specification's examples write timestamps. */
const Timestamp = z.iso.datetime({ offset: true })
const Metrics = z.record(z.string().max(128), z.unknown())

export const DIRECTIVE_ACTIONS = ['assign_task', 'form_coalition', 'adjust_resources'] as const
export const DirectiveAction = z.enum(DIRECTIVE_ACTIONS)
export type DirectiveAction = z.infer<typeof DirectiveAction>

export const AgentStatusRequest = z.strictObject({
  request_id: Id,
  timestamp: Timestamp,
  target_agent: Id,
  term: Term
})
export type AgentStatusRequest = z.infer<typeof AgentStatusRequest>

export const AgentStatus = z.strictObject({
  request_id: Id,
  timestamp: Timestamp,
  agent: Id,
  name: z.string().max(64),
  /** What the agent reports of itself: "idle", "busy", ... (its status provider decides). */
  status: z.string().min(1).max(64),
  capabilities: z.array(z.string().max(128)).max(256),
  /** Free-form load, resources and metrics, from the agent's status provider. */
  metrics: Metrics,
  /** Directives accepted and not yet finished. */
  active_directives: z.array(Id).max(10_000)
})
export type AgentStatus = z.infer<typeof AgentStatus>

export const CoordinationDirective = z.strictObject({
  directive_id: Id,
  timestamp: Timestamp,
  target_agent: Id,
  action: DirectiveAction,
  parameters: z.record(z.string().max(256), z.unknown()),
  term: Term,
  /** Raised on each retry of the same directive; the agent runs a directive id once per attempt. */
  attempt: z.number().int().min(1).max(100).default(1)
})
export type CoordinationDirective = z.infer<typeof CoordinationDirective>

export const DirectiveAck = z.strictObject({
  directive_id: Id,
  accepted: z.literal(true),
  /** True when this directive id and attempt had already been accepted: nothing ran twice. */
  duplicate: z.boolean()
})

export const ProgressStatus = z.enum(['in_progress', 'completed', 'failed'])

export const ProgressUpdate = z.strictObject({
  event_id: Id,
  timestamp: Timestamp,
  source_agent: Id,
  directive_id: Id,
  attempt: z.number().int().min(1).max(100),
  status: ProgressStatus,
  metrics: Metrics,
  result: z.unknown().optional(),
  error: z.strictObject({ code: z.string().max(16), message: z.string().max(4096) }).optional()
})
export type ProgressUpdate = z.infer<typeof ProgressUpdate>

export const Rollback = z.strictObject({ directive_id: Id, attempt: z.number().int().min(1).max(100), term: Term })

export const ConsensusQuery = z.strictObject({
  round_id: Id,
  term: Term,
  question: z.string().min(1).max(256),
  input: z.unknown()
})

export const StatusCommand = defineCommand('$agentmesh/coord/status', { request: AgentStatusRequest, response: AgentStatus })
export const DirectiveCommand = defineCommand('$agentmesh/coord/directive', { request: CoordinationDirective, response: DirectiveAck })
export const ProgressCommand = defineCommand('$agentmesh/coord/progress', { request: ProgressUpdate, response: z.strictObject({ known: z.boolean() }) })
export const RollbackCommand = defineCommand('$agentmesh/coord/rollback', { request: Rollback, response: z.strictObject({ rolled_back: z.boolean() }) })
export const ConsensusCommand = defineCommand('$agentmesh/coord/consensus', { request: ConsensusQuery, response: z.strictObject({ result: z.unknown() }) })
