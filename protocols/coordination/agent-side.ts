/**
 * The managed agent's side of coordination: it answers the coordinator's status requests, takes
 * directives (fenced by term, acknowledged, run once per attempt), reports progress and
 * completion to the coordinator that issued them, rolls back on request, and answers consensus
 * queries. Every message from a coordinator passes the fence first: an older term is refused
 * with CRD001, a sender that is not the coordinator this agent follows with CRD002.
 */
import { randomUUID } from 'node:crypto'
import type { z } from 'zod'
import type { RpcService } from '../rpc/index.js'
import { AgentMeshError, ConfigError, ConnectionError, DirectiveFailedError, NoDirectiveHandlerError, NotCoordinatorError, StaleTermError } from '../core/errors.js'
import {
  ConsensusCommand, DirectiveCommand, ProgressCommand, RollbackCommand, StatusCommand,
  type AgentStatus, type CoordinationDirective, type DirectiveAction, type ProgressUpdate
} from './schemas.js'

export interface DirectiveContext {
  readonly directiveId: string
  readonly attempt: number
  /** The coordinator that issued it, and its term. */
  readonly from: string
  readonly term: number
  /** Fires when the node stops. */
  readonly signal: AbortSignal
  /** Report progress (0..1) and metrics to the coordinator; best effort. */
  progress: (fraction: number, metrics?: Record<string, unknown>) => void
}

export type DirectiveRun = (parameters: Record<string, unknown>, ctx: DirectiveContext) => unknown
export interface DirectiveHandler {
  /**
   * Runs before the directive is acknowledged. Throw ResourceConflictError (CRD003) to refuse
   * for want of resources: the coordinator re-plans. Anything else thrown refuses too.
   */
  accept?: (parameters: Record<string, unknown>, ctx: DirectiveContext) => void | Promise<void>
  /** Runs after the acknowledgement; its result completes the directive, its throw fails it. */
  run: DirectiveRun
  /** Undo what a failed attempt left behind, when the coordinator asks before retrying. */
  rollback?: (parameters: Record<string, unknown>, ctx: DirectiveContext) => void | Promise<void>
}

export type StatusProvider = () => { status: string, metrics?: Record<string, unknown> } | Promise<{ status: string, metrics?: Record<string, unknown> }>
export type ConsensusHandler = (input: unknown, ctx: { from: string, term: number, roundId: string }) => unknown

export interface AgentSideInit {
  self: { peerId: string, name: string, capabilities: string[] }
  rpc: RpcService
  /** The fence: the election's verdict on a coordinator's term. */
  admits: (term: number, from: string) => 'ok' | 'stale-term' | 'not-coordinator'
  currentTerm: () => number
  /** Where progress goes when the issuing coordinator is gone: the current one. */
  currentLeader: () => string | undefined
  /** A refusal, with the refused request's envelope id (its correlation id) for the audit trail. */
  onRejected: (from: string, message: string, reason: string, correlationId?: string) => void
  onDirective?: (action: string, outcome: 'ack' | 'reject' | 'completed' | 'failed') => void
  onError?: (err: Error) => void
  progressTimeoutMs: number
}

interface Accepted {
  directive: CoordinationDirective
  from: string
  done: boolean
  controller: AbortController
  /** Where this directive's progress goes: an RPC to the coordinator, or the local coordinator. */
  deliver: (update: ProgressUpdate) => Promise<void>
}

/** Directives remembered for de-duplication, oldest dropped first. */
const REMEMBER = 10_000

export class AgentSide {
  private readonly init: AgentSideInit
  private readonly handlers = new Map<string, DirectiveHandler>()
  private readonly consensus = new Map<string, ConsensusHandler>()
  private readonly accepted = new Map<string, Accepted>()
  private status: StatusProvider = () => ({ status: this.active().length > 0 ? 'busy' : 'idle' })
  private unhandles: Array<() => void> = []
  /** Fires when the node stops: every running directive's signal follows it. */
  private stopping = new AbortController()
  private running = false

  constructor (init: AgentSideInit) { this.init = init }

  onDirective (action: DirectiveAction, handler: DirectiveHandler | DirectiveRun): () => void {
    if (this.handlers.has(action)) throw new ConfigError(`a handler for directive "${action}" is already registered`)
    const h = typeof handler === 'function' ? { run: handler } : handler
    this.handlers.set(action, h)
    return () => { if (this.handlers.get(action) === h) this.handlers.delete(action) }
  }

  onConsensus (question: string, handler: ConsensusHandler): () => void {
    this.consensus.set(question, handler)
    return () => { if (this.consensus.get(question) === handler) this.consensus.delete(question) }
  }

  onStatusRequest (provider: StatusProvider): void { this.status = provider }

  active (): string[] { return [...this.accepted.values()].filter(a => !a.done).map(a => a.directive.directive_id) }

  start (): void {
    if (this.running) return
    this.running = true
    if (this.stopping.signal.aborted) this.stopping = new AbortController()
    const { rpc } = this.init
    this.unhandles = [
      rpc.handle(StatusCommand, async (req, ctx) => {
        this.fence(req.term, ctx.peer, 'status', ctx.envelope.id)
        return await this.statusReport(req.request_id)
      }),
      rpc.handle(DirectiveCommand, async (d, ctx) => await this.take(d, ctx.peer, ctx.envelope.id)),
      rpc.handle(RollbackCommand, async (r, ctx) => {
        this.fence(r.term, ctx.peer, 'rollback', ctx.envelope.id)
        return { rolled_back: await this.rollback(r.directive_id, r.attempt) }
      }),
      rpc.handle(ConsensusCommand, async (q, ctx) => {
        this.fence(q.term, ctx.peer, 'consensus', ctx.envelope.id)
        return { result: await this.answerConsensus(q.question, q.input, { from: ctx.peer, term: q.term, roundId: q.round_id }) }
      })
    ]
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    for (const u of this.unhandles.splice(0)) u()
    this.stopping.abort()
  }

  private fence (term: number, from: string, message: string, correlationId?: string): void {
    const verdict = this.init.admits(term, from)
    if (verdict === 'ok') return
    this.init.onRejected(from, message, verdict, correlationId)
    if (verdict === 'stale-term') throw new StaleTermError(`term ${term} is older than term ${this.init.currentTerm()}: ${from} is no longer the coordinator`)
    throw new NotCoordinatorError(`${from} is not the coordinator of term ${term} as this agent knows it (it follows ${this.init.currentLeader() ?? 'nobody'} in term ${this.init.currentTerm()})`)
  }

  /** Fence, then accept: a directive from a coordinator over the network. */
  private async take (d: CoordinationDirective, from: string, correlationId?: string): Promise<z.input<typeof DirectiveCommand.response>> {
    this.fence(d.term, from, 'directive', correlationId)
    if (d.target_agent !== this.init.self.peerId) {
      this.init.onRejected(from, 'directive', 'wrong-target', correlationId)
      throw new AgentMeshError('MSG001', `directive ${d.directive_id} is for ${d.target_agent}, not this agent`)
    }
    return await this.accept(d, from, async (update) => { await this.report(d, from, update) })
  }

  /** A directive the coordinator gives itself: no network, no fence (it is the coordinator). */
  async takeLocal (d: CoordinationDirective, deliver: (p: ProgressUpdate) => void): Promise<z.input<typeof DirectiveCommand.response>> {
    return await this.accept(d, this.init.self.peerId, async (update) => { deliver(update) })
  }

  /** De-duplicate, run the handler's accept step, acknowledge; then run in the background. */
  private async accept (d: CoordinationDirective, from: string, deliver: Accepted['deliver']): Promise<z.input<typeof DirectiveCommand.response>> {
    const k = key(d.directive_id, d.attempt)
    if (this.accepted.has(k)) return { directive_id: d.directive_id, accepted: true, duplicate: true }
    const h = this.handlers.get(d.action)
    if (h === undefined) {
      this.init.onDirective?.(d.action, 'reject')
      throw new NoDirectiveHandlerError(d.action)
    }
    const entry: Accepted = { directive: d, from, done: false, controller: new AbortController(), deliver }
    try {
      await h.accept?.(d.parameters, this.context(entry))
    } catch (err) {
      this.init.onDirective?.(d.action, 'reject')
      throw err
    }
    this.accepted.set(k, entry)
    if (this.accepted.size > REMEMBER) this.accepted.delete(this.accepted.keys().next().value as string)
    this.init.onDirective?.(d.action, 'ack')
    // The answer (the ack) goes out before the work starts.
    setImmediate(() => { void this.run(entry, h) })
    return { directive_id: d.directive_id, accepted: true, duplicate: false }
  }

  private async run (a: Accepted, h: DirectiveHandler): Promise<void> {
    const started = performance.now()
    const took = (): Record<string, unknown> => ({ duration_ms: Math.round(performance.now() - started) })
    try {
      const result = await h.run(a.directive.parameters, this.context(a))
      a.done = true
      this.init.onDirective?.(a.directive.action, 'completed')
      await a.deliver(this.update(a, 'completed', took(), { result }))
    } catch (err) {
      a.done = true
      this.init.onDirective?.(a.directive.action, 'failed')
      const e = err instanceof AgentMeshError ? err : new DirectiveFailedError((err as Error)?.message ?? String(err), { cause: err })
      await a.deliver(this.update(a, 'failed', took(), { error: { code: e.code, message: e.message.slice(0, 4096) } }))
    }
  }

  private update (a: Accepted, status: ProgressUpdate['status'], metrics: Record<string, unknown>, extra: Partial<ProgressUpdate> = {}): ProgressUpdate {
    return {
      event_id: randomUUID(),
      timestamp: new Date().toISOString(),
      source_agent: this.init.self.peerId,
      directive_id: a.directive.directive_id,
      attempt: a.directive.attempt,
      status,
      metrics,
      ...extra
    }
  }

  private context (a: Accepted): DirectiveContext {
    return {
      directiveId: a.directive.directive_id,
      attempt: a.directive.attempt,
      from: a.from,
      term: a.directive.term,
      signal: AbortSignal.any([this.stopping.signal, a.controller.signal]),
      progress: (fraction, metrics = {}) => {
        const pct = Math.round(Math.min(1, Math.max(0, fraction)) * 100)
        void a.deliver(this.update(a, 'in_progress', { completion_percentage: pct, ...metrics }))
      }
    }
  }

  /** To the coordinator that issued the directive; if it is gone, to whoever leads now. */
  private async report (d: CoordinationDirective, from: string, update: ProgressUpdate): Promise<void> {
    const targets = [from, this.init.currentLeader()].filter((p, i, xs): p is string => p !== undefined && p !== this.init.self.peerId && xs.indexOf(p) === i)
    for (const to of targets) {
      try {
        const r = await this.init.rpc.request(to, ProgressCommand, update, { timeoutMs: this.init.progressTimeoutMs })
        if (r.known) return
      } catch (err) {
        if (update.status !== 'in_progress') {
          this.init.onError?.(new ConnectionError(`progress of directive ${d.directive_id} could not reach ${to}: ${(err as Error).message}`, { cause: err }))
        }
      }
    }
  }

  /** Undo a failed attempt (the coordinator's own, or one asked for over the network). */
  async rollback (directiveId: string, attempt: number): Promise<boolean> {
    const a = this.accepted.get(key(directiveId, attempt))
    const h = a !== undefined ? this.handlers.get(a.directive.action) : undefined
    if (a === undefined || h?.rollback === undefined) return false
    a.controller.abort()
    await h.rollback(a.directive.parameters, this.context(a))
    return true
  }

  async answerConsensus (question: string, input: unknown, ctx: { from: string, term: number, roundId: string }): Promise<unknown> {
    const h = this.consensus.get(question)
    if (h === undefined) throw new NoDirectiveHandlerError(`consensus:${question}`)
    return await h(input, ctx)
  }

  async statusReport (requestId: string): Promise<AgentStatus> {
    const s = await this.status()
    return {
      request_id: requestId,
      timestamp: new Date().toISOString(),
      agent: this.init.self.peerId,
      name: this.init.self.name,
      status: s.status,
      capabilities: this.init.self.capabilities,
      metrics: s.metrics ?? {},
      active_directives: this.active().slice(0, 10_000)
    }
  }
}

function key (id: string, attempt: number): string { return `${id}#${attempt}` }
