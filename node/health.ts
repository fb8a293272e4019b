/** A node's /health: its status, readiness, peers, coordination, security and warnings. */
import { AGENTMESH_VERSION } from '../protocols/core/version.js'
import type { AgentNode } from './agent-node.js'
import type { NodeServices } from './services.js'
import type { Health } from './types.js'

export type NodeHealth = Health & { security: ReturnType<NodeServices['admission']['health']>, warnings: string[] }

export function nodeHealth (node: AgentNode, s: NodeServices, state: string, startedAt: number): NodeHealth {
  const peers = node.peers()
  const { pubsub } = s
  const status = state === 'started' ? (peers.length > 0 ? 'ok' : 'alone') : state === 'stopped' ? 'stopped' : 'starting'
  const subscriptions = pubsub.subscriptions().filter(t => !t.startsWith('$'))
  // A topic that other agents subscribe to but no gossip mesh peer is grafted for yet cannot
  // deliver to this node: gossip mesh formation is the readiness that counts for pub-sub.
  const topicsWithoutMesh = subscriptions.filter(t => pubsub.subscribers(t).length > 0 && pubsub.meshPeers(t).length === 0)
  const { situation, reason, term, leader, inOffice, quorum } = node.coordination.status()
  const security = s.admission.health()
  return {
    status,
    ready: { started: state === 'started', hasPeers: peers.length > 0, gossipMeshFormed: topicsWithoutMesh.length === 0, topicsWithoutMesh },
    peerId: node.peerId,
    name: node.name,
    mesh: node.config.mesh,
    version: AGENTMESH_VERSION,
    addresses: node.addresses(),
    uptimeMs: startedAt > 0 ? Date.now() - startedAt : 0,
    peers: peers.map(p => ({ peerId: p.peerId, name: p.name, roles: p.roles })),
    clients: s.membership.clients().length,
    subscriptions,
    commands: s.rpc.commands().filter(c => !c.startsWith('$')),
    coordination: { situation, reason, term, ...(leader !== undefined ? { leader } : {}), inOffice, quorum },
    security,
    warnings: security.warning !== undefined ? [security.warning] : []
  }
}
