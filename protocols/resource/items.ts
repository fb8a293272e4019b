/**
 * A unit of an agent's resources as allocations name it. Kept apart from the resource
 * protocol's messages because task records carry the allocation of the task too.
 */
import { z } from 'zod'

export const ResourceKind = z.enum(['cpu', 'gpu', 'memory', 'storage'])
export type ResourceKind = z.infer<typeof ResourceKind>

export const ResourceItem = z.strictObject({
  resource_id: z.string().min(1).max(200),
  kind: ResourceKind,
  /** 1 for a core or a GPU; GB for memory and storage. */
  amount: z.number().positive()
})
export type ResourceItem = z.infer<typeof ResourceItem>
