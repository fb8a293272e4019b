/**
 * The resource protocol on one node (R-RES). The resource manager is a role of the coordinator
 * in office: it already is the one node every agent follows, and its term fences a deposed
 * manager's answers the same way it fences directives. Agents advertise what they have in their
 * cards; the manager's table says which task holds which unit.
 *
 * A new manager rebuilds the table rather than trusting a stale one: the task scheduler puts
 * back the allocations of the tasks that run (they are in the replicated task records), and the
 * agents tell what they allocated directly (`$agentmesh/resource/held`). Allocations of an agent
 * that is lost (offline or left) are released.
 */
import { TypedEventEmitter } from 'main-event'
import type { RpcService } from '../rpc/index.js'
import type { Office } from '../coordination/office.js'
import type { MemberSource, MemberSourceEvents } from '../discovery/member-source.js'
import { NotCoordinatorError, ResourceConflictError, ValidationError } from '../core/errors.js'
import type { AuditSink } from '../core/audit.js'
import { ResourcePool, type Held } from './pool.js'
import {
  AllocateAnswer, AllocateCommand, AllocateRequest, HeldResourcesCommand, ReleaseCommand, ReleaseRequest,
  type Allocation, type Requirements, type ResourceItem, type ResourceStatus
} from './schemas.js'

export * from './schemas.js'
export { ResourcePool, type Held, type Grant } from './pool.js'

export interface ResourceServiceInit {
  self: string
  rpc: RpcService
  /** Who coordinates: the manager is the coordinator in office; its term fences a deposed one. */
  office: Office
  /** The member view: an agent going offline or leaving loses its allocations (on the manager). */
  members: MemberSource
  /** Agents alive and what each advertises (this node included). */
  capacities: () => Map<string, Requirements>
  /** Publish a status on `resources.status.<resource_id>` (the node decides whether anyone listens). */
  publish: (topic: string, status: ResourceStatus) => void
  requestTimeoutMs: number
  /** Where a release or allocation refused to a peer that does not hold the task's resources is recorded. */
  audit?: AuditSink
}

export interface ResourceServiceEvents {
  /** An allocation this node (as manager) denied (CRD003). */
  denied: CustomEvent<{ from: string, reason: string }>
  /** Something failed in the background (an allocation a new manager could not restore). */
  error: CustomEvent<{ error: Error }>
}

/** Events: 'denied' { from, reason }, 'error' { error }. */
export class ResourceService extends TypedEventEmitter<ResourceServiceEvents> {
  readonly pool = new ResourcePool()
  private readonly init: ResourceServiceInit
  private officeTerm = -1
  private rebuilt: Promise<void> = Promise.resolve()
  /** Allocations this node asked for directly (not through a task), for a new manager. */
  private readonly mine = new Map<string, Allocation>()
  private unhandles: Array<() => void> = []
  private started = false
  /** The task scheduler's takeover: until it restored the running tasks' allocations, their units look free. */
  private settled: () => Promise<void> = async () => {}

  constructor (init: ResourceServiceInit) {
    super()
    this.init = init
  }

  private readonly memberChanged = (e: MemberSourceEvents['member:change']): void => {
    if ((e.detail.to === 'offline' || e.detail.to === 'left') && this.init.office.inOffice) this.agentLost(e.detail.peerId)
  }

  start (): void {
    if (this.started) return
    this.started = true
    const { rpc } = this.init
    this.init.members.addEventListener('member:change', this.memberChanged)
    this.unhandles = [
      rpc.handle(AllocateCommand, async (req, ctx) => await this.allocateHere(ctx.peer, req, ctx.envelope.id)),
      rpc.handle(ReleaseCommand, async (req, ctx) => await this.releaseHere(ctx.peer, req.task_id, req.resource_ids, ctx.envelope.id)),
      rpc.handle(HeldResourcesCommand, (req, ctx) => {
        if (this.init.office.fencing(req.term, ctx.peer) === 'stale-term') throw new NotCoordinatorError(`term ${req.term} is stale`)
        return { allocations: [...this.mine.values()].map(a => ({ task_id: a.task_id, agent: a.agent, resources: a.resources })) }
      })
    ]
  }

  stop (): void {
    if (!this.started) return
    this.started = false
    this.init.members.removeEventListener('member:change', this.memberChanged)
    for (const u of this.unhandles.splice(0)) u()
  }

  settleWith (takenOver: () => Promise<void>): void { this.settled = takenOver }

  // --- the agent's side -------------------------------------------------------------------

  /** `resource.allocate`: resolves with `resource.allocated` or `resource.denied` (CRD003). */
  async allocate (input: AllocateRequest, options: { signal?: AbortSignal } = {}): Promise<AllocateAnswer> {
    const parsed = AllocateRequest.safeParse(input)
    if (!parsed.success) throw new ValidationError(`resource.allocate: ${parsed.error.issues.map(x => `${x.path.join('.')}: ${x.message}`).join('; ')}`)
    const req = parsed.data
    const signal = options.signal ?? AbortSignal.timeout(this.init.requestTimeoutMs * 2)
    const answer = await this.toManager(signal, async (manager) => manager === this.init.self
      ? await this.allocateHere(this.init.self, req)
      : await this.init.rpc.request(manager, AllocateCommand, req, { signal }))
    if (answer.type === 'resource.allocated') this.mine.set(answer.task_id, answer)
    return answer
  }

  /** `resource.release`: some units of a task's allocation, or all of them. */
  async release (taskId: string, resourceIds?: string[], options: { signal?: AbortSignal } = {}): Promise<string[]> {
    const signal = options.signal ?? AbortSignal.timeout(this.init.requestTimeoutMs * 2)
    const req = { type: 'resource.release' as const, task_id: taskId, ...(resourceIds !== undefined ? { resource_ids: resourceIds } : {}) }
    const answer = await this.toManager(signal, async (manager) => manager === this.init.self
      ? await this.releaseHere(this.init.self, taskId, resourceIds)
      : await this.init.rpc.request(manager, ReleaseCommand, ReleaseRequest.parse(req), { signal }))
    const a = this.mine.get(taskId)
    if (a !== undefined) {
      a.resources = a.resources.filter(r => !answer.resource_ids.includes(r.resource_id))
      if (resourceIds === undefined || a.resources.length === 0) this.mine.delete(taskId)
    }
    return answer.resource_ids
  }

  /**
   * Ask the coordinator this node follows, again while it answers CRD002. A follower learns of
   * a new coordinator from its first heartbeat, before the coordinator holds its lease and may
   * act: a request in that moment, or one to a coordinator just deposed, is refused without
   * effect, so asking again (whoever is in office by then) is safe.
   */
  private async toManager<T> (signal: AbortSignal, ask: (manager: string) => Promise<T>): Promise<T> {
    for (let wait = 25; ; wait = Math.min(wait * 2, 400)) {
      const manager = await this.init.office.coordinator({ signal })
      try {
        return await ask(manager)
      } catch (err) {
        if (!(err instanceof NotCoordinatorError) || signal.aborted) throw err
      }
      await new Promise<void>((resolve) => {
        const done = (): void => { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
        const t = setTimeout(done, wait)
        signal.addEventListener('abort', done, { once: true })
      })
    }
  }

  // --- the manager's side (the coordinator in office) -------------------------------------

  /** Take over the table when this node took office; resolves once it is rebuilt. */
  async ready (): Promise<void> {
    if (!this.init.office.inOffice) throw new NotCoordinatorError('this node is not the coordinator in office, so not the resource manager')
    const term = this.init.office.term
    if (this.officeTerm !== term) {
      this.officeTerm = term
      // The units too: clearing the allocations alone left every unit of an earlier term of this
      // node's taken for good, so a manager elected again could not restore its running tasks'
      // allocations nor grant those units (found by task-offer-unanswered.test's new-term case).
      this.pool.clear()
      this.rebuilt = this.rebuild(term)
    }
    await this.rebuilt
  }

  private async rebuild (term: number): Promise<void> {
    this.refresh()
    const agents = this.pool.agents().filter(a => a !== this.init.self)
    const answers = await Promise.all(agents.map(async agent => {
      try {
        return { agent, ...(await this.init.rpc.request(agent, HeldResourcesCommand, { term }, { timeoutMs: this.init.requestTimeoutMs })) }
      } catch { return { agent, allocations: [] } }
    }))
    for (const a of [...this.mine.values()].map(x => ({ ...x, holder: this.init.self }))) this.restoreOne(a)
    for (const { agent, allocations } of answers) for (const a of allocations) this.restoreOne({ ...a, holder: agent })
  }

  private restoreOne (a: Held): boolean {
    if (this.pool.restore(a)) return true
    const error = new ResourceConflictError(`allocation of ${a.task_id} on ${a.agent} claims units already held; not restored`)
    this.safeDispatchEvent('error', { detail: { error } })
    return false
  }

  /**
   * Allocations of tasks that run, from the task records, and of offers that went unanswered
   * (the scheduler's, at takeover); false when a unit is someone else's already.
   */
  restore (a: Held): boolean { return this.restoreOne(a) }

  /** Keep capacities in step with the agents alive; a lost agent's allocations are released. */
  private refresh (): void {
    const caps = this.init.capacities()
    for (const agent of this.pool.agents()) if (!caps.has(agent)) this.agentLost(agent)
    for (const [agent, r] of caps) this.pool.setCapacity(agent, r)
  }

  agentLost (agent: string): void {
    for (const a of this.pool.removeAgent(agent)) this.announce(a.agent, a.resources, 'free')
  }

  /** Allocate now (the scheduler's call on the coordinator): on `agent` or the first that fits. */
  grant (taskId: string, holder: string, r: Requirements, agents?: string[]): AllocateAnswer {
    this.refresh()
    const g = this.pool.allocate(taskId, holder, r, agents ?? this.pool.agents())
    if (!g.ok) return { type: 'resource.denied', task_id: taskId, reason: g.reason, code: new ResourceConflictError('').code }
    if (g.allocation.resources.length > 0 && this.pool.allocations.get(taskId) === g.allocation) this.announce(g.allocation.agent, g.allocation.resources, 'allocated', taskId)
    return { type: 'resource.allocated', task_id: taskId, agent: g.allocation.agent, resources: g.allocation.resources }
  }

  /** Release now (the scheduler's call when a task ends, pauses or loses its agent). */
  free (taskId: string, ids?: string[]): string[] {
    const a = this.pool.allocations.get(taskId)
    const going = this.pool.release(taskId, ids)
    if (a !== undefined && going.length > 0) this.announce(a.agent, going, 'free')
    return going.map(r => r.resource_id)
  }

  private async allocateHere (from: string, req: AllocateRequest, correlationId?: string): Promise<AllocateAnswer> {
    await this.ready()
    await this.settled()
    const parsed = AllocateRequest.parse(req)
    // Allocation is idempotent by task id for its holder only: another peer asking for the same
    // task would be told it holds what it does not (and learn where the units are).
    const held = this.pool.allocations.get(parsed.task_id)
    if (held !== undefined && held.holder !== from) {
      const reason = `the resources of ${parsed.task_id} are held by another peer`
      this.refused(from, 'resource.allocate', parsed.task_id, reason, correlationId)
      this.safeDispatchEvent('denied', { detail: { from, reason } })
      return { type: 'resource.denied', task_id: parsed.task_id, reason, code: new ResourceConflictError('').code }
    }
    const answer = this.grant(parsed.task_id, from, parsed.requirements, parsed.agent !== undefined ? [parsed.agent] : undefined)
    if (answer.type === 'resource.denied') this.safeDispatchEvent('denied', { detail: { from, reason: answer.reason } })
    return answer
  }

  private async releaseHere (from: string, taskId: string, ids?: string[], correlationId?: string): Promise<{ type: 'resource.released', task_id: string, resource_ids: string[] }> {
    await this.ready()
    await this.settled()
    const a = this.pool.allocations.get(taskId)
    // Only the holder releases, even on the coordinator's own node: the scheduler frees a task's
    // allocation (held by the coordinator) with free(), never through this request.
    if (a !== undefined && a.holder !== from) {
      this.refused(from, 'resource.release', taskId, `held by ${a.holder}`, correlationId)
      throw new ResourceConflictError(`the resources of ${taskId} are held by ${a.holder}, not ${from}`)
    }
    return { type: 'resource.released', task_id: taskId, resource_ids: this.free(taskId, ids) }
  }

  private refused (from: string, message: string, taskId: string, reason: string, correlationId?: string): void {
    this.init.audit?.record({ kind: 'resource.refused', peer: from, ...(correlationId !== undefined ? { correlationId } : {}), code: 'CRD003', reason, detail: { message, task_id: taskId } })
  }

  private announce (agent: string, items: ResourceItem[], state: 'allocated' | 'free', taskId?: string): void {
    const timestamp = new Date().toISOString()
    for (const it of items) {
      this.init.publish(`resources.status.${it.resource_id}`, { resource_id: it.resource_id, agent, kind: it.kind, amount: it.amount, state, ...(taskId !== undefined ? { task_id: taskId } : {}), timestamp })
    }
  }

  /** The table, for the debug endpoint: each agent's free resources and the allocations. */
  snapshot (): { manager: boolean, agents: Array<{ agent: string, free: Required<Requirements> }>, allocations: Held[] } {
    return {
      manager: this.init.office.inOffice,
      agents: this.pool.agents().map(agent => { const { cpu: _c, gpu: _g, ...free } = this.pool.free(agent); return { agent, free } }),
      allocations: [...this.pool.allocations.values()]
    }
  }
}
