/**
 * What the services of a node are built from (NodeHost: the node as they see it) and what they
 * are once built (NodeServices), apart from node/services.ts that builds them: the builders it
 * calls (member-view.ts, office.ts, delivery-services.ts) and what reads them (observe.ts, the
 * surfaces) name these types without importing the file that imports them.
 */
import type { AgentConfig } from './config.js'
import type { AgentLibp2p } from './libp2p.js'
import type { Stats } from './stats.js'
import type { Logger } from './log.js'
import type { Startable } from '../protocols/core/service.js'
import type { PubSubService } from '../protocols/pubsub/index.js'
import type { RpcService } from '../protocols/rpc/index.js'
import type { Membership } from '../protocols/discovery/membership.js'
import type { BootstrapDialer } from '../protocols/discovery/bootstrap.js'
import type { PeerDialer } from '../protocols/discovery/dialer.js'
import type { ViewLinks } from '../protocols/discovery/view-links.js'
import type { AgentCard } from '../protocols/discovery/card.js'
import type { MeshAnnouncer } from '../protocols/discovery/mesh-announcer.js'
import type { MemberView } from '../protocols/discovery/members.js'
import type { NegotiationService } from '../protocols/negotiation/index.js'
import type { MonitoringService } from '../protocols/monitoring/index.js'
import type { LearningService } from '../protocols/learning/index.js'
import type { ResourceService } from '../protocols/resource/index.js'
import type { TaskService } from '../protocols/task/index.js'
import type { CoordinationService } from '../protocols/coordination/index.js'
import type { TopicLinks } from './topic-links.js'
import type { Admission } from './admission.js'
import type { Keyring } from './keyring.js'
import type { Security } from './security-load.js'
import type { AuditLog } from './audit.js'
import type { Store } from '../protocols/core/store.js'
import type { DeadLetters } from '../protocols/delivery/dead-letters.js'
import type { DeliveryService } from '../protocols/delivery/index.js'

/** What the services need of the node that holds them. */
export interface NodeHost {
  readonly config: AgentConfig
  readonly libp2p: AgentLibp2p
  readonly stats: Stats
  readonly log: Logger
  readonly name: string
  readonly peerId: string
  /** The node is started (not starting, not stopping). */
  readonly started: boolean
  /** This node's checked credential and revocation list (closed mode; node/admission.ts). */
  readonly security: Security
  /** What the node keeps across restarts (the data directory's, or memory; protocols/core/store.ts). */
  readonly store: Store
  /** The mesh keys, when the node has any (node/keyring.ts; `agentmesh keyring` changes them). */
  readonly keyring?: Keyring
  card: () => AgentCard
  coordinatorElected: (options: { signal?: AbortSignal }) => Promise<{ leader: string, term: number }>
}

export interface NodeServices {
  /** The audit trail every protocol that refuses something reports to (node/audit.ts). */
  audit: AuditLog
  libp2p: AgentLibp2p
  admission: Admission
  rpc: RpcService
  /** Reliable delivery over rpc: guarantees, outbox, dedup window, breakers (protocols/delivery). */
  delivery: DeliveryService
  pubsub: PubSubService
  membership: Membership
  memberView: MemberView
  coordination: CoordinationService
  resources: ResourceService
  negotiation: NegotiationService
  monitoring: MonitoringService
  learning: LearningService
  tasks: TaskService
  discovery: PeerDialer
  /** HyParView's views (`connections.graph: 'views'`); undefined with the dialer. */
  views?: ViewLinks
  bootstrap: BootstrapDialer
  announcer: MeshAnnouncer
  /** This node's topics stated, the next subscriber of each kept connected, a subscriber dialled before a publish reaching none. */
  topicLinks: TopicLinks
  /** What reliable delivery gave up on (protocols/delivery/dead-letters.ts), in the store's 'dead-letters' space. */
  deadLetters: DeadLetters
  /** Every service above in start order (the node stops them in reverse), with the pubsub flush. */
  ordered: Startable[]
}
