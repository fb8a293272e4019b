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
import { Requirements, TaskId } from '../task/schemas.js'
import { ResourceItem, ResourceKind } from './items.js'

export { ResourceKind, ResourceItem } from './items.js'

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
