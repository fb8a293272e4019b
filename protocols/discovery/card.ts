import { z } from 'zod'
import { defineCommand } from '../rpc/commands.js'
import { RESOURCE_LIMITS } from './constants.js'

/**
 * What an agent tells each peer about itself when they connect: the membership view is built
 * from these, so `peers()` and `findAgents()` answer without a central registry.
 */
export const AgentCard = z.strictObject({
  peerId: z.string().min(1).max(128),
  name: z.string().min(1).max(64),
  mesh: z.string().min(1).max(40),
  roles: z.array(z.string().max(64)).max(32),
  capabilities: z.array(z.string().max(128)).max(256),
  /** agentmesh version of the agent's node. */
  version: z.string().max(32),
  /** The agentmesh protocols it speaks, with their versions. */
  protocols: z.array(z.string().max(128)).max(64),
  /** Where it listens, for peers that learn of it second-hand. */
  addresses: z.array(z.string().max(512)).max(32),
  startedAt: z.number().int().nonnegative(),
  /** A client (config `client`): it calls and publishes but is no member of the mesh. */
  client: z.literal(true).optional(),
  /** What it offers to run tasks with; the resource manager allocates from it. */
  resources: z.strictObject({
    cpu_cores: z.number().int().min(0).max(RESOURCE_LIMITS.cpuCores),
    memory_gb: z.number().min(0).max(RESOURCE_LIMITS.memoryGb),
    storage_gb: z.number().min(0).max(RESOURCE_LIMITS.storageGb),
    gpu_units: z.number().int().min(0).max(RESOURCE_LIMITS.gpuUnits)
  }).optional()
})
export type AgentCard = z.infer<typeof AgentCard>

const PeerHint = z.strictObject({ peerId: z.string().max(128), addresses: z.array(z.string().max(512)).max(16) })

/**
 * What a node of a closed mesh adds to its side of the card exchange (docs/security.md): its
 * credential, checked by the other side (left unparsed here so the check can say which part is
 * wrong), and the newest revocation list it holds, so a node that was away learns of it on
 * its next connection.
 */
const Admission = {
  credential: z.unknown().optional(),
  revocations: z.unknown().optional()
}

/**
 * The card exchange, run by the dialling side of each new connection. The answer carries the
 * answering agent's card and a few peers it knows: that peer exchange is how a mesh joined
 * through one bootstrap node becomes a mesh where agents are connected to each other.
 */
export const CardExchange = defineCommand('$agentmesh/card', {
  request: z.strictObject({ card: AgentCard, ...Admission }),
  response: z.strictObject({ card: AgentCard, peers: z.array(PeerHint).max(32), ...Admission })
})
