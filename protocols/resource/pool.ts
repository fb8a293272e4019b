/**
 * The resource table, with no network in it: agents' capacities, and which task holds which
 * unit. Allocation is all or nothing: a task gets every unit it asks for on one agent, or
 * nothing and the reason. The table never gives a unit to two tasks; `restore` (a new manager
 * rebuilding it) refuses a claim on a unit someone already holds.
 */
import type { Requirements, ResourceItem } from './schemas.js'

export interface Held { task_id: string, agent: string, holder: string, resources: ResourceItem[] }

export type Grant = { ok: true, allocation: Held } | { ok: false, reason: string }

export class ResourcePool {
  private readonly capacity = new Map<string, Required<Requirements>>()
  readonly allocations = new Map<string, Held>()
  /** unit resource id -> task id */
  private readonly taken = new Map<string, string>()

  /** Every allocation gone, and with them every unit they held (a new manager's table is rebuilt from what agents and records say). */
  clear (): void {
    this.allocations.clear()
    this.taken.clear()
  }

  setCapacity (agent: string, r: Requirements): void {
    this.capacity.set(agent, { cpu_cores: r.cpu_cores, memory_gb: r.memory_gb, storage_gb: r.storage_gb, gpu_units: r.gpu_units ?? 0 })
  }

  agents (): string[] { return [...this.capacity.keys()] }

  /** An agent gone: its capacity, and every allocation on it or held by it, are released. */
  removeAgent (agent: string): Held[] {
    this.capacity.delete(agent)
    const gone = [...this.allocations.values()].filter(a => a.agent === agent || a.holder === agent)
    for (const a of gone) this.release(a.task_id)
    return gone
  }

  free (agent: string): Required<Requirements> & { cpu: string[], gpu: string[] } {
    const cap = this.capacity.get(agent) ?? { cpu_cores: 0, memory_gb: 0, storage_gb: 0, gpu_units: 0 }
    const units = (kind: 'cpu' | 'gpu', n: number): string[] => Array.from({ length: n }, (_, i) => `${agent}/${kind}/${i}`).filter(id => !this.taken.has(id))
    let memory = cap.memory_gb
    let storage = cap.storage_gb
    for (const a of this.allocations.values()) {
      if (a.agent !== agent) continue
      for (const it of a.resources) {
        if (it.kind === 'memory') memory -= it.amount
        if (it.kind === 'storage') storage -= it.amount
      }
    }
    const cpu = units('cpu', cap.cpu_cores)
    const gpu = units('gpu', cap.gpu_units)
    return { cpu_cores: cpu.length, gpu_units: gpu.length, memory_gb: memory, storage_gb: storage, cpu, gpu }
  }

  /** Whether an agent could ever run it (its whole capacity, nothing allocated). */
  fitsCapacity (agent: string, r: Requirements): boolean {
    const cap = this.capacity.get(agent)
    return cap !== undefined && r.cpu_cores <= cap.cpu_cores && r.memory_gb <= cap.memory_gb && r.storage_gb <= cap.storage_gb &&
      (r.gpu_units ?? 0) <= cap.gpu_units
  }

  /**
   * Allocate on the first of `agents` whose free resources fit. A task that already holds an
   * allocation gets the same one back (allocation is idempotent by task_id).
   */
  allocate (taskId: string, holder: string, r: Requirements, agents: string[]): Grant {
    const had = this.allocations.get(taskId)
    if (had !== undefined) return { ok: true, allocation: had }
    const why: string[] = []
    for (const agent of agents) {
      if (!this.capacity.has(agent)) { why.push(`${agent}: unknown`); continue }
      const f = this.free(agent)
      const gpu = r.gpu_units ?? 0
      if (r.cpu_cores > f.cpu_cores || gpu > f.gpu_units || r.memory_gb > f.memory_gb || r.storage_gb > f.storage_gb) {
        why.push(this.fitsCapacity(agent, r) ? `${agent}: in use by other tasks` : `${agent}: too small`)
        continue
      }
      const resources: ResourceItem[] = [
        ...f.cpu.slice(0, r.cpu_cores).map(id => ({ resource_id: id, kind: 'cpu' as const, amount: 1 })),
        ...f.gpu.slice(0, gpu).map(id => ({ resource_id: id, kind: 'gpu' as const, amount: 1 })),
        ...(r.memory_gb > 0 ? [{ resource_id: `${agent}/memory`, kind: 'memory' as const, amount: r.memory_gb }] : []),
        ...(r.storage_gb > 0 ? [{ resource_id: `${agent}/storage`, kind: 'storage' as const, amount: r.storage_gb }] : [])
      ]
      const allocation = { task_id: taskId, agent, holder, resources }
      this.hold(allocation)
      return { ok: true, allocation }
    }
    return { ok: false, reason: agents.length === 0 ? 'no agent advertises resources' : `no agent has the resources free (${why.slice(0, 8).join('; ')})` }
  }

  /** Put back an allocation a new manager learned of; false if a unit is already someone else's. */
  restore (a: Held): boolean {
    const had = this.allocations.get(a.task_id)
    if (had !== undefined) return had.agent === a.agent
    if (a.resources.some(it => (it.kind === 'cpu' || it.kind === 'gpu') && this.taken.has(it.resource_id))) return false
    this.hold(a)
    return true
  }

  /** Release a task's units (or some of them); returns what was released. */
  release (taskId: string, ids?: string[]): ResourceItem[] {
    const a = this.allocations.get(taskId)
    if (a === undefined) return []
    const going = ids === undefined ? a.resources : a.resources.filter(it => ids.includes(it.resource_id))
    for (const it of going) if (this.taken.get(it.resource_id) === taskId) this.taken.delete(it.resource_id)
    a.resources = a.resources.filter(it => !going.includes(it))
    if (a.resources.length === 0 || ids === undefined) this.allocations.delete(taskId)
    return going
  }

  private hold (a: Held): void {
    this.allocations.set(a.task_id, a)
    for (const it of a.resources) if (it.kind === 'cpu' || it.kind === 'gpu') this.taken.set(it.resource_id, a.task_id)
  }
}
