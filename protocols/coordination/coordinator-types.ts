/** What the coordinator's rounds work with: plans, their context, outcomes and reports. */
import type { AgentStatus, DirectiveAction } from './schemas.js'

export interface PlannedDirective { target: string, action: DirectiveAction, parameters: Record<string, unknown> }

export interface PlanContext {
  /** Status of every agent that answered (this node included). */
  statuses: AgentStatus[]
  /** Agents marked offline (did not answer a status request or a directive). */
  offline: string[]
  /** 1 for the first plan of a round; more after a resource conflict or a planning error. */
  attempt: number
  /** Directives refused for a resource conflict in the previous attempt. */
  conflicts: Array<PlannedDirective & { reason: string }>
  signal: AbortSignal
}

export type Planner = (ctx: PlanContext) => PlannedDirective[] | Promise<PlannedDirective[]>

export interface DirectiveOutcome {
  directiveId: string
  target: string
  action: DirectiveAction
  outcome: 'completed' | 'failed' | 'unavailable' | 'conflict' | 'rejected'
  attempts: number
  durationMs: number
  result?: unknown
  error?: { code: string, message: string }
}

export interface CoordinationReport {
  roundId: string
  term: number
  coordinator: string
  outcome: 'completed' | 'partial' | 'failed'
  startedAt: string
  durationMs: number
  agentsAsked: number
  agentsAnswered: number
  offline: string[]
  plans: number
  directives: DirectiveOutcome[]
  successRate: number
  error?: string
}

export interface ConsensusResult {
  roundId: string
  question: string
  /** Every agent asked answered, and all answers are equal. */
  agreed: boolean
  value?: unknown
  results: Record<string, unknown>
  /** Agents that did not answer (unreachable, no handler, or an error), with the reason. */
  missing: Record<string, string>
}
