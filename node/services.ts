/**
 * Every service of a node, built in one place and kept in one ordered list: the node starts the
 * list in order and stops it in reverse, as libp2p does with its components. Each service gets
 * what it needs to act (rpc, pubsub, the membership); what it reports goes out as typed events
 * that node/observe.ts turns into metrics and log lines.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { AgentConfig } from './config.js'
import type { AgentLibp2p } from './libp2p.js'
import type { Stats } from './stats.js'
import type { Logger } from './log.js'
import type { Observer } from './observe.js'
import type { Startable } from '../protocols/core/service.js'
import { PubSubService } from '../protocols/pubsub/index.js'
import { RpcService } from '../protocols/rpc/index.js'
import { Membership } from '../discovery/membership.js'
import { BootstrapDialer } from '../discovery/bootstrap.js'
import { PeerDialer } from '../discovery/dialer.js'
import type { AgentCard } from '../discovery/card.js'
import { MeshAnnouncer } from '../discovery/mesh-announcer.js'
import type { MemberView } from '../discovery/members.js'
import { buildMemberView, selfEligible } from './member-view.js'
import { mapLinks, memberConnections, peerLinks, voterConnections } from './member-connections.js'
import { liveMembers } from '../discovery/member-source.js'
import { publishPerformance } from './performance-report.js'
import { NegotiationService } from '../protocols/negotiation/index.js'
import { METRICS_TOPIC, MonitoringService } from '../protocols/monitoring/index.js'
import { LearningService } from '../protocols/learning/index.js'
import { ResourceService } from '../protocols/resource/index.js'
import { TaskService } from '../protocols/task/index.js'
import { CoordinationService } from '../protocols/coordination/index.js'
import { Admission } from './admission.js'
import { handleRevocations } from './revocation-command.js'
import { handleKeyring } from './keyring-command.js'
import type { Keyring } from './keyring.js'
import type { Security } from './security-load.js'
import { electionKeys, privateKeyOf } from '../protocols/coordination/election-keys.js'
import type { Grants } from '../protocols/rpc/commands.js'
import { AuditLog } from './audit.js'
import { until } from './until.js'
import type { AuditSink } from '../protocols/core/audit.js'
import type { Store } from '../protocols/core/store.js'
import { SealingService } from '../protocols/sealing/index.js'
import type { DeadLetters } from '../protocols/delivery/dead-letters.js'
import type { DeliveryService } from '../protocols/delivery/index.js'
import { buildDeadLetters, buildDelivery } from './delivery-services.js'

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
  bootstrap: BootstrapDialer
  announcer: MeshAnnouncer
  /** What reliable delivery gave up on (protocols/delivery/dead-letters.ts), in the store's 'dead-letters' space. */
  deadLetters: DeadLetters
  /** Every service above in start order (the node stops them in reverse), with the pubsub flush. */
  ordered: Startable[]
}

/** What an agent offers to run tasks with, as its card (and the resource manager) spell it. */
export function offeredResources (r: AgentConfig['resources']): NonNullable<AgentCard['resources']> {
  return { cpu_cores: r.cpuCores, memory_gb: r.memoryGb, storage_gb: r.storageGb, gpu_units: r.gpuUnits }
}

export function buildServices (host: NodeHost, observer: Observer): NodeServices {
  const { config, libp2p, stats, log } = host
  // Built after the services that report to it; read only once running (closures below read
  // pubsub and membership the same way: they run after everything is built).
  const later: { tasks?: TaskService } = {}
  const { auditLog, auditKeep } = config.security
  const audit = new AuditLog({ node: host.peerId, keep: auditKeep, stats, log, ...(auditLog !== undefined ? { path: auditLog } : {}) })
  const deadLetters = buildDeadLetters(host, audit)
  const admission = new Admission({ libp2p, log, config, security: host.security, pubsub: (): PubSubService => pubsub, audit, stats })
  // One sealing service: the same keys seal topics' payloads and direct messages' (`encryptFor`).
  const sealer = sealing(host, () => membership, audit)
  const rpc = new RpcService({
    sealer,
    admits: (peer, command) => admission.admitsCommand(peer, command),
    // `allow`: a closed mesh's credential; an open mesh trusts the card's claims.
    grants: (peer): Grants | undefined | Promise<Grants | undefined> => admission.closed ? admission.credentialOf(peer) : claimsOf(membership, peer),
    audit,
    libp2p,
    stats,
    log,
    maxMessageBytes: config.maxMessageBytes,
    window: config.rpc.window,
    timeoutMs: config.rpc.timeoutMs,
    dialTimeoutMs: config.connections.dialTimeoutMs,
    stallTimeoutMs: config.rpc.stallTimeoutMs
  })
  handleRevocations(rpc, admission, audit) // `agentmesh revocation publish` hands a list to this node
  handleKeyring(rpc, host, audit) // `agentmesh keyring install|use|remove|list`, operators only
  const delivery = buildDelivery(host, rpc, deadLetters, audit)
  const pubsub = new PubSubService({
    ...config.pubsub,
    libp2p,
    mesh: config.mesh,
    stats,
    log,
    maxMessageBytes: config.maxMessageBytes,
    admits: (from, publisher) => admission.admitsGossip(from, publisher),
    audit,
    sealer
  })
  delivery.publishWith({
    self: host.peerId,
    pubsub,
    withRole: role => membership.find({ role }).map(p => p.peerId),
    ackTimeoutMs: config.delivery.topicAckTimeoutMs
  })
  const discovery = new PeerDialer(libp2p, () => config.connections.targetPeers)
  const membership = new Membership({
    libp2p,
    rpc,
    mesh: config.mesh,
    card: () => host.card(),
    admission,
    // A peer another agent told of: addresses that do not parse are skipped, not fatal.
    dial: (peerId, addresses) => {
      const multiaddrs = addresses.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } })
      if (multiaddrs.length > 0) discovery.consider({ id: peerIdFromString(peerId), multiaddrs })
    }
  })
  const bootstrap = new BootstrapDialer({
    libp2p,
    addresses: config.bootstrap,
    initialDelayMs: config.connections.bootstrapInitialDelayMs,
    maxDelayMs: config.connections.bootstrapMaxDelayMs,
    dialTimeoutMs: config.connections.dialTimeoutMs,
    knows: peer => memberView.member(peer) !== undefined
  })
  const memberView = buildMemberView(host, { rpc, membership, admission, audit }, observer)
  membership.addEventListener('peer:join', (e) => { memberView.seen(e.detail.peerId, e.detail.card) })
  membership.addEventListener('peer:leave', (e) => { memberView.lost(e.detail.peerId) })
  const [hangUps, reconnect] = memberConnections(libp2p, memberView, config)
  const negotiation = new NegotiationService({ libp2p, maxMessageBytes: config.maxMessageBytes, admits: peer => admission.admits(peer), stats, audit })
  const monitoring = new MonitoringService({
    self: host.peerId,
    name: host.name,
    rpc,
    pubsub,
    // A client reports no metrics: it is no agent of the mesh.
    intervalMs: config.client ? 0 : config.monitoring.metricsIntervalMs,
    scaleFrom: config.monitoring.metricsScaleFrom,
    // 'voters': from the first voter set this node holds on (below).
    hears: config.monitoring.hearReports === 'all',
    listened: () => listened(pubsub, METRICS_TOPIC),
    // The whole mesh (the member view), not the peers this node is connected to.
    agents: () => memberView.members().filter(m => m.state === 'alive' || m.state === 'suspect').length + 1,
    figures: () => {
      const sum = (direction: string): number =>
        (stats.snapshot().messages_total ?? []).filter(e => e.labels.direction === direction).reduce((a, e) => a + e.value, 0)
      return {
        messages_in: sum('in'),
        messages_out: sum('out'),
        active_connections: libp2p.getConnections().length,
        peers: membership.peers().length,
        tasks_running: later.tasks?.executor.held().filter(t => t.state === 'running').length ?? 0
      }
    }
  })
  const fetching = { ...config.learning, dialTimeoutMs: config.connections.dialTimeoutMs }
  const learning = new LearningService({ self: host.peerId, libp2p, pubsub, ...fetching, admits: peer => admission.admits(peer), stats, audit })
  const office = buildOffice(host, { rpc, pubsub, membership, memberView, negotiation, monitoring, admission, audit }, observer)
  const { coordination, resources, tasks } = office
  later.tasks = tasks
  const announcer = new MeshAnnouncer({
    self: { peerId: host.peerId, name: host.name, roles: admission.credential?.roles ?? config.roles },
    pubsub,
    membership,
    ...(admission.closed ? { rolesOf: (peer: string) => memberView.member(peer)?.roles ?? [] } : {}),
    intervalMs: config.client ? 0 : config.meshAnnounceIntervalMs,
    takeCounts: () => stats.messages.takeCounts(),
    watch: config.debug !== undefined
  })
  const ordered: Startable[] = [
    // First and stopped last: it opens the file before any decision, and writes the last ones.
    audit,
    // Before delivery sends anything, stopped after it: its last dead letters are written before the store closes.
    deadLetters,
    libp2p,
    rpc,
    pubsub,
    // After pubsub (it subscribes to the revocation lists), before anyone exchanges cards.
    admission,
    // Stopped between the membership and pubsub: what was published last (the member view tells
    // its neighbours it leaves over rpc, stopped later still) goes out before gossip closes.
    { start: () => {}, stop: async () => { await settleWithin(pubsub.flush(), 500) } },
    membership,
    memberView,
    hangUps,
    reconnect,
    office.ordered[0],
    voterConnections(libp2p, coordination, config),
    office.ordered[1],
    negotiation,
    monitoring,
    learning,
    office.ordered[2],
    discovery,
    bootstrap,
    announcer, mapLinks(libp2p, memberView, announcer, config),
    // Last: what its outbox held at start is resent once the node can find its peers.
    delivery
  ]
  const protocols = { rpc, pubsub, membership, memberView, coordination, resources, negotiation, monitoring, learning, tasks }
  return { audit, libp2p, admission, delivery, ...protocols, discovery, bootstrap, announcer, deadLetters, ordered }
}

/** How long a request of a peer whose card has not arrived yet waits for it, for `allow` in an open mesh. */
const CARD_WAIT_MS = 2_000

/**
 * An open mesh's roles and capabilities of a caller: its card's claims. A request may overtake
 * the card exchange of a peer that just connected: it waits for the card a moment.
 */
async function claimsOf (membership: Membership, peer: string): Promise<Grants | undefined> {
  if (membership.isClient(peer)) return membership.get(peer)
  return await until(membership, 'peer:join', () => membership.get(peer), AbortSignal.timeout(CARD_WAIT_MS)).catch(() => membership.get(peer))
}

/**
 * Sealed payloads (`encryptFor`): a role's recipients are the connected agents whose credential
 * (closed mesh) or card (open: a claim) gives it, and this node if its own credential or config does.
 */
function sealing (host: NodeHost, membership: () => Membership, audit: AuditSink): SealingService {
  const { config } = host
  const ownRoles = host.security.credential?.roles ?? config.roles
  return new SealingService({
    privateKey: privateKeyOf(host.libp2p),
    mesh: config.mesh,
    rotationMs: config.security.keyRotationMs,
    graceMs: config.security.keyGraceMs,
    withRole: role => [...membership().find({ role }).map(p => p.peerId), ...(ownRoles.includes(role) ? [host.peerId] : [])],
    audit
  })
}

/** Wait for `p` (its failure ignored), no longer than `ms`. */
async function settleWithin (p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([p.catch(() => {}), new Promise(resolve => { timer = setTimeout(resolve, ms) })])
  clearTimeout(timer)
}

/**
 * Whether anyone listens on a topic (a peer announced the subscription, or this node has one).
 * Per-task and per-resource status topics are published only then: a topic per task that nobody
 * reads would cost gossip state and heartbeat work for every task ever run.
 */
function listened (pubsub: PubSubService, topic: string): boolean {
  return pubsub.subscribers(topic).length > 0 || pubsub.subscriptions().includes(topic)
}

const TERMINAL_TASK = new Set(['completed', 'failed', 'cancelled'])

/**
 * Coordination, resources and tasks: the services that act through the coordinator in office.
 * Resources and tasks take the coordination as their `Office` and the member view as their
 * `MemberSource` and follow both themselves; what they report goes to the observer. What is
 * left here belongs to no one protocol: the coordinator's performance report carries the
 * agents' metric reports, and the coordinator alerts when an agent goes offline.
 */
export function buildOffice (
  host: NodeHost,
  s: Pick<NodeServices, 'rpc' | 'pubsub' | 'membership' | 'memberView' | 'negotiation' | 'monitoring' | 'admission' | 'audit'>,
  observer: Observer
): { coordination: CoordinationService, resources: ResourceService, tasks: TaskService, ordered: [Startable, Startable, Startable] } {
  const { config } = host
  const { rpc, pubsub, membership, memberView, negotiation, monitoring, audit } = s
  const id = host.peerId
  const c = config.coordination
  const stateFile = c.stateFile ?? (config.dataDir !== undefined ? `${config.dataDir}/coordination.json` : config.identity !== undefined ? `${config.identity}.coordination.json` : undefined)
  const publishIfListened = (topic: string, payload: unknown): void => {
    if (host.started && listened(pubsub, topic)) pubsub.publish(topic, payload).catch(() => {})
  }
  const coordination = new CoordinationService({
    self: { peerId: id, name: host.name, capabilities: config.capabilities },
    eligible: selfEligible(config, s.admission),
    client: config.client,
    rpc,
    heartbeatIntervalMs: c.heartbeatIntervalMs,
    electionTimeoutMinMs: c.electionTimeoutMinMs,
    electionTimeoutMaxMs: c.electionTimeoutMaxMs,
    voterRemoveAfterMs: c.voterRemoveAfterMs,
    bootstrapExpect: c.bootstrapExpect,
    maxVoters: c.maxVoters,
    announceIntervalMs: c.announceIntervalMs,
    pubsub,
    ...(stateFile !== undefined ? { stateFile } : {}),
    keys: electionKeys(privateKeyOf(host.libp2p), config.mesh),
    requestTimeoutMs: c.requestTimeoutMs,
    members: memberView,
    links: peerLinks(host.libp2p),
    audit
  })
  s.admission.onChange(() => { coordination.refreshMembers() })
  if (config.monitoring.hearReports === 'voters') {
    // The voters hear every agent's metric report: the coordinator comes from them. Its voter set is checked
    // when one is taken and when a coordinator is learned (a voter set stored before a restart is not announced again).
    const hearIfVoter = (): void => { monitoring.follow(coordination.status().voters.includes(id)) }
    coordination.addEventListener('voters:change', hearIfVoter)
    coordination.addEventListener('coordinator:change', hearIfVoter)
  }
  coordination.addEventListener('rejected', (e) => { observer.rejected('coordination', e.detail) })
  coordination.addEventListener('directive', (e) => { observer.directive(e.detail) })
  coordination.addEventListener('error', (e) => { observer.error('coordination', e.detail.error) })
  const alive = (): string[] => [id, ...liveMembers(memberView).map(m => m.peerId)]
  coordination.addEventListener('report', (e) => {
    observer.report(e.detail)
    publishPerformance(e.detail, { pubsub, monitoring, alive, timeoutMs: c.requestTimeoutMs, started: () => host.started }).catch(() => {})
  })
  const resources = new ResourceService({
    self: id,
    rpc,
    office: coordination,
    members: memberView,
    capacities: () => {
      const caps = new Map([[id, offeredResources(config.resources)]])
      for (const m of liveMembers(memberView)) {
        const card = membership.card(m.peerId)
        if (m.state === 'alive' && card?.resources !== undefined) caps.set(m.peerId, card.resources)
      }
      return caps
    },
    publish: publishIfListened,
    requestTimeoutMs: c.requestTimeoutMs,
    audit
  })
  resources.addEventListener('denied', (e) => { observer.denied(e.detail) })
  resources.addEventListener('error', (e) => { observer.error('resources', e.detail.error) })
  const tasks = new TaskService({
    self: id,
    rpc,
    resources: offeredResources(config.resources),
    office: coordination,
    members: memberView,
    publish: publishIfListened,
    requestTimeoutMs: c.requestTimeoutMs,
    resourceManager: resources,
    negotiation,
    privateKey: privateKeyOf(host.libp2p),
    mesh: config.mesh, // in what the coordinator's record signatures cover (protocols/task/record-seal.ts)
    audit,
    // Its replica of the task table, on disk when the node has a data directory (issue 14).
    store: host.store
  })
  // The voter set changes only once the task table is on a majority of the next set (protocols/task/catch-up.ts).
  coordination.gateVoterChanges((voters) => tasks.scheduler.catchUp.ready(voters))
  tasks.addEventListener('rejected', (e) => { observer.rejected('task', e.detail) })
  tasks.addEventListener('error', (e) => { observer.error('tasks', e.detail.error) })
  tasks.addEventListener('status', (e) => {
    const status = e.detail.status
    if (TERMINAL_TASK.has(status.status) && coordination.inOffice) observer.taskFinished(status.status)
  })
  memberView.addEventListener('member:change', (e) => {
    const m = e.detail
    if (m.to === 'offline' && coordination.inOffice && host.started) {
      const message = `agent ${m.name} (${m.peerId}) is offline`
      monitoring.alert({ severity: 'warning', message, labels: { agent: m.peerId, reason: 'offline' } }).catch(() => {})
    }
    if (m.to === 'offline' || m.to === 'left') monitoring.forget(m.peerId)
  })
  return { coordination, resources, tasks, ordered: [coordination, resources, tasks] }
}
