/**
 * The resource protocol's messages (R-RES) with the specification's names: `resource.allocate`
 * (task_id, requirements) answered by `resource.allocated` (task_id, resources) or
 * `resource.denied` (task_id, reason), and `resource.release` (task_id, resource_ids). Each
 * resource's changes are published on `resources.status.<resource_id>`.
 *
 * A resource is a unit an agent advertises in its card: a CPU core (`<peer>/cpu/<n>`), a GPU
 * (`<peer>/gpu/<n>`), or an amount of memory or storage (`<peer>/memory`, `<peer>/storage`,
 * shared by amount). Units are what "two tasks never hold the same resource" is about.
 */
import { z } from 'zod'
import { defineCommand } from '../rpc/index.js'

/**
 * A task id as both protocols name it (a resource allocation is named after the task that
 * holds it). Defined here, below the task protocol, which depends on resources and not the
 * reverse; `task/schemas.ts` re-exports it.
 */
export const TaskId = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only (it names a topic)')

/** What a task needs, or an agent has. Bounds refuse absurd requirements at the door rather than queue them forever. */
export const Requirements = z.strictObject({
  cpu_cores: z.number().int().min(0).max(4096),
  memory_gb: z.number().min(0).max(65_536),
  storage_gb: z.number().min(0).max(1_048_576),
  gpu_units: z.number().int().min(0).max(1024).optional()
})
export type Requirements = z.infer<typeof Requirements>

export const ResourceKind = z.enum(['cpu', 'gpu', 'memory', 'storage'])
export type ResourceKind = z.infer<typeof ResourceKind>

/** A unit of an agent's resources as allocations name it (task records carry them too). */
export const ResourceItem = z.strictObject({
  resource_id: z.string().min(1).max(200),
  kind: ResourceKind,
  /** 1 for a core or a GPU; GB for memory and storage. */
  amount: z.number().positive()
})
export type ResourceItem = z.infer<typeof ResourceItem>

export const AllocateRequest = z.strictObject({
  type: z.literal('resource.allocate').default('resource.allocate'),
  task_id: TaskId,
  requirements: Requirements,
  /** Allocate on this agent only; otherwise the first agent whose free resources fit. */
  agent: z.string().max(128).optional()
})
export type AllocateRequest = z.input<typeof AllocateRequest>

export const AllocateAnswer = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('resource.allocated'), task_id: TaskId, agent: z.string(), resources: z.array(ResourceItem) }),
  z.strictObject({ type: z.literal('resource.denied'), task_id: TaskId, reason: z.string().max(1024), code: z.string().max(16) })
])
export type AllocateAnswer = z.infer<typeof AllocateAnswer>
export type Allocation = Extract<AllocateAnswer, { type: 'resource.allocated' }>

export const ReleaseRequest = z.strictObject({
  type: z.literal('resource.release').default('resource.release'),
  task_id: TaskId,
  /** Only these; all of the task's when absent. */
  resource_ids: z.array(z.string().max(200)).max(10_000).optional()
})
export const ReleaseAnswer = z.strictObject({ type: z.literal('resource.released'), task_id: TaskId, resource_ids: z.array(z.string()) })

/** What `resources.status.<resource_id>` carries. */
export const ResourceStatus = z.strictObject({
  resource_id: z.string(),
  agent: z.string(),
  kind: ResourceKind,
  amount: z.number(),
  state: z.enum(['allocated', 'free']),
  task_id: TaskId.optional(),
  timestamp: z.iso.datetime({ offset: true })
})
export type ResourceStatus = z.infer<typeof ResourceStatus>

/** Anyone -> the resource manager (the coordinator in office). */
export const AllocateCommand = defineCommand('$agentmesh/resource/allocate', { request: AllocateRequest, response: AllocateAnswer })
export const ReleaseCommand = defineCommand('$agentmesh/resource/release', { request: ReleaseRequest, response: ReleaseAnswer })
/** A new resource manager -> agents: the allocations each holds, to rebuild the table from. */
export const HeldResourcesCommand = defineCommand('$agentmesh/resource/held', {
  request: z.strictObject({ term: z.number().int().nonnegative() }),
  response: z.strictObject({ allocations: z.array(z.strictObject({ task_id: TaskId, agent: z.string(), resources: z.array(ResourceItem) })).max(100_000) })
})
