/** The public types of an agent's node: its events, its health report and its options. */
import type { PrivateKey } from '@libp2p/interface'
import type { AgentConfigInput } from './config.js'
import type { Logger } from './log.js'
import type { PeerInfo } from '../protocols/discovery/membership.js'
import type { MemberChange } from '../protocols/discovery/members.js'
import type { NegotiationEvent } from '../protocols/negotiation/index.js'
import type { CoordinationStatus, CoordinatorChange } from '../protocols/coordination/index.js'

/** `node.handle(cmd, handler, { allow: { roles?, capabilities? } })`: who may call it (protocols/rpc/commands.ts says how lists combine). */
export type { Allow, HandleOptions } from '../protocols/rpc/index.js'

export interface AgentNodeEvents {
  /** An agent connected and told us its card. */
  'peer:join': CustomEvent<PeerInfo>
  /** An agent's last connection closed. */
  'peer:leave': CustomEvent<{ peerId: string, name: string }>
  /**
   * A bootstrap peer could not be reached. `retryInMs`: when that address is tried again; absent
   * when no retry is scheduled (the node joined through another seed; protocols/discovery/bootstrap.ts).
   */
  'bootstrap:error': CustomEvent<{ address: string, error: Error, retryInMs?: number }>
  /**
   * A peer told its card, and it is of another mesh: ignored. `address`: the bootstrap address
   * it was dialled at, when it is a bootstrap peer.
   */
  'mesh:foreign': CustomEvent<{ peer: string, mesh: string, address?: string }>
  /**
   * A peer refused this node in the card exchange (SEC001: its mesh is closed, and this node
   * showed no credential it admits). Told once per peer. `address`: as for `mesh:foreign`.
   */
  'mesh:refused': CustomEvent<{ peer: string, error: Error, address?: string }>
  /** Failure detection moved an agent to another state (alive, suspect, offline, left). */
  'member:change': CustomEvent<MemberChange>
  /** A coordinator took office, or this node knows of none any more. */
  'coordinator:change': CustomEvent<CoordinatorChange>
  /** A negotiation this node took part in ended (awarded, agreed, rejected, late, NEG002...). */
  negotiation: CustomEvent<NegotiationEvent>
}

export interface Health {
  status: 'starting' | 'ok' | 'alone' | 'stopped'
  /** Liveness and readiness: started, has agent peers, and every subscribed topic has gossip mesh peers. */
  ready: { started: boolean, hasPeers: boolean, gossipMeshFormed: boolean, topicsWithoutMesh: string[] }
  peerId: string
  name: string
  mesh: string
  version: string
  addresses: string[]
  uptimeMs: number
  peers: Array<{ peerId: string, name: string, roles: string[] }>
  /** Clients connected (CLI calls, config `client`): no members, so not among `peers`. */
  clients: number
  subscriptions: string[]
  commands: string[]
  /** Who coordinates, and whether this node's side of the mesh can elect anyone at all. */
  coordination: {
    situation: CoordinationStatus['situation']
    reason: CoordinationStatus['reason']
    term: number
    leader?: string
    inOffice: boolean
    quorum: CoordinationStatus['quorum']
  }
}

export interface CreateAgentNodeOptions extends AgentConfigInput {
  /** An identity to use instead of `identity` (a file) or a fresh one. */
  privateKey?: PrivateKey
  /** A pino logger to write to instead of the node's own (JSON on stderr at `logLevel`). */
  logger?: Logger
  /**
   * Environment variables to read AGENTMESH_* settings from (`process.env`), as the CLI does;
   * the options given here win over them. Without it, the environment is not read.
   */
  env?: NodeJS.ProcessEnv
}
